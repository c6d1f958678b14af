/*
 * api/base.c - what every file of the server uses of the api_t: the log line and the barrier
 * around scheduler calls. The bottom of the server library: dispatch, the handlers, health, the
 * store reads and the HTTP layer call it, and it calls none of them.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include "server.h"

void api_logf(api_t *a, const char *fmt, ...) {
    char line[1024];
    va_list ap;
    if (!a->log)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    a->log(a->log_user, line);
}

int api_sched_acquire(api_t *a) {
    pthread_rwlock_rdlock(&a->sched_lock);
    if (!a->sched_closed)
        return 0;
    pthread_rwlock_unlock(&a->sched_lock);
    return -1;
}

void api_sched_release(api_t *a) {
    pthread_rwlock_unlock(&a->sched_lock);
}
