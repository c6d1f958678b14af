/*
 * api/mem_budget.h - a service-wide budget of bytes (--max-upload-memory-mb): uploads reserve
 * what their decoding and parsing fills as it grows, and give it back when they end, so that
 * concurrent uploads cannot together take more memory than the operator allowed. A reservation
 * that does not fit waits a little for others to end, then is refused. Private to api/.
 *
 * Threads: every function may be called from any thread (one mutex).
 */
#ifndef API_MEM_BUDGET_H
#define API_MEM_BUDGET_H

#include <stdint.h>

typedef struct api_mem_budget api_mem_budget_t;

/* A budget of `bytes` (> 0). NULL without memory. */
api_mem_budget_t *api_mem_budget_new(uint64_t bytes);

/* Frees it; every reservation must have been released. Accepts NULL. */
void api_mem_budget_free(api_mem_budget_t *b);

/* Takes `bytes` more out of the budget, waiting up to wait_ms for other reservations to be
 * released when they do not fit now. Returns 0 (release them later), MLPT_EBUSY when they still
 * do not fit after the wait, MLPT_ELIMIT (no wait) when holding + bytes is more than the whole
 * budget: the caller, already holding `holding`, could never get them. */
int api_mem_budget_reserve(api_mem_budget_t *b, uint64_t holding, uint64_t bytes, unsigned wait_ms);

/* Gives back bytes reserved earlier (and wakes the waiters). Accepts NULL. */
void api_mem_budget_release(api_mem_budget_t *b, uint64_t bytes);

/* The budget and what is reserved now. */
uint64_t api_mem_budget_total(const api_mem_budget_t *b);
uint64_t api_mem_budget_used(api_mem_budget_t *b);

#endif
