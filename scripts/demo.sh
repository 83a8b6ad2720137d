#!/usr/bin/env bash
# README quick start, command 1: install what is missing, build, validate the
# example policies, then run the daemon for real on libvirt's embedded
# test:///default hypervisor with a history database in ./demo/.
#
# The daemon runs in the foreground until Ctrl-C (SIGINT), like under systemd.
# VS_DEMO_SECONDS=N stops it after N seconds (used by tests and CI smoke runs).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null

vs=./build/cli/virtsnap
$vs check -c policies.example.yaml
mkdir -p demo
echo
echo "== virtsnap daemon on test:///default (history in demo/history.db; Ctrl-C to stop)"
echo "   look at it with: $vs history --database demo/history.db"
args=(daemon -c policies.example.yaml --connect test:///default --database demo/history.db)
if [ -n "${VS_DEMO_SECONDS:-}" ]; then
  exec timeout --preserve-status -s INT "$VS_DEMO_SECONDS" "$vs" "${args[@]}"
fi
exec "$vs" "${args[@]}"
