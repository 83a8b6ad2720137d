#!/usr/bin/env bash
# README quick start, command 2: install what is missing, build, and run every
# test suite (unit, integration, e2e) twice: a normal build, then a build with
# AddressSanitizer + UndefinedBehaviorSanitizer; then build, lint and install
# the Debian package and check the installed files.
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

# The Debian package, built and installed from this tree (root only: it
# installs; CI runs as root).
if [ "$(id -u)" -eq 0 ]; then
  bash scripts/test-deb.sh
else
  echo "test.sh: not root: skipping the Debian package check (scripts/test-deb.sh)" >&2
fi
