/* Records kept on disk until acknowledged (see spool.h). */
#include "lib/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lib/xalloc.h"

/* A record: "SB", u32 little-endian length of what follows, u8 subject length, subject, data. */
#define HDR     7u
#define SUB_MAX 255u

struct spool {
    int fd;
    size_t size, max;
};

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Every whole record of the file, in order; stops at the first torn or foreign one. */
static bool replay(int fd, size_t size, spool_each_fn each, void *arg)
{
    unsigned char *all;
    size_t off = 0, got = 0;
    char subject[SUB_MAX + 1];

    if (size == 0)
        return true;
    all = xmalloc(size);
    while (got < size) {
        ssize_t r = pread(fd, all + got, size - got, (off_t)got);
        if (r <= 0) {
            free(all);
            return r == 0;
        }
        got += (size_t)r;
    }
    while (size - off >= HDR && all[off] == 'S' && all[off + 1] == 'B') {
        uint32_t len = get_u32(all + off + 2);
        size_t sub = all[off + 6];
        if (len > size - off - HDR + 1 || len < 1 + sub || len - 1 - sub > SPOOL_RECORD_MAX)
            break;
        memcpy(subject, all + off + HDR, sub);
        subject[sub] = '\0';
        each(subject, all + off + HDR + sub, len - 1 - sub, arg);
        off += HDR - 1 + len;
    }
    free(all);
    return true;
}

struct spool *spool_open(const char *path, size_t max_bytes, spool_each_fn each, void *arg)
{
    struct stat st;
    int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    struct spool *s;

    if (fd < 0)
        return NULL;
    errno = 0; /* (a file that is not a spool's sets none: EINVAL) */
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > max_bytes ||
        !replay(fd, (size_t)st.st_size, each, arg)) {
        int e = errno ? errno : EINVAL;
        (void)close(fd);
        errno = e;
        return NULL;
    }
    s = xcalloc(1, sizeof(*s));
    s->fd = fd;
    s->size = (size_t)st.st_size;
    s->max = max_bytes;
    return s;
}

bool spool_append(struct spool *s, const char *subject, const void *data, size_t len)
{
    size_t sub = strlen(subject);
    uint32_t n = (uint32_t)(1 + sub + len);
    unsigned char hdr[HDR] = {'S',
                              'B',
                              (unsigned char)n,
                              (unsigned char)(n >> 8),
                              (unsigned char)(n >> 16),
                              (unsigned char)(n >> 24),
                              (unsigned char)sub};
    struct iovec iov[3] = {
        {hdr, HDR}, {(void *)(uintptr_t)subject, sub}, {(void *)(uintptr_t)data, len}};
    ssize_t w;

    if (sub > SUB_MAX || len > SPOOL_RECORD_MAX || s->size + HDR + sub + len > s->max)
        return false;
    w = writev(s->fd, iov, 3); /* one write: O_APPEND keeps it whole against other writers */
    if (w != (ssize_t)(HDR + sub + len)) {
        if (w > 0) /* a torn record would hide every later one: cut it off */
            (void)ftruncate(s->fd, (off_t)s->size);
        return false;
    }
    s->size += HDR + sub + len;
    return true;
}

void spool_clear(struct spool *s)
{
    if (s->size && ftruncate(s->fd, 0) == 0)
        s->size = 0;
}

size_t spool_size(const struct spool *s)
{
    return s->size;
}

void spool_close(struct spool *s)
{
    if (!s)
        return;
    (void)close(s->fd);
    free(s);
}
