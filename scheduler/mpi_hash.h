/*
 * scheduler/mpi_hash.h - a dataset's content key across ranks: the SHA-256 of its matrix file
 * (private to scheduler/; MLPTUNE_MPI, OpenSSL's libcrypto).
 */
#ifndef SCHED_MPI_HASH_H
#define SCHED_MPI_HASH_H

#include <stddef.h>

#include "wire.h"

/* SHA-256 of the file at path into out. Returns 0, or MLPT_EIO with msg set. */
int sched_mpi_hash_file(const char *path, unsigned char out[SCHED_WIRE_HASH], char *msg,
                        size_t msg_len);

/* The first 8 bytes of a hash as 16 hex digits (logs), into out[17]. */
void sched_mpi_hash_hex(const unsigned char *hash, char out[17]);

#endif
