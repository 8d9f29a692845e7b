#!/usr/bin/env bash
# zkd vs Apache ZooKeeper 3.8: start-up, bulk load, memory, snapshot, restart, get/set.
#
#   bash bench/run.sh            # full run, N=1,000,000 znodes (~10 min); writes and prints
#                                # bench/results/<date>-<host>.md (+ .json with raw numbers)
#   bash bench/run.sh --quick    # N=100,000, shorter phases -> bench/results/<date>-<host>-quick.md
#   bash bench/run.sh --smoke    # N=2,000, < 60 s, report in a temp file; exit 0 iff it parses
#
# The zkbench matrix (standalone and 3-member ensembles; create/set/get/mixed/multi, latency and
# throughput, fan-out, churn) is bench/matrix.py [--quick|--smoke]; see its docstring.
#
# Other options (bench/bench.py --help): -n N, --out FILE, --workdir DIR, --keep,
# --zkd BINARY, --apache-heap 3g, --only zkd|apache, --[no-]callgrind.
# Builds zkd with packaging/build.sh if <ZK_BUILD_DIR or build>/bin/zkd is missing.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${ZK_BUILD_DIR:-$ROOT/build}

if [[ ! -x "$BUILD_DIR/bin/zkd" ]]; then
  echo "[bench] $BUILD_DIR/bin/zkd missing; building it" >&2
  bash "$ROOT/packaging/build.sh" ${ZK_BUILD_DIR:+--build-dir "$ZK_BUILD_DIR"} >&2
fi

exec /usr/bin/python3 "$ROOT/bench/bench.py" "$@"
