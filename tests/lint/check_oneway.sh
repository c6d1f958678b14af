#!/usr/bin/env bash
# check_oneway.sh <build dir> - no two files of one folder call each other back and forth.
#
# Calls inside a folder go one way (issue 12): dispatch.c -> h_*.c -> h_common.c, tx.c ->
# files.c -> store_sql.c, and so on. This check reads the built objects of every folder with
# nm: for each pair of object files of one folder (all the folder's targets together, e.g.
# mlpt_api and mlpt_api_core in api/), it fails when each one uses a symbol the other defines,
# and lists the pair with the symbols each way. tests/ is not a folder of the service.
set -uo pipefail
build="${1:?usage: check_oneway.sh <build dir>}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
bad=0
folders=0
# The folders: each parent of a CMakeFiles/ that holds a target's objects (<folder>/CMakeFiles/<t>.dir).
while IFS= read -r folder; do
    rel="${folder#"$build"/}"
    case "$rel" in tests | tests/*) continue ;; esac
    mapfile -t objs < <(find "$folder/CMakeFiles" -path '*.dir/*' -name '*.o' | sort)
    [ "${#objs[@]}" -ge 2 ] || continue
    folders=$((folders + 1))
    for i in "${!objs[@]}"; do
        nm -u "${objs[$i]}" | awk '{print $NF}' | sort -u >"$tmp/u$i"
        nm -g --defined-only "${objs[$i]}" | awk '{print $NF}' | sort -u >"$tmp/d$i"
    done
    for i in "${!objs[@]}"; do
        for j in "${!objs[@]}"; do
            [ "$i" -lt "$j" ] || continue
            ij="$(comm -12 "$tmp/u$i" "$tmp/d$j" | tr '\n' ' ' | sed 's/ $//')"
            [ -n "$ij" ] || continue
            ji="$(comm -12 "$tmp/u$j" "$tmp/d$i" | tr '\n' ' ' | sed 's/ $//')"
            [ -n "$ji" ] || continue
            a="$(basename "${objs[$i]}" .o)"
            b="$(basename "${objs[$j]}" .o)"
            echo "$rel: $a <-> $b"
            echo "  $a uses $b's: $ij"
            echo "  $b uses $a's: $ji"
            bad=1
        done
    done
done < <(find "$build" -type d -name CMakeFiles -not -path '*/CMakeFiles/*' -exec dirname {} \; | sort)
if [ "$folders" = 0 ]; then
    echo "check_oneway: no object files found under $build (build first)"
    echo "0 passed, 1 failed"
    exit 1
fi
if [ "$bad" = 0 ]; then
    echo "check_oneway: $folders folders, no two files of one folder call each other back and forth"
    echo "1 passed, 0 failed"
else
    echo "0 passed, 1 failed (make the calls go one way: move what both use into a lower file)"
fi
exit "$bad"
