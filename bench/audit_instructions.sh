#!/bin/bash
# The audit log's cost in instructions per write, which unlike ops/s does not
# depend on the machine's load (issue 14): two zkd under valgrind's callgrind,
# one with audit.enable, one without, each given the same set 8x32 load; the
# counters are zeroed after a warm-up and dumped after N sets, per thread.
#
#   bash bench/audit_instructions.sh [BUILD_DIR] [N]     (default: build, 40000)
#
# Prints instructions per set for the loop thread and all threads, off and on,
# and the ratios.  Under valgrind the server runs ~50x slower, so batches are
# smaller than natively: the per-op figures are an upper bound of the native
# ones, the same for both servers.  Needs valgrind (packaging/install-deps.sh lists it).
set -euo pipefail
BUILD=${1:-build}
N=${2:-40000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ZKD=$ROOT/$BUILD/bin/zkd
BENCH=$ROOT/$BUILD/bin/zkbench
OUT=$(mktemp -d /tmp/zk-audit-instr.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 1; rm -rf "$OUT"; }
trap cleanup EXIT
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start() { # MODE -> sets PORT, PID
    local m=$1
    mkdir -p "$OUT/$m"
    PORT=$(free_port)
    printf 'tickTime=2000\ndataDir=%s/%s\nclientPort=%s\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n' \
        "$OUT" "$m" "$PORT" > "$OUT/$m/zoo.cfg"
    if [ "$m" = on ]; then
        printf 'audit.enable=true\naudit.logFile=%s/on/audit.log\n' "$OUT" >> "$OUT/$m/zoo.cfg"
    fi
    valgrind --tool=callgrind --separate-threads=yes --dump-instr=no \
        --callgrind-out-file="$OUT/$m/cg.%p" "$ZKD" "$OUT/$m/zoo.cfg" > "$OUT/$m/zkd.log" 2>&1 &
    PID=$!
    pids+=("$PID")
    until grep -q "snapshot 0x0 written\|startup failed" "$OUT/$m/zkd.log"; do sleep 0.5; done
    if grep -q "startup failed" "$OUT/$m/zkd.log"; then cat "$OUT/$m/zkd.log"; exit 1; fi
}

declare -A LOOP TOTAL
for m in off on; do
    start "$m"
    "$BENCH" --hosts "127.0.0.1:$PORT" --op set --clients 8 --inflight 32 --count 5000 --size 32 --quiet > /dev/null
    callgrind_control -z "$PID" > /dev/null 2>&1
    "$BENCH" --hosts "127.0.0.1:$PORT" --op set --clients 8 --inflight 32 --count "$N" --size 32 --quiet > /dev/null
    callgrind_control -d "$PID" > /dev/null 2>&1
    # Thread 1 is the loop thread; the files of the dump are cg.PID.1-TT.
    loop=0 total=0
    for f in "$OUT/$m"/cg."$PID".1-*; do
        v=$(awk '/^summary:/ {print $2}' "$f")
        total=$((total + v))
        case "$f" in *-01) loop=$v ;; esac
    done
    LOOP[$m]=$loop TOTAL[$m]=$total
done
if [ "$(grep -c . "$OUT/on/audit.log")" -lt "$N" ]; then
    echo "the audit log holds fewer than $N lines: it was not on" >&2; exit 1
fi
awk -v n="$N" -v lo="${LOOP[off]}" -v ln="${LOOP[on]}" -v to="${TOTAL[off]}" -v tn="${TOTAL[on]}" 'BEGIN {
    printf "| instructions per set 8x32 | audit off | audit on | on/off |\n|---|---:|---:|---:|\n"
    printf "| loop thread | %.0f | %.0f | %.3f |\n", lo/n, ln/n, ln/lo
    printf "| all threads | %.0f | %.0f | %.3f |\n", to/n, tn/n, tn/to
    printf "(%d sets of 32 bytes per server, callgrind, counters zeroed after 5000 warm-up sets)\n", n }'
