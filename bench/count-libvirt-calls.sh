#!/bin/bash
# bench/count-libvirt-calls.sh CMD [ARG ...]: run CMD with libvirt's own
# debug log of its public API (the `libvirt` log category: src/libvirt*.c,
# one "debug : virFunction:LINE : args" line on entry to every public call)
# and print how many times each public function was entered, one
# "FUNCTION COUNT" line each, sorted by name.  CMD's stderr is kept in
# ${VS_COUNT_LOG:-a temporary file}.stderr; its status is returned.
# This is how bench/README.md's call-count table is made:
#
#   bench/count-libvirt-calls.sh bench/.build/cli/virtsnap run --once ...
#   bench/count-libvirt-calls.sh bench/.build/bench/bench-fanout-bare ...
#
# Library-internal entry lines (virGlobalInit, virRegisterConnectDriver,
# virConnectOpenInternal) are left out: they are not calls the program makes.
set -uo pipefail
[ $# -ge 1 ] || { echo "usage: bench/count-libvirt-calls.sh CMD [ARG ...]" >&2; exit 2; }
log=${VS_COUNT_LOG:-$(mktemp /tmp/vs-calls.XXXXXX)}
: >"$log"
LIBVIRT_LOG_FILTERS="1:libvirt" LIBVIRT_LOG_OUTPUTS="1:file:$log" "$@" 2>"$log.stderr"
rc=$?
grep -oE ': debug : vir[A-Za-z]+:[0-9]+ : ' "$log" | sed -E 's/^: debug : //; s/:[0-9]+ : $//' |
        grep -vxE 'virGlobalInit|virRegisterConnectDriver|virConnectOpenInternal' | sort | uniq -c |
        awk '{ print $2, $1 }'
[ -z "${VS_COUNT_LOG:-}" ] && rm -f "$log"
exit "$rc"
