/*
 * exec_log.c - the executors' log lines (executor.h): the local pool's workers, the MPI
 * executor and the other ranks all format theirs here.
 */
#include <stdarg.h>
#include <stdio.h>

#include "executor.h"

void sched_exec_logf(sched_exec_log_fn log, void *user, const char *fmt, ...) {
    if (!log)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    log(user, line);
}
