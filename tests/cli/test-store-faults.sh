#!/usr/bin/env bash
# Store faults through the CLI (issue 14), on libvirt's test:///default:
# a history database that is corrupt (truncated, random bytes, SQLite's
# magic then garbage), read-only, or on a full file system.  Every command
# must fail with a clear error naming the file (exit 1), never crash, never
# change a damaged file, and never ask libvirt to create a snapshot it could
# not record first: `snapshot` logs "created snapshot" only after libvirt
# created one, so its absence, with exit 1, is the proof on a driver whose
# state lives in the process.  Readers while the daemon writes are checked
# on real QEMU (tests/e2e/test-chaos-e2e.sh).  The read-only and full cases
# need root (a read-only user and a small tmpfs), as CI has.
set -u

VIRTSNAP=${VIRTSNAP:?VIRTSNAP must point at the virtsnap binary}
tmp=$(mktemp -d)
mnt=
cleanup() {
        [ -n "$mnt" ] && mountpoint -q "$mnt" && umount "$mnt"
        rm -rf "$tmp"
}
trap cleanup EXIT
failures=0
cd "$tmp" || exit 1

fail() {
        echo "FAIL: $*" >&2
        failures=$((failures + 1))
}

[ "$(id -u)" -eq 0 ] || { echo "test-store-faults: needs root (a tmpfs, a read-only user)" >&2; exit 1; }

policy() {
        cat <<YAML
connection: test:///default
database: $tmp/$1
timezone: UTC
policies:
  - name: p
    schedule: hourly
    catch_up: false
    retention: {keep_last: 1}
YAML
}

# run NAME WANT_RC CMD...: runs a virtsnap command, output in NAME.out/.err.
run() {
        local name=$1 want=$2 rc=0
        shift 2
        "$VIRTSNAP" "$@" >"$name.out" 2>"$name.err" || rc=$?
        [ "$rc" -eq "$want" ] || fail "$name: exit $rc, want $want ($(head -c 300 "$name.err"))"
        if grep -q -e 'AddressSanitizer' -e 'runtime error:' "$name.err"; then
                fail "$name: a sanitizer report"
        fi
}

# ---- a good database to damage -----------------------------------------------
policy good.db >good.yaml
run good-1 0 snapshot test --policy p -c good.yaml
run good-2 0 snapshot test --policy p -c good.yaml
size=$(stat -c %s good.db 2>/dev/null || echo 0)
if [ "$size" -lt 8192 ]; then
        fail "the good database is only $size bytes"
        exit 1
fi

# ---- corrupt files -------------------------------------------------------------
# truncated: the first half (the schema's pages, the rows' pages cut off);
# random: no SQLite header at all; garbage: the header, then random pages.
head -c $((size / 2)) good.db >truncated.db
head -c "$size" /dev/urandom >random.db
{ head -c 100 good.db; head -c $((size - 100)) /dev/urandom; } >garbage.db
for kind in truncated random garbage; do
        cp "$kind.db" "$kind.orig"
        policy "$kind.db" >"$kind.yaml"
        run "$kind-history" 1 history -c "$kind.yaml"
        run "$kind-status" 1 status -c "$kind.yaml"
        run "$kind-snapshot" 1 snapshot test --policy p -c "$kind.yaml"
        run "$kind-reconcile" 1 reconcile -c "$kind.yaml"
        run "$kind-daemon" 1 daemon -c "$kind.yaml"
        for c in history status snapshot reconcile daemon; do
                grep -q "$kind.db" "$kind-$c.err" || fail "$kind $c: the error does not name the file: $(cat "$kind-$c.err")"
                grep -q -i -e 'corrupt' -e 'malformed' -e 'not an SQLite database' "$kind-$c.err" ||
                        fail "$kind $c: the error does not say the file is damaged: $(cat "$kind-$c.err")"
        done
        if grep -q 'created snapshot' "$kind-snapshot.err"; then
                fail "$kind: libvirt was asked to create a snapshot that could not be recorded"
        fi
        cmp -s "$kind.db" "$kind.orig" || fail "$kind: the damaged file was changed"
        echo "$kind: $(head -1 "$kind-snapshot.err")"
done

# ---- read-only: the file and its directory belong to root, the user is nobody --
mkdir ro
chmod 0755 "$tmp"
cp good.db ro/h.db
policy ro/h.db >ro.yaml
chmod 0644 ro.yaml
as_nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
rc=0
"${as_nobody[@]}" "$VIRTSNAP" snapshot test --policy p -c ro.yaml >ro-snapshot.out 2>ro-snapshot.err || rc=$?
[ "$rc" -eq 1 ] || fail "read-only snapshot: exit $rc, want 1 ($(cat ro-snapshot.err))"
grep -q "ro/h.db" ro-snapshot.err || fail "read-only snapshot: the error does not name the file: $(cat ro-snapshot.err)"
grep -q -i 'read-only\|permission' ro-snapshot.err || fail "read-only snapshot: not said why: $(cat ro-snapshot.err)"
grep -q 'created snapshot' ro-snapshot.err && fail "read-only: libvirt was asked to create a snapshot"
rc=0
"${as_nobody[@]}" "$VIRTSNAP" daemon -c ro.yaml >ro-daemon.out 2>ro-daemon.err || rc=$?
[ "$rc" -eq 1 ] || fail "read-only daemon: exit $rc, want 1 ($(cat ro-daemon.err))"
grep -q "ro/h.db" ro-daemon.err || fail "read-only daemon: the error does not name the file: $(cat ro-daemon.err)"
cmp -s ro/h.db good.db || fail "the read-only database changed"
echo "read-only: $(head -1 ro-snapshot.err)"

# ---- a full file system ----------------------------------------------------------
# The database on a 1 MiB tmpfs that is then filled to the last block: each
# command's first write (the intent, in a new WAL) finds no room.
mnt=$tmp/full
mkdir "$mnt"
mount -t tmpfs -o size=1m tmpfs "$mnt" || { fail "cannot mount a tmpfs"; exit 1; }
policy full/h.db >full.yaml
run full-first 0 snapshot test --policy p -c full.yaml
dd if=/dev/zero of="$mnt/filler" bs=4k 2>/dev/null
[ "$(df --output=avail "$mnt" | tail -1)" -eq 0 ] || fail "the tmpfs is not full"
cp "$mnt/h.db" full.before
run full-snapshot 1 snapshot test --policy p -c full.yaml
grep -q -i 'no space left' full-snapshot.err || fail "full: the error does not say the disk is full: $(cat full-snapshot.err)"
grep -q "$mnt/h.db" full-snapshot.err || fail "full: the error does not name the file: $(cat full-snapshot.err)"
grep -q 'created snapshot' full-snapshot.err && fail "full: libvirt was asked to create a snapshot that could not be recorded"
run full-daemon 1 daemon -c full.yaml
grep -q -i 'no space left' full-daemon.err || fail "full daemon: not said why: $(cat full-daemon.err)"
# A reader needs room too: SQLite's WAL index (h.db-shm) is a file that
# each first opener creates.  It is refused as clearly.
run full-history 1 history -c full.yaml --format csv
grep -q -i 'no space left' full-history.err || fail "full history: not said why: $(cat full-history.err)"
cmp -s "$mnt/h.db" full.before || fail "full: the database changed"
echo "full: $(head -1 full-snapshot.err)"
# Room again: the next snapshot works, and no row is left in an intent state.
rm -f "$mnt/filler"
run full-after 0 snapshot test --policy p -c full.yaml
run full-history-after 0 history -c full.yaml --format csv
grep -q -e ',creating,' -e ',deleting,' full-history-after.out && fail "full: a row stuck in an intent state"
[ "$(grep -c ',present,' full-history-after.out)" -eq 1 ] || fail "full: after the room came back: $(cat full-history-after.out)"

if [ "$failures" -ne 0 ]; then
        echo "test-store-faults: $failures failure(s)" >&2
        exit 1
fi
echo "test-store-faults: ok"
