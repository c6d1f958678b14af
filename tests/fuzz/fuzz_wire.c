/*
 * tests/fuzz/fuzz_wire.c - libFuzzer harness for the MPI ranks' messages (scheduler/wire.h):
 * every byte a rank receives comes from another process, which the decoders never trust.
 *
 * Input: one message, decoded by the decoder its header names (and, for a header that names
 * none, by every decoder: each must refuse it).
 *
 * Invariants:
 *   - every decoder returns 0, MLPT_EFORMAT or MLPT_ENOMEM, and frees what it refused;
 *   - a message that decodes re-encodes to the very same bytes (STOP, STOP_ALL, WANT, DATASET,
 *     MSG, SHUTDOWN, BYE), or for a JOB (whose parameters are JSON, re-dumped canonically) to
 *     bytes that decode again into the same job and re-encode to themselves;
 *   - a decoded JOB keeps the ranges the executor relies on (partitions 1..64, followers
 *     ascending, stored rows numbered 1..n reaching the resume point, a group of distinct ranks
 *     with its place in it when ranks > 1), a decoded DATASET passes
 *     trainer_dataset_check.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "mlpt_err.h"
#include "wire.h"

static int rc_ok(int rc) {
    return rc == 0 || rc == MLPT_EFORMAT || rc == MLPT_ENOMEM;
}

static void same_bytes(const sched_wire_buf_t *b, const uint8_t *data, size_t size) {
    FUZZ_CHECK(!b->oom, "re-encode out of memory");
    FUZZ_CHECK(b->len == size && memcmp(b->p, data, size) == 0, "re-encoding differs (%zu vs %zu)",
               b->len, size);
}

static void job(const uint8_t *data, size_t size, uint64_t no) {
    sched_wire_job_t j;
    int rc = sched_wire_decode_job(data, size, &j);
    FUZZ_CHECK(rc_ok(rc), "decode_job %d", rc);
    if (rc != 0)
        return;
    FUZZ_CHECK(j.job.partitions >= 1 && j.job.partitions <= 64, "partitions %zu", j.job.partitions);
    for (size_t i = 1; i < j.job.n_followers; i++)
        FUZZ_CHECK(j.job.followers[i].iterations >= j.job.followers[i - 1].iterations,
                   "followers not ascending");
    for (size_t i = 0; i < j.job.n_stored; i++)
        FUZZ_CHECK(j.job.stored[i].iteration == (int64_t)i + 1, "row %zu", i);
    FUZZ_CHECK(!j.job.resume || j.job.resume->iteration <= (int64_t)j.job.n_stored,
               "resume past the rows");
    /* a group (i13-dp): 1 rank with none, or 2.. ranks, distinct members, a place among them */
    FUZZ_CHECK(j.job.ranks >= 1 && (j.job.ranks == 1) == (j.job.members == NULL), "ranks %zu",
               j.job.ranks);
    FUZZ_CHECK(j.job.ranks == 1 || (j.job.member < j.job.ranks && j.job.sync_every >= 1),
               "member %zu of %zu, every %zu", j.job.member, j.job.ranks, j.job.sync_every);
    for (size_t a = 0; j.job.members && a < j.job.ranks; a++)
        for (size_t c = 0; c < a; c++)
            FUZZ_CHECK(j.job.members[a] != j.job.members[c] && j.job.members[a] >= 0,
                       "members %zu and %zu", a, c);
    sched_wire_buf_t b1 = {0}, b2 = {0};
    FUZZ_CHECK(sched_wire_encode_job(&b1, no, &j.job, &j.ds, j.test.id ? &j.test : NULL) == 0,
               "encode_job");
    sched_wire_job_t k;
    FUZZ_CHECK(sched_wire_decode_job(b1.p, b1.len, &k) == 0, "re-decode");
    FUZZ_CHECK(sched_wire_encode_job(&b2, no, &k.job, &k.ds, k.test.id ? &k.test : NULL) == 0,
               "re-encode");
    same_bytes(&b2, b1.p, b1.len);
    sched_wire_job_free(&k);
    sched_wire_job_free(&j);
    free(b1.p);
    free(b2.p);
}

static void msg(const uint8_t *data, size_t size, uint64_t no) {
    sched_msg_t *m = NULL;
    int rc = sched_wire_decode_msg(data, size, &m);
    FUZZ_CHECK(rc_ok(rc), "decode_msg %d", rc);
    if (rc != 0) {
        FUZZ_CHECK(!m, "refused message returned");
        return;
    }
    sched_wire_buf_t b = {0};
    FUZZ_CHECK(sched_wire_encode_msg(&b, no, m) == 0, "encode_msg");
    same_bytes(&b, data, size);
    free(b.p);
    free(m->model);
    free(m);
}

static void dataset(const uint8_t *data, size_t size) {
    int64_t id;
    unsigned char hash[SCHED_WIRE_HASH];
    trainer_dataset_t *ds = NULL;
    char error[256];
    int rc = sched_wire_decode_dataset(data, size, &id, hash, &ds, error, sizeof error);
    FUZZ_CHECK(rc_ok(rc), "decode_dataset %d", rc);
    if (rc != 0)
        return;
    FUZZ_CHECK(!ds || trainer_dataset_check(ds) == 0, "unchecked dataset");
    sched_wire_buf_t b = {0};
    FUZZ_CHECK(sched_wire_encode_dataset(&b, id, hash, ds, error) == 0, "encode_dataset");
    same_bytes(&b, data, size);
    free(b.p);
    trainer_dataset_free(ds);
}

static void small(const uint8_t *data, size_t size, sched_wire_type_t type, uint64_t no) {
    sched_wire_buf_t b = {0};
    if (type == SCHED_WIRE_STOP || type == SCHED_WIRE_STOP_ALL) {
        sched_stop_reason_t why;
        int rc = sched_wire_decode_stop(data, size, &why);
        FUZZ_CHECK(rc_ok(rc), "decode_stop %d", rc);
        if (rc == 0) {
            FUZZ_CHECK(why >= SCHED_STOP_CANCEL && why <= SCHED_STOP_EARLY, "reason %d", why);
            sched_wire_encode_stop(&b, type, no, why);
            same_bytes(&b, data, size);
        }
    } else if (type == SCHED_WIRE_WANT) {
        int64_t id;
        unsigned char hash[SCHED_WIRE_HASH];
        int rc = sched_wire_decode_want(data, size, &id, hash);
        FUZZ_CHECK(rc_ok(rc), "decode_want %d", rc);
        if (rc == 0) {
            FUZZ_CHECK(id > 0, "id %lld", (long long)id);
            sched_wire_encode_want(&b, id, hash);
            same_bytes(&b, data, size);
        }
    }
    free(b.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sched_wire_type_t type;
    uint64_t no;
    if (sched_wire_peek(data, size, &type, &no) != 0) {
        /* no decoder takes what has no valid header */
        sched_wire_job_t j;
        sched_msg_t *m = NULL;
        FUZZ_CHECK(sched_wire_decode_job(data, size, &j) == MLPT_EFORMAT, "job without header");
        FUZZ_CHECK(sched_wire_decode_msg(data, size, &m) == MLPT_EFORMAT, "msg without header");
        return 0;
    }
    switch (type) {
    case SCHED_WIRE_JOB:
        job(data, size, no);
        break;
    case SCHED_WIRE_MSG:
        msg(data, size, no);
        break;
    case SCHED_WIRE_DATASET:
        dataset(data, size);
        break;
    default:
        small(data, size, type, no);
        break;
    }
    return 0;
}
