/* Memory given back after a peak (see heap.h). */
#include "lib/heap.h"

#include <malloc.h>

bool heap_due(struct heap_watch *w, unsigned inflight, uint64_t now_us)
{
    if (inflight > w->peak)
        w->peak = inflight;
    if (w->peak < HEAP_PEAK_MIN || inflight > w->peak / 4 ||
        (w->last_us && now_us - w->last_us < HEAP_EVERY_US))
        return false;
    w->peak = inflight;
    w->last_us = now_us;
    return true;
}

bool heap_watch(struct heap_watch *w, unsigned inflight, uint64_t now_us)
{
    if (!heap_due(w, inflight, now_us))
        return false;
    (void)malloc_trim(0);
    return true;
}
