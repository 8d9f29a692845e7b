#!/usr/bin/env bash
# zkd vs Apache ZooKeeper 3.8, side by side on this machine, in one run.
#
#   bash bench/run.sh            # everything, full profiles (~25 min):
#                                #   bench.py  (start-up, 1,000,000-znode load, memory, snapshot,
#                                #              restart, get/set, callgrind)
#                                #     -> bench/results/<date>-<host>.md (+ .json)
#                                #   matrix.py (zkbench: standalone and 3-member ensembles;
#                                #              create/set/get/mixed/multi, latency and throughput,
#                                #              fan-out, churn; zkfs cat/ls/inotify rows)
#                                #     -> bench/results/<date>-<host>-matrix.md (+ .json)
#   bash bench/run.sh --quick    # both, shorter (N=100,000; 3 s per matrix case), "-quick" reports
#   bash bench/run.sh --smoke    # bench.py only, N=2,000, < 60 s, report in a temp file; exit 0
#                                # iff it parses (the matrix's smoke is matrix.py --smoke)
#   --no-matrix | --matrix-only  # one half only
#   bash bench/run.sh --scale [-n N] [--apache-n M] ...
#                                # the scale profile only (bench/scale.py, issue 20): zkd at N
#                                # (default 10,000,000) and both servers at M (default 1,000,000):
#                                # memory per znode, load rate, get p99.9 during a snapshot,
#                                # restart, 1M children under one parent, watch fan-out
#                                #   -> bench/results/<date>-<host>-scale.md (+ .json)
#
# Mixed ensembles and the rolling migration (issue 16), run directly:
#   /usr/bin/python3 bench/matrix.py --quick --mixed --no-standalone --no-zkfs \
#       --cases 'create 8x32,set 8x32,get 8x32'     # all zkd, all Apache, zkd leading Apache
#   /usr/bin/python3 bench/migration.py --rounds 2   # unavailability per member swap: the
#                                                    # migration vs an Apache rolling restart
#
# Other options go to bench/bench.py (see --help): -n N, --out FILE, --workdir DIR, --keep,
# --zkd BINARY, --apache-heap 3g, --only zkd|apache, --[no-]callgrind.  matrix.py has its own
# (--cases, --zkd-cfg, --only, --no-ensemble, --no-zkfs, ...): run it directly for those.
# Builds first with packaging/build.sh if <ZK_BUILD_DIR or build>/bin/zkd or zkbench is missing.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${ZK_BUILD_DIR:-$ROOT/build}

bench=1 matrix=1 scale=0 profile=() rest=()
for a in "$@"; do
  case "$a" in
    --scale) scale=1 ;;
    --no-matrix) matrix=0 ;;
    --matrix-only) bench=0 ;;
    --quick) profile=(--quick) ;;
    --smoke) profile=(--smoke); matrix=0 ;;
    *) rest+=("$a") ;;
  esac
done

if [[ ! -x "$BUILD_DIR/bin/zkd" || ! -x "$BUILD_DIR/bin/zkbench" ]]; then
  echo "[bench] $BUILD_DIR/bin/zkd or zkbench missing; building" >&2
  bash "$ROOT/packaging/build.sh" ${ZK_BUILD_DIR:+--build-dir "$ZK_BUILD_DIR"} >&2
fi

if (( scale )); then
  exec /usr/bin/python3 "$ROOT/bench/scale.py" "${rest[@]}"
fi
if (( bench )); then
  /usr/bin/python3 "$ROOT/bench/bench.py" "${profile[@]}" "${rest[@]}"
fi
if (( matrix )); then
  /usr/bin/python3 "$ROOT/bench/matrix.py" "${profile[@]}"
fi
