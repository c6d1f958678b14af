/*
 * mlptune - tunes multi-layer perceptrons. main() picks OpenBLAS's kernels when it fell back to
 * generic ones (blas_kernels), then dispatches to a subcommand.
 */
#define _DEFAULT_SOURCE /* setenv, unsetenv */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "kernels.h"

#define REEXEC_MARK "MLPT_BLAS_REEXEC"

static const char usage[] =
    "usage: mlptune <command> [options]\n"
    "\n"
    "commands:\n"
    "  train    train one MLP on a dataset and print its history (mlptune train --help)\n"
#ifdef MLPT_HAVE_SERVE
    "  serve    run the HTTP service (mlptune serve --help)\n"
    "  sweep    submit, preview, extend or retry a sweep on a running service and follow it\n"
    "           (mlptune sweep --help)\n"
#endif
    ;

/* OpenBLAS picks its kernels when it loads, and Debian's 0.3.21 takes its generic SSE3 ones
 * ("Prescott", a fifth of the GEMM speed) on CPUs newer than it knows. Unless the environment
 * chose (OPENBLAS_CORETYPE), the process then names the kernels the CPU can run and executes
 * itself again, once (REEXEC_MARK), before anything else has started: no thread, socket or
 * file yet. Any failure leaves OpenBLAS's own pick. */
static void blas_kernels(char **argv) {
    if (getenv(REEXEC_MARK)) {
        unsetenv(REEXEC_MARK); /* not for the processes it may start */
        return;
    }
    const char *core = getenv("OPENBLAS_CORETYPE") ? NULL : trainer_blas_better_core();
    if (!core || setenv("OPENBLAS_CORETYPE", core, 1) != 0 || setenv(REEXEC_MARK, "1", 1) != 0)
        return;
    char self[4096]; /* the binary's own path, so the process keeps its name (not "exe") */
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        execv(self, argv);
    }
    unsetenv("OPENBLAS_CORETYPE"); /* it did not happen: the kernels stay as they are */
    unsetenv(REEXEC_MARK);
}

int main(int argc, char **argv) {
    blas_kernels(argv);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? SVC_EXIT_USAGE : SVC_EXIT_OK;
    }
    if (!strcmp(argv[1], "train"))
        return svc_cmd_train(argc - 1, argv + 1);
#ifdef MLPT_HAVE_SERVE
    if (!strcmp(argv[1], "serve"))
        return svc_cmd_serve(argc - 1, argv + 1);
    if (!strcmp(argv[1], "sweep"))
        return svc_cmd_sweep(argc - 1, argv + 1);
#endif
    svc_errorf("unknown command \"%s\"", argv[1]);
    fputs(usage, stderr);
    return SVC_EXIT_USAGE;
}
