#!/usr/bin/env bash
# The e2e suite: one meson test.  Sets up the isolated libvirtd (lib.sh) once,
# builds or reuses the agent guest, then runs every case: the scripts
# tests/e2e/test-*.sh and the C programs given as arguments (meson passes the
# paths of the e2e executables it built).  Cases print TAP-like lines
# "ok - NAME" / "not ok - NAME" (cmocka's summary is read for C programs); a
# case that exits non-zero without reporting a failure counts as one failed.
# Ends with exactly "N passed, N failed" and fails on any failure: it never
# skips.  Set VS_E2E_ONLY=PATTERN to run only the cases whose name matches,
# VS_E2E_KEEP=1 to keep the run directory.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

t_start=$(date +%s)
vs_e2e_setup
export VS_E2E_AGENT_DOMAIN=vse2e-agent
t0=$(date +%s)
vs_agent_artifacts
vs_log "agent guest artifacts ready in $(($(date +%s) - t0))s"

passed=0
failed=0
failures=()

run_case() {
        local name=$1 log=$VS_E2E_DIR/case-$1.log rc np nf
        shift
        if [ -n "${VS_E2E_ONLY:-}" ] && [[ "$name" != *$VS_E2E_ONLY* ]]; then
                return 0
        fi
        local t=$(date +%s)
        echo "=== $name"
        # In the background so that a SIGTERM (meson's timeout) runs the
        # teardown at once instead of after the case.
        "$@" >"$log" 2>&1 &
        VS_E2E_CASE_PID=$!
        wait "$VS_E2E_CASE_PID"
        rc=$?
        VS_E2E_CASE_PID=
        cat "$log"
        if grep -q '^\[==========\]' "$log"; then
                # cmocka: "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s), ..."
                np=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
                nf=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed.*/\1/p' "$log" | tail -1)
                # no summary (the program crashed): count the tests that finished
                [ -n "$np" ] || np=$(grep -c '^\[       OK \]' "$log")
        else
                np=$(grep -c '^ok - ' "$log")
                nf=$(grep -c '^not ok - ' "$log")
        fi
        np=${np:-0}
        nf=${nf:-0}
        if [ "$rc" -ne 0 ] && [ "$nf" -eq 0 ]; then
                nf=1
        fi
        if [ "$np" -eq 0 ] && [ "$nf" -eq 0 ]; then
                echo "$name: reported no results" >&2
                nf=1
        fi
        passed=$((passed + np))
        failed=$((failed + nf))
        [ "$nf" -eq 0 ] || failures+=("$name")
        echo "=== $name: $np passed, $nf failed, exit $rc, $(($(date +%s) - t))s"
}

# The harness's own checks first: when the platform misbehaves they say so
# plainly, before the virtsnap cases fail in puzzling ways.
scripts=("$here/test-harness.sh")
for s in "$here"/test-*.sh; do
        [ "$s" = "$here/test-harness.sh" ] || scripts+=("$s")
done
for s in "${scripts[@]}"; do
        [ -e "$s" ] || continue
        run_case "$(basename "$s" .sh)" bash "$s"
done
for p in "$@"; do
        [ -x "$p" ] || { echo "e2e: case program $p is missing" >&2; failed=$((failed + 1)); continue; }
        run_case "$(basename "$p")" "$p"
done

echo "e2e: whole run $(($(date +%s) - t_start))s"
[ "$failed" -eq 0 ] || { echo "e2e: failed: ${failures[*]}"; VS_E2E_FAILED=1; }
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
