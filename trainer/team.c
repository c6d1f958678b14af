/*
 * team.c - the work of one mini-batch, shared by the run's owner and any helpers.
 *
 * A phase is a set of independent tasks: row ranges of the batch (gather, loss) or column slices
 * of a layer (forward, input gradient), or one task per (layer, column slice) for the update. The
 * owner publishes a phase by storing one 64-bit claim word (generation | task count | next task);
 * anyone claims a task with a compare-and-swap on that word, runs it and counts it done. The owner
 * claims too, so a phase never waits for a helper that is not there; it only waits for tasks
 * already claimed. A helper also takes the pending validation of the previous iteration's weights,
 * if any. Calls rows.c (gathering, measuring), never train.c.
 */
#include <sched.h>
#include <string.h>
#include <time.h>

#include "train_private.h"

#define GEN_BITS 24
#define COUNT_BITS 20
#define FIELD_MASK ((UINT64_C(1) << COUNT_BITS) - 1)

static uint64_t claim_pack(uint32_t gen, size_t n, size_t next) {
    return ((uint64_t)gen << (2 * COUNT_BITS)) | ((uint64_t)n << COUNT_BITS) | (uint64_t)next;
}

static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Takes the next task of the current phase into *task; returns 0 when none is left. */
static int claim_task(trainer_run_t *r, size_t *task) {
    uint64_t c = atomic_load_explicit(&r->claim, memory_order_acquire);
    for (;;) {
        size_t n = (size_t)((c >> COUNT_BITS) & FIELD_MASK), next = (size_t)(c & FIELD_MASK);
        if (next >= n)
            return 0;
        if (atomic_compare_exchange_weak_explicit(&r->claim, &c, c + 1, memory_order_acq_rel,
                                                  memory_order_acquire)) {
            *task = next;
            return 1;
        }
    }
}

/* Rows [*r0, *r0 + return) of a batch of n rows: partition p of parts. */
static size_t part_rows(size_t n, size_t parts, size_t p, size_t *r0) {
    *r0 = n * p / parts;
    return n * (p + 1) / parts - *r0;
}

static void run_task(trainer_run_t *r, size_t task) {
    size_t n = r->phase_rows, parts = r->parts, r0, rows, l = r->phase_layer;
    const trainer_arch_t *a = &r->m->arch;
    switch (r->phase) {
    case PHASE_GATHER:
        rows = part_rows(n, parts, task, &r0);
        gather_rows(r->ds, r->m, r->identity, trainer_scratch_input(r->s) + r0 * r->ds->features,
                    r->labels + r0, r->phase_idx + r0, rows, r->drop,
                    r->drop ? r->drop->row0 + r0 : 0);
        break;
    case PHASE_FORWARD:
        trainer_mlp_forward_slice(r->m, r->s, l, n, trainer_layer_width(a, l) * task / parts,
                                  trainer_layer_width(a, l) * (task + 1) / parts);
        break;
    case PHASE_LOSS:
        rows = part_rows(n, parts, task, &r0);
        r->part_loss[task] = 0.0;
        r->part_correct[task] = 0;
        /* the gradient is the batch's sum over the nominal batch size: a short last batch (say
         * 1 row of 8001 in batches of 64) takes a proportionally short step, not a full one */
        trainer_mlp_loss_rows(r->m, r->s, r0, rows, r->opt.batch_size, r->labels,
                              &r->part_loss[task], &r->part_correct[task]);
        break;
    case PHASE_BACKWARD: /* columns of layer l's input: layer l - 1's width */
        trainer_mlp_backward_slice(r->m, r->s, l, n, trainer_layer_width(a, l - 1) * task / parts,
                                   trainer_layer_width(a, l - 1) * (task + 1) / parts);
        break;
    case PHASE_UPDATE:
        l = task / parts;
        trainer_optim_update(r->m, r->s, n, l, trainer_layer_width(a, l) * (task % parts) / parts,
                             trainer_layer_width(a, l) * (task % parts + 1) / parts, &r->step,
                             &r->ostate);
        break;
    }
}

void run_phase(trainer_run_t *r, int phase, size_t n) {
    r->phase = phase;
    atomic_store_explicit(&r->done, 0, memory_order_relaxed);
    r->gen = (r->gen + 1) & ((1u << GEN_BITS) - 1);
    atomic_store_explicit(&r->claim, claim_pack(r->gen, n, 0), memory_order_release);
    size_t task;
    while (claim_task(r, &task)) {
        run_task(r, task);
        atomic_fetch_add_explicit(&r->done, 1, memory_order_release);
    }
    while (atomic_load_explicit(&r->done, memory_order_acquire) < n)
        cpu_relax();
}

int trainer_run_join(trainer_run_t *r) {
    if (!r || atomic_load(&r->closed))
        return -1;
    int h = atomic_load(&r->helpers);
    do {
        if ((size_t)h + 1 >= r->parts)
            return -1;
    } while (!atomic_compare_exchange_weak(&r->helpers, &h, h + 1));
    return 0;
}

int trainer_run_helpers(const trainer_run_t *r) {
    return atomic_load(&((trainer_run_t *)r)->helpers);
}

void trainer_run_help(trainer_run_t *r, const atomic_int *leave) {
    unsigned idle = 0;
    while (!atomic_load_explicit(&r->closed, memory_order_acquire) &&
           !(leave && atomic_load_explicit(leave, memory_order_relaxed))) {
        int pending = VAL_PENDING;
        if (r->snapshot &&
            atomic_load_explicit(&r->val_state, memory_order_acquire) == VAL_PENDING &&
            atomic_compare_exchange_strong(&r->val_state, &pending, VAL_TAKEN)) {
            measure_rows(r->snapshot, r->vs, r->rows_cap, r->vlabels, NULL, r->ds, r->split->val,
                         r->split->n_val, &r->val_loss, &r->val_accuracy);
            atomic_fetch_add_explicit(&r->overlapped, 1, memory_order_relaxed);
            atomic_store_explicit(&r->val_state, VAL_DONE, memory_order_release);
            idle = 0;
            continue;
        }
        size_t task;
        if (claim_task(r, &task)) {
            run_task(r, task);
            atomic_fetch_add_explicit(&r->helper_tasks, 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&r->done, 1, memory_order_release);
            idle = 0;
            continue;
        }
        /* Nothing to do: spin briefly (the next phase is usually microseconds away), then give
         * the core away, then nap so a long wait does not burn it. */
        if (++idle < 4096) {
            cpu_relax();
        } else if (idle < 8192) {
            sched_yield();
        } else {
            struct timespec nap = {0, 50000};
            nanosleep(&nap, NULL);
        }
    }
    atomic_fetch_sub(&r->helpers, 1);
}
