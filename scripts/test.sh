#!/usr/bin/env bash
# README quick start, command 2: install what is missing, build, and run every
# test suite (unit, integration, e2e) twice: a normal build, then a build with
# AddressSanitizer + UndefinedBehaviorSanitizer; then the fuzzers for a
# bounded time; then build, lint and install
# the Debian package, check the installed files and run the installed units
# under systemd.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh

run_suites() {
  local dir=$1; shift
  [ -f "$dir/build.ninja" ] || meson setup "$dir" "$@" >/dev/null
  ninja -C "$dir"
  meson test -C "$dir" --print-errorlogs --num-processes 2
}

run_suites build
run_suites build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug

# libFuzzer on every outside input, ASan+UBSan, VS_FUZZ_SECONDS (60) each.
bash tests/fuzz/run.sh

# The Debian package, built and installed from this tree, then its units run
# under a real systemd in a container (root only: it installs, mounts and
# boots; CI runs as root).
if [ "$(id -u)" -eq 0 ]; then
  bash scripts/test-deb.sh
  bash scripts/test-systemd.sh
else
  echo "test.sh: not root: skipping the Debian package and systemd checks (scripts/test-deb.sh, scripts/test-systemd.sh)" >&2
fi
