# The e2e harness: a real libvirtd + QEMU (TCG), isolated from the machine's
# own libvirt.  Sourced by run-e2e.sh and by every e2e case.
#
# vs_e2e_setup (as root) creates the unprivileged user vstest, a private
# 0700 run directory under /tmp with its own XDG_RUNTIME_DIR/CONFIG/CACHE/DATA,
# and starts a session-mode libvirtd for vstest there (its pid is known, so
# teardown kills exactly it and the QEMUs it started).  It exports:
#   VS_E2E_URI   qemu+unix:///session?socket=...  root can connect with it, so
#                test programs and virsh run as root against vstest's daemon
#   VS_E2E_DIR   the run directory; VS_E2E_IMG holds disks, kernels, consoles
#   VS_E2E_LIB   this file, for case programs that want vs_make_domain
# Domain names are vse2e-<something> in [A-Za-z0-9._-]: libvirt truncates
# names in socket paths and rejects '/' and a leading '.'.
#
# A case sourcing this file after setup (VS_E2E_URI set) gets the helpers:
#   vs_virsh ARGS...                      virsh against the test daemon
#   vs_make_domain NAME [--agent] [--running]
#                                         no-OS TCG domain, 64 MiB, qcow2 disk
#                                         on virtio; --agent adds the agent
#                                         channel (with no agent behind it)
#   vs_make_agent_guest NAME              Debian kernel + initramfs running the
#                                         real qemu-ga, ext4 data disk vda
#                                         mounted at /data; started, and
#                                         returns once guest-ping answers
#   vs_agent_exec NAME SHELL-COMMAND      run a command in that guest (sh -c)
#   vs_disk_cat IMAGE PATH                a file of the ext4 filesystem in a
#                                         qcow2 image (read while in use)
#   vs_libvirtd_stop [--kill] / vs_libvirtd_start / vs_libvirtd_pid
#                                         stop (or crash) and restart the
#                                         daemon; running QEMUs survive it
#   vs_as_user CMD...                     run as vstest in the XDG environment
#   vs_check NAME CMD... / vs_check_eq NAME EXPECTED ACTUAL / vs_case_done
#                                         "ok - NAME" / "not ok - NAME" lines
#                                         that run-e2e.sh counts
#   vs_snapshot_tree DOM / vs_snapshot_parents DOM
#                                         virsh's view of a snapshot tree
# Root-run programs connect with VS_E2E_URI directly; the files QEMU creates
# (overlays, memory files) belong to vstest, so an overlay_dir must be
# writable by vstest.

export VS_E2E_USER=${VS_E2E_USER:-vstest}
VS_E2E_AGENT_TIMEOUT=${VS_E2E_AGENT_TIMEOUT:-120}

vs_log() { echo "e2e: $*" >&2; }
vs_die() { echo "e2e: FATAL: $*" >&2; exit 1; }

vs_virsh() {
        virsh -q -c "$VS_E2E_URI" "$@"
}

# Run a command as the test user inside the run directory's XDG environment
# (vs__exec_as_user replaces the calling (sub)shell).
vs__exec_as_user() {
        exec setpriv --reuid="$VS_E2E_USER" --regid="$VS_E2E_USER" --init-groups \
                env -i HOME="$(getent passwd "$VS_E2E_USER" | cut -d: -f6)" \
                PATH=/usr/sbin:/usr/bin:/sbin:/bin \
                XDG_RUNTIME_DIR="$VS_E2E_DIR/run" XDG_CONFIG_HOME="$VS_E2E_DIR/config" \
                XDG_CACHE_HOME="$VS_E2E_DIR/cache" XDG_DATA_HOME="$VS_E2E_DIR/data" \
                "$@"
}

vs_as_user() {
        (vs__exec_as_user "$@")
}

# A run killed with SIGKILL (e.g. at a test timeout) cannot tear down; its
# libvirtd and the QEMUs it started may outlive it.  The next run removes such
# a run directory and kills those processes (by pid) once the shell that owned
# it (owner.pid) is gone.  A run whose owner lives is left alone, even while
# its libvirtd is down on purpose (the daemon e2e restarts it).
vs__reap_stale_runs() {
        local dir pid
        for dir in /tmp/vs-e2e.*; do
                [ -f "$dir/owner.pid" ] || continue
                vs__alive "$(cat "$dir/owner.pid" 2>/dev/null)" && continue
                vs_log "removing stale run directory $dir"
                pid=$(cat "$dir/libvirtd.pid" 2>/dev/null)
                if vs__alive "$pid" && grep -qs libvirtd "/proc/$pid/comm"; then
                        kill -9 "$pid" 2>/dev/null || true
                fi
                for pid in $(pgrep -u "$VS_E2E_USER" -f "$dir/" 2>/dev/null); do
                        kill -9 "$pid" 2>/dev/null || true
                done
                rm -rf "$dir"
        done
}

vs_e2e_setup() {
        [ "$(id -u)" -eq 0 ] || vs_die "the e2e suite runs as root (it creates user $VS_E2E_USER)"
        local t
        for t in libvirtd virsh qemu-system-x86_64 qemu-img setpriv; do
                command -v "$t" >/dev/null || vs_die "$t not found (run scripts/deps.sh)"
        done
        if ! id "$VS_E2E_USER" >/dev/null 2>&1; then
                useradd -m "$VS_E2E_USER" 2>/dev/null || id "$VS_E2E_USER" >/dev/null \
                        || vs_die "cannot create user $VS_E2E_USER"
        fi

        vs__reap_stale_runs
        VS_E2E_DIR=$(mktemp -d /tmp/vs-e2e.XXXXXX) || vs_die "mktemp failed"
        export VS_E2E_DIR
        export VS_E2E_IMG=$VS_E2E_DIR/img
        export VS_E2E_LIB=${BASH_SOURCE[0]}
        case "$VS_E2E_LIB" in /*) ;; *) VS_E2E_LIB=$PWD/$VS_E2E_LIB ;; esac
        chmod 0700 "$VS_E2E_DIR"
        echo $$ >"$VS_E2E_DIR/owner.pid"
        local d
        for d in run config config/libvirt cache data img; do
                mkdir -p "$VS_E2E_DIR/$d"
        done
        # Logs to files we print on failure; QEMU's stdio straight to a file so
        # the session daemon does not spawn (and leave behind) a virtlogd.
        cat >"$VS_E2E_DIR/config/libvirt/libvirtd.conf" <<EOF
log_outputs="3:file:$VS_E2E_DIR/libvirtd.log"
EOF
        cat >"$VS_E2E_DIR/config/libvirt/qemu.conf" <<EOF
stdio_handler = "file"
EOF
        chown -R "$VS_E2E_USER:" "$VS_E2E_DIR"

        trap vs_e2e_teardown EXIT
        trap 'exit 130' INT TERM

        export VS_E2E_URI="qemu+unix:///session?socket=$VS_E2E_DIR/run/libvirt/libvirt-sock"
        vs_libvirtd_start
        vs_log "libvirtd pid $(vs_libvirtd_pid) in $VS_E2E_DIR, URI $VS_E2E_URI"
}

# The test user's libvirtd: start it (again: QEMUs that outlived it are picked
# up again), its pid, and stop it (--kill: SIGKILL, as in a crash).  Cases may
# restart it; teardown finds the current one through $VS_E2E_DIR/libvirtd.pid.
vs_libvirtd_start() {
        local pid i
        # exec all the way down, so that $! is libvirtd's own pid.
        (vs__exec_as_user libvirtd --timeout=1800 >>"$VS_E2E_DIR/libvirtd.out" 2>&1) &
        pid=$!
        disown "$pid" 2>/dev/null || true
        echo "$pid" >"$VS_E2E_DIR/libvirtd.pid"
        for i in $(seq 200); do
                [ -S "$VS_E2E_DIR/run/libvirt/libvirt-sock" ] && vs_virsh uri >/dev/null 2>&1 && return 0
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.05
        done
        VS_E2E_FAILED=1
        vs_die "libvirtd for $VS_E2E_USER did not come up"
}

vs_libvirtd_pid() {
        cat "$VS_E2E_DIR/libvirtd.pid" 2>/dev/null
}

vs_libvirtd_stop() {
        local pid i sig=TERM
        [ "${1:-}" = --kill ] && sig=KILL
        pid=$(vs_libvirtd_pid)
        [ -n "$pid" ] || return 0
        kill -s "$sig" "$pid" 2>/dev/null || return 0
        for i in $(seq 100); do
                vs__alive "$pid" || return 0
                sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
}

# vs_wait_exit PID SECONDS: wait up to SECONDS for a child of this shell to
# exit; sets vs_rc to its exit status, or to "running" (it is left running).
vs_wait_exit() {
        local pid=$1 i
        vs_rc=running
        for i in $(seq $(($2 * 10))); do
                if ! kill -0 "$pid" 2>/dev/null; then
                        wait "$pid"
                        vs_rc=$?
                        return 0
                fi
                sleep 0.1
        done
}

# A pid that exists and is no zombie.
vs__alive() {
        [ -n "$1" ] && kill -0 "$1" 2>/dev/null && ! ps -o stat= -p "$1" 2>/dev/null | grep -q Z
}

vs_e2e_dump_logs() {
        local f
        echo "===== e2e logs ($VS_E2E_DIR) =====" >&2
        for f in "$VS_E2E_DIR/libvirtd.out" "$VS_E2E_DIR/libvirtd.log"; do
                [ -s "$f" ] && { echo "----- $f (last 80 lines)" >&2; tail -n 80 "$f" >&2; }
        done
        for f in "$VS_E2E_DIR"/cache/libvirt/qemu/log/*.log "$VS_E2E_IMG"/*.console; do
                [ -s "$f" ] && { echo "----- $f (last 30 lines)" >&2; tail -n 30 "$f" >&2; }
        done
        # Last, so that a log cut to its tail (CI keeps 100 lines) still says
        # which check failed and why.
        echo "===== failed checks =====" >&2
        for f in "$VS_E2E_DIR"/case-*.log; do
                [ -e "$f" ] || continue
                grep -q -E '^not ok - |^\[  (FAILED|ERROR)  *\]' "$f" || continue
                echo "----- $(basename "$f")" >&2
                grep -B 4 -E '^not ok - |^\[  (FAILED|ERROR)  *\] [a-z]' "$f" | tail -n 24 >&2
        done
        echo "===== end of e2e logs =====" >&2
}

# Kill exactly what this run started: the libvirtd we spawned, then every
# QEMU running from our run directory (each found by pid).
vs_e2e_teardown() {
        local rc=$? pid
        trap - EXIT
        [ -n "${VS_E2E_DIR:-}" ] || exit "$rc"
        if [ "$rc" -ne 0 ] || [ -n "${VS_E2E_FAILED:-}" ]; then
                vs_e2e_dump_logs
        fi
        if [ -n "${VS_E2E_CASE_PID:-}" ]; then
                kill "$VS_E2E_CASE_PID" 2>/dev/null || true
        fi
        # Not `virsh destroy`: it takes 2 s per domain.  A session libvirtd
        # leaves its QEMUs running when it stops; they go next, by pid.
        vs_libvirtd_stop
        for pid in $(pgrep -u "$VS_E2E_USER" -f "$VS_E2E_DIR" 2>/dev/null); do
                kill -9 "$pid" 2>/dev/null || true
        done
        if [ -z "${VS_E2E_KEEP:-}" ]; then
                rm -rf "$VS_E2E_DIR"
        else
                vs_log "kept $VS_E2E_DIR"
        fi
        exit "$rc"
}

vs__domain_xml() {
        local name=$1 mem=$2 disk=$3 agent=$4 os=$5 console=$6
        cat <<EOF
<domain type='qemu'>
  <name>$name</name>
  <memory unit='MiB'>$mem</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
$os
  </os>
  <on_reboot>destroy</on_reboot>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$disk'/>
      <target dev='vda' bus='virtio'/>
    </disk>
EOF
        [ "$agent" = 1 ] && cat <<EOF
    <channel type='unix'>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
    </channel>
EOF
        [ -n "$console" ] && cat <<EOF
    <serial type='file'>
      <source path='$console'/>
      <target port='0'/>
    </serial>
EOF
        cat <<EOF
    <memballoon model='none'/>
  </devices>
</domain>
EOF
}

vs__check_name() {
        [[ "$1" =~ ^vse2e-[A-Za-z0-9._-]{1,40}$ ]] || vs_die "unsafe domain name '$1' (use vse2e-[A-Za-z0-9._-])"
}

vs_make_domain() {
        local name=$1 agent=0 running=0
        shift
        vs__check_name "$name"
        while [ $# -gt 0 ]; do
                case "$1" in
                --agent) agent=1 ;;
                --running) running=1 ;;
                *) vs_die "vs_make_domain: unknown option $1" ;;
                esac
                shift
        done
        local disk=$VS_E2E_IMG/$name.qcow2
        qemu-img create -q -f qcow2 "$disk" 64M || vs_die "qemu-img create $disk"
        chown "$VS_E2E_USER:" "$disk"
        vs__domain_xml "$name" 64 "$disk" "$agent" "" "" >"$VS_E2E_IMG/$name.xml"
        vs_virsh define "$VS_E2E_IMG/$name.xml" >/dev/null || vs_die "define $name"
        if [ "$running" = 1 ]; then
                vs_virsh start "$name" >/dev/null || vs_die "start $name"
        fi
}

# Build (or reuse from the cache) the agent guest's kernel, initramfs and data
# disk template, and copy them where QEMU (running as vstest) can read them.
vs_agent_artifacts() {
        [ -f "$VS_E2E_IMG/agent-initrd.img" ] && return 0
        local cache=${VS_E2E_CACHE:-${VS_BUILD_ROOT:-$VS_E2E_DIR}/e2e-cache} out
        out=$(bash "$(dirname "$VS_E2E_LIB")/build-agent-guest.sh" "$cache") \
                || vs_die "building the agent guest failed"
        set -- $out
        cp "$1" "$VS_E2E_IMG/agent-vmlinuz"
        cp "$3" "$VS_E2E_IMG/agent-data.qcow2"
        cp "$2" "$VS_E2E_IMG/agent-initrd.img.tmp"
        chown "$VS_E2E_USER:" "$VS_E2E_IMG"/agent-*
        mv "$VS_E2E_IMG/agent-initrd.img.tmp" "$VS_E2E_IMG/agent-initrd.img"
}

vs_agent_ping() {
        vs_virsh qemu-agent-command "$1" --timeout 2 '{"execute":"guest-ping"}' >/dev/null 2>&1
}

# Hang the guest's agent (SIGSTOP, the channel stays connected) and wait
# until it no longer answers: under TCG on a loaded machine the guest's
# `sleep 1` can take well over a second.
vs_agent_hang() {
        local i
        vs_agent_exec "$1" '(sleep 1; kill -STOP $(pidof qemu-ga)) >/dev/null 2>&1 &' >/dev/null || return 1
        for i in $(seq 30); do
                sleep 1
                vs_agent_ping "$1" || return 0
        done
        return 1
}

vs_make_agent_guest() {
        local name=$1 t0 i
        vs__check_name "$name"
        vs_agent_artifacts
        local disk=$VS_E2E_IMG/$name.qcow2 console=$VS_E2E_IMG/$name.console
        cp "$VS_E2E_IMG/agent-data.qcow2" "$disk"
        chown "$VS_E2E_USER:" "$disk"
        local os="    <kernel>$VS_E2E_IMG/agent-vmlinuz</kernel>
    <initrd>$VS_E2E_IMG/agent-initrd.img</initrd>
    <cmdline>console=ttyS0 quiet panic=-1</cmdline>"
        vs__domain_xml "$name" 128 "$disk" 1 "$os" "$console" >"$VS_E2E_IMG/$name.xml"
        vs_virsh define "$VS_E2E_IMG/$name.xml" >/dev/null || vs_die "define $name"
        t0=$(date +%s)
        vs_virsh start "$name" >/dev/null || vs_die "start $name"
        for i in $(seq "$VS_E2E_AGENT_TIMEOUT"); do
                vs_agent_ping "$name" && break
                sleep 1
        done
        vs_agent_ping "$name" || {
                VS_E2E_FAILED=1
                vs_die "the guest agent of $name did not answer within ${VS_E2E_AGENT_TIMEOUT}s"
        }
        vs_log "$name: boot to guest agent $(($(date +%s) - t0))s"
}

# Run SHELL-COMMAND in the agent guest; prints its exit code.
vs_agent_exec() {
        local name=$1 cmd=$2 out pid i
        out=$(vs_virsh qemu-agent-command "$name" --timeout 10 \
                "{\"execute\":\"guest-exec\",\"arguments\":{\"path\":\"/bin/sh\",\"arg\":[\"-c\",$(vs__json_str "$cmd")]}}") \
                || return 1
        pid=$(echo "$out" | grep -o '"pid":[0-9]*' | cut -d: -f2)
        [ -n "$pid" ] || return 1
        for i in $(seq 100); do
                out=$(vs_virsh qemu-agent-command "$name" --timeout 10 \
                        "{\"execute\":\"guest-exec-status\",\"arguments\":{\"pid\":$pid}}") || return 1
                if echo "$out" | grep -q '"exited":true'; then
                        echo "$out" | grep -o '"exitcode":[0-9]*' | cut -d: -f2
                        return 0
                fi
                sleep 0.1
        done
        return 1
}

vs__json_str() {
        local s=${1//\\/\\\\}
        s=${s//\"/\\\"}
        printf '"%s"' "$s"
}

# The contents of PATH inside the ext4 filesystem of a qcow2 IMAGE, read with
# QEMU's share lock overridden (the image may be a running guest's backing).
vs_disk_cat() {
        local image=$1 path=$2 raw
        raw=$(mktemp "$VS_E2E_DIR/raw.XXXXXX")
        qemu-img convert -U -f qcow2 -O raw "$image" "$raw" || { rm -f "$raw"; return 1; }
        debugfs -R "cat $path" "$raw" 2>/dev/null
        rm -f "$raw"
}

# TAP-like results for run-e2e.sh: vs_check NAME COMMAND... passes when the
# command succeeds; vs_check_eq NAME EXPECTED ACTUAL compares strings.
VS_E2E_CASE_FAILED=
vs_check() {
        local name=$1
        shift
        if "$@"; then
                echo "ok - $name"
        else
                echo "not ok - $name"
                VS_E2E_CASE_FAILED=1
        fi
}

vs_check_eq() {
        if [ "$2" = "$3" ]; then
                echo "ok - $1"
        else
                echo "not ok - $1"
                echo "#   expected: '$2'"
                echo "#   actual:   '$3'"
                VS_E2E_CASE_FAILED=1
        fi
}

# Ends a case script: exit status 1 when any check failed.
vs_case_done() {
        [ -z "$VS_E2E_CASE_FAILED" ]
}

# Snapshot names of DOMAIN in tree order, one per line (`snapshot-list --tree`
# with its drawing removed).
vs_snapshot_tree() {
        vs_virsh snapshot-list "$1" --tree | sed -e 's/^[ |+-]*//' -e '/^$/d'
}

# "child:parent" for every snapshot of DOMAIN, sorted; the parent of a root is -.
vs_snapshot_parents() {
        local s p
        for s in $(vs_virsh snapshot-list "$1" --name); do
                p=$(vs_virsh snapshot-parent "$1" "$s" 2>/dev/null) || p=-
                echo "$s:${p:--}"
        done | sort
}
