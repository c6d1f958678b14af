/*
 * api/query.c - query arguments of the list and history routes (unknown ones rejected), the
 * rule for names, and the percent-decoding of paths and query strings.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "json_util.h"
#include "mlpt_err.h"
#include "router.h"
#include "validate.h"

int api_validate_query(const api_request_t *req, const char *const *allowed, api_errors_t *errs) {
    size_t before = errs->n + errs->dropped;
    for (size_t i = 0; i < req->n_query; i++) {
        size_t k = 0;
        while (allowed && allowed[k] && strcmp(allowed[k], req->query[i].key) != 0)
            k++;
        char field[96];
        snprintf(field, sizeof(field), "query.%.80s", req->query[i].key);
        if (!allowed || !allowed[k]) {
            api_errors_add(errs, field, "unknown query parameter");
            continue;
        }
        /* ?limit=5&limit=abc: only the first would be read, the rest silently ignored. Named
         * once, at its second occurrence. */
        size_t before_i = 0;
        for (size_t j = 0; j < i; j++)
            before_i += strcmp(req->query[j].key, req->query[i].key) == 0;
        if (before_i == 1)
            api_errors_add(errs, field, "is given more than once");
    }
    if (req->query_overflow)
        api_errors_add(errs, "query", "has more than %d parameters", API_MAX_QUERY);
    return errs->n + errs->dropped > before ? MLPT_EINVAL : 0;
}

int api_query_limit(const api_request_t *req, size_t *limit, api_errors_t *errs) {
    const char *v = api_query(req, "limit");
    uint64_t x;
    *limit = API_DEFAULT_LIMIT;
    if (!v)
        return 0;
    if (api_parse_uint(v, UINT64_MAX, &x) != 0 || x < 1 || x > API_MAX_LIMIT) {
        api_errors_add(errs, "query.limit", "must be an integer from 1 to %d", API_MAX_LIMIT);
        return MLPT_EINVAL;
    }
    *limit = (size_t)x;
    return 0;
}

int api_query_since(const api_request_t *req, int64_t *since, api_errors_t *errs) {
    const char *v = api_query(req, "since");
    uint64_t x;
    *since = 0;
    if (!v)
        return 0;
    if (api_parse_uint(v, INT64_MAX, &x) != 0) {
        api_errors_add(errs, "query.since", "must be a non-negative integer (an iteration)");
        return MLPT_EINVAL;
    }
    *since = (int64_t)x;
    return 0;
}

/* Returns the entry of list equal to v, or NULL. */
static const char *one_of(const char *v, const char *const *list) {
    for (size_t i = 0; list[i]; i++)
        if (strcmp(v, list[i]) == 0)
            return list[i];
    return NULL;
}

int api_query_sweep_status(const api_request_t *req, const char **status, api_errors_t *errs) {
    static const char *const states[] = {"queued", "running",  "completed",
                                         "failed", "canceled", NULL};
    const char *v = api_query(req, "status");
    *status = NULL;
    if (!v)
        return 0;
    if (!(*status = one_of(v, states))) {
        api_errors_add(errs, "query.status",
                       "must be one of queued, running, completed, failed, canceled");
        return MLPT_EINVAL;
    }
    return 0;
}

int api_query_trial_sort(const api_request_t *req, const char **sort, api_errors_t *errs) {
    static const char *const keys[] = {
        "ordinal",  "best_val_accuracy",  "final_val_accuracy",  "id",  "started_at",
        "-ordinal", "-best_val_accuracy", "-final_val_accuracy", "-id", "-started_at",
        NULL};
    const char *v = api_query(req, "sort");
    *sort = NULL;
    if (!v)
        return 0;
    if (!(*sort = one_of(v, keys))) {
        api_errors_add(errs, "query.sort",
                       "must be one of ordinal, best_val_accuracy, final_val_accuracy, id, "
                       "started_at, optionally prefixed by '-' for descending order");
        return MLPT_EINVAL;
    }
    return 0;
}

int api_name_check(const char *name, const char **why) {
    size_t n = strlen(name);
    if (n == 0) {
        *why = "must not be empty";
        return -1;
    }
    if (n > API_MAX_NAME) {
        *why = "is longer than 128 bytes";
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7F) {
            *why = "must not contain control characters";
            return -1;
        }
    if (!api_utf8_valid(name, n)) {
        *why = "must be valid UTF-8";
        return -1;
    }
    return 0;
}

static int hex_value(char ch) {
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

size_t api_unescape_no_nul(char *s) {
    char *out = s;
    for (const char *in = s; *in;) {
        int hi, lo;
        if (in[0] == '%' && (hi = hex_value(in[1])) >= 0 && (lo = hex_value(in[2])) >= 0 &&
            (hi | lo) != 0) {
            *out++ = (char)(hi * 16 + lo);
            in += 3;
        } else {
            *out++ = *in++;
        }
    }
    *out = '\0';
    return (size_t)(out - s);
}
