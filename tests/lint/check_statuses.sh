#!/usr/bin/env bash
# check_statuses.sh <source root> - HTTP error statuses are chosen in api/problem.c only.
#
# Everything else in api/ names why it refuses a request (api_problem_kind_t, an MLPT_E* code,
# an errno) and problem.c turns that into a status. This check strips comments and string
# literals from every other api/*.c and fails on any HTTP error status written as a number.
# Not counted: metrics.c (the list of statuses it counts answers by), a `>= 400` that classifies
# an answer already made (the request log), and api/validate.c's sweep-spec parser, which still
# returns 422 as its "invalid" flag (its callers only test it for non-zero; the parameter table
# of issue 12 rewrites that parser).
set -uo pipefail
root="${1:-$(cd "$(dirname "$0")/../.." && pwd)}"
statuses='400|401|403|404|405|406|409|411|413|415|422|429|431|500|501|503|507'
bad=0
for f in "$root"/api/*.c; do
    name="$(basename "$f")"
    case "$name" in problem.c | metrics.c) continue ;; esac
    hits="$(gcc -fpreprocessed -dD -E -P "$f" 2>/dev/null |
        sed -E 's/"([^"\\]|\\.)*"/""/g' |
        grep -nE "(^|[^0-9A-Za-z_.])($statuses)([^0-9A-Za-z_.]|$)" |
        grep -vE '>= 400\b')"
    if [ "$name" = validate.c ]; then
        hits="$(grep -vE 'return 422;|> before \? 422 : 0;' <<<"$hits")"
    fi
    if [ -n "$hits" ]; then
        echo "api/$name: an HTTP status chosen outside api/problem.c (name an api_problem_kind_t):"
        sed 's/^/  line (comments stripped) /' <<<"$hits"
        bad=1
    fi
done
if [ "$bad" = 0 ]; then
    echo "check_statuses: no HTTP error status chosen outside api/problem.c"
    echo "1 passed, 0 failed"
else
    echo "0 passed, 1 failed"
fi
exit "$bad"
