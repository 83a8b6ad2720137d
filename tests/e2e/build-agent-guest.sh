#!/usr/bin/env bash
# Build, from the Debian packages installed on this machine, a tiny guest that
# runs the real qemu-guest-agent: Debian's kernel, a gzip'd cpio initramfs with
# busybox (busybox-static), /sbin/qemu-ga and the libraries it links, and the
# virtio + ext4 modules; plus an ext4 data disk (qcow2) that the guest mounts at
# /data, so that quiesced snapshots really freeze a filesystem.
#
# Usage: build-agent-guest.sh CACHE_DIR
# Prints one line "KERNEL INITRD DATADISK" (paths inside CACHE_DIR).  The
# result is keyed on the kernel version, the qemu-ga version and this script's
# own contents, so a second run (the ASan build's e2e run) reuses it.
set -euo pipefail

die() { echo "build-agent-guest: $*" >&2; exit 1; }

cache=${1:?usage: build-agent-guest.sh CACHE_DIR}
mkdir -p "$cache"

# The newest installed kernel that has its modules on disk (in a container
# `uname -r` is the host's kernel, which need not be installed here).
kver=
for k in $(ls /boot/vmlinuz-* 2>/dev/null | sed 's|^/boot/vmlinuz-||' | sort -V); do
        [ -d "/lib/modules/$k/kernel" ] && kver=$k
done
[ -n "$kver" ] || die "no /boot/vmlinuz-* with /lib/modules/<ver> (install linux-image-amd64)"
kernel=/boot/vmlinuz-$kver
[ -r "$kernel" ] || die "$kernel is not readable"

qga=$(command -v qemu-ga || true)
[ -n "$qga" ] || qga=/usr/sbin/qemu-ga
[ -x "$qga" ] || die "qemu-ga not found (install qemu-guest-agent)"
bb=
for c in /bin/busybox /usr/bin/busybox; do
        [ -x "$c" ] && { bb=$c; break; }
done
[ -n "$bb" ] || die "busybox not found (install busybox-static)"
for t in cpio gzip mkfs.ext4 qemu-img; do
        command -v "$t" >/dev/null || die "$t not found"
done

qga_ver=$("$qga" -V 2>&1 | head -1)
key=$( { echo "$kver"; echo "$qga_ver"; cat "$0"; } | sha256sum | cut -c1-16)
out=$cache/agent-guest-$kver-$key
if [ -f "$out/done" ]; then
        echo "$out/vmlinuz $out/initrd.img $out/data.qcow2"
        exit 0
fi

# Older builds (another kernel, another version of this script) are stale.
rm -rf "$cache"/agent-guest-*
trap 'rm -rf "$out.tmp"' EXIT
mkdir -p "$out.tmp/root"
root=$out.tmp/root
mkdir -p "$root"/{bin,sbin,dev,proc,sys,run,tmp,data,etc,lib/modules,var}
ln -s ../run "$root/var/run"

# busybox, and the loader + libraries of every dynamic binary we ship.
cp "$bb" "$root/bin/busybox"
cp "$qga" "$root/sbin/qemu-ga"
copy_libs() {
        local lib
        # ldd prints "name => /path (addr)" or "/path (addr)" for the loader.
        for lib in $(ldd "$1" 2>/dev/null | grep -o '/[^ ]*' || true); do
                [ -e "$root$lib" ] && continue
                mkdir -p "$root$(dirname "$lib")"
                cp -L "$lib" "$root$lib"
        done
}
copy_libs "$qga"
copy_libs "$bb"
[ -n "$(find "$root" -name 'ld-linux*' -print -quit)" ] \
        || die "the loader of $qga was not found in ldd's output"

# Modules in dependency order (modules.dep), decompressed on the host so the
# guest's busybox insmod needs no xz/zstd support.
modules="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
virtio_console virtio_blk crc16 mbcache jbd2 crc32c_generic ext4"
order=
for m in $modules; do
        rel=$(grep -E "(^|/)$m\.ko(\.xz|\.zst|\.gz)?:" "/lib/modules/$kver/modules.dep" | head -1 | cut -d: -f1 || true)
        if [ -z "$rel" ]; then
                # Built into the kernel: nothing to load.
                grep -qE "/$m\.ko$" "/lib/modules/$kver/modules.builtin" 2>/dev/null \
                        || die "module $m not found for kernel $kver"
                continue
        fi
        src=/lib/modules/$kver/$rel
        dst=$root/lib/modules/$m.ko
        case "$src" in
        *.ko.xz)  xz -dc "$src" >"$dst" ;;
        *.ko.zst) zstd -qdc "$src" >"$dst" ;;
        *.ko.gz)  gzip -dc "$src" >"$dst" ;;
        *)        cp "$src" "$dst" ;;
        esac
        order="$order $m"
done

# /init: no udev, so find the agent's port by name under sysfs.  qemu-ga runs
# in a loop so init never exits; its verbose log goes to the serial console,
# where the tests read which freeze/thaw commands it executed.
cat >"$root/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in$order; do
        insmod /lib/modules/\$m.ko || echo "vs-init: insmod \$m failed"
done
for i in \$(seq 100); do
        ls /dev/vd? >/dev/null 2>&1 && break
        sleep 0.1
done
for d in /dev/vd?; do
        mount -t ext4 -o commit=60 \$d /data 2>/dev/null && { echo "vs-init: mounted \$d on /data"; break; }
done
port=
for i in \$(seq 100); do
        for n in /sys/class/virtio-ports/*/name; do
                [ -r "\$n" ] && [ "\$(cat \$n)" = org.qemu.guest_agent.0 ] && port=\$(basename \$(dirname \$n))
        done
        [ -n "\$port" ] && break
        sleep 0.1
done
if [ -z "\$port" ]; then
        echo "vs-init: no org.qemu.guest_agent.0 port; idling"
        while :; do sleep 3600; done
fi
echo "vs-init: agent port /dev/\$port"
while :; do
        echo "vs-init: starting qemu-ga"
        /sbin/qemu-ga -v -m virtio-serial -p /dev/\$port -t /run
        echo "vs-init: qemu-ga exited with \$?"
        sleep 1
done
EOF
chmod 755 "$root/init"

(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet | gzip -6) >"$out.tmp/initrd.img"
cp "$kernel" "$out.tmp/vmlinuz"

# The data disk: ext4 made on the host, converted to qcow2 (internal
# snapshots need qcow2).
truncate -s 32M "$out.tmp/data.raw"
mkfs.ext4 -q -F -L vsdata "$out.tmp/data.raw"
qemu-img convert -f raw -O qcow2 "$out.tmp/data.raw" "$out.tmp/data.qcow2"
rm -f "$out.tmp/data.raw"
rm -rf "$root"

touch "$out.tmp/done"
mv "$out.tmp" "$out"
echo "$out/vmlinuz $out/initrd.img $out/data.qcow2"
