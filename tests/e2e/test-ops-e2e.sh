#!/usr/bin/env bash
# Operations next to running guests on the real libvirtd + QEMU (issue 12):
#   busy   a running pull-mode backup job (it lasts until aborted): the
#          snapshot waits with backoff, then is `skipped: domain busy (backup
#          job)` when the job outlasts its timeout, and is taken once the
#          backup ends during the wait; a block copy job (virsh blockcopy)
#          makes an internal and a disk-only snapshot wait the same way
#   guard  a disk on a small tmpfs: `min_free: 10%` skips the create once
#          the filesystem is filled (state skipped, a guarded event, monitor
#          CRITICAL) and lets it through again once space is back;
#          `max_chain: 2` stops the third external overlay
#   revert virtsnap revert: a safety snapshot first, then libvirt's revert;
#          the guest's disk content is back; an external snapshot is refused
#          before anything is done
set -uo pipefail
. "$(dirname "$0")/lib.sh"
[ -n "${VS_E2E_URI:-}" ] || vs_die "run me from run-e2e.sh"
[ -x "${VIRTSNAP:-}" ] || vs_die "VIRTSNAP is not set to the built binary"

dir=$VS_E2E_DIR/ops
small=$VS_E2E_IMG/small
mkdir -p "$dir" "$small"
cleanup() {
        vs_virsh destroy vse2e-guard >/dev/null 2>&1
        umount "$small" 2>/dev/null
}
trap cleanup EXIT

# Last line of a command's stderr log that says what became of the job.
job_line() {
        grep -E 'created snapshot|job skipped|job failed' "$1" | tail -1
}

# ---- busy: a backup job ------------------------------------------------------
dom=vse2e-busy
vs_make_domain "$dom" --running
cat >"$dir/busy.yaml" <<YAML
connection: "$VS_E2E_URI"
database: $dir/busy.db
control_socket: $dir/busy.sock
timezone: UTC
policies:
  - name: internal
    domains: {include: ["$dom"]}
    schedule: daily
    snapshot: {type: internal, timeout: 8s}
    retention: {keep_last: 5}
  - name: disk
    domains: {include: ["$dom"]}
    schedule: daily
    snapshot: {type: disk-only, timeout: 4s, overlay_dir: $VS_E2E_IMG}
    retention: {keep_last: 5}
YAML
cat >"$dir/backup.xml" <<XML
<domainbackup mode='pull'>
  <server transport='unix' socket='$VS_E2E_IMG/backup.sock'/>
  <disks>
    <disk name='vda' backup='yes' type='file'>
      <scratch file='$VS_E2E_IMG/backup-scratch.qcow2'/>
    </disk>
  </disks>
</domainbackup>
XML
vs_virsh backup-begin "$dom" "$dir/backup.xml" >/dev/null
vs_check "a pull-mode backup job runs" bash -c "virsh -q -c '$VS_E2E_URI' domjobinfo $dom | grep -q 'Operation: *Backup'"

t0=$(date +%s)
"$VIRTSNAP" snapshot "$dom" --policy internal -c "$dir/busy.yaml" >"$dir/b1.out" 2>"$dir/b1.err"
rc=$?
t1=$(date +%s)
vs_check_eq "busy all along: snapshot exits 1" 1 "$rc"
vs_check_eq "... skipped, saying why" \
        "info: $dom/internal: job skipped: domain busy (backup job), for the whole job timeout" "$(job_line "$dir/b1.err")"
# The waits double from 1 s. Whether a third (4 s) still fits in the 8 s
# depends on how long each busy check took, so the check is on the doubling.
delays=$(grep -o 'domain busy (backup job), trying again in [0-9]*s' "$dir/b1.err" | grep -o '[0-9]*s$' | tr '\n' ' ')
vs_check "... after waiting with backoff (1 s, 2 s, then 4 s if it fits: ${delays:-none})" \
        bash -c "[[ '$delays' == '1s 2s ' || '$delays' == '1s 2s 4s ' ]]"
vs_check "... within its 8 s timeout, not libvirt's 30 s lock wait ($((t1 - t0)) s)" test $((t1 - t0)) -le 12
vs_check_eq "... and libvirt has no snapshot" "" "$(vs_virsh snapshot-list "$dom" --name)"
"$VIRTSNAP" history -c "$dir/busy.yaml" --format csv >"$dir/b1.csv"
vs_check "history: the attempt is skipped, not failed" \
        grep -q ",skipped,.*domain busy (backup job), for the whole job timeout" "$dir/b1.csv"

# The backup ends while the snapshot waits: it is taken.
"$VIRTSNAP" snapshot "$dom" --policy internal -c "$dir/busy.yaml" >"$dir/b2.out" 2>"$dir/b2.err" &
pid=$!
sleep 2
vs_virsh domjobabort "$dom" >/dev/null
wait "$pid"
vs_check_eq "backup ended during the wait: snapshot exits 0" 0 $?
vs_check "... waited first" grep -q "domain busy (backup job), trying again" "$dir/b2.err"
vs_check "... then created it" bash -c "grep -q 'created snapshot internal-' '$dir/b2.err'"
vs_check_eq "... which libvirt has" 1 "$(vs_virsh snapshot-list "$dom" --name | grep -c '^internal-')"

# ---- busy: a block copy job -------------------------------------------------
vs_virsh blockcopy "$dom" vda "$VS_E2E_IMG/busy-copy.qcow2" --transient-job >/dev/null
vs_check "a block copy job runs" bash -c "virsh -q -c '$VS_E2E_URI' blockjob $dom vda --info 2>&1 | grep -q 'Block Copy'"
"$VIRTSNAP" snapshot "$dom" --policy disk -c "$dir/busy.yaml" >/dev/null 2>"$dir/b3.err"
vs_check_eq "block copy: a disk-only snapshot exits 1" 1 $?
vs_check_eq "... skipped: the copy job on vda" \
        "info: $dom/disk: job skipped: domain busy (block copy job on vda), for the whole job timeout" \
        "$(job_line "$dir/b3.err")"
sed -i 's/timeout: 8s/timeout: 3s/' "$dir/busy.yaml"
"$VIRTSNAP" snapshot "$dom" --policy internal -c "$dir/busy.yaml" >/dev/null 2>"$dir/b4.err"
vs_check_eq "block copy: an internal snapshot exits 1 (libvirt refused it; the job was found)" 1 $?
vs_check_eq "... skipped: the copy job on vda" \
        "info: $dom/internal: job skipped: domain busy (block copy job on vda), for the whole job timeout" \
        "$(job_line "$dir/b4.err")"
vs_virsh blockjob "$dom" vda --abort >/dev/null
"$VIRTSNAP" snapshot "$dom" --policy disk -c "$dir/busy.yaml" >/dev/null 2>"$dir/b5.err"
vs_check_eq "copy aborted: the disk-only snapshot is taken" 0 $?
vs_virsh destroy "$dom" >/dev/null

# ---- guard: a small filesystem, a short chain ------------------------------
mount -t tmpfs -o size=32M,mode=0755 tmpfs "$small" || vs_die "cannot mount a tmpfs on $small"
chown "$VS_E2E_USER:" "$small"
qemu-img create -q -f qcow2 "$small/guard.qcow2" 64M
chown "$VS_E2E_USER:" "$small/guard.qcow2"
vs__domain_xml vse2e-guard 64 "$small/guard.qcow2" 0 "" "" >"$dir/guard.xml"
vs_virsh define "$dir/guard.xml" >/dev/null
vs_virsh start vse2e-guard >/dev/null
cat >"$dir/guard.yaml" <<YAML
connection: "$VS_E2E_URI"
database: $dir/guard.db
control_socket: $dir/guard.sock
timezone: UTC
policies:
  - name: g
    domains: {include: [vse2e-guard]}
    schedule: daily
    snapshot: {type: disk-only, timeout: 30s}
    guard: {min_free: 10%, max_chain: 2}
    retention: {keep_last: 5}
YAML
"$VIRTSNAP" snapshot vse2e-guard --policy g -c "$dir/guard.yaml" >/dev/null 2>"$dir/g1.err"
vs_check_eq "guard: room and a short chain: snapshot exits 0" 0 $?
dd if=/dev/zero of="$small/fill" bs=1M count=30 status=none
"$VIRTSNAP" snapshot vse2e-guard --policy g -c "$dir/guard.yaml" >/dev/null 2>"$dir/g2.err"
vs_check_eq "guard: the filesystem filled: snapshot exits 1" 1 $?
vs_check "... skipped: low space, with the share free and the limit" \
        grep -Eq "job skipped: low space \([0-9.]+% free < 10%\) for vda \($small/" "$dir/g2.err"
vs_check_eq "... and no overlay was made" 1 "$(vs_virsh snapshot-list vse2e-guard --name | wc -l)"
"$VIRTSNAP" monitor -c "$dir/guard.yaml" >"$dir/g2.mon"
vs_check_eq "monitor: CRITICAL (exit 2)" 2 $?
vs_check "... skipped by its guard" grep -q "^VIRTSNAP CRITICAL .*vse2e-guard/g: skipped by its guard: low space" "$dir/g2.mon"
"$VIRTSNAP" status -c "$dir/guard.yaml" --format csv >"$dir/g2.csv"
vs_check "status: guarded" grep -q ",g,guarded," "$dir/g2.csv"
"$VIRTSNAP" events -c "$dir/guard.yaml" --state guarded --format csv >"$dir/g2.events"
vs_check "events: a guarded event" grep -q "low space" "$dir/g2.events"
rm -f "$small/fill"
"$VIRTSNAP" snapshot vse2e-guard --policy g -c "$dir/guard.yaml" >/dev/null 2>"$dir/g3.err"
vs_check_eq "space back: snapshot exits 0" 0 $?
"$VIRTSNAP" monitor -c "$dir/guard.yaml" >/dev/null
vs_check_eq "... and monitor is OK again" 0 $?
"$VIRTSNAP" snapshot vse2e-guard --policy g -c "$dir/guard.yaml" >/dev/null 2>"$dir/g4.err"
vs_check_eq "a third overlay: snapshot exits 1" 1 $?
vs_check_eq "... skipped: the chain would be too deep" \
        "info: vse2e-guard/g: job skipped: chain depth 3 > 2 on vda" "$(job_line "$dir/g4.err")"
vs_check_eq "... libvirt holds two snapshots" 2 "$(vs_virsh snapshot-list vse2e-guard --name | wc -l)"
vs_virsh destroy vse2e-guard >/dev/null
umount "$small" && rmdir "$small"

# ---- revert: a safety snapshot, then libvirt's revert ----------------------
dom=vse2e-rev
vs_make_domain "$dom"
disk=$VS_E2E_IMG/$dom.qcow2
cat >"$dir/rev.yaml" <<YAML
connection: "$VS_E2E_URI"
database: $dir/rev.db
control_socket: $dir/rev.sock
timezone: UTC
policies:
  - name: keep
    domains: {include: ["$dom"]}
    schedule: daily
    snapshot: {type: internal, timeout: 1m}
    retention: {keep_last: 10}
  - name: ext
    domains: {include: [nothing]}
    schedule: daily
    snapshot: {type: disk-only, timeout: 1m, overlay_dir: $VS_E2E_IMG}
    retention: {keep_last: 10}
YAML
pattern() { qemu-io -f qcow2 -c "read -P $1 0 64k" "$disk" 2>&1 | grep -q "read 65536/65536"; }
qemu-io -f qcow2 -c "write -P 0xaa 0 64k" "$disk" >/dev/null
"$VIRTSNAP" snapshot "$dom" --policy keep -c "$dir/rev.yaml" >"$dir/r1.out" 2>&1
good=$(sed -n "s/.*created snapshot \(keep-[^ ]*\) .*/\1/p" "$dir/r1.out")
vs_check "revert: a snapshot of the disk as it was (0xaa)" test -n "$good"
sleep 1
qemu-io -f qcow2 -c "write -P 0xbb 0 64k" "$disk" >/dev/null
vs_check "... then the disk changed (0xbb)" pattern 0xbb
"$VIRTSNAP" revert "$dom" "$good" -c "$dir/rev.yaml" --dry-run >"$dir/r2.out" 2>"$dir/r2.err"
vs_check_eq "revert --dry-run exits 0" 0 $?
vs_check "... says what it would do" grep -q "^$dom: would take a safety snapshot under policy keep (internal, kept 1w), then revert from $good to $good" "$dir/r2.out"
vs_check "... and changes nothing" pattern 0xbb
"$VIRTSNAP" revert "$dom" "$good" -c "$dir/rev.yaml" >"$dir/r3.out" 2>"$dir/r3.err"
vs_check_eq "revert exits 0" 0 $?
safety=$(sed -n "s/^$dom: safety snapshot \([^ ]*\) taken under policy keep, kept until .*/\1/p" "$dir/r3.out")
vs_check "... took a safety snapshot first ($(head -1 "$dir/r3.out"))" test -n "$safety"
vs_check "... which libvirt has" bash -c "virsh -q -c '$VS_E2E_URI' snapshot-list $dom --name | grep -qx '$safety'"
vs_check "... reverted, and says so" grep -qx "$dom: reverted from $good to $good; now shutoff" "$dir/r3.out"
vs_check "the disk holds what the snapshot had (0xaa)" pattern 0xaa
vs_check_eq "libvirt's current snapshot is the target" "$good" "$(vs_virsh snapshot-current "$dom" --name)"
"$VIRTSNAP" events -c "$dir/rev.yaml" --state reverted --format csv >"$dir/r3.events"
vs_check "events: reverted, who, from, to and the safety snapshot" \
        grep -q "reverted from $good to $good by uid 0 (root); safety snapshot $safety, kept until " "$dir/r3.events"
"$VIRTSNAP" revert "$dom" "$safety" -c "$dir/rev.yaml" --no-safety >"$dir/r4.out" 2>&1
vs_check_eq "revert to the safety snapshot (--no-safety) exits 0" 0 $?
vs_check "... and the change is back (0xbb)" pattern 0xbb

# A running domain: its memory snapshot brings it back running.
vs_virsh start "$dom" >/dev/null
"$VIRTSNAP" snapshot "$dom" --policy keep -c "$dir/rev.yaml" >"$dir/r5.out" 2>&1
live=$(sed -n "s/.*created snapshot \(keep-[^ ]*\) (memory).*/\1/p" "$dir/r5.out")
vs_check "a memory snapshot of the running domain" test -n "$live"
vs_virsh destroy "$dom" >/dev/null
"$VIRTSNAP" revert "$dom" "$live" -c "$dir/rev.yaml" >"$dir/r6.out" 2>&1
vs_check_eq "revert to it exits 0" 0 $?
vs_check "... now running" grep -qx "$dom: reverted from [^ ]* to $live; now running" "$dir/r6.out"
vs_check_eq "libvirt says running" "running" "$(vs_virsh domstate "$dom")"

# An external snapshot: refused before anything is done.
"$VIRTSNAP" snapshot "$dom" --policy ext -c "$dir/rev.yaml" >"$dir/r7.out" 2>&1
ext=$(sed -n "s/.*created snapshot \(ext-[^ ]*\) .*/\1/p" "$dir/r7.out")
vs_check "a disk-only snapshot" test -n "$ext"
before=$(vs_virsh snapshot-list "$dom" --name | sort)
"$VIRTSNAP" revert "$dom" "$ext" -c "$dir/rev.yaml" >"$dir/r8.out" 2>"$dir/r8.err"
vs_check_eq "revert to an external snapshot exits 1" 1 $?
vs_check "... says libvirt 9.0 cannot" grep -q "'$ext' is an external snapshot (disks only): libvirt 9.0 cannot revert to external snapshots" "$dir/r8.err"
vs_check_eq "... took no safety snapshot and changed nothing" "$before" "$(vs_virsh snapshot-list "$dom" --name | sort)"
"$VIRTSNAP" revert "$dom" "$live" -c "$dir/rev.yaml" >"$dir/r9.out" 2>"$dir/r9.err"
vs_check_eq "revert to an internal snapshot below an external one exits 1" 1 $?
vs_check "... says why" grep -q "external snapshot '$ext' was taken after '$live'" "$dir/r9.err"
vs_check_eq "... the domain still runs" "running" "$(vs_virsh domstate "$dom")"
vs_virsh destroy "$dom" >/dev/null

vs_case_done
