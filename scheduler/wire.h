/*
 * scheduler/wire.h - the messages between MPI ranks, as bytes (private to scheduler/; pure C, no
 * MPI call: exec_mpi.c and mpi_rank.c move the bytes). Every message starts with the same
 * header:
 *
 *   u32 magic "MLPW"  u16 version (1)  u16 type  u64 job   (all little-endian, trainer/le.h)
 *
 * `job` is rank 0's number for a job it handed to a rank: never 0 in JOB, STOP and MSG, always 0
 * in the others (a header that breaks this is refused).
 * Bodies, by type (str = u32 length + bytes, bytes = u64 length + bytes, f64 as IEEE bits):
 *
 *   JOB      rank 0 -> r  i64 trial, str params JSON (sched_params_to_json), u64 partitions,
 *                         u32 n x {i64 trial, u64 iterations} followers, 2 x dataset ref
 *                         {i64 id, 32-byte content hash, str path relative to the data dir},
 *                         u8 resume?, {i64 iteration, f64 best, f64 final, i64 best_iteration,
 *                         bytes state}, u32 n x stored row {i64 iteration, 5 x f64},
 *                         u64 ranks, u64 sync_every, u32 member, ranks > 1: ranks x u32 world
 *                         rank (the job's group, member its place; one rank: 1, 0, 0)
 *   STOP     rank 0 -> r  u32 reason (sched_stop_reason_t)   the job `job`
 *   STOP_ALL rank 0 -> r  u32 reason                          every job of the rank
 *   DATASET  rank 0 -> r  i64 id, hash, u8 ok, then the parsed dataset (u64 rows, features,
 *                         classes, u32 scaling, classes x str name, classes x u64 count,
 *                         f32 x[rows*features], i32 y[rows], u8 groups?, i32 group[rows]) or
 *                         str error
 *   SHUTDOWN rank 0 -> r  (empty) finish and leave
 *   WANT     r -> rank 0  i64 id, hash: send me this dataset
 *   MSG      r -> rank 0  one sched_msg_t of the job (u32 type ITERATION/CHECKPOINT/END/
 *                         PLACED, its figures, bytes model, u64 checkpoint_iteration, str
 *                         error, i32 placement rank, i32 workers, str host)
 *   BYE      r -> rank 0  (empty) every message of the rank was sent; it finalizes
 *
 * Decoding is strict: every length is checked against what is left before anything is
 * allocated, counts are bounded, enums are range-checked, and trailing bytes are refused; a
 * refused message decodes to nothing (MLPT_EFORMAT) and leaks nothing.
 */
#ifndef SCHED_WIRE_H
#define SCHED_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "executor.h"

#define SCHED_WIRE_MAGIC 0x57504c4du /* "MLPW" */
#define SCHED_WIRE_VERSION 1
#define SCHED_WIRE_HEADER 16
#define SCHED_WIRE_HASH 32
#define SCHED_WIRE_MAX_PATH 4096
#define SCHED_WIRE_MAX_PARAMS (1u << 20)

typedef enum {
    SCHED_WIRE_JOB = 1,
    SCHED_WIRE_STOP,
    SCHED_WIRE_STOP_ALL,
    SCHED_WIRE_DATASET,
    SCHED_WIRE_SHUTDOWN,
    SCHED_WIRE_WANT,
    SCHED_WIRE_MSG,
    SCHED_WIRE_BYE,
} sched_wire_type_t;

/* A growing byte buffer. Encoders append; a failed allocation sets oom and later appends do
 * nothing. Release with free(buf.p). */
typedef struct sched_wire_buf {
    unsigned char *p;
    size_t len, cap;
    int oom;
} sched_wire_buf_t;

/* A dataset as a job names it: its id, the content hash of its matrix file, the file's path
 * relative to the data dir. */
typedef struct sched_wire_ds {
    int64_t id; /* 0: none */
    unsigned char hash[SCHED_WIRE_HASH];
    char *path; /* malloc'd when decoded */
} sched_wire_ds_t;

/* A decoded JOB: owns everything `job` points to. */
typedef struct sched_wire_job {
    sched_exec_job_t job; /* tag NULL; dataset/test paths NULL (see ds) */
    sched_wire_ds_t ds, test;
    sched_exec_follower_t *followers;
    store_metric_t *stored;
    store_resume_t resume; /* state NULL: none */
    int *members;          /* a job across ranks: its group's world ranks (job.members) */
} sched_wire_job_t;

/* Reads the header of a message of len bytes. Returns 0 with *type and *job, or MLPT_EFORMAT
 * (short, bad magic, unknown version or type). */
int sched_wire_peek(const void *msg, size_t len, sched_wire_type_t *type, uint64_t *job);

/* Encoders: each appends one whole message to b (emptied first). Returns 0 or MLPT_ENOMEM. */
int sched_wire_encode_job(sched_wire_buf_t *b, uint64_t job_no, const sched_exec_job_t *job,
                          const sched_wire_ds_t *ds, const sched_wire_ds_t *test);
int sched_wire_encode_stop(sched_wire_buf_t *b, sched_wire_type_t type, uint64_t job_no,
                           sched_stop_reason_t why);                      /* STOP or STOP_ALL */
int sched_wire_encode_empty(sched_wire_buf_t *b, sched_wire_type_t type); /* SHUTDOWN, BYE */
int sched_wire_encode_want(sched_wire_buf_t *b, int64_t id, const unsigned char *hash);
/* ds NULL: a refusal carrying `error`. */
int sched_wire_encode_dataset(sched_wire_buf_t *b, int64_t id, const unsigned char *hash,
                              const trainer_dataset_t *ds, const char *error);
int sched_wire_encode_msg(sched_wire_buf_t *b, uint64_t job_no, const sched_msg_t *m);

/* Decoders: msg is a whole message whose header says the matching type. Each returns 0, or
 * MLPT_EFORMAT for anything malformed (out untouched or released), MLPT_ENOMEM. */
int sched_wire_decode_job(const void *msg, size_t len, sched_wire_job_t *out);
void sched_wire_job_free(sched_wire_job_t *j); /* what decode_job filled; accepts zeroed */
int sched_wire_decode_stop(const void *msg, size_t len, sched_stop_reason_t *why);
int sched_wire_decode_want(const void *msg, size_t len, int64_t *id, unsigned char *hash);
/* *ds is a new dataset (trainer_dataset_free) checked by trainer_dataset_check, or NULL with
 * error set (the sender's refusal). */
int sched_wire_decode_dataset(const void *msg, size_t len, int64_t *id, unsigned char *hash,
                              trainer_dataset_t **ds, char *error, size_t error_len);
/* *out is a calloc'd message (tag NULL, model malloc'd or NULL, model_path NULL). */
int sched_wire_decode_msg(const void *msg, size_t len, sched_msg_t **out);

#endif
