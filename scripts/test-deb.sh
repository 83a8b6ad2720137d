#!/usr/bin/env bash
# The Debian package, as an admin installs it: build the .deb from a copy of
# the tree (dpkg-buildpackage -us -uc -b), lintian must report no error,
# install it, then use the installed files: `virtsnap check` on the shipped
# example, the units verified by systemd-analyze, the man pages found by
# man, the completion where bash-completion looks, the virtsnap group and
# /var/lib/virtsnap.  Root only (it installs); CI runs it after the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() { echo "test-deb: FAIL: $*" >&2; exit 1; }

mkdir "$work/virtsnap"
tar -C "$src" --exclude='./build*' --exclude=./.git -cf - . | tar -C "$work/virtsnap" -xf -
(cd "$work/virtsnap" && DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1) ||
        { tail -40 "$work/build.log" >&2; fail "dpkg-buildpackage"; }
deb=$(ls "$work"/virtsnap_*.deb)
echo "test-deb: built $(basename "$deb")"
lintian --fail-on error --tag-display-limit 0 "$deb" >"$work/lintian.log" 2>&1 ||
        { cat "$work/lintian.log" >&2; fail "lintian reports errors"; }
echo "test-deb: lintian: $(grep -c '^E:' "$work/lintian.log" || true) errors, $(grep -c '^W:' "$work/lintian.log" || true) warnings"

# --reinstall: a copy of the same version already installed would be kept.
DEBIAN_FRONTEND=noninteractive apt-get install --reinstall -y -qq "$deb" >"$work/install.log" 2>&1 ||
        { cat "$work/install.log" >&2; fail "installing the package"; }
[ -x /usr/bin/virtsnap ] || fail "/usr/bin/virtsnap missing"
/usr/bin/virtsnap check -c /usr/share/doc/virtsnap/policies.example.yaml >/dev/null ||
        fail "virtsnap check on the installed example"
for x in notify-mail notify-webhook; do
        [ -f "/usr/share/doc/virtsnap/examples/$x" ] || fail "example notifier $x not installed"
done
/usr/bin/virtsnap snapshots test --connect test:///default >/dev/null ||
        fail "the installed binary cannot reach libvirt through its module"
for u in virtsnap.service virtsnap-once.service virtsnap-once.timer; do
        [ -f "/lib/systemd/system/$u" ] || fail "$u not installed"
done
systemd-analyze verify /lib/systemd/system/virtsnap.service /lib/systemd/system/virtsnap-once.service \
        /lib/systemd/system/virtsnap-once.timer >"$work/verify.log" 2>&1 || true
grep -v -e 'libvirtd.service' -e 'virtqemud.service' "$work/verify.log" | grep -q . &&
        { cat "$work/verify.log" >&2; fail "systemd-analyze verify"; }
man -w virtsnap >/dev/null && man -w 5 virtsnap.yaml >/dev/null || fail "man pages not found by man"
[ -f "$(pkg-config --variable=completionsdir bash-completion)/virtsnap" ] || fail "completion not installed"
getent group virtsnap >/dev/null || fail "no virtsnap group"
[ "$(stat -c '%a %U %G' /var/lib/virtsnap)" = "700 root root" ] || fail "/var/lib/virtsnap: $(stat -c '%a %U %G' /var/lib/virtsnap)"
echo "test-deb: installed and checked"
