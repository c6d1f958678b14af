/*
 * bench/sensor_derive.c - the sensor pipeline's speed on one core: a WISDM raw file (read into
 * memory first, outside the timing) pushed through the wisdm parser in 1 MiB chunks, then cut
 * into windows with their features (ingest/recording.h, ingest/windows.h), REPEAT times. Prints
 * one JSON object: the file's MB (10^6 bytes), records, windows, and per run the seconds of the
 * parse and of the derivation, their medians and MB/s of raw text for the whole.
 *
 * usage: sensor_derive FILE [REPEAT [FEATURES [STEP_SECONDS]]]   (5, spectrogram, 5)
 * Built by bench/ingest --sensor (cc against the Release libraries of mlpt_ingest/mlpt_trainer).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "recording.h"
#include "windows.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int by_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: sensor_derive FILE [REPEAT [FEATURES [STEP_SECONDS]]]\n");
        return 2;
    }
    int repeat = argc > 2 ? atoi(argv[2]) : 5;
    ingest_window_options_t wopt;
    ingest_window_options_init(&wopt);
    if (argc > 3 && ingest_features_parse(argv[3], &wopt.features) != 0) {
        fprintf(stderr, "sensor_derive: features spectrogram, stats or raw\n");
        return 2;
    }
    if (argc > 4)
        wopt.step_seconds = atof(argv[4]);
    if (repeat < 1 || repeat > 100)
        repeat = 5;
    FILE *f = fopen(argv[1], "rb");
    if (!f || fseek(f, 0, SEEK_END) != 0) {
        perror(argv[1]);
        return 1;
    }
    long size = ftell(f);
    rewind(f);
    char *text = malloc((size_t)size);
    if (!text || fread(text, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "sensor_derive: cannot read %s\n", argv[1]);
        return 1;
    }
    fclose(f);
    double parse[100], derive[100], total[100];
    size_t records = 0, windows = 0, features = 0;
    for (int r = 0; r < repeat; r++) {
        ingest_error_t e;
        trainer_dataset_t *rec = NULL, *w = NULL;
        double t0 = now();
        ingest_rec_t *p = ingest_wisdm_new(NULL);
        int rc = p ? 0 : -1;
        for (long off = 0; !rc && off < size; off += 1 << 20) {
            size_t n = size - off < (1 << 20) ? (size_t)(size - off) : (size_t)1 << 20;
            rc = ingest_rec_feed(p, text + off, n, &e);
        }
        if (!rc)
            rc = ingest_rec_finish(p, &rec, &e);
        ingest_rec_free(p);
        double t1 = now();
        if (!rc)
            rc = ingest_windows_derive(rec, &wopt, &w, NULL, NULL, &e);
        double t2 = now();
        if (rc) {
            fprintf(stderr, "sensor_derive: %s\n", e.message);
            return 1;
        }
        records = rec->rows;
        windows = w->rows;
        features = w->features;
        parse[r] = t1 - t0;
        derive[r] = t2 - t1;
        total[r] = t2 - t0;
        trainer_dataset_free(rec);
        trainer_dataset_free(w);
    }
    printf("{\"file_mb\": %.3f, \"records\": %zu, \"windows\": %zu, \"features\": %zu, "
           "\"feature_kind\": \"%s\", \"runs\": [",
           (double)size / 1e6, records, windows, features, ingest_features_name(wopt.features));
    for (int r = 0; r < repeat; r++)
        printf("%s{\"parse_s\": %.4f, \"derive_s\": %.4f}", r ? ", " : "", parse[r], derive[r]);
    qsort(parse, (size_t)repeat, sizeof(double), by_double);
    qsort(derive, (size_t)repeat, sizeof(double), by_double);
    qsort(total, (size_t)repeat, sizeof(double), by_double);
    double med = total[repeat / 2];
    printf("], \"median_parse_s\": %.4f, \"median_derive_s\": %.4f, \"median_total_s\": %.4f, "
           "\"mb_per_s\": %.1f}\n",
           parse[repeat / 2], derive[repeat / 2], med, (double)size / 1e6 / med);
    free(text);
    return 0;
}
