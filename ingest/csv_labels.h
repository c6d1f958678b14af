/*
 * ingest/csv_labels.h - the distinct class labels of a CSV file; private to mlpt_ingest.
 *
 * While rows stream in, each label text gets an id in order of first appearance (an open-addressing
 * hash table over an arena of NUL-terminated copies). At the end ingest_labels_resolve() sorts the
 * distinct labels into classes (integers numerically, otherwise by strcmp) and says which class
 * each id became.
 */
#ifndef INGEST_CSV_LABELS_H
#define INGEST_CSV_LABELS_H

#include <stddef.h>
#include <stdint.h>

typedef struct ingest_label {
    size_t off; /* text at arena + off, NUL-terminated */
    size_t len;
    uint64_t hash;
    size_t count; /* rows with this label */
} ingest_label_t;

typedef struct ingest_labels {
    char *arena;
    size_t arena_len, arena_cap;
    ingest_label_t *items; /* [n] by id */
    size_t n, items_cap;
    uint32_t *slots; /* [nslots] id + 1, 0 = empty; nslots a power of two, load <= 1/2 */
    size_t nslots;
} ingest_labels_t;

void ingest_labels_init(ingest_labels_t *t);
void ingest_labels_deinit(ingest_labels_t *t);

/* Returns the id of s[0..len) (len > 0, no NUL inside), adding it when new, and counts one row;
 * or MLPT_ELIMIT when it is new and max_labels already exist, MLPT_ENOMEM. */
int32_t ingest_labels_intern(ingest_labels_t *t, const char *s, size_t len, size_t max_labels);

/* The classes: *nclasses distinct classes sorted as the CSV contract says; rank[id] (caller array
 * of t->n entries) receives the class of each id; *names and *counts are new arrays of *nclasses
 * (names each malloc'd) owned by the caller. Returns 0 or MLPT_ENOMEM (nothing is allocated then).
 */
int ingest_labels_resolve(const ingest_labels_t *t, int32_t *rank, size_t *nclasses, char ***names,
                          size_t **counts);

#endif
