/*
 * cmd_train.c - `mlptune train`: one MLP on one dataset, its history as a table or JSON lines.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "format.h"
#include "ingest.h"
#include "mlpt_err.h"
#include "params.h"
#include "train.h"
#include "windows.h"

/* The help: the dataset and output options are this command's own; the parameter flags come
 * from the parameter table (scheduler/params.h). */
static void wrap(FILE *f, size_t *col, const char *word) {
    size_t len = strlen(word);
    if (*col + 1 + len > 99) {
        fprintf(f, "\n%20s", "");
        *col = 20;
    }
    fprintf(f, " %s", word);
    *col += 1 + len;
}

static void print_usage(FILE *f) {
    char word[160];
    size_t col = 20;
    fputs("usage: mlptune train --data FILE [--labels FILE] [--test FILE [--test-labels FILE]]\n"
          "                     [--format csv|idx|wisdm|timeseries [recording options]]\n"
          "                     (--layers N --neurons M | --hidden W1,W2,...)\n"
          "                    ",
          f);
    for (size_t i = 0; i < sched_param_count; i++) {
        const sched_param_t *r = &sched_param_table[i];
        if (r->type == SCHED_PARAM_SHAPE || !r->flag)
            continue;
        size_t n = (size_t)snprintf(word, sizeof word, "[--%s ", r->flag);
        for (size_t c = 0; r->type == SCHED_PARAM_ENUM && c < r->n_choices && n < sizeof word; c++)
            n += (size_t)snprintf(word + n, sizeof word - n, "%s%s", c ? "|" : "",
                                  r->choices[c].name);
        if (r->type != SCHED_PARAM_ENUM && n < sizeof word)
            n += (size_t)snprintf(word + n, sizeof word - n, "%s", r->flag_arg);
        if (n < sizeof word)
            snprintf(word + n, sizeof word - n, "]");
        wrap(f, &col, word);
    }
    const char *tail[] = {"[--threads T]", "[--label-column NAME|INDEX]", "[--save-model FILE]",
                          "[--json]"};
    for (size_t i = 0; i < sizeof tail / sizeof tail[0]; i++)
        wrap(f, &col, tail[i]);
    fputs("\n\n"
          "  --data FILE            CSV with a header row, or IDX images (then --labels is "
          "required);\n"
          "                         gzip-compressed files are recognised by their content\n"
          "  --labels FILE          IDX labels for IDX images\n"
          "  --test FILE            a separate test set (same format); its accuracy is reported "
          "at the end\n"
          "  --layers N --neurons M N hidden layers of M units each (N may be 0)\n"
          "  --format F             csv or idx (default: from the file), or a sensor recording:\n"
          "                         wisdm (WISDM v1.1 raw text) or timeseries (CSV with subject,\n"
          "                         label and timestamp columns); a recording trains on single\n"
          "                         samples, or on windows with any of the window options\n"
          "  --subject-column C, --timestamp-column C, --timestamp-unit ns|us|ms|s\n"
          "                         timeseries columns (default subject, timestamp) and unit\n"
          "  --window-seconds S, --step-seconds S, --features spectrogram|stats|raw,\n"
          "  --frame-seconds S, --hop-seconds S, --max-gap-seconds S\n"
          "                         windows of a recording, as POST /api/v1/datasets/{id}/windows\n"
          "                         (defaults 10, 5, spectrogram, 2, 1, 1)\n"
          "  --test-subjects I,J,.. a recording's subjects held out as the test set\n",
          f);
    for (size_t i = 0; i < sched_param_count; i++) {
        const sched_param_t *r = &sched_param_table[i];
        if (!r->flag)
            continue;
        snprintf(word, sizeof word, "%s %s", r->flag, r->flag_arg);
        fprintf(f, "  --%-20s ", word);
        for (const char *h = r->flag_help; *h; h++) {
            fputc(*h, f);
            if (*h == '\n')
                fprintf(f, "%25s", "");
        }
        if (r->type != SCHED_PARAM_SHAPE) {
            sched_value_t d;
            sched_params_t p;
            sched_params_defaults(&p);
            sched_param_get(r, &p, &d);
            if (r->type == SCHED_PARAM_ENUM)
                fprintf(f, " (default %s)", sched_param_choice_name(r, d.e));
            else if (r->type == SCHED_PARAM_REAL)
                fprintf(f, " (default %g)", d.r);
            else
                fprintf(f, " (default %llu)", (unsigned long long)d.i);
        }
        fputc('\n', f);
    }
    fputs("  --threads T            OpenBLAS threads (default: all cores)\n"
          "  --label-column C       CSV label column by name or 0-based index (default: "
          "\"label\", else last)\n"
          "  --save-model FILE      write the trained model there\n"
          "  --json                 one JSON object per iteration, then a summary line\n"
          "\n"
          "exit status: 0 trained, 2 bad arguments or input (one line names file, row and "
          "column),\n"
          "             3 diverged (NaN/Inf loss), 1 other failures\n",
          f);
}

typedef struct train_args {
    const char *data, *labels, *test, *test_labels, *label_column, *save_model;
    const char *format, *subject_column, *timestamp_column, *timestamp_unit, *test_subjects;
    const char *win[6]; /* window, step, features, frame, hop, max gap */
    const char *layers, *neurons, *hidden;
    sched_params_t params; /* the trial's hyperparameters, from the table's flags */
    trainer_arch_t arch;
    trainer_options_t opt;
    int threads;
    int json;
} train_args_t;

/* Returns the value of option argv[*i] (as "--name value" or "--name=value"), advancing *i. */
static const char *option_value(int argc, char **argv, int *i, const char *eq) {
    if (eq)
        return eq + 1;
    if (*i + 1 >= argc)
        return NULL;
    return argv[++*i];
}

/* The shape from --layers N --neurons M or --hidden W1,W2,... */
static int parse_shape(train_args_t *a, const char *hidden_flag) {
    sched_shape_t *sh = &a->params.shape;
    if (a->hidden && (a->layers || a->neurons)) {
        svc_errorf("train: give either --%s or --layers with --neurons, not both", hidden_flag);
        return -1;
    }
    if (!a->hidden && (!a->layers || !a->neurons)) {
        svc_errorf("train: the architecture needs --layers N --neurons M, or --%s W1,W2,...",
                   hidden_flag);
        return -1;
    }
    if (a->hidden)
        return svc_parse_size_list(hidden_flag, a->hidden, 1, TRAINER_MAX_WIDTH, sh->hidden,
                                   TRAINER_MAX_HIDDEN, &sh->n_hidden);
    size_t width;
    if (svc_parse_size("layers", a->layers, 0, TRAINER_MAX_HIDDEN, &sh->n_hidden) ||
        svc_parse_size("neurons", a->neurons, 1, TRAINER_MAX_WIDTH, &width))
        return -1;
    for (size_t l = 0; l < sh->n_hidden; l++)
        sh->hidden[l] = width;
    return 0;
}

static int parse_args(int argc, char **argv, train_args_t *a) {
    const char *threads = NULL, *hidden_flag = "hidden";
    const char *given[SCHED_PARAM_MAX] = {0}; /* a row's flag value, by row */
    struct {
        const char *name;
        const char **slot;
    } opts[] = {
        {"data", &a->data},
        {"labels", &a->labels},
        {"test", &a->test},
        {"test-labels", &a->test_labels},
        {"layers", &a->layers},
        {"neurons", &a->neurons},
        {"threads", &threads},
        {"label-column", &a->label_column},
        {"save-model", &a->save_model},
        {"format", &a->format},
        {"subject-column", &a->subject_column},
        {"timestamp-column", &a->timestamp_column},
        {"timestamp-unit", &a->timestamp_unit},
        {"test-subjects", &a->test_subjects},
        {"window-seconds", &a->win[0]},
        {"step-seconds", &a->win[1]},
        {"features", &a->win[2]},
        {"frame-seconds", &a->win[3]},
        {"hop-seconds", &a->win[4]},
        {"max-gap-seconds", &a->win[5]},
    };
    sched_params_defaults(&a->params);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--json")) {
            a->json = 1;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0) {
            svc_errorf("train: unexpected argument \"%s\"", arg);
            return -1;
        }
        const char *eq = strchr(arg, '=');
        size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        const char **slot = NULL, *name = NULL;
        for (size_t k = 0; !slot && k < sizeof opts / sizeof opts[0]; k++)
            if (strlen(opts[k].name) == len && !strncmp(opts[k].name, arg + 2, len)) {
                slot = opts[k].slot;
                name = opts[k].name;
            }
        for (size_t k = 0; !slot && k < sched_param_count; k++) {
            const sched_param_t *r = &sched_param_table[k];
            if (r->flag && strlen(r->flag) == len && !strncmp(r->flag, arg + 2, len)) {
                slot = r->type == SCHED_PARAM_SHAPE ? &a->hidden : &given[k];
                name = r->flag;
                if (r->type == SCHED_PARAM_SHAPE)
                    hidden_flag = r->flag;
            }
        }
        if (!slot) {
            svc_errorf("train: unknown option \"%s\" (see mlptune train --help)", arg);
            return -1;
        }
        const char *v = option_value(argc, argv, &i, eq);
        if (!v) {
            svc_errorf("--%s: missing value", name);
            return -1;
        }
        *slot = v;
    }
    if (!a->data) {
        svc_errorf("train: --data is required (see mlptune train --help)");
        return -1;
    }
    if (a->test_labels && !a->test) {
        svc_errorf("--test-labels: needs --test");
        return -1;
    }
    if (parse_shape(a, hidden_flag) != 0)
        return -1;
    for (size_t k = 0; k < sched_param_count; k++) {
        const sched_param_t *r = &sched_param_table[k];
        sched_value_t v;
        char why[200];
        if (!given[k])
            continue;
        if (sched_param_check_text(r, given[k], &v, why, sizeof why) != 0) {
            svc_errorf("--%s: %s", r->flag, why);
            return -1;
        }
        sched_param_set(r, &a->params, &v);
    }
    sched_params_trainer_options(&a->params, &a->opt);
    a->threads = svc_cpu_count();
    if (threads) {
        size_t z;
        if (svc_parse_size("threads", threads, 1, 1024, &z))
            return -1;
        a->threads = (int)z;
    }
    return 0;
}

/* The recording options: the format, its columns, the windows. -1 after printing why. */
static int recording_args(train_args_t *a, const ingest_format_def_t **fmt,
                          ingest_window_options_t *w, int *windows) {
    static const char *const names[6] = {"window-seconds", "step-seconds", "features",
                                         "frame-seconds",  "hop-seconds",  "max-gap-seconds"};
    *fmt = NULL;
    *windows = 0;
    ingest_window_options_init(w);
    if (a->format && !(*fmt = ingest_format_find(a->format))) {
        svc_errorf("--format: unknown format \"%s\" (csv, idx, wisdm, timeseries)", a->format);
        return -1;
    }
    int rec = *fmt && (*fmt)->report;
    const char *ts_only = a->subject_column     ? "subject-column"
                          : a->timestamp_column ? "timestamp-column"
                          : a->timestamp_unit   ? "timestamp-unit"
                                                : NULL;
    if (ts_only && (!*fmt || strcmp((*fmt)->name, "timeseries") != 0)) {
        svc_errorf("--%s: applies to --format timeseries only", ts_only);
        return -1;
    }
    double *secs[6] = {&w->window_seconds, &w->step_seconds, NULL,
                       &w->frame_seconds,  &w->hop_seconds,  &w->max_gap_seconds};
    for (int i = 0; i < 6; i++) {
        if (!a->win[i])
            continue;
        if (!rec) {
            svc_errorf("--%s: applies to a recording (--format wisdm or timeseries)", names[i]);
            return -1;
        }
        *windows = 1;
        if (i == 2 && ingest_features_parse(a->win[i], &w->features) != 0) {
            svc_errorf("--features: one of spectrogram, stats, raw");
            return -1;
        }
        if (i != 2 && svc_parse_double(names[i], a->win[i], 0.0, 86400.0, i == 5, secs[i]) != 0)
            return -1;
    }
    if (w->features != INGEST_FEATURES_SPECTROGRAM && (a->win[3] || a->win[4])) {
        svc_errorf("--%s: applies to --features spectrogram only", a->win[3] ? names[3] : names[4]);
        return -1;
    }
    if (a->test_subjects) {
        size_t ids[SCHED_MAX_TEST_GROUPS], n = 0;
        if (!rec) {
            svc_errorf("--test-subjects: applies to a recording (--format wisdm or timeseries)");
            return -1;
        }
        if (svc_parse_size_list("test-subjects", a->test_subjects, 0, INT32_MAX, ids,
                                SCHED_MAX_TEST_GROUPS, &n) != 0)
            return -1;
        for (size_t i = 0; i < n; i++)
            a->params.test_groups[i] = (int32_t)ids[i];
        a->params.n_test_groups = n;
    }
    if (a->test && rec) {
        svc_errorf("--test: a recording's test set is --test-subjects");
        return -1;
    }
    return 0;
}

/* A recording (and its windows): prints one line naming the file, line and field, or the
 * option, on bad input. */
static int load_recording(const train_args_t *a, const ingest_format_def_t *fmt,
                          const ingest_window_options_t *w, int windows, trainer_dataset_t **out) {
    ingest_options_t opt;
    ingest_error_t err = {0};
    ingest_options_init(&opt);
    opt.label_name = a->label_column;
    opt.rec.subject_column = a->subject_column;
    opt.rec.timestamp_column = a->timestamp_column;
    if (a->timestamp_unit && ingest_time_unit_parse(a->timestamp_unit, &opt.rec.timestamp_unit)) {
        svc_errorf("--timestamp-unit: one of ns, us, ms, s");
        return MLPT_EINVAL;
    }
    const char *paths[1] = {a->data};
    trainer_dataset_t *rec = NULL;
    int rc = ingest_load_files(fmt, paths, &opt, &rec, &err);
    if (rc && rc == MLPT_EINVAL && strstr(err.column_name, "_column")) {
        char flag[64]; /* a column option: name the flag ("--subject-column") */
        snprintf(flag, sizeof flag, "%s", err.column_name);
        for (char *c = flag; *c; c++)
            *c = *c == '_' ? '-' : *c;
        svc_errorf("%s: %s (--%s)", a->data, err.message, flag);
        return rc;
    }
    if (rc) {
        svc_errorf("%s: %s", a->data, err.message[0] ? err.message : mlpt_strerror(rc));
        return rc;
    }
    if (!windows) {
        *out = rec;
        return 0;
    }
    rc = ingest_windows_derive(rec, w, out, NULL, NULL, &err);
    trainer_dataset_free(rec);
    if (rc) {
        char opt_name[64];
        snprintf(opt_name, sizeof opt_name, "%s", err.column_name);
        for (char *c = opt_name; *c; c++)
            *c = *c == '_' ? '-' : *c;
        svc_errorf("--%s: %s", opt_name[0] ? opt_name : "window-seconds",
                   err.message[0] ? err.message : mlpt_strerror(rc));
    }
    return rc;
}

/* Loads a CSV or IDX dataset; on bad input prints one line naming the file, row and column. */
static int load(const char *path, const char *labels, const char *label_column,
                trainer_dataset_t **out) {
    ingest_error_t err = {0};
    int rc;
    if (labels) {
        rc = ingest_load_idx_files(path, labels, NULL, out, &err);
    } else {
        ingest_csv_options_t copt;
        ingest_csv_options_init(&copt);
        if (label_column) {
            char *end;
            long idx = strtol(label_column, &end, 10);
            if (*label_column && !*end && idx >= 0)
                copt.label_index = idx;
            else
                copt.label_name = label_column;
        }
        rc = ingest_load_csv_file(path, &copt, out, &err);
    }
    if (rc != 0) {
        /* IDX messages start with the role of the file at fault (err.part); name that file
         * instead. */
        const char *file = path, *msg = err.message[0] ? err.message : mlpt_strerror(rc);
        size_t role_len = err.part == INGEST_PART_LABELS   ? strlen("labels: ")
                          : err.part == INGEST_PART_IMAGES ? strlen("images: ")
                                                           : 0;
        if (labels && err.part == INGEST_PART_LABELS)
            file = labels;
        if (labels && role_len && strlen(msg) >= role_len && msg[role_len - 2] == ':')
            msg += role_len;
        svc_errorf("%s: %s", file, msg);
    }
    return rc;
}

/* JSON numbers: non-finite values (a diverged loss, an absent validation) become null. */
static void json_number(const char *key, double v, int last) {
    if (isfinite(v))
        printf("\"%s\": %.10g%s", key, v, last ? "" : ", ");
    else
        printf("\"%s\": null%s", key, last ? "" : ", ");
}

static int on_epoch(const trainer_epoch_t *e, void *user) {
    const train_args_t *a = user;
    if (a->json) {
        printf("{\"iteration\": %zu, ", e->iteration);
        json_number("train_loss", e->train_loss, 0);
        json_number("train_accuracy", e->train_accuracy, 0);
        json_number("val_loss", e->val_loss, 0);
        json_number("val_accuracy", e->val_accuracy, 0);
        json_number("seconds", e->seconds, 1);
        printf("}\n");
    } else {
        printf("%9zu  %10.4f  %9.4f  %9.4f  %9.4f  %8.3f\n", e->iteration, e->train_loss,
               e->train_accuracy, e->val_loss, e->val_accuracy, e->seconds);
    }
    fflush(stdout);
    return 0;
}

static int save_model(const trainer_model_t *m, const char *path) {
    unsigned char *buf = NULL;
    size_t len = 0;
    if (trainer_model_save(m, &buf, &len) != 0) {
        svc_errorf("--save-model: out of memory");
        return -1;
    }
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(buf, 1, len, f) == len;
    if (f && fclose(f) != 0)
        ok = 0;
    free(buf);
    if (!ok) {
        svc_errorf("%s: cannot write the model", path);
        return -1;
    }
    return 0;
}

int svc_cmd_train(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            print_usage(stdout);
            return SVC_EXIT_OK;
        }
    train_args_t a = {0};
    if (parse_args(argc, argv, &a) != 0)
        return SVC_EXIT_USAGE;

    int status = SVC_EXIT_USAGE;
    trainer_dataset_t *ds = NULL, *test = NULL;
    trainer_model_t *m = NULL;
    trainer_split_t split = {0};
    const ingest_format_def_t *fmt;
    ingest_window_options_t win;
    int windows;
    if (recording_args(&a, &fmt, &win, &windows) != 0)
        goto done;
    if (fmt && fmt->report ? load_recording(&a, fmt, &win, windows, &ds) != 0
                           : load(a.data, a.labels, a.label_column, &ds) != 0)
        goto done;
    if (ds->classes < 2) {
        svc_errorf("%s: a single class; training needs at least two", a.data);
        goto done;
    }
    if (a.test) {
        size_t unknown = 0;
        if (load(a.test, a.test_labels, a.label_column, &test) != 0)
            goto done;
        int rc = trainer_dataset_align_classes(test, ds, &unknown);
        if (rc == MLPT_EINVAL) {
            svc_errorf("%s: %zu features, but the training data has %zu", a.test, test->features,
                       ds->features);
            goto done;
        } else if (rc == MLPT_EFORMAT) {
            svc_errorf("%s: class \"%s\" does not occur in the training data", a.test,
                       test->class_names[unknown]);
            goto done;
        } else if (rc != 0) {
            status = SVC_EXIT_FAILURE;
            goto done;
        }
    }
    sched_params_arch(&a.params, ds->features, ds->classes, &a.arch);
    if (trainer_arch_check(&a.arch) != 0) {
        svc_errorf("train: the network %zu-...-%zu is beyond the limits (%d hidden layers of at "
                   "most %d units, %u parameters)",
                   a.arch.inputs, a.arch.outputs, TRAINER_MAX_HIDDEN, TRAINER_MAX_WIDTH,
                   TRAINER_MAX_PARAMS);
        goto done;
    }
    char why[200];
    int split_rc = sched_params_split(&a.params, ds, &split, why, sizeof why);
    if (split_rc == MLPT_EINVAL) {
        svc_errorf("train: %s", why);
        goto done;
    }
    status = SVC_EXIT_FAILURE;
    if (split_rc != 0 || !(m = trainer_model_new_init(&a.arch, a.opt.seed, a.params.init))) {
        svc_errorf("train: out of memory");
        goto done;
    }
    trainer_blas_set_threads(a.threads);
    if (!a.json) {
        printf("# %zu rows (%zu train, %zu validation), %zu features, %zu classes; network %zu",
               ds->rows, split.n_train, split.n_val, ds->features, ds->classes, a.arch.inputs);
        for (size_t l = 0; l < a.arch.n_hidden; l++)
            printf("-%zu", a.arch.hidden[l]);
        printf("-%zu %s, %zu parameters; %d BLAS threads (%s kernels)\n", a.arch.outputs,
               trainer_activation_name(a.arch.activation), m->n_params, a.threads,
               trainer_blas_core());
        printf("%9s  %10s  %9s  %9s  %9s  %8s\n", "iteration", "train_loss", "train_acc",
               "val_loss", "val_acc", "seconds");
    }
    trainer_result_t res;
    int rc = trainer_train(m, ds, &split, &a.opt, on_epoch, &a, &res);
    if (rc != 0 && rc != MLPT_EDIVERGED) {
        svc_errorf("train: %s", mlpt_strerror(rc));
        goto done;
    }
    double test_acc = NAN, test_loss = NAN;
    if (test && rc == 0 && trainer_evaluate(m, test, NULL, 0, &test_loss, &test_acc) != 0) {
        svc_errorf("train: out of memory");
        goto done;
    }
    int held = split.n_test > 0; /* --test-subjects: the test set is their rows */
    if (held && rc == 0 &&
        trainer_evaluate(m, ds, split.test, split.n_test, &test_loss, &test_acc) != 0) {
        svc_errorf("train: out of memory");
        goto done;
    }
    if (a.json) {
        printf("{\"done\": true, ");
        json_number("best_val_accuracy", res.best_val_accuracy, 0);
        if (test || held)
            json_number("test_accuracy", test_acc, 0);
        json_number("seconds", res.seconds, 0);
        json_number("samples_per_second", res.samples_per_second, 1);
        printf("}\n");
    } else {
        printf("# best validation accuracy %.4f at iteration %zu", res.best_val_accuracy,
               res.best_iteration);
        if (test || held)
            printf("; test accuracy %.4f (%zu rows)", test_acc, test ? test->rows : split.n_test);
        printf("; %.2f s, %.0f samples/s\n", res.seconds, res.samples_per_second);
    }
    if (rc == MLPT_EDIVERGED) {
        svc_errorf("train: diverged at iteration %zu (the loss is NaN or infinite); try a lower "
                   "--lr",
                   res.iterations_done);
        status = SVC_EXIT_DIVERGED;
        goto done;
    }
    if (a.save_model && save_model(m, a.save_model) != 0)
        goto done;
    status = SVC_EXIT_OK;
done:
    trainer_split_deinit(&split);
    trainer_model_free(m);
    trainer_dataset_free(ds);
    trainer_dataset_free(test);
    return status;
}
