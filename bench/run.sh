#!/bin/bash
# bench/run.sh [NAME ...]: build a release virtsnap and run the benchmarks
# (all of them by default, in this order):
#
#   fanout-inproc fanout-qemu fanout-remote retention schedule history idle scale
#
# Every figure is one line on stdout, `BENCH <name> <key>=<value> ...`; a
# benchmark that cannot run here prints `BENCH <name> skipped reason=...`.
# Each one measures a warm-up run and then VS_BENCH_RUNS runs (default 5,
# at least 5) and reports the median with min and max; side-by-side
# contenders run interleaved (A B A B ...) so that a noisy neighbour hurts
# both, and their ratio is of the medians.  Nothing here asserts anything
# about time.  Progress and diagnostics go to stderr.  See bench/README.md.
#
# Environment:
#   VS_BENCH_BUILD          build directory (default bench/.build; release,
#                           tests on when cmocka is there; set up on first use)
#   VS_BENCH_RUNS           timed runs per measurement (default 5, min 5)
#   VS_BENCH_KEEP=1         keep the scratch directory (printed on stderr)
#   VS_BENCH_FANOUT_N       fanout-inproc domains (default 200)
#   VS_BENCH_QEMU_N         fanout-qemu domains (default 16)
#   VS_BENCH_REMOTE_N       fanout-remote domains (default 50)
#   VS_BENCH_REMOTE_DELAYS  fanout-remote delays per direction, ms (default "2 10")
#   VS_BENCH_REMOTE_JOBS    fanout-remote max_concurrent values (default "4 16")
#   VS_BENCH_IDLE_SECONDS   idle watch time (default 60)
#   VS_BENCH_SCALE_SIZES    scale's domain counts (default "200 2000"; multiples of 20)
#   VS_BENCH_SCALE_RUNS     scale's timed runs per size (default 3, or VS_BENCH_RUNS
#                           when set: each run waits for a whole minute)
#   VS_BENCH_SCALE_MARGIN   seconds scale's daemon gets to start before its firing (20)
#   VS_BENCH_SCALE_TIMEOUT  seconds scale waits for a firing to finish (600)
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${VS_BENCH_BUILD:-$ROOT/bench/.build}
RUNS_SET=${VS_BENCH_RUNS:-}
RUNS=${VS_BENCH_RUNS:-5}
[ "$RUNS" -ge 5 ] 2>/dev/null || RUNS=5
ALL=(fanout-inproc fanout-qemu fanout-remote retention schedule history idle scale)
VIRTSNAP=$BUILD/cli/virtsnap
BENCHBIN=$BUILD/bench
export VS_BENCH_BUILD=$BUILD VS_BENCH_RUNS=$RUNS VIRTSNAP

log() { echo "bench: $*" >&2; }
skip() { echo "BENCH $1 skipped reason=$2"; }

usage() {
        echo "usage: bench/run.sh [NAME ...]   (names: ${ALL[*]})" >&2
        exit 2
}

# ---- statistics and timing -------------------------------------------------

# stats V1 V2 ...: "MEDIAN MIN MAX" (the median of an even count is the
# mean of the middle two).
stats() {
        printf '%s\n' "$@" | sort -g | awk '
                { v[NR] = $1 }
                END {
                        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
                        printf "%.6f %.6f %.6f\n", m, v[1], v[NR]
                }'
}

# ratio A B: A / B with 2 decimals ("inf" when B is 0).
ratio() {
        awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "inf"; else printf "%.2f\n", a / b }'
}

# timed VAR CMD...: run CMD, store its wall time in seconds in VAR; returns
# CMD's status.  Includes process start-up, as a user would see it.
timed() {
        local __var=$1 t0 t1 rc
        shift
        t0=$EPOCHREALTIME
        "$@"
        rc=$?
        t1=$EPOCHREALTIME
        printf -v "$__var" '%s' "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')"
        return "$rc"
}

# ---- build -----------------------------------------------------------------

# A release build (tests on when cmocka is there: the history benchmark
# uses the store's test fixture).  Only the programs benchmarks run are
# built, so a test that does not compile in release mode stops nothing.
BUILD_OK=
build() {
        local -a targets
        [ -n "$BUILD_OK" ] && return 0
        command -v meson >/dev/null && command -v ninja >/dev/null || return 1
        if [ ! -f "$BUILD/build.ninja" ]; then
                log "setting up a release build in $BUILD"
                meson setup "$BUILD" "$ROOT" -Dbuildtype=release -Dtests=true >"$SCRATCH/meson.log" 2>&1 ||
                        meson setup --wipe "$BUILD" "$ROOT" -Dbuildtype=release -Dtests=false \
                                >"$SCRATCH/meson.log" 2>&1 || {
                        tail -n 30 "$SCRATCH/meson.log" >&2
                        return 1
                }
        fi
        # (ninja regenerates the build files first when a meson.build changed)
        ninja -C "$BUILD" build.ninja >"$SCRATCH/ninja.log" 2>&1 || {
                tail -n 30 "$SCRATCH/ninja.log" >&2
                return 1
        }
        # Every linked program and module except the tests (the backend is
        # a module virtsnap loads), and the store's fixture.
        mapfile -t targets < <(ninja -C "$BUILD" -t targets all 2>/dev/null | awk -F': ' '
                $2 == "c_LINKER" && ($1 !~ /^tests\// || $1 == "tests/store-fixture") { print $1 }')
        ninja -C "$BUILD" "${targets[@]}" >"$SCRATCH/ninja.log" 2>&1 || {
                grep -E 'error|FAILED' "$SCRATCH/ninja.log" | head -n 20 >&2
                return 1
        }
        BUILD_OK=1
}

# virtsnap_has CMD: the built virtsnap knows subcommand CMD.
virtsnap_has() {
        [ -x "$VIRTSNAP" ] && "$VIRTSNAP" "$1" --help >/dev/null 2>&1
}

# ---- retention, schedule, history ------------------------------------------

bench_retention() {
        [ -x "$BENCHBIN/bench-retention" ] || { skip retention not-built; return; }
        "$BENCHBIN/bench-retention"
}

bench_schedule() {
        [ -x "$BENCHBIN/bench-schedule" ] || { skip schedule not-built; return; }
        "$BENCHBIN/bench-schedule"
}

# Written and owned by the store's author (bench/bench-history.sh BUILD_DIR);
# it needs the store's test fixture.  Its BENCH lines go to stdout, its
# other output (row counts, query plans) to stderr.
bench_history() {
        [ -f "$ROOT/bench/bench-history.sh" ] || { skip history bench/bench-history.sh-missing; return; }
        command -v sqlite3 >/dev/null || { skip history no-sqlite3-shell; return; }
        [ -x "$BUILD/tests/store-fixture" ] || { skip history no-store-fixture-build-needs-cmocka; return; }
        virtsnap_has history || { skip history virtsnap-has-no-history-command; return; }
        local runs=7 # the script's own default, unless VS_BENCH_RUNS says otherwise
        [ -n "$RUNS_SET" ] && runs=$RUNS
        RUNS=$runs bash "$ROOT/bench/bench-history.sh" "$BUILD" | while IFS= read -r line; do
                case $line in
                "BENCH "*) echo "$line" ;;
                *) echo "  $line" >&2 ;;
                esac
        done
        [ "${PIPESTATUS[0]}" -eq 0 ] || skip history bench-history.sh-failed
}

# ---- fanout-inproc ---------------------------------------------------------

# fanout_policy FILE TYPE MAX_CONCURRENT SCHEDULE: the policy both fanout
# benchmarks give virtsnap (the connection comes from --connect).
fanout_policy() {
        cat >"$1" <<EOF
connection: test:///default
timezone: UTC
max_concurrent: $3
policies:
  - name: bench
    schedule: $4
    catch_up: true
    snapshot:
      type: $2
      quiesce: off
      atomic: true
      description: "virtsnap {policy} {domain}"
    retention:
      keep_last: 2
EOF
}

# The log of one virtsnap run must show every domain snapshotted and pruned.
check_virtsnap_log() {
        local log=$1 n=$2 created pruned
        created=$(grep -c 'created snapshot' "$log")
        pruned=$(grep -c 'pruned ' "$log")
        if [ "$created" -ne "$n" ] || [ "$pruned" -ne "$n" ]; then
                log "virtsnap created $created and pruned $pruned snapshots, expected $n each (log: $log)"
                return 1
        fi
}

check_bare_log() {
        local log=$1 n=$2
        grep -qx "created $n deleted $n failed 0" "$log" || {
                log "bench-fanout-bare: $(tail -n 1 "$log"), expected $n of each (log: $log)"
                return 1
        }
}

bench_fanout_inproc() {
        local n=${VS_BENCH_FANOUT_N:-200} dir=$SCRATCH/fanout-inproc uri i tv tb tm ts tk shm=
        local -a vs=() bare=() bmin=() vshm=()

        [ -x "$BENCHBIN/bench-fanout-bare" ] || { skip fanout-inproc not-built; return; }
        virtsnap_has run || { skip fanout-inproc virtsnap-has-no-run-command; return; }
        mkdir -p "$dir"
        "$ROOT/bench/gen-node-xml.sh" "$n" 2 bench >"$dir/node.xml" || { skip fanout-inproc node-generation-failed; return; }
        uri="test://$dir/node.xml"
        virsh -q -c "$uri" list --all >/dev/null 2>&1 || { skip fanout-inproc test-driver-unusable; return; }
        fanout_policy "$dir/policy.yaml" internal 4 daily
        # A third contender, virtsnap with its database in memory (tmpfs),
        # shows what the database's fsyncs cost (synchronous=FULL: the
        # intent row is on disk before libvirt is asked).
        if [ -d /dev/shm ] && [ -w /dev/shm ]; then
                shm=$(mktemp -d /dev/shm/vs-bench.XXXXXX) || shm=
        fi

        # A fourth contender: virtsnap with a database that already knows
        # the node's snapshots, as a daemon's does on a host (made once by
        # `virtsnap reconcile`, copied before each run), so reconcile has
        # nothing to adopt.
        local known=
        rm -f "$dir"/known.sqlite*
        if "$VIRTSNAP" reconcile -c "$dir/policy.yaml" --connect "$uri" --database "$dir/known.sqlite" \
                >"$dir/reconcile.log" 2>&1 && [ -f "$dir/known.sqlite" ] && [ ! -e "$dir/known.sqlite-wal" ]; then
                known=1
        else
                log "virtsnap reconcile failed: $(tail -n 3 "$dir/reconcile.log")"
        fi
        local -a vknown=()

        # test:/// state lives in the process: every run starts from the same
        # node (n domains, two owned snapshots each), takes one snapshot per
        # domain and prunes the oldest.  virtsnap gets a fresh database.
        for ((i = 0; i <= RUNS; i++)); do
                rm -f "$dir"/db.sqlite*
                timed tv "$VIRTSNAP" run --once -c "$dir/policy.yaml" --connect "$uri" \
                        --database "$dir/db.sqlite" 2>"$dir/virtsnap.log" || {
                        log "virtsnap run --once failed: $(tail -n 3 "$dir/virtsnap.log")"
                        skip fanout-inproc virtsnap-run-failed
                        [ -n "$shm" ] && rm -rf "$shm"
                        return
                }
                check_virtsnap_log "$dir/virtsnap.log" "$n" || {
                        skip fanout-inproc virtsnap-did-not-do-the-work
                        [ -n "$shm" ] && rm -rf "$shm"
                        return
                }
                # bare: exactly virtsnap's libvirt calls (the limit the
                # target is against); bare --minimal: the fewest calls.
                if ! timed tb "$BENCHBIN/bench-fanout-bare" -j 4 -t internal -p bench -k 2 "$uri" \
                        2>"$dir/bare.log" || ! check_bare_log "$dir/bare.log" "$n" ||
                        ! timed tm "$BENCHBIN/bench-fanout-bare" --minimal -j 4 -t internal -p bench -k 2 "$uri" \
                                2>"$dir/bare-minimal.log" || ! check_bare_log "$dir/bare-minimal.log" "$n"; then
                        skip fanout-inproc bare-program-failed
                        [ -n "$shm" ] && rm -rf "$shm"
                        return
                fi
                if [ -n "$shm" ]; then
                        rm -f "$shm"/db.sqlite*
                        if ! timed ts "$VIRTSNAP" run --once -c "$dir/policy.yaml" --connect "$uri" \
                                --database "$shm/db.sqlite" 2>"$dir/virtsnap-shm.log" ||
                                ! check_virtsnap_log "$dir/virtsnap-shm.log" "$n"; then
                                rm -rf "$shm"
                                shm=
                        fi
                fi
                if [ -n "$known" ]; then
                        rm -f "$dir"/db-known.sqlite*
                        cp "$dir/known.sqlite" "$dir/db-known.sqlite"
                        if ! timed tk "$VIRTSNAP" run --once -c "$dir/policy.yaml" --connect "$uri" \
                                --database "$dir/db-known.sqlite" 2>"$dir/virtsnap-known.log" ||
                                ! check_virtsnap_log "$dir/virtsnap-known.log" "$n"; then
                                known=
                        fi
                fi
                [ "$i" -eq 0 ] && continue # warm-up
                [ -n "$known" ] && vknown+=("$tk")
                vs+=("$tv")
                bare+=("$tb")
                bmin+=("$tm")
                [ -n "$shm" ] && vshm+=("$ts")
        done
        local sv sb sm ss extra=
        read -r -a sv <<<"$(stats "${vs[@]}")"
        read -r -a sb <<<"$(stats "${bare[@]}")"
        read -r -a sm <<<"$(stats "${bmin[@]}")"
        if [ -n "$shm" ] && [ ${#vshm[@]} -eq "$RUNS" ]; then
                read -r -a ss <<<"$(stats "${vshm[@]}")"
                extra=" virtsnap_tmpfs_db_seconds=${ss[0]} virtsnap_tmpfs_db_min=${ss[1]} virtsnap_tmpfs_db_max=${ss[2]} ratio_tmpfs_db=$(ratio "${ss[0]}" "${sb[0]}")"
        fi
        [ -n "$shm" ] && rm -rf "$shm"
        if [ -n "$known" ] && [ ${#vknown[@]} -eq "$RUNS" ]; then
                local sk
                read -r -a sk <<<"$(stats "${vknown[@]}")"
                extra+=" virtsnap_known_db_seconds=${sk[0]} virtsnap_known_db_min=${sk[1]} virtsnap_known_db_max=${sk[2]} ratio_known_db=$(ratio "${sk[0]}" "${sb[0]}")"
        fi
        echo "BENCH fanout-inproc domains=$n max_concurrent=4 virtsnap_seconds=${sv[0]} virtsnap_min=${sv[1]} virtsnap_max=${sv[2]}" \
                "bare_seconds=${sb[0]} bare_min=${sb[1]} bare_max=${sb[2]} ratio=$(ratio "${sv[0]}" "${sb[0]}")$extra" \
                "bare_minimal_seconds=${sm[0]} bare_minimal_min=${sm[1]} bare_minimal_max=${sm[2]} ratio_minimal=$(ratio "${sv[0]}" "${sm[0]}")"
}

# ---- fanout-qemu -----------------------------------------------------------

bench_fanout_qemu() {
        local t
        [ "$(id -u)" -eq 0 ] || { skip fanout-qemu needs-root; return; }
        for t in libvirtd virsh qemu-system-x86_64 qemu-img setpriv; do
                command -v "$t" >/dev/null || { skip fanout-qemu "no-$t"; return; }
        done
        [ -f "$ROOT/tests/e2e/lib.sh" ] || { skip fanout-qemu no-tests/e2e/lib.sh; return; }
        [ -x "$BENCHBIN/bench-fanout-bare" ] || { skip fanout-qemu not-built; return; }
        virtsnap_has run || { skip fanout-qemu virtsnap-has-no-run-command; return; }
        # A subshell: the e2e harness's EXIT trap tears down its libvirtd and
        # every QEMU it started when the subshell ends.
        (fanout_qemu_body)
}

# The sequential script cron users write today: one virsh process per call.
virsh_loop() {
        local d s stamp
        for d in $(virsh -q -c "$VS_E2E_URI" list --name); do
                stamp=$(date -u +%Y%m%dT%H%M%SZ)
                virsh -q -c "$VS_E2E_URI" snapshot-create-as "$d" "bench-$stamp" \
                        "virtsnap bench $d
virtsnap-policy: bench" --disk-only --atomic >/dev/null || return 1
                for s in $(virsh -q -c "$VS_E2E_URI" snapshot-list "$d" --name | sort | head -n -2); do
                        virsh -q -c "$VS_E2E_URI" snapshot-delete "$d" "$s" >/dev/null || return 1
                done
        done
}

# check_qemu_state WHO N: every domain holds exactly N snapshots after WHO ran.
check_qemu_state() {
        local d c
        for d in $(virsh -q -c "$VS_E2E_URI" list --name); do
                c=$(virsh -q -c "$VS_E2E_URI" snapshot-list "$d" --name | grep -c .)
                [ "$c" -eq "$2" ] || { log "$d holds $c snapshots after $1, expected $2"; return 1; }
        done
}

fanout_qemu_body() {
        local n=${VS_BENCH_QEMU_N:-16} i tv tb tm tl dir
        local -a vs=() bare=() bmin=() loop=()

        # shellcheck source=/dev/null
        source "$ROOT/tests/e2e/lib.sh"
        vs_e2e_setup >/dev/null 2>"$SCRATCH/fanout-qemu-setup.log" || {
                cat "$SCRATCH/fanout-qemu-setup.log" >&2
                skip fanout-qemu e2e-setup-failed
                exit 0
        }
        dir=$VS_E2E_DIR/bench
        mkdir -p "$dir"
        log "fanout-qemu: starting $n domains on $VS_E2E_URI"
        for ((i = 1; i <= n; i++)); do
                vs_make_domain "$(printf 'vse2e-bench-%02d' "$i")" --running 2>>"$dir/setup.log" \
                        || { skip fanout-qemu domain-start-failed; exit 0; }
        done
        # Every run must find every domain due: the other contenders took
        # snapshots a moment ago, so a daily schedule would skip them all.
        fanout_policy "$dir/policy.yaml" disk-only 4 "every 1s"

        # Each contender takes one disk-only snapshot per domain and deletes
        # the oldest, keeping two; the domains are shared, so every run starts
        # from the same state.  virtsnap keeps its database between runs, as
        # it would on a host; it reconciles the other contenders' work.  Names
        # have one-second resolution: a pause (untimed) keeps them apart.
        for ((i = -2; i <= RUNS; i++)); do
                sleep 1
                timed tv "$VIRTSNAP" run --once -c "$dir/policy.yaml" --connect "$VS_E2E_URI" \
                        --database "$dir/db.sqlite" 2>"$dir/virtsnap.log" || {
                        log "virtsnap run --once failed: $(tail -n 3 "$dir/virtsnap.log")"
                        skip fanout-qemu virtsnap-run-failed
                        exit 0
                }
                if ! check_qemu_state virtsnap "$((i == -2 ? 1 : 2))" ||
                        { [ "$i" -gt -2 ] && ! check_virtsnap_log "$dir/virtsnap.log" "$n"; }; then
                        skip fanout-qemu virtsnap-did-not-do-the-work
                        exit 0
                fi
                sleep 1
                timed tb "$BENCHBIN/bench-fanout-bare" -j 4 -t disk-only -p bench -k 2 "$VS_E2E_URI" \
                        2>"$dir/bare.log" || {
                        log "bench-fanout-bare: $(tail -n 3 "$dir/bare.log")"
                        skip fanout-qemu bare-program-failed
                        exit 0
                }
                check_qemu_state bench-fanout-bare 2 || { skip fanout-qemu bare-did-not-do-the-work; exit 0; }
                sleep 1
                timed tm "$BENCHBIN/bench-fanout-bare" --minimal -j 4 -t disk-only -p bench -k 2 "$VS_E2E_URI" \
                        2>"$dir/bare-minimal.log" || {
                        log "bench-fanout-bare --minimal: $(tail -n 3 "$dir/bare-minimal.log")"
                        skip fanout-qemu bare-program-failed
                        exit 0
                }
                check_qemu_state "bench-fanout-bare --minimal" 2 || { skip fanout-qemu bare-did-not-do-the-work; exit 0; }
                sleep 1
                timed tl virsh_loop 2>"$dir/virsh.log" || {
                        log "virsh loop: $(tail -n 3 "$dir/virsh.log")"
                        skip fanout-qemu virsh-loop-failed
                        exit 0
                }
                check_qemu_state "the virsh loop" 2 || { skip fanout-qemu virsh-loop-did-not-do-the-work; exit 0; }
                # Two warm-up rounds: the first only brings every domain to
                # two snapshots (nothing to prune yet).
                [ "$i" -le 0 ] && continue
                vs+=("$tv")
                bare+=("$tb")
                bmin+=("$tm")
                loop+=("$tl")
        done
        local sv sb sm sl
        read -r -a sv <<<"$(stats "${vs[@]}")"
        read -r -a sb <<<"$(stats "${bare[@]}")"
        read -r -a sm <<<"$(stats "${bmin[@]}")"
        read -r -a sl <<<"$(stats "${loop[@]}")"
        echo "BENCH fanout-qemu domains=$n max_concurrent=4" \
                "virtsnap_seconds=${sv[0]} virtsnap_min=${sv[1]} virtsnap_max=${sv[2]}" \
                "bare_seconds=${sb[0]} bare_min=${sb[1]} bare_max=${sb[2]}" \
                "virsh_loop_seconds=${sl[0]} virsh_loop_min=${sl[1]} virsh_loop_max=${sl[2]}" \
                "ratio_bare=$(ratio "${sv[0]}" "${sb[0]}") speedup_vs_virsh=$(ratio "${sl[0]}" "${sv[0]}")" \
                "bare_minimal_seconds=${sm[0]} bare_minimal_min=${sm[1]} bare_minimal_max=${sm[2]} ratio_bare_minimal=$(ratio "${sv[0]}" "${sm[0]}")"
}

# ---- fanout-remote ---------------------------------------------------------

bench_fanout_remote() {
        local t
        [ "$(id -u)" -eq 0 ] || { skip fanout-remote needs-root; return; }
        for t in libvirtd virsh setpriv; do
                command -v "$t" >/dev/null || { skip fanout-remote "no-$t"; return; }
        done
        [ -f "$ROOT/tests/e2e/lib.sh" ] || { skip fanout-remote no-tests/e2e/lib.sh; return; }
        if [ ! -x "$BENCHBIN/bench-fanout-bare" ] || [ ! -x "$BENCHBIN/delay-proxy" ]; then
                skip fanout-remote not-built
                return
        fi
        virtsnap_has run || { skip fanout-remote virtsnap-has-no-run-command; return; }
        # A subshell: the EXIT trap stops the proxy and the e2e harness's
        # libvirtd (by pid) when it ends, whichever way.
        (fanout_remote_body)
}

# The remote protocol's program number (remote_protocol.x, 0x20008086): its
# calls are what crosses the link; keepalive is a program of its own.
REMOTE_PROGRAM=536903814

# remote_counts LOG N: "DRIVER_CALLS_PER_JOB RPC_CALLS_PER_JOB" from a log
# made with LIBVIRT_LOG_FILTERS="1:libvirt 2:rpc".  Driver calls are the
# public calls bench/README.md's table counts as reaching the driver: every
# entry line of the `libvirt` category (as bench/count-libvirt-calls.sh
# counts them) except the library's own and the client-side ones that never
# leave the process (reference counts, names, UUIDs; LookupByUUIDString only
# parses and calls LookupByUUID, which is counted).  RPC calls are the remote-protocol calls the client
# queued for the wire (RPC_CLIENT_MSG_TX_QUEUE, type 0 = call), connecting
# included.  Both divided by the jobs (domains).
remote_counts() {
        local log=$1 n=$2 driver rpc
        driver=$(grep -oE ': debug : vir[A-Za-z]+:[0-9]+ : ' "$log" | sed -E 's/^: debug : //; s/:[0-9]+ : $//' |
                grep -cvxE 'virGlobalInit|virRegisterConnectDriver|virConnectOpenInternal|virConnectRef|virConnectClose|virDomainGetName|virDomainGetUUIDString|virDomainSnapshotGetName|virDomainRef|virDomainLookupByUUIDString|virDomainFree|virDomainSnapshotFree')
        rpc=$(grep -E 'RPC_CLIENT_MSG_TX_QUEUE: ' "$log" | grep -E " prog=$REMOTE_PROGRAM " | grep -cE ' type=0 ')
        awk -v d="$driver" -v r="$rpc" -v n="$n" 'BEGIN { printf "%.2f %.2f\n", d / n, r / n }'
}

# remote_run VAR LOG|- CMD...: time CMD (into VAR); with LOG (not "-"), run
# it under libvirt's API and RPC log into LOG, for the counts (the warm-up).
remote_run() {
        local __var=$1 __log=$2
        shift 2
        if [ "$__log" = - ]; then
                timed "$__var" "$@"
        else
                : >"$__log"
                LIBVIRT_LOG_FILTERS="1:libvirt 2:rpc" LIBVIRT_LOG_OUTPUTS="1:file:$__log" timed "$__var" "$@"
        fi
}

REMOTE_PROXY_PID=
remote_proxy_stop() {
        [ -n "$REMOTE_PROXY_PID" ] || return 0
        kill -TERM "$REMOTE_PROXY_PID" 2>/dev/null
        wait "$REMOTE_PROXY_PID" 2>/dev/null
        REMOTE_PROXY_PID=
}

# remote_proxy_start DELAY_MS LISTEN UPSTREAM ERRLOG: a delay-proxy in the
# background (REMOTE_PROXY_PID), once it listens.
remote_proxy_start() {
        local i
        rm -f "$2"
        "$BENCHBIN/delay-proxy" -d "$1" "$2" "$3" >/dev/null 2>"$4" &
        REMOTE_PROXY_PID=$!
        for i in $(seq 100); do
                [ -S "$2" ] && return 0
                kill -0 "$REMOTE_PROXY_PID" 2>/dev/null || break
                sleep 0.05
        done
        log "delay-proxy did not come up: $(tail -n 3 "$4")"
        remote_proxy_stop
        return 1
}

fanout_remote_body() {
        local n=${VS_BENCH_REMOTE_N:-50} delays=${VS_BENCH_REMOTE_DELAYS:-2 10} jobs=${VS_BENCH_REMOTE_JOBS:-4 16}
        local dir logs upstream direct uri sock d j i tv tb tm lv lb lm c
        local -a vs bare bmin cv cb cm

        # shellcheck source=/dev/null
        source "$ROOT/tests/e2e/lib.sh"
        vs_e2e_setup >/dev/null 2>"$SCRATCH/fanout-remote-setup.log" || {
                cat "$SCRATCH/fanout-remote-setup.log" >&2
                skip fanout-remote e2e-setup-failed
                exit 0
        }
        trap 'remote_proxy_stop; vs_e2e_teardown' EXIT
        upstream=$VS_E2E_DIR/run/libvirt/libvirt-sock
        # The node file and the sockets where the test user's libvirtd can
        # read them; logs and databases in the scratch directory (kept with
        # VS_BENCH_KEEP=1; the harness's directory goes with its teardown).
        dir=$VS_E2E_DIR/bench-remote
        mkdir -p "$dir"
        chmod 0755 "$dir"
        logs=$SCRATCH/fanout-remote
        mkdir -p "$logs"
        "$ROOT/bench/gen-node-xml.sh" "$n" 2 bench >"$dir/node.xml" || { skip fanout-remote node-generation-failed; exit 0; }
        chmod 0644 "$dir/node.xml"

        # The daemon's test driver opens the node file anew for every
        # connection (test:///default would be shared by all of them): so
        # every run starts from the node, as fanout-inproc's do.  Check it:
        # a snapshot taken on one connection is gone on the next.
        direct="test+unix://$dir/node.xml?socket=$upstream"
        c=$(virsh -q -c "$direct" "snapshot-create-as bench-0001 probe >/dev/null; snapshot-list bench-0001 --name" 2>"$logs/probe.log" | grep -c .)
        if [ "$c" -ne 3 ]; then
                log "test driver through libvirtd: $c snapshots after a create, expected 3: $(tail -n 3 "$logs/probe.log")"
                skip fanout-remote test-driver-unusable-through-libvirtd
                exit 0
        fi
        c=$(virsh -q -c "$direct" snapshot-list bench-0001 --name 2>>"$logs/probe.log" | grep -c .)
        if [ "$c" -ne 2 ]; then
                log "a new connection sees $c snapshots of bench-0001, expected the node's 2"
                skip fanout-remote node-shared-between-connections
                exit 0
        fi

        for d in $delays; do
                for j in $jobs; do
                        sock=$dir/proxy.sock
                        remote_proxy_start "$d" "$sock" "$upstream" "$logs/proxy-$d-$j.log" ||
                                { skip fanout-remote delay-proxy-failed; exit 0; }
                        uri="test+unix://$dir/node.xml?socket=$sock"
                        fanout_policy "$logs/policy-$j.yaml" internal "$j" daily
                        log "fanout-remote: $n domains, ${d} ms each way, max_concurrent $j"
                        vs=() bare=() bmin=()
                        # Every connection starts from the node: each run
                        # snapshots every domain and prunes the oldest.  The
                        # warm-up runs under libvirt's log, for the counts.
                        for ((i = 0; i <= RUNS; i++)); do
                                lv=- lb=- lm=-
                                [ "$i" -eq 0 ] && lv=$logs/calls-virtsnap-$d-$j.log lb=$logs/calls-bare-$d-$j.log lm=$logs/calls-minimal-$d-$j.log
                                rm -f "$logs"/db.sqlite*
                                remote_run tv "$lv" "$VIRTSNAP" run --once -c "$logs/policy-$j.yaml" --connect "$uri" \
                                        --database "$logs/db.sqlite" 2>"$logs/virtsnap.log" || {
                                        log "virtsnap run --once failed: $(tail -n 3 "$logs/virtsnap.log")"
                                        skip fanout-remote virtsnap-run-failed
                                        exit 0
                                }
                                check_virtsnap_log "$logs/virtsnap.log" "$n" || { skip fanout-remote virtsnap-did-not-do-the-work; exit 0; }
                                if ! remote_run tb "$lb" "$BENCHBIN/bench-fanout-bare" -j "$j" -t internal -p bench -k 2 "$uri" \
                                        2>"$logs/bare.log" || ! check_bare_log "$logs/bare.log" "$n" ||
                                        ! remote_run tm "$lm" "$BENCHBIN/bench-fanout-bare" --minimal -j "$j" -t internal -p bench -k 2 "$uri" \
                                                2>"$logs/bare-minimal.log" || ! check_bare_log "$logs/bare-minimal.log" "$n"; then
                                        skip fanout-remote bare-program-failed
                                        exit 0
                                fi
                                if [ "$i" -eq 0 ]; then
                                        read -r -a cv <<<"$(remote_counts "$lv" "$n")"
                                        read -r -a cb <<<"$(remote_counts "$lb" "$n")"
                                        read -r -a cm <<<"$(remote_counts "$lm" "$n")"
                                        continue
                                fi
                                vs+=("$tv")
                                bare+=("$tb")
                                bmin+=("$tm")
                        done
                        remote_proxy_stop
                        # What the proxy really held each chunk (at least the
                        # delay; its timers wake up to a millisecond late).
                        local got sv sb sm
                        got=$(sed -nE 's/.*delay got min [0-9.]+ mean ([0-9.]+) .*/\1/p' "$logs/proxy-$d-$j.log")
                        read -r -a sv <<<"$(stats "${vs[@]}")"
                        read -r -a sb <<<"$(stats "${bare[@]}")"
                        read -r -a sm <<<"$(stats "${bmin[@]}")"
                        echo "BENCH fanout-remote delay_ms=$d max_concurrent=$j domains=$n" \
                                "virtsnap_seconds=${sv[0]} virtsnap_min=${sv[1]} virtsnap_max=${sv[2]}" \
                                "bare_seconds=${sb[0]} bare_min=${sb[1]} bare_max=${sb[2]}" \
                                "bare_minimal_seconds=${sm[0]} bare_minimal_min=${sm[1]} bare_minimal_max=${sm[2]}" \
                                "ratio_bare=$(ratio "${sv[0]}" "${sb[0]}") ratio_minimal=$(ratio "${sv[0]}" "${sm[0]}")" \
                                "virtsnap_calls_per_job=${cv[0]} bare_calls_per_job=${cb[0]} minimal_calls_per_job=${cm[0]}" \
                                "virtsnap_rpc_per_job=${cv[1]} bare_rpc_per_job=${cb[1]} minimal_rpc_per_job=${cm[1]}" \
                                "proxy_delay_mean_ms=${got:-unknown}"
                done
        done
}

# ---- idle ------------------------------------------------------------------

# proc_sample PID: "RSS_KIB CPU_TICKS CTXT_SWITCHES RSS_ANON_KIB" (context
# switches summed over every thread).
proc_sample() {
        local pid=$1 rss anon ticks ctx
        rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || return 1
        anon=$(awk '/^RssAnon:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || return 1
        # utime and stime are fields 14 and 15; the command name (field 2)
        # may hold spaces, so count from after its closing parenthesis.
        ticks=$(sed 's/^.*) //' "/proc/$pid/stat" | awk '{ print $12 + $13 }') || return 1
        ctx=$(cat /proc/"$pid"/task/*/status 2>/dev/null |
                awk '/^(voluntary|nonvoluntary)_ctxt_switches:/ { s += $2 } END { print s + 0 }')
        [ -n "$rss" ] && [ -n "$ticks" ] || return 1
        echo "$rss $ticks $ctx $anon"
}

bench_idle() {
        local n=500 secs=${VS_BENCH_IDLE_SECONDS:-60} dir=$SCRATCH/idle uri pid i k
        local windows=$((RUNS + 1)) w t0 t1 hz
        local -a rss=() anon=() cpu=() wake=() a b

        virtsnap_has daemon || { skip idle virtsnap-has-no-daemon-command; return; }
        mkdir -p "$dir"
        "$ROOT/bench/gen-node-xml.sh" "$n" 0 bench >"$dir/node.xml" || { skip idle node-generation-failed; return; }
        uri="test://$dir/node.xml"
        {
                echo "connection: test:///default"
                echo "timezone: Europe/Berlin"
                echo "policies:"
                for ((k = 1; k <= 10; k++)); do
                        echo "  - name: yearly-$k"
                        echo "    schedule: \"$k 0 1 1 *\""
                        echo "    catch_up: false"
                        echo "    retention:"
                        echo "      keep_yearly: 3"
                done
        } >"$dir/policy.yaml"
        hz=$(getconf CLK_TCK)

        "$VIRTSNAP" daemon -c "$dir/policy.yaml" --connect "$uri" --database "$dir/db.sqlite" \
                2>"$dir/daemon.log" &
        pid=$!
        # Start-up (reconciling 500 domains) is not idle: let it settle.
        sleep 3
        kill -0 "$pid" 2>/dev/null || {
                log "the daemon exited: $(tail -n 5 "$dir/daemon.log")"
                skip idle daemon-exited
                return
        }
        grep -q "connected, $n domains" "$dir/daemon.log" || {
                log "the daemon did not connect: $(tail -n 5 "$dir/daemon.log")"
                kill -TERM "$pid" 2>/dev/null
                wait "$pid" 2>/dev/null
                skip idle daemon-not-connected
                return
        }
        # The watch is split into equal windows: the first is the warm-up,
        # the others are the runs.
        w=$(awk -v s="$secs" -v n="$windows" 'BEGIN { printf "%.3f", s / n }')
        read -r -a a <<<"$(proc_sample "$pid")" || { skip idle proc-unreadable; kill "$pid"; return; }
        t0=$EPOCHREALTIME
        for ((i = 0; i < windows; i++)); do
                sleep "$w"
                read -r -a b <<<"$(proc_sample "$pid")" || {
                        log "the daemon exited: $(tail -n 5 "$dir/daemon.log")"
                        skip idle daemon-exited
                        return
                }
                t1=$EPOCHREALTIME
                if [ "$i" -gt 0 ]; then
                        rss+=("${b[0]}")
                        anon+=("${b[3]}")
                        cpu+=("$(awk -v d="$((b[1] - a[1]))" -v hz="$hz" -v t0="$t0" -v t1="$t1" \
                                'BEGIN { printf "%.6f", d / hz / (t1 - t0) * 60 }')")
                        wake+=("$(awk -v d="$((b[2] - a[2]))" -v t0="$t0" -v t1="$t1" \
                                'BEGIN { printf "%.6f", d / (t1 - t0) }')")
                fi
                a=("${b[@]}")
                t0=$t1
        done
        local sr sa sc sw hwm extra=
        hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
        kill -TERM "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        read -r -a sr <<<"$(stats "${rss[@]}")"
        read -r -a sa <<<"$(stats "${anon[@]}")"
        read -r -a sc <<<"$(stats "${cpu[@]}")"
        read -r -a sw <<<"$(stats "${wake[@]}")"
        # The floor: a bare libvirt client that makes the daemon's start-up
        # calls on the same node and sleeps (bench-idle-bare.c), sampled as
        # many times, one second apart, after the same settling time.
        if [ -x "$BENCHBIN/bench-idle-bare" ]; then
                local -a brss=() banon=() sb sba
                "$BENCHBIN/bench-idle-bare" "$uri" 2>"$dir/bare.log" &
                pid=$!
                sleep 3
                for ((i = 0; i < RUNS; i++)); do
                        read -r -a b <<<"$(proc_sample "$pid")" || break
                        brss+=("${b[0]}")
                        banon+=("${b[3]}")
                        sleep 1
                done
                kill -TERM "$pid" 2>/dev/null
                wait "$pid" 2>/dev/null
                if [ ${#brss[@]} -eq "$RUNS" ] && grep -q "listed $n domains, 0 failed" "$dir/bare.log"; then
                        read -r -a sb <<<"$(stats "${brss[@]}")"
                        read -r -a sba <<<"$(stats "${banon[@]}")"
                        extra=" bare_rss_kib=${sb[0]%.*} bare_rss_anon_kib=${sba[0]%.*} rss_over_bare_kib=$((${sr[0]%.*} - ${sb[0]%.*})) rss_ratio_bare=$(ratio "${sr[0]}" "${sb[0]}")"
                else
                        log "bench-idle-bare: $(tail -n 2 "$dir/bare.log")"
                fi
        fi
        echo "BENCH idle domains=$n policies=10 seconds=$secs" \
                "rss_kib=${sr[0]%.*} rss_min=${sr[1]%.*} rss_max=${sr[2]%.*} rss_peak_kib=$hwm rss_anon_kib=${sa[0]%.*}" \
                "cpu_seconds_per_min=${sc[0]} cpu_min=${sc[1]} cpu_max=${sc[2]}" \
                "wakeups_per_second=${sw[0]} wakeups_min=${sw[1]} wakeups_max=${sw[2]}$extra"
}

# ---- scale -----------------------------------------------------------------

# A daemon on 20 connections (test-driver node files) with 10 policies, at
# each size in VS_BENCH_SCALE_SIZES (default 200 then 2,000 domains):
# start-up, RSS, one hourly firing.  A policy has one connection in
# virtsnap, so "10 policies on 20 connections" is policy k written for
# connections 2k-1 and 2k (entries pKK-cCC, 20 in the file); every domain
# is matched by exactly one entry.

# scale_stamp: copy stdin to stdout, each line prefixed with the wall-clock
# time it arrived (the daemon's log has no times; it flushes every line).
scale_stamp() {
        perl -MTime::HiRes=time -ne 'BEGIN { $| = 1 } printf "%.6f %s", time, $_'
}

# scale_nodes DIR N CONNS: CONNS node files DIR/nodeCC.xml, N/CONNS running
# domains each, named cCC-NNNN with UUIDs 000000CC-0000-4000-8000-...
# (unique over all nodes), each holding two snapshots owned by the entry
# that covers it (pKK-cCC, K = (C + 1) / 2).
scale_nodes() {
        local dir=$1 n=$2 conns=$3 c cc kk
        for ((c = 1; c <= conns; c++)); do
                printf -v cc '%02d' "$c"
                printf -v kk '%02d' $(((c + 1) / 2))
                "$ROOT/bench/gen-node-xml.sh" $((n / conns)) 2 "p$kk-c$cc" |
                        sed "s/bench-\([0-9][0-9][0-9][0-9]\)/c$cc-\1/g; s/00000000-0000-4000-8000-/000000$cc-0000-4000-8000-/g" \
                                >"$dir/node$cc.xml" || return 1
        done
}

# scale_policy DIR CONNS MINUTE: the policy file.  Each entry is hourly at
# minute MINUTE (cron "M * * * *", UTC), with no catch-up, so the only
# firing is the one at that minute; keep_last 2, so every job creates one
# snapshot and prunes one.  The daemon's control socket and database are in
# DIR, away from any other daemon.
scale_policy() {
        local dir=$1 conns=$2 minute=$3 c cc kk
        {
                echo "connection: test:///default"
                echo "database: $dir/db.sqlite"
                echo "control_socket: $dir/control.sock"
                echo "timezone: UTC"
                echo "max_concurrent: 4"
                echo "policies:"
                for ((c = 1; c <= conns; c++)); do
                        printf -v cc '%02d' "$c"
                        printf -v kk '%02d' $(((c + 1) / 2))
                        echo "  - name: p$kk-c$cc"
                        echo "    connection: test://$dir/node$cc.xml"
                        echo "    domains:"
                        echo "      include: [\"c$cc-*\"]"
                        echo "    schedule: \"$minute * * * *\""
                        echo "    catch_up: false"
                        echo "    snapshot:"
                        echo "      type: internal"
                        echo "    retention:"
                        echo "      keep_last: 2"
                done
        } >"$dir/policy.yaml"
}

# scale_last_time LOG REGEX: the time stamp of the last line matching REGEX.
scale_last_time() {
        grep -E "$2" "$1" | tail -n 1 | cut -d' ' -f1
}

# scale_sub A B: A - B with 6 decimals.
scale_sub() {
        awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", a - b }'
}

# scale_per_domain A B D UNIT DECIMALS: (A - B) / D * UNIT, what each of
# the D added domains costs.
scale_per_domain() {
        awk -v a="$1" -v b="$2" -v d="$3" -v u="$4" -v p="$5" 'BEGIN { printf "%.*f", p, (a - b) / d * u }'
}

# scale_sleep_until T: sleep until the Unix time T (fractional).
scale_sleep_until() {
        local d
        d=$(awk -v t="$1" -v now="$EPOCHREALTIME" 'BEGIN { d = t - now; printf "%.3f", (d > 0 ? d : 0) }')
        sleep "$d"
}

# scale_run DIR N CONNS MARGIN: one daemon, from start to one full firing.
# On success sets SCALE_OUT to "STARTUP CONNECT RSS ANON FIRING RSS_AFTER
# ANON_AFTER HWM BARE_RSS BARE_ANON BARE_STARTUP JOBS" (BARE_* 0 without
# the floor); on failure logs why, sets SCALE_WHY and returns 1.
SCALE_OUT='' SCALE_WHY=''
scale_run() {
        local dir=$1 n=$2 conns=$3 margin=$4 log=$1/daemon.log now fire pid t0 deadline
        local tr tc tf tb tb0 created pruned failed adopted stopped hwm i
        local -a a b
        SCALE_OUT='' SCALE_WHY=''
        # The firing is at the first whole minute at least MARGIN seconds
        # away; the daemon starts MARGIN seconds before it.
        now=${EPOCHREALTIME%.*}
        fire=$(((now + margin + 59) / 60 * 60))
        scale_policy "$dir" "$conns" $((fire / 60 % 60))
        rm -f "$dir"/db.sqlite* "$dir/control.sock"
        scale_sleep_until $((fire - margin))
        : >"$log" # (the stamper may open it after the first poll)
        t0=$EPOCHREALTIME
        "$VIRTSNAP" daemon -c "$dir/policy.yaml" 2> >(scale_stamp >"$log") &
        pid=$!

        # Start-up: every connection connected and reconciled (a fresh
        # database: each one's reconcile adopts its 2 x N/CONNS snapshots and
        # says so at notice level).
        while [ "$(grep -c ': reconciled: ' "$log" 2>/dev/null)" -lt "$conns" ]; do
                if ! kill -0 "$pid" 2>/dev/null; then
                        SCALE_WHY=daemon-exited
                        break
                fi
                if [ "${EPOCHREALTIME%.*}" -ge "$fire" ]; then
                        SCALE_WHY=start-up-longer-than-margin-see-VS_BENCH_SCALE_MARGIN
                        break
                fi
                sleep 0.1
        done
        [ -n "$SCALE_WHY" ] && { log "scale: $n domains: $SCALE_WHY: $(tail -n 3 "$log")"; kill -TERM "$pid" 2>/dev/null; wait "$pid"; return 1; }
        tr=$(scale_last_time "$log" ': reconciled: ')
        tc=$(scale_last_time "$log" ': connected, [0-9]+ domains')
        adopted=$(grep ': reconciled: ' "$log" | awk '{ s += $(NF - 1) } END { print s + 0 }')
        if [ "$(grep -c ': connected, ' "$log")" -ne "$conns" ] || [ "$adopted" -ne $((2 * n)) ]; then
                SCALE_WHY=start-up-incomplete
                log "scale: $n domains: $(grep -c ': connected, ' "$log") connections, $adopted snapshots adopted; expected $conns and $((2 * n)) (log: $log)"
                kill -TERM "$pid" 2>/dev/null
                wait "$pid"
                return 1
        fi
        # RSS after start-up, settled: a second before the firing.
        scale_sleep_until $((fire - 1))
        read -r -a a <<<"$(proc_sample "$pid")"

        # The firing: every job done (its prune is its last line) or failed.
        deadline=$((fire + ${VS_BENCH_SCALE_TIMEOUT:-600}))
        while :; do
                pruned=$(grep -c ': pruned ' "$log")
                failed=$(grep -cE ': (snapshot failed|job failed|job skipped|job timed out|skipped:)|: [^ ]+ not deleted \(' "$log")
                [ $((pruned + failed)) -ge "$n" ] && break
                if ! kill -0 "$pid" 2>/dev/null || [ "${EPOCHREALTIME%.*}" -ge "$deadline" ]; then
                        SCALE_WHY=firing-incomplete
                        break
                fi
                sleep 0.2
        done
        created=$(grep -c ': created snapshot ' "$log")
        tf=$(scale_last_time "$log" ': (created snapshot|pruned) ')
        sleep 1
        read -r -a b <<<"$(proc_sample "$pid")"
        hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
        kill -TERM "$pid" 2>/dev/null
        wait "$pid"
        # The stamper writes the daemon's last line after it exits.
        for ((i = 0; i < 50; i++)); do
                stopped=$(grep -o 'daemon stopped: .*' "$log")
                [ -n "$stopped" ] && break
                sleep 0.1
        done
        if [ -n "$SCALE_WHY" ] || [ "$created" -ne "$n" ] || [ "$pruned" -ne "$n" ] || [ "$failed" -ne 0 ] ||
                [ "$stopped" != "daemon stopped: $n created, 0 failed, 0 skipped, 0 cancelled" ]; then
                SCALE_WHY=${SCALE_WHY:-firing-failed}
                log "scale: $n domains: $created created, $pruned pruned, $failed failed or skipped; '$stopped' (log: $log)"
                return 1
        fi
        # The history agrees: one new snapshot present for every domain, at
        # the firing's slot, and one pruned each.
        if command -v sqlite3 >/dev/null; then
                local q
                q=$(sqlite3 "$dir/db.sqlite" "SELECT
                        (SELECT count(DISTINCT domain_uuid) FROM snapshots WHERE scheduled = $fire AND state = 'present'),
                        (SELECT count(*) FROM snapshots WHERE scheduled = $fire AND state <> 'present'),
                        (SELECT count(*) FROM snapshots WHERE state = 'deleted' AND deleted >= $fire)" 2>&1)
                if [ "$q" != "$n|0|$n" ]; then
                        SCALE_WHY=history-disagrees
                        log "scale: $n domains: the history says '$q' (present at the slot|other at the slot|pruned), expected '$n|0|$n'"
                        return 1
                fi
        fi
        # The floor, in the idle time before the next run's minute: a bare
        # libvirt client that makes the daemon's start-up calls on the same
        # connections, one after the other, and keeps them open
        # (bench-idle-bare.c): its time until it has listed everything, and
        # its RSS 3 s after its start, as idle samples it.  What the test
        # driver itself keeps per domain is in it.
        local -a f=(0 0 0 0)
        if [ -x "$BENCHBIN/bench-idle-bare" ]; then
                local -a uris=()
                for ((i = 1; i <= conns; i++)); do
                        uris+=("test://$dir/node$(printf '%02d' "$i").xml")
                done
                : >"$dir/bare.log"
                tb0=$EPOCHREALTIME
                "$BENCHBIN/bench-idle-bare" "${uris[@]}" 2> >(scale_stamp >"$dir/bare.log") &
                pid=$!
                for ((i = 0; i < 300; i++)); do
                        grep -q ' listed ' "$dir/bare.log" && break
                        kill -0 "$pid" 2>/dev/null || break
                        sleep 0.1
                done
                tb=$(scale_last_time "$dir/bare.log" ' listed ')
                scale_sleep_until "$(awk -v t="$tb0" 'BEGIN { printf "%.6f", t + 3 }')"
                read -r -a f <<<"$(proc_sample "$pid")" || f=(0 0 0 0)
                kill -TERM "$pid" 2>/dev/null
                wait "$pid"
                if grep -q " listed $n domains, 0 failed" "$dir/bare.log"; then
                        f+=("$(scale_sub "$tb" "$tb0")")
                else
                        log "bench-idle-bare: $(tail -n 1 "$dir/bare.log")"
                        f=(0 0 0 0)
                fi
        fi
        SCALE_OUT="$(scale_sub "$tr" "$t0") $(scale_sub "$tc" "$t0") ${a[0]} ${a[3]} $(scale_sub "$tf" "$fire") ${b[0]} ${b[3]} $hwm ${f[0]} ${f[3]} ${f[4]:-0} $created"
}

bench_scale() {
        local conns=20 margin=${VS_BENCH_SCALE_MARGIN:-20} runs=3 n i k dir base bare
        local keys="startup connect rss anon firing rss_after anon_after hwm bare_rss bare_anon bare_startup"
        local -a sizes a
        local -A R=()

        virtsnap_has daemon || { skip scale virtsnap-has-no-daemon-command; return; }
        command -v perl >/dev/null || { skip scale no-perl; return; }
        read -r -a sizes <<<"${VS_BENCH_SCALE_SIZES:-200 2000}"
        for n in "${sizes[@]}"; do
                [[ "$n" =~ ^[0-9]+$ ]] && [ $((n % conns)) -eq 0 ] && [ "$n" -gt 0 ] && [ "$n" -le $((conns * 9999)) ] ||
                        { skip scale "VS_BENCH_SCALE_SIZES-must-be-multiples-of-$conns"; return; }
        done
        # Each run waits for a whole minute (its cron firing): 3 runs a size
        # unless told otherwise.
        [ -n "$RUNS_SET" ] && runs=$RUNS
        runs=${VS_BENCH_SCALE_RUNS:-$runs}
        for n in "${sizes[@]}"; do
                dir=$SCRATCH/scale/$n
                mkdir -p "$dir"
                scale_nodes "$dir" "$n" "$conns" || { skip scale node-generation-failed; return; }
                virsh -q -c "test://$dir/node01.xml" list --all >/dev/null 2>&1 || { skip scale test-driver-unusable; return; }
        done
        log "scale: sizes ${sizes[*]}, 1 warm-up and $runs runs each, one a minute (~$(((runs + 1) * ${#sizes[@]})) min)"
        # Interleaved by size (200, 2000, 200, 2000, ...): a noisy minute
        # hurts both.  Round 0 is the warm-up.
        for ((i = 0; i <= runs; i++)); do
                for n in "${sizes[@]}"; do
                        if ! scale_run "$SCRATCH/scale/$n" "$n" "$conns" "$margin"; then
                                skip scale "$SCALE_WHY"
                                return
                        fi
                        log "scale: $n domains, run $i: $SCALE_OUT"
                        [ "$i" -eq 0 ] && continue
                        read -r -a a <<<"$SCALE_OUT"
                        for k in $keys; do
                                R[$n.$k]+=" ${a[0]}"
                                a=("${a[@]:1}")
                        done
                done
        done
        local -A M=()
        local s
        for n in "${sizes[@]}"; do
                for k in $keys; do
                        # shellcheck disable=SC2086
                        read -r -a s <<<"$(stats ${R[$n.$k]})"
                        M[$n.$k]=${s[0]} M[$n.$k.min]=${s[1]} M[$n.$k.max]=${s[2]}
                done
                bare=
                if [ "${M[$n.bare_rss.min]%.*}" -gt 0 ]; then
                        bare=" bare_startup_seconds=${M[$n.bare_startup]} startup_ratio_bare=$(ratio "${M[$n.startup]}" "${M[$n.bare_startup]}")"
                        bare+=" bare_rss_kib=${M[$n.bare_rss]%.*} bare_rss_anon_kib=${M[$n.bare_anon]%.*}"
                        bare+=" rss_over_bare_kib=$((${M[$n.rss]%.*} - ${M[$n.bare_rss]%.*}))"
                        bare+=" rss_anon_over_bare_kib=$((${M[$n.anon]%.*} - ${M[$n.bare_anon]%.*}))"
                fi
                echo "BENCH scale domains=$n connections=$conns policies=10 policy_entries=$conns max_concurrent=4 runs=$runs" \
                        "startup_seconds=${M[$n.startup]} startup_min=${M[$n.startup.min]} startup_max=${M[$n.startup.max]}" \
                        "connect_seconds=${M[$n.connect]}" \
                        "rss_kib=${M[$n.rss]%.*} rss_anon_kib=${M[$n.anon]%.*}" \
                        "firing_seconds=${M[$n.firing]} firing_min=${M[$n.firing.min]} firing_max=${M[$n.firing.max]}" \
                        "jobs=$n failed=0" \
                        "rss_after_firing_kib=${M[$n.rss_after]%.*} rss_anon_after_firing_kib=${M[$n.anon_after]%.*}" \
                        "rss_peak_kib=${M[$n.hwm]%.*}$bare"
        done
        # Growth from the first size to the last, and the cost of each added
        # domain (anonymous memory is the daemon's own heap; VmRSS is mostly
        # shared libraries).
        base=${sizes[0]} n=${sizes[-1]}
        [ "$base" = "$n" ] && return
        bare=
        if [ "${M[$base.bare_rss.min]%.*}" -gt 0 ] && [ "${M[$n.bare_rss.min]%.*}" -gt 0 ]; then
                bare=" growth_bare_startup=$(ratio "${M[$n.bare_startup]}" "${M[$base.bare_startup]}")"
                bare+=" bare_rss_anon_kib_per_domain=$(scale_per_domain "${M[$n.bare_anon]}" "${M[$base.bare_anon]}" $((n - base)) 1 2)"
        fi
        echo "BENCH scale-growth from=$base to=$n domains_ratio=$(ratio "$n" "$base")" \
                "growth_startup=$(ratio "${M[$n.startup]}" "${M[$base.startup]}")" \
                "growth_connect=$(ratio "${M[$n.connect]}" "${M[$base.connect]}")" \
                "growth_rss=$(ratio "${M[$n.rss]}" "${M[$base.rss]}")" \
                "growth_rss_anon=$(ratio "${M[$n.anon]}" "${M[$base.anon]}")" \
                "growth_firing=$(ratio "${M[$n.firing]}" "${M[$base.firing]}")" \
                "growth_rss_after_firing=$(ratio "${M[$n.rss_after]}" "${M[$base.rss_after]}")" \
                "startup_ms_per_domain=$(scale_per_domain "${M[$n.startup]}" "${M[$base.startup]}" $((n - base)) 1000 3)" \
                "firing_ms_per_domain=$(scale_per_domain "${M[$n.firing]}" "${M[$base.firing]}" $((n - base)) 1000 3)" \
                "rss_anon_kib_per_domain=$(scale_per_domain "${M[$n.anon]}" "${M[$base.anon]}" $((n - base)) 1 2)" \
                "rss_anon_after_firing_kib_per_domain=$(scale_per_domain "${M[$n.anon_after]}" "${M[$base.anon_after]}" $((n - base)) 1 2)$bare"
}

# ---- main ------------------------------------------------------------------

names=("$@")
[ ${#names[@]} -eq 0 ] && names=("${ALL[@]}")
for n in "${names[@]}"; do
        case " ${ALL[*]} " in *" $n "*) ;; *) echo "bench/run.sh: unknown benchmark '$n'" >&2; usage ;; esac
done

SCRATCH=$(mktemp -d /tmp/vs-bench.XXXXXX) || exit 1
if [ -n "${VS_BENCH_KEEP:-}" ]; then
        log "scratch directory $SCRATCH (kept)"
else
        trap 'rm -rf "$SCRATCH"' EXIT
fi
trap 'exit 130' INT TERM

if ! build; then
        for n in "${names[@]}"; do skip "$n" build-failed; done
        exit 1
fi
for n in "${names[@]}"; do
        log "running $n"
        "bench_${n//-/_}"
done
