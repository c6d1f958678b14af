/*
 * scheduler/save_class.h - what a failed save of a worker's report means (private to
 * scheduler/; its own header so a unit test can check the table without the loop's types).
 */
#ifndef SCHED_SAVE_CLASS_H
#define SCHED_SAVE_CLASS_H

#include "store.h"

typedef enum sched_save_class {
    SCHED_SAVE_RETRY = 0,     /* the database or disk may take it later (full disk, busy, I/O,
                                 memory, an unknown failure): keep everything, retry */
    SCHED_SAVE_PERMANENT = 1, /* this report can never be stored (too big, a constraint, a bad
                                 value, its row gone): its trial fails, the rest goes on */
} sched_save_class_t;

/* Classifies the store error of one report's save (NULL: retry). Pure; any thread. */
sched_save_class_t sched_save_classify(const store_error_t *err);

#endif
