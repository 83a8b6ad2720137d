#!/usr/bin/env bash
# The fuzzing run: builds the libFuzzer harnesses with clang under
# ASan+UBSan in build-fuzz/ (-Dfuzz=true) and runs each for
# VS_FUZZ_SECONDS (default 60, what CI runs; set it higher for a long run)
# from its seed corpus in tests/fuzz/corpus/NAME.  New inputs go to a
# scratch directory, not into the tree; a crash leaves its input in
# build-fuzz/findings/ and fails the run: fix it and add the input to the
# corpus as a regression.  VS_FUZZ_ONLY=NAME runs one harness.
set -euo pipefail
cd "$(dirname "$0")/../.."
src=$(pwd)
secs=${VS_FUZZ_SECONDS:-60}
build=$src/build-fuzz
targets=(fuzz-policy fuzz-time fuzz-xml fuzz-control)

command -v clang >/dev/null || { echo "fuzz: clang is not installed (scripts/deps.sh)" >&2; exit 1; }
if [ ! -f "$build/build.ninja" ]; then
        CC=clang meson setup "$build" -Dfuzz=true -Dtests=false -Db_sanitize=address,undefined \
                -Db_lundef=false -Dbuildtype=debug >/dev/null
fi
ninja -C "$build" $(printf 'tests/fuzz/%s ' "${targets[@]}") >/dev/null

findings=$build/findings
mkdir -p "$findings"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:intercept_tls_get_addr=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
failed=()
for t in "${targets[@]}"; do
        [ -n "${VS_FUZZ_ONLY:-}" ] && [ "$t" != "$VS_FUZZ_ONLY" ] && [ "$t" != "fuzz-$VS_FUZZ_ONLY" ] && continue
        name=${t#fuzz-}
        mkdir -p "$scratch/$name"
        log=$scratch/$name.log
        rc=0
        # -rss_limit_mb: ASan's shadow counts; the billion-laughs seed must
        # stay far below this anyway.
        "$build/tests/fuzz/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
                -print_final_stats=1 -artifact_prefix="$findings/$name-" \
                "$scratch/$name" "$src/tests/fuzz/corpus/$name" >"$log" 2>&1 || rc=$?
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
        seeds=$(find "$src/tests/fuzz/corpus/$name" -type f | wc -l)
        found=$(find "$scratch/$name" -type f | wc -l)
        if [ "$rc" -ne 0 ]; then
                tail -n 60 "$log" >&2
                echo "fuzz: $t: FAILED (exit $rc) after ${runs:-?} executions; input in $findings/" >&2
                failed+=("$t")
        else
                echo "fuzz: $t: ${secs}s, ${runs:-?} executions, coverage ${cov:-?} edges, $seeds seeds + $found new inputs, no crash"
        fi
done
[ ${#failed[@]} -eq 0 ] || { echo "fuzz: failed: ${failed[*]}" >&2; exit 1; }
