/*
 * A spool: records appended to a file before what they describe is made known, so that a process
 * killed before it could publish them leaves them on disk for the next one to send. The file is
 * mapped and allocated ahead in steps, so a record is a copy into memory, no system call (the page
 * cache keeps it when the process dies; no fsync: a lost machine loses the spool too; blocks are
 * allocated before they are written, so a full disk refuses a record instead of faulting).
 * Records are length-framed and checksummed, their mark written last; a torn one (a copy cut by
 * the kill) ends the reading and is written over. The file is emptied once everything appended has
 * been acknowledged. One process at a time (a lock). Not thread-safe: the caller serialises.
 */
#ifndef SB_SPOOL_H
#define SB_SPOOL_H

#include <stdbool.h>
#include <stddef.h>

#define SPOOL_RECORD_MAX (1024u * 1024) /* a record's data at most */

struct spool;

/** One record found in the file at open: its subject and data (valid during the call). */
typedef void (*spool_each_fn)(const char *subject, const void *data, size_t len, void *arg);

/**
 * Opens (creates, mode 0600) the spool at path, holding at most max_bytes. Records a previous
 * process left are passed to each() first; they stay in the file until spool_clear(). NULL when
 * the file cannot be opened, read or mapped, or another process has it open (errno set). Caller
 * owns it: spool_close().
 */
struct spool *spool_open(const char *path, size_t max_bytes, spool_each_fn each, void *arg);
/** Appends one record; false when it would pass max_bytes, is too large, or the write failed. */
bool spool_append(struct spool *s, const char *subject, const void *data, size_t len);
/** Everything appended so far is safe elsewhere: the file is emptied (no-op when it is). */
void spool_clear(struct spool *s);
/** Bytes of records in the file. */
size_t spool_size(const struct spool *s);
/** Closes it; the file stays (empty when all was cleared). NULL is a no-op. */
void spool_close(struct spool *s);

#endif
