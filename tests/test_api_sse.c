/*
 * tests/test_api_sse.c - the Server-Sent Events hub without sockets: a fake store stands in for
 * the replay reads and fake suspend/resume count the connection's state. Covers event
 * formatting (non-finite as null), live delivery with ids, suspend when idle and resume on
 * publish, exact resume from the ring by Last-Event-ID, replay from the store merged with events
 * published during the reads (no loss, no duplicate), 204 after the end, slow subscribers
 * dropped, heartbeats, closing, streams whose client closed the socket ended at once, and the
 * streams of a deleted sweep ended.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mlpt_err.h"
#include "sse.h"

/* ---- a fake store and connection ------------------------------------------------------------ */

typedef struct fake_trial {
    int64_t id;
    char status[16];
    int started;
    store_metric_t hist[64];
    size_t n;
} fake_trial_t;

static struct {
    fake_trial_t t[4];
    size_t n;
    char sweep_status[16];
    int suspended, suspends, resumes;
    int fail_reads;
    void (*before_read)(int64_t trial_id); /* runs as if committed before the read's snapshot */
    void (*after_read)(int64_t trial_id);  /* runs as if committed after it */
    api_sse_hub_t *hub;
} F;

static void fake_suspend(void *conn) {
    assert_ptr_equal(conn, &F);
    assert_false(F.suspended);
    F.suspended = 1;
    F.suspends++;
}

static void fake_resume(void *conn) {
    assert_ptr_equal(conn, &F);
    assert_true(F.suspended); /* resuming a connection that is not suspended is a bug */
    F.suspended = 0;
    F.resumes++;
}

static int fake_trial_ids(void *user, int64_t sweep_id, int64_t **ids, size_t *n) {
    (void)user, (void)sweep_id;
    if (F.fail_reads)
        return MLPT_EDB;
    *ids = malloc((F.n ? F.n : 1) * sizeof(**ids));
    for (size_t i = 0; i < F.n; i++)
        (*ids)[i] = F.t[i].id;
    *n = F.n;
    return 0;
}

static fake_trial_t *find(int64_t id) {
    for (size_t i = 0; i < F.n; i++)
        if (F.t[i].id == id)
            return &F.t[i];
    fail_msg("no trial %lld", (long long)id);
    return NULL;
}

static int fake_trial(void *user, int64_t trial_id, api_sse_trial_t *out) {
    (void)user;
    if (F.before_read)
        F.before_read(trial_id);
    fake_trial_t *t = find(trial_id);
    memset(out, 0, sizeof(*out));
    out->started = t->started;
    out->finished = strcmp(t->status, "completed") == 0;
    snprintf(out->status, sizeof(out->status), "%s", t->status);
    out->history = malloc((t->n ? t->n : 1) * sizeof(*out->history));
    memcpy(out->history, t->hist, t->n * sizeof(*out->history));
    out->n_history = t->n;
    if (F.after_read)
        F.after_read(trial_id);
    return 0;
}

static int fake_sweep_status(void *user, int64_t sweep_id, char status[16], int *finished) {
    (void)user, (void)sweep_id;
    snprintf(status, 16, "%s", F.sweep_status);
    *finished = strcmp(F.sweep_status, "completed") == 0;
    return 0;
}

static api_sse_hub_t *hub_new(size_t max_buffer) {
    api_sse_ops_t ops = {fake_suspend, fake_resume,       fake_trial_ids,
                         fake_trial,   fake_sweep_status, NULL};
    api_sse_config_t cfg = {.id_base = 1000000, .ring = 8, .max_buffer = max_buffer};
    memset(&F, 0, sizeof(F));
    snprintf(F.sweep_status, sizeof(F.sweep_status), "running");
    F.hub = api_sse_hub_new(&ops, &cfg);
    assert_non_null(F.hub);
    return F.hub;
}

/* Publishing as the scheduler does, after "committing" to the fake store. */
static void commit_iteration(int64_t sweep, int64_t trial, int64_t it) {
    fake_trial_t *t = find(trial);
    store_metric_t m = {trial, it, 1.0 / (double)it, 0.5, NAN, 0.25, 0.01, 0.0};
    t->started = 1;
    t->hist[t->n++] = m;
    sched_event_t ev = {SCHED_EVENT_ITERATION, sweep, trial, NULL, m};
    api_sse_publish(F.hub, &ev);
}

static void commit_simple(sched_event_type_t type, int64_t sweep, int64_t trial,
                          const char *status) {
    if (type == SCHED_EVENT_TRIAL_STARTED) {
        find(trial)->started = 1;
        snprintf(find(trial)->status, 16, "running");
    } else if (type == SCHED_EVENT_TRIAL_FINISHED) {
        snprintf(find(trial)->status, 16, "%s", status);
    } else {
        snprintf(F.sweep_status, 16, "%s", status);
    }
    sched_event_t ev = {type, sweep, trial, status, {0}};
    api_sse_publish(F.hub, &ev);
}

/* Ends a subscription as the HTTP layer does; the fake connection goes away with it. */
static void unsub(api_sse_sub_t *sub) {
    api_sse_unsubscribe(sub);
    F.suspended = 0;
}

/* Reads what the stream has now into out (appending). Returns 0 when it suspended, -1 at the
 * end. */
static int drain(api_sse_sub_t *sub, char *out, size_t cap) {
    size_t used = strlen(out);
    for (;;) {
        char buf[64]; /* small reads: the stream must survive any split */
        long n = api_sse_read(sub, buf, sizeof(buf));
        if (n <= 0)
            return n == 0 ? 0 : -1;
        assert_true(used + (size_t)n < cap);
        memcpy(out + used, buf, (size_t)n);
        used += (size_t)n;
        out[used] = '\0';
    }
}

static size_t count(const char *text, const char *needle) {
    size_t n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* The number of "iteration" events of trial with iteration it in text. */
static size_t count_iter(const char *text, int64_t trial, int64_t it) {
    char needle[96];
    snprintf(needle, sizeof(needle), "\"trial_id\":%lld,\"iteration\":%lld,", (long long)trial,
             (long long)it);
    return count(text, needle);
}

/* ---- tests --------------------------------------------------------------------------------- */

static void test_format(void **state) {
    (void)state;
    char buf[512];
    store_metric_t m = {4, 7, 0.5, 0.75, NAN, INFINITY, 1.5, 0.0};
    size_t n = api_sse_format(buf, sizeof(buf), 12, SCHED_EVENT_ITERATION, 3, 4, NULL, &m);
    assert_int_equal(n, strlen(buf));
    assert_string_equal(buf, "id: 12\nevent: iteration\ndata: {\"sweep_id\":3,\"trial_id\":4,"
                             "\"iteration\":7,\"train_loss\":0.5,\"train_accuracy\":0.75,"
                             "\"val_loss\":null,\"val_accuracy\":null,\"seconds\":1.5}\n\n");
    /* a live event says when its iteration's figures were complete */
    m.ended_at = 1795422901.1234;
    api_sse_format(buf, sizeof(buf), 12, SCHED_EVENT_ITERATION, 3, 4, NULL, &m);
    assert_non_null(strstr(buf, ",\"seconds\":1.5,\"ended_at\":\"2026-11-23T08:35:01.123Z\"}"));
    m.ended_at = 0.0;
    n = api_sse_format(buf, sizeof(buf), 0, SCHED_EVENT_SWEEP_FINISHED, 3, 0, "completed", NULL);
    assert_string_equal(buf,
                        "event: sweep_finished\ndata: {\"sweep_id\":3,\"status\":\"completed\"}"
                        "\n\n");
    n = api_sse_format(buf, sizeof(buf), 0, SCHED_EVENT_TRIAL_FINISHED, 3, 9, "bad\"status", NULL);
    assert_non_null(strstr(buf, "\"status\":\"unknown\"")); /* never unescaped text in JSON */
    assert_int_equal(api_sse_format(buf, 20, 12, SCHED_EVENT_ITERATION, 3, 4, NULL, &m), 0);
}

static void test_live_stream_suspends_and_resumes(void **state) {
    (void)state;
    static char out[1 << 16];
    api_sse_hub_t *hub = hub_new(0);
    F.n = 2;
    F.t[0] = (fake_trial_t){.id = 10, .status = "queued"};
    F.t[1] = (fake_trial_t){.id = 11, .status = "queued"};
    api_sse_sub_t *sub;
    assert_int_equal(api_sse_subscribe(hub, 5, NULL, &sub), 0);
    api_sse_attach(sub, &F);
    out[0] = '\0';
    assert_int_equal(drain(sub, out, sizeof(out)), 0);
    /* nothing happened yet: the replay ends at id base + 0 */
    assert_string_equal(out, "retry: 3000\n\nid: 1000000\n\n");
    assert_true(F.suspended);
    commit_simple(SCHED_EVENT_TRIAL_STARTED, 5, 10, "running");
    assert_false(F.suspended);
    commit_iteration(5, 10, 1);
    commit_iteration(5, 10, 2);
    commit_iteration(6, 11, 1); /* another sweep's channel: not delivered here */
    out[0] = '\0';
    assert_int_equal(drain(sub, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "id: 1000001\nevent: trial_started\n"));
    assert_non_null(strstr(out, "id: 1000003\nevent: iteration\n"));
    assert_int_equal(count(out, "event: "), 3);
    commit_simple(SCHED_EVENT_TRIAL_FINISHED, 5, 10, "completed");
    commit_simple(SCHED_EVENT_SWEEP_FINISHED, 5, 0, "completed");
    out[0] = '\0';
    assert_int_equal(drain(sub, out, sizeof(out)), -1); /* ends after sweep_finished */
    assert_non_null(strstr(out, "id: 1000005\nevent: sweep_finished\n"));
    assert_int_equal(api_sse_count(hub), 1);
    unsub(sub);
    assert_int_equal(api_sse_count(hub), 0);
    /* the client reconnects with the last id: nothing more, 204 */
    assert_int_equal(api_sse_subscribe(hub, 5, "1000005", &sub), API_SSE_SEEN_END);
    assert_null(sub);
    api_sse_hub_free(hub);
}

static void test_ring_resume_is_exact(void **state) {
    (void)state;
    static char out[1 << 16];
    api_sse_hub_t *hub = hub_new(0);
    F.n = 1;
    F.t[0] = (fake_trial_t){.id = 10, .status = "queued"};
    commit_simple(SCHED_EVENT_TRIAL_STARTED, 5, 10, "running"); /* id 1000001 */
    for (int i = 1; i <= 6; i++)
        commit_iteration(5, 10, i); /* ids 1000002 .. 1000007 */
    api_sse_sub_t *sub;
    assert_int_equal(api_sse_subscribe(hub, 5, "1000004", &sub), 0);
    api_sse_attach(sub, &F);
    out[0] = '\0';
    assert_int_equal(drain(sub, out, sizeof(out)), 0);
    assert_int_equal(count(out, "event: iteration"), 3); /* iterations 4, 5, 6 */
    assert_int_equal(count_iter(out, 10, 3), 0);
    assert_int_equal(count_iter(out, 10, 4), 1);
    assert_non_null(strstr(out, "id: 1000005\n"));
    commit_iteration(5, 10, 7);
    out[0] = '\0';
    assert_int_equal(drain(sub, out, sizeof(out)), 0);
    assert_int_equal(count_iter(out, 10, 7), 1);
    unsub(sub);
    /* the ring keeps 8 events: an older id is replayed from the store instead (no ids there) */
    for (int i = 8; i <= 12; i++)
        commit_iteration(5, 10, i);
    assert_int_equal(api_sse_subscribe(hub, 5, "1000002", &sub), 0);
    api_sse_attach(sub, &F);
    out[0] = '\0';
    assert_int_equal(drain(sub, out, sizeof(out)), 0);
    assert_int_equal(count(out, "event: iteration"), 12);
    assert_int_equal(count(out, "event: trial_started"), 1);
    assert_non_null(strstr(out, "\nid: 1000013\n\n")); /* the point the replay covers */
    assert_int_equal(count(out, "id: "), 1);
    unsub(sub);
    /* ids from another process (or garbage) replay too */
    assert_int_equal(api_sse_subscribe(hub, 5, "17", &sub), 0);
    api_sse_attach(sub, &F);
    out[0] = '\0';
    assert_int_equal(drain(sub, out, sizeof(out)), 0);
    assert_int_equal(count(out, "event: iteration"), 12);
    unsub(sub);
    api_sse_hub_free(hub);
}

/* During the read of trial 10: iteration 3 is committed before the snapshot (in the read and
 * published: must not come twice), and trial 11 gets iteration 1 (its read comes later). After
 * the snapshot, iteration 4 is committed (not in the read: must come live). */
static void publish_before(int64_t trial_id) {
    if (trial_id != 10)
        return;
    commit_iteration(5, 10, 3);
    commit_simple(SCHED_EVENT_TRIAL_STARTED, 5, 11, "running");
    commit_iteration(5, 11, 1);
}

static void publish_after(int64_t trial_id) {
    if (trial_id == 10)
        commit_iteration(5, 10, 4);
    if (trial_id == 11) /* trial 10 was replayed already: this one must come through */
        commit_simple(SCHED_EVENT_TRIAL_FINISHED, 5, 10, "completed");
}

static void test_replay_merges_live_events(void **state) {
    (void)state;
    static char out[1 << 16];
    api_sse_hub_t *hub = hub_new(0);
    F.n = 2;
    F.t[0] = (fake_trial_t){.id = 10, .status = "running", .started = 1};
    F.t[1] = (fake_trial_t){.id = 11, .status = "queued"};
    commit_iteration(5, 10, 1);
    commit_iteration(5, 10, 2);
    api_sse_sub_t *sub;
    assert_int_equal(api_sse_subscribe(hub, 5, NULL, &sub), 0);
    api_sse_attach(sub, &F);
    F.before_read = publish_before;
    F.after_read = publish_after;
    out[0] = '\0';
    assert_int_equal(drain(sub, out, sizeof(out)), 0);
    F.before_read = NULL;
    F.after_read = NULL;
    for (int it = 1; it <= 4; it++)
        if (count_iter(out, 10, it) != 1)
            fail_msg("iteration %d of trial 10 came %zu times:\n%s", it, count_iter(out, 10, it),
                     out);
    assert_int_equal(count_iter(out, 11, 1), 1);
    assert_int_equal(count(out, "event: trial_started"), 2);
    assert_int_equal(count(out, "event: trial_finished"), 1);
    /* replayed and merged events carry no id; the replay ends with the id it covers */
    char last[32];
    snprintf(last, sizeof(last), "\nid: %d\n\n", 1000000 + 7); /* 7 events so far */
    assert_non_null(strstr(out, last));
    assert_int_equal(count(out, "id: "), 1);
    commit_iteration(5, 11, 2);
    out[0] = '\0';
    assert_int_equal(drain(sub, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "id: 1000008\nevent: iteration\n"));
    unsub(sub);
    api_sse_hub_free(hub);
}

static void test_finished_sweep_replays_then_ends(void **state) {
    (void)state;
    static char out[1 << 16];
    api_sse_hub_t *hub = hub_new(0);
    F.n = 1;
    F.t[0] = (fake_trial_t){.id = 10, .status = "completed", .started = 1, .n = 2};
    F.t[0].hist[0] = (store_metric_t){10, 1, 1, 1, 1, 1, 1, 0};
    F.t[0].hist[1] = (store_metric_t){10, 2, 1, 1, 1, 1, 1, 0};
    snprintf(F.sweep_status, 16, "completed");
    api_sse_sub_t *sub;
    assert_int_equal(api_sse_subscribe(hub, 5, NULL, &sub), 0);
    api_sse_attach(sub, &F);
    out[0] = '\0';
    assert_int_equal(drain(sub, out, sizeof(out)), -1);
    assert_int_equal(count(out, "event: iteration"), 2);
    assert_non_null(strstr(out, "id: 1000000\nevent: sweep_finished\ndata: {\"sweep_id\":5,"
                                "\"status\":\"completed\"}"));
    assert_false(F.suspended);
    unsub(sub);
    assert_int_equal(api_sse_subscribe(hub, 5, "1000000", &sub), API_SSE_SEEN_END);
    F.fail_reads = 1; /* a store failure ends the stream */
    assert_int_equal(api_sse_subscribe(hub, 6, NULL, &sub), 0);
    api_sse_attach(sub, &F);
    out[0] = '\0';
    assert_int_equal(drain(sub, out, sizeof(out)), -1);
    unsub(sub);
    api_sse_hub_free(hub);
}

/* A deleted sweep's streams end, and its channel no longer counts as finished: a sweep later
 * published under the same id (databases from before ids only grew handed a deleted sweep's id
 * on) reaches its subscribers instead of being dropped, which left a live page waiting forever. */
static void test_deleted_sweep_streams_end(void **state) {
    (void)state;
    static char out[1 << 16];
    api_sse_hub_t *hub = hub_new(0);
    F.n = 1;
    F.t[0] = (fake_trial_t){.id = 10, .status = "queued"};
    api_sse_sub_t *sub, *late;
    assert_int_equal(api_sse_subscribe(hub, 5, NULL, &sub), 0);
    api_sse_attach(sub, &F);
    out[0] = '\0';
    assert_int_equal(drain(sub, out, sizeof(out)), 0); /* live, suspended */
    assert_true(F.suspended);
    api_sse_forget(hub, 5);
    assert_false(F.suspended); /* resumed so that it can end */
    assert_int_equal(drain(sub, out, sizeof(out)), -1);
    unsub(sub);
    api_sse_forget(hub, 77); /* a sweep nobody followed: nothing to do */

    /* The first sweep 5 finishes and is deleted; a new one under id 5 starts. */
    commit_simple(SCHED_EVENT_TRIAL_STARTED, 5, 10, "running");
    commit_simple(SCHED_EVENT_TRIAL_FINISHED, 5, 10, "completed");
    commit_simple(SCHED_EVENT_SWEEP_FINISHED, 5, 0, "completed");
    api_sse_forget(hub, 5);
    F.t[0] = (fake_trial_t){.id = 20, .status = "queued"};
    snprintf(F.sweep_status, 16, "running");
    assert_int_equal(api_sse_subscribe(hub, 5, NULL, &late), 0);
    api_sse_attach(late, &F);
    out[0] = '\0';
    assert_int_equal(drain(late, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "id: 1000003\n")); /* ids keep growing */
    commit_simple(SCHED_EVENT_TRIAL_STARTED, 5, 20, "running");
    commit_iteration(5, 20, 1);
    commit_simple(SCHED_EVENT_TRIAL_FINISHED, 5, 20, "completed");
    commit_simple(SCHED_EVENT_SWEEP_FINISHED, 5, 0, "completed");
    out[0] = '\0';
    assert_int_equal(drain(late, out, sizeof(out)), -1);
    assert_int_equal(count(out, "event: "), 4);
    assert_non_null(strstr(out, "id: 1000007\nevent: sweep_finished\n"));
    unsub(late);
    api_sse_hub_free(hub);
}

static void test_slow_subscriber_is_dropped(void **state) {
    (void)state;
    static char out[1 << 16];
    api_sse_hub_t *hub = hub_new(1024);
    F.n = 1;
    F.t[0] = (fake_trial_t){.id = 10, .status = "queued"};
    api_sse_sub_t *sub;
    assert_int_equal(api_sse_subscribe(hub, 5, NULL, &sub), 0);
    api_sse_attach(sub, &F);
    out[0] = '\0';
    assert_int_equal(drain(sub, out, sizeof(out)), 0);
    for (int i = 1; i <= 20; i++) /* ~200 bytes each, nobody reads */
        commit_iteration(5, 10, i);
    assert_int_equal(api_sse_read(sub, out, sizeof(out)), -1);
    unsub(sub);
    api_sse_hub_free(hub);
}

static void test_heartbeat_and_close(void **state) {
    (void)state;
    static char out[4096];
    api_sse_hub_t *hub = hub_new(0);
    F.n = 0;
    api_sse_sub_t *sub;
    assert_int_equal(api_sse_subscribe(hub, 5, NULL, &sub), 0);
    api_sse_attach(sub, &F);
    out[0] = '\0';
    assert_int_equal(drain(sub, out, sizeof(out)), 0);
    assert_true(F.suspended);
    api_sse_heartbeat(hub);
    assert_false(F.suspended);
    out[0] = '\0';
    assert_int_equal(drain(sub, out, sizeof(out)), 0);
    assert_string_equal(out, ": heartbeat\n\n");
    api_sse_close(hub);
    assert_false(F.suspended); /* closing resumes every suspended stream */
    assert_int_equal(api_sse_read(sub, out, sizeof(out)), -1);
    api_sse_sub_t *other;
    assert_int_equal(api_sse_subscribe(hub, 5, NULL, &other), MLPT_EBUSY);
    unsub(sub);
    api_sse_hub_free(hub);
    api_sse_unsubscribe(NULL);
    api_sse_hub_free(NULL);
}

/* A suspended stream whose client closed its socket ends at the next reap (not at the next
 * heartbeat): the reap resumes it and its reader reports the end. An open socket is left alone. */
static void test_closed_client_is_reaped(void **state) {
    (void)state;
    static char out[4096];
    int sv[2];
    api_sse_hub_t *hub = hub_new(0);
    F.n = 0;
    api_sse_sub_t *sub;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(api_sse_subscribe(hub, 6, NULL, &sub), 0);
    api_sse_attach(sub, &F);
    api_sse_watch_fd(sub, sv[0]);
    assert_int_equal(drain(sub, out, sizeof(out)), 0);
    assert_true(F.suspended);
    assert_int_equal(api_sse_reap(hub), 0); /* the client is still there */
    assert_true(F.suspended);
    close(sv[1]); /* the client goes */
    assert_int_equal(api_sse_reap(hub), 1);
    assert_false(F.suspended);
    assert_int_equal(api_sse_read(sub, out, sizeof(out)), -1);
    assert_int_equal(api_sse_reap(hub), 0);
    unsub(sub);
    close(sv[0]);
    api_sse_hub_free(hub);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_live_stream_suspends_and_resumes),
        cmocka_unit_test(test_ring_resume_is_exact),
        cmocka_unit_test(test_replay_merges_live_events),
        cmocka_unit_test(test_finished_sweep_replays_then_ends),
        cmocka_unit_test(test_deleted_sweep_streams_end),
        cmocka_unit_test(test_slow_subscriber_is_dropped),
        cmocka_unit_test(test_heartbeat_and_close),
        cmocka_unit_test(test_closed_client_is_reaped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
