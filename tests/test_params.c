/* test_params.c - the parameter table (scheduler/params.h) walked through every consumer: each
 * row goes from a sweep body (grid or training) through validation, expansion, the stored trial
 * params JSON and back; each refuses a value outside its domain with its field path; each has a
 * `mlptune train` flag whose text parses; each is in GET /api/v1/meta/parameters and in the
 * OpenAPI document's Grid and Training schemas; each row that varies within a sweep has its
 * leaderboard columns, in the meta route too. Also pins the expansion order and the stored
 * JSON against what they were before the table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"
#include "mlpt_err.h"
#include "params.h"
#include "validate.h"

/* A value of row r other than its default, inside its domain. */
static void other_value(const sched_param_t *r, sched_value_t *v, char *text, size_t len) {
    memset(v, 0, sizeof *v);
    switch (r->type) {
    case SCHED_PARAM_INT:
        v->i = (uint64_t)r->def + 1;
        snprintf(text, len, "%llu", (unsigned long long)v->i);
        break;
    case SCHED_PARAM_REAL:
        v->r = r->domain == SCHED_REAL_UNIT_OPEN ? 0.5 : r->def * 2 + 0.25;
        snprintf(text, len, "%.17g", v->r);
        break;
    case SCHED_PARAM_ENUM:
        v->e = r->choices[r->n_choices - 1].value;
        if (v->e == (int)r->def)
            v->e = r->choices[0].value;
        snprintf(text, len, "%s", sched_param_choice_name(r, v->e));
        break;
    case SCHED_PARAM_SHAPE:
        break;
    }
}

static int same_value(const sched_param_t *r, const sched_value_t *a, const sched_value_t *b) {
    return r->type == SCHED_PARAM_REAL   ? a->r == b->r
           : r->type == SCHED_PARAM_ENUM ? a->e == b->e
                                         : a->i == b->i;
}

/* The smallest valid sweep body, with row r set to v (as a one-value grid axis when r is a grid
 * row, else in training). */
static json_t *body_with(const sched_param_t *r, const json_t *v) {
    json_t *body = json_pack("{s:i, s:{s:[[i, i]], s:[f], s:[i]}, s:{}}", "dataset_id", 1, "grid",
                             "layers", 3, 5, "learning_rate", 0.1, "iterations", 2, "training");
    assert_non_null(body);
    if (r->type == SCHED_PARAM_SHAPE)
        return body;
    if (r->flags & SCHED_PARAM_GRID)
        json_object_set_new(json_object_get(body, "grid"), r->name, json_pack("[O]", v));
    else
        json_object_set(json_object_get(body, "training"), r->name, (json_t *)v);
    return body;
}

static void test_every_row_round_trips(void **state) {
    (void)state;
    api_limits_t lim;
    api_limits_init(&lim);
    api_sweep_body_t *b = malloc(sizeof *b);
    api_errors_t *e = malloc(sizeof *e);
    assert_true(sched_param_count > 0 && sched_param_count <= SCHED_PARAM_MAX);
    for (size_t i = 0; i < sched_param_count; i++) {
        const sched_param_t *r = &sched_param_table[i];
        sched_value_t want;
        char text[64];
        other_value(r, &want, text, sizeof text);
        json_t *v = r->type == SCHED_PARAM_SHAPE ? NULL : sched_param_value_json(r, &want);
        json_t *body = body_with(r, v);
        api_errors_init(e);
        if (api_validate_sweep(body, &lim, b, e) != 0)
            fail_msg("row %s: refused: %s %s", r->name, e->n ? e->items[0].field : "-",
                     e->n ? e->items[0].message : "-");
        sched_params_t *t;
        size_t n;
        assert_int_equal(sched_grid_expand(&b->spec, 10, &t, &n), 0);
        assert_int_equal(n, 1);
        json_t *stored = sched_params_to_json(&t[0]);
        assert_non_null(stored);
        if (r->type == SCHED_PARAM_SHAPE) {
            assert_int_equal(t[0].shape.n_hidden, 2);
            assert_int_equal(t[0].shape.hidden[1], 5);
            assert_int_equal(json_integer_value(json_object_get(stored, "hidden_layers")), 2);
        } else {
            sched_value_t got;
            sched_param_get(r, &t[0], &got);
            if (!same_value(r, &got, &want))
                fail_msg("row %s: the trial does not hold the value given", r->name);
            if (!json_equal(json_object_get(stored, r->name), v))
                fail_msg("row %s: the stored params do not carry it", r->name);
        }
        sched_params_t back;
        assert_int_equal(sched_params_from_json(stored, &back), 0);
        if (!sched_params_same(&back, &t[0], 0))
            fail_msg("row %s: the stored params read back differently", r->name);
        json_decref(stored);
        json_decref(body);
        json_decref(v);
        free(t);
    }
    free(b);
    free(e);
}

static void test_every_row_refuses_out_of_domain(void **state) {
    (void)state;
    api_limits_t lim;
    api_limits_init(&lim);
    api_sweep_body_t *b = malloc(sizeof *b);
    api_errors_t *e = malloc(sizeof *e);
    for (size_t i = 0; i < sched_param_count; i++) {
        const sched_param_t *r = &sched_param_table[i];
        if (r->type == SCHED_PARAM_SHAPE)
            continue;
        json_t *bad = r->type == SCHED_PARAM_INT    ? json_integer(r->min - 1)
                      : r->type == SCHED_PARAM_REAL ? json_real(-1.0)
                                                    : json_string("no-such-choice");
        json_t *body = body_with(r, bad);
        char field[64];
        if (r->flags & SCHED_PARAM_GRID)
            snprintf(field, sizeof field, "grid.%s[0]", r->name);
        else
            snprintf(field, sizeof field, "training.%s", r->name);
        api_errors_init(e);
        assert_int_equal(api_validate_sweep(body, &lim, b, e), 422);
        assert_int_equal(e->n, 1);
        assert_string_equal(e->items[0].field, field);
        /* the stored params refuse it too */
        sched_params_t p;
        sched_params_defaults(&p);
        json_t *stored = sched_params_to_json(&p);
        json_object_set(stored, r->name, bad);
        assert_int_equal(sched_params_from_json(stored, &p), MLPT_EFORMAT);
        /* and the train flag */
        sched_value_t v;
        char why[200];
        char *text = json_dumps(bad, JSON_ENCODE_ANY);
        if (r->type == SCHED_PARAM_ENUM)
            text[strlen(text) - 1] = 0; /* no quotes */
        assert_int_not_equal(sched_param_check_text(r,
                                                    r->type == SCHED_PARAM_ENUM ? text + 1 : text,
                                                    &v, why, sizeof why),
                             0);
        free(text);
        json_decref(stored);
        json_decref(body);
        json_decref(bad);
    }
    free(b);
    free(e);
}

static void test_every_row_has_a_train_flag(void **state) {
    (void)state;
    for (size_t i = 0; i < sched_param_count; i++) {
        const sched_param_t *r = &sched_param_table[i];
        assert_non_null(r->flag);
        assert_non_null(r->flag_arg);
        assert_non_null(r->flag_help);
        for (size_t k = 0; k < i; k++)
            assert_string_not_equal(r->flag, sched_param_table[k].flag);
        if (r->type == SCHED_PARAM_SHAPE)
            continue;
        sched_value_t want, got;
        char text[64], why[200];
        other_value(r, &want, text, sizeof text);
        if (sched_param_check_text(r, text, &got, why, sizeof why) != 0)
            fail_msg("--%s %s: %s", r->flag, text, why);
        assert_true(same_value(r, &got, &want));
        assert_int_not_equal(sched_param_check_text(r, "", &got, why, sizeof why), 0);
    }
}

static void test_meta_lists_every_row(void **state) {
    (void)state;
    api_limits_t lim;
    api_limits_init(&lim);
    json_t *meta = api_meta_parameters(&lim);
    assert_non_null(meta);
    json_t *rows = json_object_get(meta, "parameters");
    assert_int_equal(json_array_size(rows), sched_param_count);
    for (size_t i = 0; i < sched_param_count; i++) {
        const sched_param_t *r = &sched_param_table[i];
        json_t *row = json_array_get(rows, i);
        assert_string_equal(json_string_value(json_object_get(row, "name")), r->name);
        json_t *form = json_object_get(row, "form");
        assert_non_null(json_string_value(json_object_get(form, "label")));
        assert_non_null(json_string_value(json_object_get(form, "section")));
        if (r->type == SCHED_PARAM_SHAPE)
            continue;
        sched_value_t d;
        sched_params_t p;
        sched_params_defaults(&p);
        sched_param_get(r, &p, &d);
        json_t *want = sched_param_value_json(r, &d);
        assert_true(json_equal(json_object_get(row, "default"), want));
        json_decref(want);
    }
    json_t *fin = json_object_get(json_object_get(meta, "trial_states"), "final");
    assert_int_equal(json_array_size(fin), 6);
    json_decref(meta);
    /* a configured limit lowers the row's maximum, and a default above it, as validation does */
    lim.max_batch_size = 32;
    meta = api_meta_parameters(&lim);
    size_t at = (size_t)(sched_param_find("batch_size") - sched_param_table);
    json_t *batch = json_array_get(json_object_get(meta, "parameters"), at);
    assert_int_equal(json_integer_value(json_object_get(batch, "max")), 32);
    assert_int_equal(json_integer_value(json_object_get(batch, "default")), 32);
    api_sweep_body_t *b = malloc(sizeof *b);
    api_errors_t *e = malloc(sizeof *e);
    json_t *body = json_pack("{s:i, s:{s:[i], s:[f], s:[i]}}", "dataset_id", 1, "grid",
                             "hidden_layers", 0, "learning_rate", 0.1, "iterations", 1);
    api_errors_init(e);
    assert_int_equal(api_validate_sweep(body, &lim, b, e), 0);
    assert_int_equal(b->spec.batch_size[0], 32);
    json_decref(body);
    json_decref(meta);
    free(b);
    free(e);
}

/* The expansion before the table: six nested loops, outermost first. */
static size_t old_expand(const sched_spec_t *s, sched_params_t *t) {
    size_t count = 0;
    for (size_t si = 0; si < s->n_hidden_layers * s->n_neurons; si++)
        for (size_t a = 0; a < s->n_activation; a++)
            for (size_t b = 0; b < s->n_batch_size; b++)
                for (size_t m = 0; m < s->n_momentum; m++)
                    for (size_t r = 0; r < s->n_learning_rate; r++)
                        for (size_t it = 0; it < s->n_iterations; it++) {
                            sched_params_t *p = &t[count++];
                            sched_params_defaults(p); /* the rows after these loops' */
                            p->shape.n_hidden = s->hidden_layers[si / s->n_neurons];
                            for (size_t l = 0; l < p->shape.n_hidden; l++)
                                p->shape.hidden[l] = s->neurons[si % s->n_neurons];
                            p->activation = s->activation[a];
                            p->batch_size = s->batch_size[b];
                            p->momentum = s->momentum[m];
                            p->learning_rate = s->learning_rate[r];
                            p->iterations = s->iterations[it];
                            p->validation_split = s->validation_split;
                            p->seed = s->seed;
                            p->scaling = s->scaling;
                            p->init = s->init;
                        }
    return count;
}

static void test_order_and_json_as_before(void **state) {
    (void)state;
    sched_spec_t s = {0};
    s.n_hidden_layers = 2, s.hidden_layers[0] = 1, s.hidden_layers[1] = 2;
    s.n_neurons = 2, s.neurons[0] = 8, s.neurons[1] = 4;
    s.n_activation = 2, s.activation[0] = TRAINER_ACT_TANH, s.activation[1] = TRAINER_ACT_RELU;
    s.n_batch_size = 2, s.batch_size[0] = 16, s.batch_size[1] = 4;
    s.n_momentum = 2, s.momentum[0] = 0.5, s.momentum[1] = 0;
    s.n_learning_rate = 3, s.learning_rate[0] = 0.25, s.learning_rate[1] = 1,
    s.learning_rate[2] = 0.125;
    s.n_iterations = 2, s.iterations[0] = 3, s.iterations[1] = 7;
    s.validation_split = 0.25, s.seed = 9, s.scaling = SCHED_SCALING_MINMAX;
    s.init = TRAINER_INIT_HE;
    static sched_params_t want[2 * 2 * 2 * 2 * 2 * 3 * 2];
    size_t n_want = old_expand(&s, want), n;
    sched_params_t *t;
    assert_int_equal(sched_grid_expand(&s, 1000, &t, &n), 0);
    assert_int_equal(n, n_want);
    for (size_t i = 0; i < n; i++)
        if (!sched_params_same(&t[i], &want[i], 0))
            fail_msg("trial %zu differs from the nested loops' order", i);
    /* the stored params, byte for byte as sched_params_to_json wrote them before the table */
    json_t *j = sched_params_to_json(&t[0]);
    char *text = json_dumps(j, JSON_COMPACT);
    assert_string_equal(text,
                        "{\"hidden_layers\":1,\"neurons\":8,\"layers\":[8],\"activation\":"
                        "\"tanh\",\"batch_size\":16,\"momentum\":0.5,\"learning_rate\":0.25,"
                        "\"iterations\":3,\"validation_split\":0.25,\"seed\":9,\"scaling\":"
                        "\"minmax\",\"init\":\"he\",\"split_by\":\"auto\",\"optimizer\":\"sgd\","
                        "\"beta1\":0.90000000000000002,\"beta2\":0.999,\"epsilon\":1e-8,"
                        "\"rho\":0.98999999999999999,\"l2\":0.0,\"weight_decay\":0.0,"
                        "\"schedule\":\"constant\",\"lr_gamma\":0.10000000000000001,"
                        "\"lr_step\":10,\"lr_min\":0.0,\"power_t\":0.5,\"warmup\":0,"
                        "\"dropout_input\":0.0,\"dropout_hidden\":0.0}");
    free(text);
    json_decref(j);
    free(t);
}

static void test_names_and_old_rows(void **state) {
    (void)state;
    const sched_param_t *act = sched_param_find("activation");
    for (size_t i = 0; i < act->n_choices; i++) {
        trainer_activation_t a;
        assert_int_equal(trainer_activation_parse(act->choices[i].name, &a), 0);
        assert_int_equal((int)a, act->choices[i].value);
    }
    int v;
    assert_int_equal(sched_param_choice_parse(act, "logistic", &v), 0); /* the trainer's alias */
    assert_int_equal(v, TRAINER_ACT_SIGMOID);
    const sched_param_t *init = sched_param_find("init");
    for (size_t i = 0; i < init->n_choices; i++) {
        trainer_init_t x;
        assert_int_equal(trainer_init_parse(init->choices[i].name, &x), 0);
        assert_int_equal((int)x, init->choices[i].value);
    }
    /* a trial stored before "scaling" and "init" existed reads as their defaults */
    json_t *old =
        json_pack("{s:i, s:n, s:[], s:s, s:i, s:f, s:f, s:i, s:f, s:i}", "hidden_layers", 0,
                  "neurons", "layers", "activation", "relu", "batch_size", 8, "momentum", 0.0,
                  "learning_rate", 0.5, "iterations", 4, "validation_split", 0.2, "seed", 1);
    sched_params_t p;
    assert_int_equal(sched_params_from_json(old, &p), 0);
    assert_int_equal(p.scaling, SCHED_SCALING_AUTO);
    assert_int_equal(p.init, TRAINER_INIT_AUTO);
    json_object_del(old, "seed"); /* but a row that always existed is required */
    assert_int_equal(sched_params_from_json(old, &p), MLPT_EFORMAT);
    json_decref(old);
    /* trials that differ only in iterations share a run; in anything else they do not */
    sched_params_t a, b;
    sched_params_defaults(&a);
    b = a;
    b.iterations = 99;
    assert_true(sched_params_same(&a, &b, SCHED_PARAM_RUN_LENGTH));
    assert_false(sched_params_same(&a, &b, 0));
    b.seed = 7;
    assert_false(sched_params_same(&a, &b, SCHED_PARAM_RUN_LENGTH));
}

/* The OpenAPI document's Grid and Training schemas name exactly the table's grid and training
 * rows, with the same choices and defaults. */
/* Every row that varies within a sweep (a GRID row) is a column of the leaderboards and the
 * heatmap: its columns name members of a trial's params JSON, have both headers and a width the
 * terminal header fits, and their places differ; sweep-wide rows have none. The meta route lists
 * the same columns, and sched_param_columns gives them in their order. */
static void test_every_grid_row_has_columns(void **state) {
    (void)state;
    sched_params_t p;
    sched_params_defaults(&p);
    p.shape.n_hidden = 2;
    p.shape.hidden[0] = p.shape.hidden[1] = 4;
    json_t *trial = sched_params_to_json(&p);
    json_t *meta = sched_param_table_json();
    assert_non_null(trial);
    assert_non_null(meta);
    unsigned orders = 0;
    size_t n_with = 0;
    for (size_t i = 0; i < sched_param_count; i++) {
        const sched_param_t *r = &sched_param_table[i];
        json_t *row = json_array_get(meta, i);
        if (!(r->flags & SCHED_PARAM_GRID)) {
            if (r->n_columns || json_object_get(row, "columns"))
                fail_msg("%s: a sweep-wide row has leaderboard columns", r->name);
            continue;
        }
        n_with++;
        if (!r->n_columns || !r->columns)
            fail_msg("%s: a grid row without leaderboard columns", r->name);
        assert_int_equal(r->n_columns, r->type == SCHED_PARAM_SHAPE ? 2 : 1);
        assert_true(r->column_order >= 0 && r->column_order < 32);
        if (orders & (1u << r->column_order))
            fail_msg("%s: column_order %d taken twice", r->name, r->column_order);
        orders |= 1u << r->column_order;
        json_t *cols = json_object_get(row, "columns");
        assert_int_equal(json_array_size(cols), r->n_columns);
        assert_int_equal(json_integer_value(json_object_get(row, "column_order")), r->column_order);
        assert_true(json_equal(json_object_get(row, "leaderboard"), json_boolean(r->leaderboard)));
        for (size_t c = 0; c < r->n_columns; c++) {
            const sched_param_column_t *col = &r->columns[c];
            if (!col->key || !col->label || !col->head)
                fail_msg("%s: column %zu lacks a key, a label or a head", r->name, c);
            if (!json_object_get(trial, col->key))
                fail_msg("%s: column %s is not in a trial's params", r->name, col->key);
            assert_true(col->width >= (int)strlen(col->head));
            json_t *jc = json_array_get(cols, c);
            assert_string_equal(json_string_value(json_object_get(jc, "key")), col->key);
            assert_string_equal(json_string_value(json_object_get(jc, "label")), col->label);
            assert_string_equal(json_string_value(json_object_get(jc, "head")), col->head);
            assert_int_equal(json_integer_value(json_object_get(jc, "width")), col->width);
        }
    }
    const sched_param_t *rows[SCHED_PARAM_MAX];
    assert_int_equal(sched_param_columns(rows), n_with);
    for (size_t i = 1; i < n_with; i++)
        assert_true(rows[i - 1]->column_order < rows[i]->column_order);
    /* today's columns, in today's order */
    const char *want[] = {"hidden_layers",
                          "neurons",
                          "learning_rate",
                          "iterations",
                          "batch_size",
                          "activation",
                          "momentum",
                          "optimizer",
                          "beta1",
                          "beta2",
                          "epsilon",
                          "rho",
                          "l2",
                          "weight_decay",
                          "schedule",
                          "lr_gamma",
                          "lr_step",
                          "lr_min",
                          "power_t",
                          "warmup",
                          "dropout_input",
                          "dropout_hidden"};
    size_t k = 0, n_want = sizeof want / sizeof want[0];
    for (size_t i = 0; i < n_with; i++)
        for (size_t c = 0; c < rows[i]->n_columns; c++, k++)
            assert_string_equal(rows[i]->columns[c].key, k < n_want ? want[k] : "(more)");
    assert_int_equal(k, n_want);
    json_decref(trial);
    json_decref(meta);
}

static void test_openapi_knows_every_row(void **state) {
    (void)state;
    json_error_t err;
    json_t *doc = json_load_file(MLPT_API_OPENAPI, 0, &err);
    if (!doc)
        fail_msg("%s: %s", MLPT_API_OPENAPI, err.text);
    json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");
    json_t *grid = json_object_get(json_object_get(schemas, "Grid"), "properties");
    json_t *training = json_object_get(json_object_get(schemas, "Training"), "properties");
    json_t *required = json_object_get(json_object_get(schemas, "Grid"), "required");
    size_t n_grid = 0, n_training = 0, n_required = 0;
    for (size_t i = 0; i < sched_param_count; i++) {
        const sched_param_t *r = &sched_param_table[i];
        if (r->type == SCHED_PARAM_SHAPE) {
            assert_non_null(json_object_get(grid, "hidden_layers"));
            assert_non_null(json_object_get(grid, "neurons"));
            assert_non_null(json_object_get(grid, "layers"));
            n_grid += 3;
            continue;
        }
        if (r->flags & SCHED_PARAM_GRID) {
            if (!json_object_get(grid, r->name))
                fail_msg("openapi.json: Grid lacks %s", r->name);
            n_grid++;
        }
        if (r->flags & SCHED_PARAM_REQUIRED) {
            size_t k, found = 0;
            json_t *name;
            json_array_foreach(required, k, name) found |=
                !strcmp(json_string_value(name), r->name);
            if (!found)
                fail_msg("openapi.json: Grid does not require %s", r->name);
            n_required++;
        }
        if (!(r->flags & SCHED_PARAM_TRAINING))
            continue;
        json_t *t = json_object_get(training, r->name);
        if (!t)
            fail_msg("openapi.json: Training lacks %s", r->name);
        n_training++;
        sched_params_t p;
        sched_value_t d;
        sched_params_defaults(&p);
        sched_param_get(r, &p, &d);
        json_t *want = sched_param_value_json(r, &d);
        json_t *got = json_object_get(t, "default");
        int same = json_is_number(want)
                       ? json_is_number(got) && json_number_value(got) == json_number_value(want)
                       : json_equal(got, want);
        if (!same)
            fail_msg("openapi.json: Training.%s has another default", r->name);
        json_decref(want);
        if (r->type == SCHED_PARAM_ENUM) {
            json_t *names = json_object_get(t, "enum");
            assert_int_equal(json_array_size(names), r->n_choices);
            for (size_t c = 0; c < r->n_choices; c++)
                assert_string_equal(json_string_value(json_array_get(names, c)),
                                    r->choices[c].name);
        }
    }
    json_t *row = json_object_get(
        json_object_get(json_object_get(json_object_get(schemas, "Parameters"), "properties"),
                        "parameters"),
        "items");
    const char *column_members[] = {"columns", "column_order", "leaderboard"};
    for (size_t i = 0; i < 3; i++)
        if (!json_object_get(json_object_get(row, "properties"), column_members[i]))
            fail_msg("openapi.json: a Parameters row lacks %s", column_members[i]);
    assert_int_equal(json_object_size(grid), n_grid);
    /* training's members that are not rows: early_stopping (scheduler/pruner.h), ranks and
     * sync_every (scheduler/ranks.h) */
    assert_non_null(json_object_get(training, "early_stopping"));
    assert_non_null(json_object_get(training, "ranks"));
    assert_non_null(json_object_get(training, "sync_every"));
    assert_int_equal(json_object_size(training), n_training + 3);
    assert_int_equal(json_array_size(required), n_required);
    json_decref(doc);
}

/* Issue 16's rows: their domains' edges, the trainer options they become (the defaults: today's
 * plain SGD; every field carried), and cosine trials never sharing a run across lengths. */
static int text_ok(const char *name, const char *text) {
    sched_value_t v;
    char why[160];
    return sched_param_check_text(sched_param_find(name), text, &v, why, sizeof why) == 0;
}

static void test_optimizer_rows(void **state) {
    (void)state;
    assert_true(text_ok("optimizer", "adamw") && !text_ok("optimizer", "3"));
    assert_true(text_ok("beta1", "0") && !text_ok("beta1", "1") && !text_ok("beta1", "nan"));
    assert_true(text_ok("epsilon", "1e-8") && !text_ok("epsilon", "0"));
    assert_true(text_ok("l2", "0") && !text_ok("l2", "-1") && !text_ok("l2", "inf"));
    assert_true(text_ok("lr_gamma", "1") && !text_ok("lr_gamma", "0") &&
                !text_ok("lr_gamma", "1.5"));
    assert_true(text_ok("lr_step", "1") && !text_ok("lr_step", "0"));
    assert_true(text_ok("warmup", "0") && !text_ok("warmup", "-1"));
    assert_true(text_ok("schedule", "cosine") && !text_ok("schedule", "foo"));
    sched_params_t p;
    sched_params_defaults(&p);
    trainer_options_t o = {0};
    sched_params_trainer_options(&p, &o);
    assert_int_equal(o.optimizer, TRAINER_OPT_SGD);
    assert_int_equal(o.schedule, TRAINER_SCHED_CONSTANT);
    assert_true(o.beta1 == 0.9f && o.beta2 == 0.999f && o.epsilon == 1e-8f && o.rho == 0.99f);
    assert_true(o.l2 == 0.0f && o.weight_decay == 0.0f && o.warmup == 0 && o.lr_step == 10);
    p.optimizer = TRAINER_OPT_RMSPROP, p.rho = 0.5, p.l2 = 0.25, p.weight_decay = 0.125;
    p.schedule = TRAINER_SCHED_STEP, p.lr_gamma = 0.5, p.lr_step = 3, p.lr_min = 0.01;
    p.power_t = 0.75, p.warmup = 2, p.beta1 = 0.8, p.beta2 = 0.95, p.epsilon = 1e-4;
    sched_params_trainer_options(&p, &o);
    assert_int_equal(o.optimizer, TRAINER_OPT_RMSPROP);
    assert_int_equal(o.schedule, TRAINER_SCHED_STEP);
    assert_true(o.rho == 0.5f && o.l2 == 0.25f && o.weight_decay == 0.125f && o.lr_gamma == 0.5f);
    assert_true(o.lr_step == 3 && o.lr_min == 0.01f && o.power_t == 0.75f && o.warmup == 2);
    assert_true(o.beta1 == 0.8f && o.beta2 == 0.95f && o.epsilon == 1e-4f);
    /* run sharing: lengths share a run, unless the schedule is cosine */
    sched_params_t a, b;
    sched_params_defaults(&a);
    b = a;
    b.iterations = a.iterations + 5;
    assert_true(sched_params_same(&a, &b, SCHED_PARAM_RUN_LENGTH));
    a.schedule = b.schedule = TRAINER_SCHED_COSINE;
    assert_false(sched_params_same(&a, &b, SCHED_PARAM_RUN_LENGTH));
    b.iterations = a.iterations;
    assert_true(sched_params_same(&a, &b, SCHED_PARAM_RUN_LENGTH));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_row_round_trips),
        cmocka_unit_test(test_every_row_refuses_out_of_domain),
        cmocka_unit_test(test_every_row_has_a_train_flag),
        cmocka_unit_test(test_meta_lists_every_row),
        cmocka_unit_test(test_order_and_json_as_before),
        cmocka_unit_test(test_names_and_old_rows),
        cmocka_unit_test(test_every_grid_row_has_columns),
        cmocka_unit_test(test_openapi_knows_every_row),
        cmocka_unit_test(test_optimizer_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
