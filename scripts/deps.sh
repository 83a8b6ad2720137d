#!/usr/bin/env bash
# Install what virtsnap needs to build and test on Debian 12, idempotently:
# a quick dpkg check when everything is there, apt-get only for what is missing.
set -euo pipefail

PACKAGES=(
  # build
  meson ninja-build pkg-config gcc libc6-dev
  libvirt-dev libtirpc-dev libyaml-dev libxml2-dev libsqlite3-dev libuv1-dev libjson-c-dev libsystemd-dev
  libcmocka-dev tzdata
  # docs: man pages rendered with warnings on; bash-completion's pkg-config file
  # tells where completions are installed
  python3 groff-base man-db bash-completion
  # metrics: promtool checks the Prometheus exposition
  prometheus
  # the HTML report is checked in a real browser (headless)
  chromium
  # fuzzing: libFuzzer comes with clang's runtime (tests/fuzz/run.sh)
  clang libclang-rt-14-dev
  # the Debian package: built, linted, installed (scripts/test-deb.sh)
  debhelper lintian fakeroot dpkg-dev build-essential
  # ... and its unit run under a real systemd, in a container (scripts/test-systemd.sh)
  systemd-container
  # integration / e2e: a real libvirtd + QEMU (TCG) and a guest with qemu-guest-agent
  libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 qemu-utils
  linux-image-amd64 busybox-static qemu-guest-agent cpio gzip e2fsprogs sqlite3 procps
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "deps.sh: missing packages: ${missing[*]} (run as root to install them)" >&2
  exit 1
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
