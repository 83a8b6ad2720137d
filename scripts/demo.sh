#!/usr/bin/env bash
# README quick start, command 1: install what is missing, build, and run the
# main job.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build
./build/cli/virtsnap check -c policies.example.yaml
