/*
 * A shared, immutable snapshot that one writer replaces while readers on other threads keep
 * using the version they took (read-copy-update with reference counts). Readers never wait on
 * the writer's work: the lock covers a pointer swap and a counter, nothing else.
 */
#ifndef SB_SNAP_H
#define SB_SNAP_H

struct snap;
struct snap_ref;

typedef void snap_free_fn(void *value);

/** New holder with no value; free_fn frees a value no reader uses any more. Caller owns. */
struct snap *snap_new(snap_free_fn *free_fn);
/** Free the holder and its current value (no reader may hold a reference). NULL is a no-op. */
void snap_free(struct snap *s);
/** Replace the value (ownership moves in); the old one is freed after its last reader. */
void snap_set_take(struct snap *s, void *value);
/** Take a reference to the current value (NULL when none): release with snap_put(). */
struct snap_ref *snap_get(struct snap *s, const void **ret_value);
/** Release a reference from snap_get(); NULL is a no-op. */
void snap_put(struct snap *s, struct snap_ref *ref);

#endif
