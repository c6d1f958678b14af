/*
 * mlptune - tunes multi-layer perceptrons. main() only dispatches to a subcommand.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

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

int main(int argc, char **argv) {
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
