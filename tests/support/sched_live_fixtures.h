/*
 * tests/support/sched_live_fixtures.h - the scheduler on a real store, for test_sched.c and
 * test_sched_resume.c: a temporary data dir holding iris as a matrix file, a scheduler started
 * on it with an event listener that counts (and records iteration events), and readers of
 * sweeps, histories and models through a store reader.
 *
 * Header-only (static inline) because each test executable is built from its one .c file. The
 * including file includes cmocka.h first.
 */
#ifndef SCHED_LIVE_FIXTURES_H
#define SCHED_LIVE_FIXTURES_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ingest.h"
#include "matrix.h"
#include "sched.h"
#include "sched_fixtures.h"

static inline void sleep_us(long us) {
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

#define MAX_SEEN 16384

typedef struct events {
    pthread_mutex_t lock;
    int started, iterations, finished, sweeps_finished;
    char last_sweep_status[16];
    int64_t seen_trial[MAX_SEEN], seen_iteration[MAX_SEEN]; /* iteration events, in order */
    int n_seen;
} events_t;

static inline void on_event(const sched_event_t *ev, void *user) {
    events_t *e = user;
    pthread_mutex_lock(&e->lock);
    switch (ev->type) {
    case SCHED_EVENT_TRIAL_STARTED:
        e->started++;
        break;
    case SCHED_EVENT_ITERATION:
        e->iterations++;
        if (e->n_seen < MAX_SEEN) {
            e->seen_trial[e->n_seen] = ev->trial_id;
            e->seen_iteration[e->n_seen++] = ev->metric.iteration;
        }
        break;
    case SCHED_EVENT_TRIAL_FINISHED:
        e->finished++;
        break;
    case SCHED_EVENT_SWEEP_FINISHED:
        e->sweeps_finished++;
        snprintf(e->last_sweep_status, sizeof e->last_sweep_status, "%s", ev->status);
        break;
    }
    pthread_mutex_unlock(&e->lock);
}

typedef struct fixture {
    char dir[64];
    char db[96];
    sched_t *s;
    events_t ev;
    int64_t dataset_id;
} fixture_t;

static inline int fixture_up(void **state) {
    fixture_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/mlpt-sched-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof f->db, "%s/mlptune.db", f->dir);
    pthread_mutex_init(&f->ev.lock, NULL);
    /* iris as the service keeps it: a matrix file under the data dir */
    trainer_dataset_t *ds = NULL;
    assert_int_equal(ingest_load_csv_file(MLPT_TEST_DATA_DIR "/iris.csv", NULL, &ds, NULL), 0);
    char path[160];
    snprintf(path, sizeof path, "%s/iris.mlds", f->dir);
    assert_int_equal(ingest_matrix_write(path, ds, NULL), 0);
    trainer_dataset_free(ds);
    *state = f;
    return 0;
}

/* A reader that finds the models and checkpoints the scheduler keeps as files. */
static inline store_t *open_reader(fixture_t *f, store_error_t *err) {
    store_t *r = store_open(f->db, STORE_READER, err);
    assert_non_null(r);
    assert_int_equal(store_set_data_dir(r, f->dir, err), 0);
    return r;
}

/* Starts the scheduler on the fixture with cfg (its paths set here). */
static inline void start_with(fixture_t *f, sched_config_t cfg) {
    cfg.data_dir = f->dir;
    cfg.db_path = f->db;
    store_error_t err;
    f->s = sched_start(&cfg, &err);
    assert_non_null(f->s);
    sched_set_listener(f->s, on_event, &f->ev);
}

static inline void start(fixture_t *f, int workers) {
    start_with(f, (sched_config_t){.workers = workers, .cores = 2, .checkpoint_every = 25});
}

static inline int fixture_down(void **state) {
    fixture_t *f = *state;
    sched_stop(f->s);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    pthread_mutex_destroy(&f->ev.lock);
    free(f);
    return 0;
}

static inline int64_t add_iris(fixture_t *f) {
    store_dataset_new_t d = {.name = "iris",
                             .format = "csv",
                             .scaling = "standardize",
                             .rows = 150,
                             .features = 4,
                             .classes = 3,
                             .class_names_json = "[\"setosa\",\"versicolor\",\"virginica\"]",
                             .class_counts_json = "[50,50,50]",
                             .size_bytes = 1,
                             .sha256 = "00",
                             .storage_path = "iris.mlds",
                             .created_at = 1.0};
    int64_t id = 0;
    store_error_t err;
    assert_int_equal(sched_dataset_create(f->s, &d, &id, &err), 0);
    assert_true(id > 0);
    return id;
}

static inline json_t *wait_sweep(fixture_t *f, int64_t id, const char *status, double seconds) {
    store_error_t err;
    store_t *r = open_reader(f, &err);
    assert_non_null(r);
    json_t *sw = NULL;
    for (int i = 0; i < (int)(seconds * 100); i++) {
        json_decref(sw);
        sw = store_sweep_get(r, id, &err);
        assert_non_null(sw);
        if (!strcmp(json_string_value(json_object_get(sw, "status")), status))
            break;
        sleep_us(10000);
    }
    store_close(r);
    assert_string_equal(json_string_value(json_object_get(sw, "status")), status);
    return sw;
}

/* The rows of one trial without the seconds (which a separate run measures anew). */
static inline json_t *rows_of(store_t *r, int64_t trial_id, int keep_seconds) {
    store_error_t err;
    json_t *h = store_trial_history(r, trial_id, 0, &err);
    assert_non_null(h);
    json_t *rows = json_deep_copy(json_object_get(h, "history"));
    json_decref(h);
    for (size_t i = 0; !keep_seconds && i < json_array_size(rows); i++)
        json_object_del(json_array_get(rows, i), "seconds");
    return rows;
}

/* One hidden layer of 8, batch 16, the seed grid's learning rates (n_lr of them), and the
 * given iteration counts: a small sweep that shares prefixes. */
static inline sched_spec_t small_spec(size_t n_lr, size_t n_it, const size_t *its) {
    sched_spec_t spec = fx_seed_grid();
    spec.n_hidden_layers = 1;
    spec.n_neurons = 1;
    spec.neurons[0] = 8;
    spec.n_learning_rate = n_lr;
    spec.batch_size[0] = 16;
    spec.n_iterations = n_it;
    for (size_t i = 0; i < n_it; i++)
        spec.iterations[i] = its[i];
    return spec;
}

/* Two trials' models are the same bytes. */
static inline void assert_same_model(store_t *r, int64_t a, int64_t b) {
    store_error_t err;
    void *m1, *m2;
    size_t l1, l2;
    assert_int_equal(store_trial_model(r, a, &m1, &l1, &err), 0);
    assert_int_equal(store_trial_model(r, b, &m2, &l2, &err), 0);
    assert_int_equal(l1, l2);
    assert_memory_equal(m1, m2, l1);
    free(m1);
    free(m2);
}

/* Two sweeps' histories, trial by trial (by ordinal), without the seconds. */
static inline void assert_same_histories(store_t *r, int64_t a, int64_t b) {
    store_error_t err;
    json_t *ha = store_sweep_history(r, a, &err), *hb = store_sweep_history(r, b, &err);
    json_t *ta = json_object_get(ha, "trials"), *tb = json_object_get(hb, "trials");
    assert_int_equal(json_array_size(ta), json_array_size(tb));
    for (size_t i = 0; i < json_array_size(ta); i++) {
        int64_t ia = json_integer_value(json_object_get(json_array_get(ta, i), "trial_id"));
        int64_t ib = json_integer_value(json_object_get(json_array_get(tb, i), "trial_id"));
        json_t *ra = rows_of(r, ia, 0), *rb = rows_of(r, ib, 0);
        assert_true(json_array_size(ra) > 0);
        assert_true(json_equal(ra, rb));
        json_decref(ra);
        json_decref(rb);
        assert_same_model(r, ia, ib);
    }
    json_decref(ha);
    json_decref(hb);
}

#endif
