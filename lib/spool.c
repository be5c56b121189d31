/* Records kept on disk until acknowledged (see spool.h). */
#include "lib/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/xalloc.h"

/*
 * A record: "SC", u32 little-endian length of what follows the checksum, u32 checksum (FNV-1a of
 * what follows it), u8 subject length, subject, data. The file is allocated ahead (zeros): a
 * record the kill or a lost page left incomplete fails its checksum. "SB" records (length, u8
 * subject length, subject, data: no checksum) are read too, from files written before.
 */
#define HDR     11u
#define HDR_OLD 7u
#define SUB_MAX 255u
#define STEP    (1024u * 1024) /* the file grows by this much (blocks allocated before use) */
#define END     2u             /* zero bytes after the last record: where reading stops */

struct spool {
    int fd;
    unsigned char *map; /* max bytes of address space; the file backs [0, alloc) */
    size_t size;        /* bytes of whole records */
    size_t alloc;       /* the file's length: every page below it has its blocks */
    size_t max;
};

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t fnv1a(const unsigned char *p, size_t n)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

/* Every whole record of the first `size` bytes, in order; stops at the first torn, foreign or
 * zero one. Returns where the whole records end. */
static size_t replay(const unsigned char *all, size_t size, spool_each_fn each, void *arg)
{
    size_t off = 0;
    char subject[SUB_MAX + 1];

    while (size - off >= HDR_OLD && all[off] == 'S' &&
           (all[off + 1] == 'C' || all[off + 1] == 'B')) {
        bool sum = all[off + 1] == 'C';
        size_t hdr = sum ? HDR : HDR_OLD;
        uint32_t len = get_u32(all + off + 2);
        const unsigned char *rec = all + off + hdr - 1; /* the subject length, then the rest */
        if (size - off < hdr || len > size - off - hdr + 1 || len < 1 + (size_t)rec[0] ||
            len - 1 - rec[0] > SPOOL_RECORD_MAX ||
            (sum && fnv1a(rec, len) != get_u32(all + off + 6)))
            break;
        memcpy(subject, rec + 1, rec[0]);
        subject[rec[0]] = '\0';
        each(subject, rec + 1 + rec[0], len - 1 - rec[0], arg);
        off += hdr - 1 + len;
    }
    return off;
}

/* The file backs at least `need` bytes, its blocks allocated: a write to the mapping below
 * s->alloc cannot fail for want of disk (which would be a SIGBUS). */
static bool cover(struct spool *s, size_t need)
{
    size_t to = s->alloc;

    while (to < need)
        to = to + STEP < s->max ? to + STEP : s->max;
    if (to == s->alloc)
        return true;
    if (to < need || posix_fallocate(s->fd, 0, (off_t)to) != 0)
        return false;
    s->alloc = to;
    return true;
}

struct spool *spool_open(const char *path, size_t max_bytes, spool_each_fn each, void *arg)
{
    struct stat st;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    struct spool *s;
    void *map = MAP_FAILED;
    int e;

    if (fd < 0)
        return NULL;
    errno = 0; /* (a file that is not a spool's sets none: EINVAL) */
    /* one writer: a second process on the same file would write over the first's records */
    if (flock(fd, LOCK_EX | LOCK_NB) != 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        (size_t)st.st_size > max_bytes || max_bytes < HDR + END ||
        (map = mmap(NULL, max_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED)
        goto fail;
    s = xcalloc(1, sizeof(*s));
    s->fd = fd;
    s->map = map;
    s->max = max_bytes;
    s->alloc = (size_t)st.st_size;
    s->size = replay(s->map, s->alloc, each, arg);
    if (s->size + END <= s->alloc)
        memset(s->map + s->size, 0, END); /* a torn record after them is written over */
    return s;
fail:
    e = errno ? errno : EINVAL;
    if (map != MAP_FAILED)
        (void)munmap(map, max_bytes);
    (void)close(fd);
    errno = e;
    return NULL;
}

bool spool_append(struct spool *s, const char *subject, const void *data, size_t len)
{
    size_t sub = strlen(subject), at = s->size, n;
    uint32_t rec;
    unsigned char *p;

    if (sub > SUB_MAX || len > SPOOL_RECORD_MAX)
        return false;
    n = HDR + sub + len;
    rec = (uint32_t)(1 + sub + len);
    if (n > s->max - at || !cover(s, at + n + END < s->max ? at + n + END : s->max))
        return false;
    p = s->map + at;
    /* the end mark first, the magic last: a process killed in between leaves no record that
     * reads as whole (the page cache keeps what was written when it dies) */
    if (at + n + END <= s->alloc)
        memset(p + n, 0, END);
    put_u32(p + 2, rec);
    p[HDR - 1] = (unsigned char)sub;
    memcpy(p + HDR, subject, sub);
    if (len)
        memcpy(p + HDR + sub, data, len);
    put_u32(p + 6, fnv1a(p + HDR - 1, rec));
    __atomic_store_n(&p[1], (unsigned char)'C', __ATOMIC_RELEASE);
    __atomic_store_n(&p[0], (unsigned char)'S', __ATOMIC_RELEASE);
    s->size = at + n;
    return true;
}

void spool_clear(struct spool *s)
{
    if (!s->size)
        return;
    s->map[0] = 0; /* reading stops at once: what lies after is dead */
    s->size = 0;
    /* a backlog grew the file: give the disk back, keep one step */
    if (s->alloc > 4 * STEP && ftruncate(s->fd, STEP) == 0)
        s->alloc = STEP;
}

size_t spool_size(const struct spool *s)
{
    return s->size;
}

void spool_close(struct spool *s)
{
    if (!s)
        return;
    (void)munmap(s->map, s->max);
    (void)close(s->fd);
    free(s);
}
