# Shell functions the examples share (sourced, never run). Needs bash, curl, gzip.

# curl that fails on HTTP errors and shows the problem+json body when it does.
api() {
    local out status
    out="$(mktemp)"
    status="$(curl -sS -o "$out" -w '%{http_code}' "$@")"
    if [ "${status:0:1}" != 2 ]; then
        echo "HTTP $status from $*:" >&2
        cat "$out" >&2
        echo >&2
        rm -f "$out"
        return 1
    fi
    cat "$out"
    rm -f "$out"
}

# idx_first_rows IMAGES LABELS ROWS DIR: the first ROWS items of an IDX image file and its label
# file (both .gz, 28 x 28 images), written as DIR/images.gz and DIR/labels.gz: each header with
# its count rewritten, then the data.
idx_first_rows() {
    local images="$1" labels="$2" rows="$3" dir="$4"
    count() { # 4 bytes, big-endian
        local b shift
        for shift in 24 16 8 0; do
            b=$(((rows >> shift) & 255))
            printf "\\$(printf '%03o' "$b")"
        done
    }
    set +o pipefail # head stops reading early, and gunzip is told so with SIGPIPE: expected
    { printf '\000\000\010\003'; count; gunzip -c "$images" | tail -c +9 | head -c $((8 + rows * 784)); } |
        gzip >"$dir/images.gz"
    { printf '\000\000\010\001'; count; gunzip -c "$labels" | tail -c +9 | head -c "$rows"; } |
        gzip >"$dir/labels.gz"
    set -o pipefail
}
