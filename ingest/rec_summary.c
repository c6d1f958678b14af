/*
 * ingest/rec_summary.c - what a parsed recording holds (recording.h): its subjects, the sampling
 * rate (the median interval between consecutive samples of one subject and label), the gaps.
 */
#include <stdlib.h>
#include <string.h>

#include "recording.h"

/* Consecutive samples i - 1 and i of one subject and label. */
static int same_run(const trainer_dataset_t *r, size_t i) {
    return r->group[i] == r->group[i - 1] && r->y[i] == r->y[i - 1];
}

static int by_value(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The k-th smallest (0-based) of the positive v[0..n) by radix selection, 16 bits at a time
 * from the top: each pass counts the remaining candidates' digit, picks the digit's bucket that
 * holds the k-th and keeps only its members (compacted in place, v is reordered). O(n), no worst
 * case (a sort of a million intervals was most of a derivation's time). */
static int64_t select_kth(int64_t *v, size_t n, size_t k) {
    static const int shifts[4] = {48, 32, 16, 0};
    size_t *count = calloc(65536, sizeof *count);
    uint64_t prefix = 0;
    if (!count) { /* no memory for the counts: a sort, still exact */
        qsort(v, n, sizeof *v, by_value);
        return v[k];
    }
    for (int p = 0; p < 4 && n > 0; p++) {
        int sh = shifts[p];
        memset(count, 0, 65536 * sizeof *count);
        for (size_t i = 0; i < n; i++)
            count[((uint64_t)v[i] >> sh) & 0xFFFF]++;
        size_t d = 0;
        while (k >= count[d])
            k -= count[d++];
        prefix |= (uint64_t)d << sh;
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if ((((uint64_t)v[i] >> sh) & 0xFFFF) == d)
                v[m++] = v[i];
        n = m;
    }
    free(count);
    return (int64_t)prefix;
}

int ingest_rec_median_period(const trainer_dataset_t *rec, int64_t *period_ns) {
    *period_ns = 0;
    if (!rec || !rec->group || !rec->time)
        return MLPT_EINVAL;
    if (rec->rows < 2)
        return 0;
    int64_t *d = malloc((rec->rows - 1) * sizeof *d);
    if (!d)
        return MLPT_ENOMEM;
    size_t n = 0;
    for (size_t i = 1; i < rec->rows; i++)
        if (same_run(rec, i) && rec->time[i] > rec->time[i - 1])
            d[n++] = rec->time[i] - rec->time[i - 1];
    if (n)
        *period_ns = select_kth(d, n, n / 2);
    free(d);
    return 0;
}

static int by_id(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

int ingest_rec_summarize(const trainer_dataset_t *rec, ingest_rec_summary_t *out) {
    memset(out, 0, sizeof *out);
    int64_t period = 0;
    int rc = ingest_rec_median_period(rec, &period);
    if (rc)
        return rc;
    out->period_s = (double)period / 1e9;
    out->rate_hz = period > 0 ? 1e9 / (double)period : 0.0;
    int64_t threshold = 5 * period;
    out->gap_threshold_s = (double)threshold / 1e9;
    int64_t longest = 0;
    for (size_t i = 1; i < rec->rows; i++) {
        if (!same_run(rec, i))
            continue;
        int64_t dt = rec->time[i] - rec->time[i - 1];
        if (dt < 0)
            out->backwards++;
        else if (period > 0 && dt > threshold) {
            out->gaps++;
            if (dt > longest)
                longest = dt;
        }
    }
    out->longest_gap_s = (double)longest / 1e9;
    int32_t *ids = malloc(rec->rows * sizeof *ids);
    if (!ids)
        return MLPT_ENOMEM;
    memcpy(ids, rec->group, rec->rows * sizeof *ids);
    qsort(ids, rec->rows, sizeof *ids, by_id);
    size_t k = 0;
    for (size_t i = 0; i < rec->rows; i++)
        k += i == 0 || ids[i] != ids[i - 1];
    out->subjects = calloc(k, sizeof *out->subjects);
    if (!out->subjects) {
        free(ids);
        return MLPT_ENOMEM;
    }
    k = 0;
    for (size_t i = 0; i < rec->rows; i++) {
        if (i == 0 || ids[i] != ids[i - 1])
            out->subjects[k++].id = ids[i];
        out->subjects[k - 1].samples++;
    }
    out->n_subjects = k;
    free(ids);
    return 0;
}
