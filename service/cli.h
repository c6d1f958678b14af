/*
 * service/cli.h - what the subcommands of the mlptune executable share (private to service/).
 */
#ifndef SVC_CLI_H
#define SVC_CLI_H

#include <stddef.h>
#include <stdint.h>

/* Exit statuses of every subcommand. */
enum {
    SVC_EXIT_OK = 0,
    SVC_EXIT_FAILURE = 1, /* runtime failure: out of memory, I/O */
    SVC_EXIT_USAGE = 2,   /* bad arguments or bad input data */
    SVC_EXIT_DIVERGED = 3 /* training stopped on a NaN/Inf loss */
};

/* Strict number parsing for option values: the whole string must be the number, within
 * [min, max]. On failure they print "mlptune: --name: why" to stderr and return -1. */
int svc_parse_size(const char *name, const char *text, size_t min, size_t max, size_t *out);
int svc_parse_u64(const char *name, const char *text, uint64_t *out);
int svc_parse_double(const char *name, const char *text, double min, double max, int min_inclusive,
                     double *out);

/* Parses a comma-separated list of sizes ("500,500,2000") into out[0..*n), at most cap entries,
 * each in [min, max]. Returns 0, or -1 after printing why. */
int svc_parse_size_list(const char *name, const char *text, size_t min, size_t max, size_t *out,
                        size_t cap, size_t *n);

/* Prints "mlptune: " + the formatted message + newline to stderr. */
void svc_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Number of online CPUs (>= 1). */
int svc_cpu_count(void);

#define SVC_TOKEN_MAX_BYTES 4096 /* a token file's size at most */

/* Reads a token file, the one reader of `serve --token-file` and `sweep --token-file`: the
 * file's bytes with the blanks around them (spaces, tabs, CR, LF, blank lines) dropped, which
 * must be one line without NUL or other control characters. Returns the token, malloc'd (the
 * caller frees it), or NULL after printing "mlptune: --token-file F: why" (cannot open or read,
 * over SVC_TOKEN_MAX_BYTES, empty, a NUL byte, more than one line). Any thread. */
char *svc_token_file_read(const char *path);

/* `mlptune train ...`: returns the exit status. */
int svc_cmd_train(int argc, char **argv);

/* `mlptune serve ...`: runs the service until SIGINT/SIGTERM; returns the exit status. */
int svc_cmd_serve(int argc, char **argv);

/* `mlptune sweep ...`: submits a sweep to a running service (and follows it with --wait);
 * returns the exit status (0 completed, 1 failed or runtime failure, 2 usage or a 4xx answer,
 * 4 canceled). */
int svc_cmd_sweep(int argc, char **argv);

/* `mlptune sweep extend|retry ...` (argv[0] is "extend" or "retry"): asks a running service to
 * extend a sweep or re-queue its failed and lost trials (and follows it with --wait); returns
 * the exit status as svc_cmd_sweep does. */
int svc_cmd_sweep_op(int argc, char **argv);

#endif
