/*
 * ingest/matrix.h - the parsed-dataset file: a dataset as the service keeps it under its data
 * dir, so a sweep loads the float32 matrix without parsing the upload again.
 *
 * Format (version 2, little-endian):
 *   "MLPTDSET"  u32 version  u32 scaling  u64 rows  u64 features  u64 classes
 *   classes x { u32 name_length, name bytes }   u64 class_counts[classes]
 *   f32 x[rows * features]   i32 y[rows]   u64 checksum (CRC-32 as zlib computes it, of everything
 *   before it, zero-extended)
 * Version 1 is the same with FNV-1a 64 as the checksum; such files are still read. The CRC is
 * about seven times faster, which matters on the upload path (a 60,000 x 784 matrix is 188 MB).
 * Version 3 is version 2 with the rows' group ids (trainer_dataset_t.group) after y:
 * i32 group[rows]; it is written only for a dataset that has them, so a dataset without groups
 * gives the same bytes as before.
 * Version 4 is version 3 with the rows' timestamps (trainer_dataset_t.time, ns) after group:
 * i64 time[rows]; written for a sensor recording (a dataset with groups and times).
 */
#ifndef INGEST_MATRIX_H
#define INGEST_MATRIX_H

#include "dataset.h"
#include "ingest.h"

/* Writes ds to path atomically: a temporary file beside it, fsync, rename, fsync of the folder.
 * On failure nothing is left at path nor beside it. Returns 0, MLPT_EIO (the message says what
 * and why), MLPT_ENOSPC (the disk is full), MLPT_ENOMEM. Any thread. */
int ingest_matrix_write(const char *path, const trainer_dataset_t *ds, ingest_error_t *err);

/* Reads a file written by ingest_matrix_write into a new dataset (caller frees with
 * trainer_dataset_free). Returns 0; MLPT_EIO; MLPT_EFORMAT (bad magic, truncated, checksum
 * mismatch, inconsistent sizes); MLPT_EVERSION; MLPT_ENOMEM. Any thread. */
int ingest_matrix_read(const char *path, trainer_dataset_t **out, ingest_error_t *err);

#endif
