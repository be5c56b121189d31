/* Allocation that aborts on failure (STYLE rule 28). Untrusted sizes are checked before calling. */
#ifndef SB_XALLOC_H
#define SB_XALLOC_H

#include <stddef.h>

/** malloc that logs and aborts on failure; never returns NULL. Free with free(). */
void *xmalloc(size_t size);
/** calloc that aborts on failure. */
void *xcalloc(size_t n, size_t size);
/** realloc that aborts on failure. */
void *xrealloc(void *ptr, size_t size);
/** Overflow-checked malloc of n * size bytes; aborts on overflow or failure. */
void *xmalloc_array(size_t n, size_t size);
/** strdup that aborts on failure; xstrdup(NULL) returns NULL. */
char *xstrdup(const char *s);
/** Copy of the first n bytes of s, NUL-terminated; aborts on failure. */
char *xstrndup(const char *s, size_t n);

#endif
