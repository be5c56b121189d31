/*
 * Leases held ahead of need: keypool grants an edge a small reserve of leases per model, counted
 * against every limit as they are granted, so most calls start without a keypool round trip.
 * A reserved lease serves one call whose input-token estimate fits its allowance; one held
 * longer than the hold time, or of a key or (project, model) that stopped being usable, is
 * handed back (keypool returns its counts). While calls find a model's reserve empty, it grows
 * (doubling up to RESERVE_MAX), and under a steady demand it holds about 50 ms of it; leases
 * that age unused, or an ask the pool could not fill, bring it back toward the target. Loop thread
 * only; no I/O here (the engine asks and hands back).
 */
#ifndef SB_EDGE_RESERVE_H
#define SB_EDGE_RESERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge_codec.h"
#include "proto/subjects.h"

#define RESERVE_MODELS 32                /* models with a reserve */
#define RESERVE_MAX    LEASE_RESERVE_MAX /* leases held per model (grown by demand) */

struct reserve;

/** New reserve: `target` leases per model (0: off; more under demand), each good for `allowance`
 * tokens, handed back after hold_ms. Caller owns it: reserve_free() (hand back what it holds
 * first). */
struct reserve *reserve_new(unsigned target, unsigned allowance, unsigned hold_ms);
void reserve_free(struct reserve *r);
/** True when reserves are on. */
bool reserve_on(const struct reserve *r);
/** The allowance of a reserved lease (tokens). */
unsigned reserve_allowance(const struct reserve *r);
/**
 * Take a reserved lease of `model` for a call of est tokens into *ret (ownership moves); false
 * when none fits.
 */
bool reserve_take(struct reserve *r, const char *model, unsigned est, struct ec_lease *ret);
/**
 * How many leases to ask for `model` now (0: more than half of what it should hold is held, or
 * an ask is out), and its slot for the reply subject; marks the ask as out. ST_NOT_FOUND-like 0
 * when the table is full.
 */
unsigned reserve_want(struct reserve *r, const char *model, uint64_t now_us, unsigned *ret_slot);
/** The reply to the ask of slot `slot`: leases[n] are added (ownership moves; beyond the room,
 *  they are left in leases[] and counted in the result: hand those back). */
size_t reserve_add(struct reserve *r, unsigned slot, struct ec_lease *leases, size_t n);
/** The model of slot `slot` ("" when none). */
const char *reserve_model(const struct reserve *r, unsigned slot);
/**
 * Leases to hand back into out[max] (ownership moves): with now_us, those held longer than the
 * hold time; with now_us 0, those of what stopped being usable (project, model, key_id: NULL or
 * "" matches anything, so all three empty is everything). Returns how many, with their models in
 * models[].
 */
size_t reserve_drop(struct reserve *r, uint64_t now_us, const char *project, const char *model,
                    const char *key_id, struct ec_lease *out, const char **models, size_t max);

#endif
