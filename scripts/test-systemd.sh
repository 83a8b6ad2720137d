#!/usr/bin/env bash
# The installed package under a real systemd: this machine's own tree (with
# the .deb installed by scripts/test-deb.sh) booted as a container by
# systemd-nspawn, systemd as its PID 1, writes going to a tmpfs overlay so
# the host is left as it was.  Inside it, as an admin would: `systemctl
# start virtsnap` with the shipped unit (Type=notify, its hardening, the
# state and runtime directories), snapshots taken and pruned on libvirt's
# test driver, status through the control socket in /run/virtsnap, a reload
# with a changed and then an invalid policy file, the timer's one-shot unit,
# a refused start (file:line:column in the journal) and a clean stop.
# Root only (it mounts and boots); CI runs it after test-deb.sh.
set -euo pipefail

fail() {
        echo "test-systemd: FAIL: $*" >&2
        [ -n "${leader:-}" ] && in_ct journalctl -u virtsnap --no-pager -n 30 >&2 2>/dev/null
        exit 1
}

[ "$(id -u)" -eq 0 ] || fail "needs root"
command -v systemd-nspawn >/dev/null || fail "systemd-nspawn (package systemd-container) is not installed"
[ -f /lib/systemd/system/virtsnap.service ] || fail "the virtsnap package is not installed (scripts/test-deb.sh)"

top=$(mktemp -d)
root=$top/root
nspawn_pid=
leader=
cleanup() {
        local rc=$?
        # Nothing here may stop the cleanup half-way (set -e holds in traps):
        # a mount left behind would be the host's tree under $top.
        set +e
        if [ -n "$leader" ]; then
                nsenter -t "$leader" -a systemctl poweroff >/dev/null 2>&1
                for _ in $(seq 100); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.2; done
        fi
        if [ -n "$nspawn_pid" ]; then
                kill -KILL "$nspawn_pid" 2>/dev/null
                wait "$nspawn_pid" 2>/dev/null
        fi
        for m in "$root" "$top/up"; do
                mountpoint -q "$m" && { umount "$m" 2>/dev/null || umount -l "$m"; }
        done
        if mountpoint -q "$root" || mountpoint -q "$top/up"; then
                echo "test-systemd: $top is still mounted; left as it is" >&2
        else
                rm -rf --one-file-system "$top"
        fi
        exit "$rc"
}
trap cleanup EXIT

in_ct() { nsenter -t "$leader" -a "$@"; }

# The host's tree, read-only below a tmpfs: the container sees everything
# installed here and nothing it writes reaches the host.
mkdir -p "$top/up" "$root"
mount -t tmpfs -o size=512m tmpfs "$top/up"
mkdir "$top/up/upper" "$top/up/work"
mount -t overlay overlay -o "lowerdir=/,upperdir=$top/up/upper,workdir=$top/up/work" "$root"

policy=$root/etc/virtsnap/policies.yaml
mkdir -p "$root/etc/virtsnap"
cat >"$policy" <<'YAML'
connection: test:///default
database: /var/lib/virtsnap/history.db
control_socket: /run/virtsnap/control.sock
timezone: UTC
policies:
  - name: often
    schedule: every 3s
    retention: {keep_last: 2}
YAML

systemd-nspawn -D "$root" --register=no --keep-unit --console=passive -M virtsnap-ci --boot \
        >"$top/nspawn.log" 2>&1 &
nspawn_pid=$!
# The leader is found by name once nspawn has exec'd systemd in it; its bus
# comes up a little later, so ask until it answers (a busy CI machine boots
# the container's units slowly).
for _ in $(seq 300); do
        leader=$(pgrep -P "$nspawn_pid" -x systemd 2>/dev/null | head -n 1 || true)
        [ -n "$leader" ] && break
        kill -0 "$nspawn_pid" 2>/dev/null || fail "the container did not boot: $(cat "$top/nspawn.log")"
        sleep 0.2
done
[ -n "$leader" ] || fail "no systemd in the container: $(cat "$top/nspawn.log")"
state=
for _ in $(seq 120); do
        state=$(timeout 60 nsenter -t "$leader" -a systemctl is-system-running --wait 2>/dev/null || true)
        case $state in running | degraded) break ;; esac
        kill -0 "$nspawn_pid" 2>/dev/null || fail "the container stopped: $(cat "$top/nspawn.log")"
        sleep 1
done
# running or degraded (a host service that cannot run in a container is fine)
case $state in
running | degraded) ;;
*) fail "the container's systemd: '$state'" ;;
esac
[ "$(in_ct cat /proc/1/comm)" = systemd ] || fail "PID 1 of the container is not systemd"
echo "test-systemd: container booted ($state), systemd $(in_ct systemctl --version | head -n 1 | cut -d' ' -f2)"

# ---- start: Type=notify, READY only once it serves ---------------------------------
in_ct systemctl start virtsnap || fail "systemctl start virtsnap"
[ "$(in_ct systemctl is-active virtsnap)" = active ] || fail "virtsnap is not active"
status=$(in_ct systemctl show virtsnap -p StatusText --value)
case $status in *"1/1 connections up"*) ;; *) fail "sd_notify STATUS: '$status'" ;; esac
[ "$(in_ct systemctl show virtsnap -p NRestarts --value)" = 0 ] || fail "virtsnap restarted"
[ "$(in_ct stat -c '%a %U %G' /var/lib/virtsnap)" = "700 root root" ] ||
        fail "/var/lib/virtsnap: $(in_ct stat -c '%a %U %G' /var/lib/virtsnap)"
[ "$(in_ct stat -c '%a %G' /run/virtsnap/control.sock)" = "660 virtsnap" ] ||
        fail "control socket: $(in_ct stat -c '%a %G' /run/virtsnap/control.sock)"

# Snapshots on the schedule, pruned to keep_last 2, under the unit's hardening.
for _ in $(seq 100); do
        in_ct journalctl -u virtsnap --no-pager -o cat | grep -q '^test/often: pruned ' && break
        sleep 0.2
done
in_ct journalctl -u virtsnap --no-pager -o cat | grep -q '^test/often: pruned ' || fail "no prune within 20 s"
in_ct virtsnap status -c /etc/virtsnap/policies.yaml >"$top/status.txt" || fail "virtsnap status: $(cat "$top/status.txt")"
grep -q '^test  *often  *ok ' "$top/status.txt" || fail "status: $(cat "$top/status.txt")"
grep -q '^daemon: pid [0-9]* since' "$top/status.txt" || fail "status did not reach the daemon: $(cat "$top/status.txt")"
main_pid=$(in_ct systemctl show virtsnap -p MainPID --value)
grep -q "^daemon: pid $main_pid since" "$top/status.txt" || fail "status: not the unit's main process ($main_pid)"
in_ct virtsnap history -c /etc/virtsnap/policies.yaml --state deleted --format csv >"$top/deleted.csv"
[ "$(wc -l <"$top/deleted.csv")" -ge 2 ] || fail "history has no pruned row: $(cat "$top/deleted.csv")"

# An ad-hoc snapshot with a lifetime, through the daemon's socket.
in_ct virtsnap snapshot test --ttl 1h --note "from the CI" -c /etc/virtsnap/policies.yaml >"$top/snap.txt" 2>&1 ||
        fail "snapshot --ttl through the daemon: $(cat "$top/snap.txt")"
in_ct journalctl -u virtsnap --no-pager -o cat | grep -q 'test/often: ad-hoc snapshot requested by uid 0' ||
        fail "the ad-hoc snapshot was not taken by the daemon: $(cat "$top/snap.txt")"

# ---- reload: a changed file is taken, an invalid one is refused and logged -----------
sed -i 's/keep_last: 2/keep_last: 1/' "$policy"
in_ct systemctl reload virtsnap || fail "systemctl reload"
for _ in $(seq 50); do
        in_ct journalctl -u virtsnap --no-pager -o cat | grep -q 'configuration reloaded: 1 policies' && break
        sleep 0.2
done
in_ct journalctl -u virtsnap --no-pager -o cat | grep -q 'configuration reloaded: 1 policies' || fail "reload not logged"
printf '  - name: broken\n    schedule: [\n' >>"$policy"
in_ct systemctl reload virtsnap || fail "systemctl reload (invalid file)"
for _ in $(seq 50); do
        in_ct journalctl -u virtsnap --no-pager -o cat | grep -q 'policies.yaml:[0-9]*:[0-9]*' && break
        sleep 0.2
done
in_ct journalctl -u virtsnap --no-pager -o cat | grep -q '/etc/virtsnap/policies.yaml:[0-9]*:[0-9]*' ||
        fail "the invalid file's position is not in the journal"
sleep 1
[ "$(in_ct systemctl is-active virtsnap)" = active ] || fail "an invalid reload stopped the daemon"
[ "$(in_ct systemctl show virtsnap -p MainPID --value)" = "$main_pid" ] || fail "an invalid reload restarted the daemon"

# ---- a start with the invalid file is refused by ExecStartPre, with the position -----
in_ct systemctl stop virtsnap || fail "systemctl stop"
[ "$(in_ct systemctl show virtsnap -p Result --value)" = success ] ||
        fail "stop: Result=$(in_ct systemctl show virtsnap -p Result --value)"
[ "$(in_ct systemctl show virtsnap -p ExecMainStatus --value)" = 0 ] ||
        fail "stop: exit status $(in_ct systemctl show virtsnap -p ExecMainStatus --value)"
if in_ct systemctl start virtsnap 2>/dev/null; then fail "started with an invalid policy file"; fi
in_ct systemctl status virtsnap --no-pager >"$top/refused.txt" 2>&1 || true
grep -q 'ExecStartPre=.*status=1/FAILURE' "$top/refused.txt" || fail "refused start: $(cat "$top/refused.txt")"
in_ct systemctl stop virtsnap 2>/dev/null || true
in_ct systemctl reset-failed virtsnap 2>/dev/null || true

# ---- the timer's one-shot unit, with the file fixed --------------------------------
sed -i '/name: broken/,$d' "$policy"
in_ct systemctl start virtsnap-once.service || fail "virtsnap-once.service: $(in_ct journalctl -u virtsnap-once --no-pager -n 20)"
[ "$(in_ct systemctl show virtsnap-once -p Result --value)" = success ] || fail "virtsnap-once: not a success"
in_ct systemctl is-enabled virtsnap-once.timer >/dev/null 2>&1 || true
in_ct systemd-analyze verify virtsnap-once.timer >/dev/null 2>&1 || fail "virtsnap-once.timer does not verify inside"

# ---- and once more as the daemon, stopped by SIGTERM with a clean exit -------------
in_ct systemctl start virtsnap || fail "systemctl start (second time)"
in_ct systemctl stop virtsnap || fail "systemctl stop (second time)"
[ "$(in_ct systemctl show virtsnap -p Result --value)" = success ] || fail "second stop: not a success"
echo "test-systemd: virtsnap.service started (notify, hardened), snapshotted, pruned, reloaded, refused a bad file, stopped cleanly; virtsnap-once.service ran"
