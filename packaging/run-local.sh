#!/usr/bin/env bash
# The main job, on a fresh Debian 12 machine:
#
#   sudo bash packaging/run-local.sh
#
# installs the build dependencies, builds zkfs, writes run/zoo.cfg from
# packaging/zoo.cfg.sample and runs zkd in the foreground (Ctrl-C stops it).
# Connect with any ZooKeeper client, e.g.
#   /usr/lib/zookeeper/bin/cli_mt -h 127.0.0.1:2181
#
# Environment: ZK_PORT (default 2181), ZK_RUN_DIR (default <repo>/run),
# ZK_SKIP_INSTALL=1 / ZK_SKIP_BUILD=1 to skip those steps, ZK_BUILD_DIR to run
# another build (e.g. build-asan).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PORT=${ZK_PORT:-2181}
RUN_DIR=${ZK_RUN_DIR:-$ROOT/run}
BUILD_DIR=${ZK_BUILD_DIR:-$ROOT/build}

[[ "${ZK_SKIP_INSTALL:-0}" == 1 ]] || bash "$ROOT/packaging/install-deps.sh"
[[ "${ZK_SKIP_BUILD:-0}" == 1 ]] || bash "$ROOT/packaging/build.sh" --build-dir "$BUILD_DIR"

ZKD="$BUILD_DIR/bin/zkd"
if [[ ! -x "$ZKD" ]]; then
  echo "run-local: $ZKD was not built" >&2
  exit 1
fi

mkdir -p "$RUN_DIR/data"
CFG="$RUN_DIR/zoo.cfg"
sed -e "s|^dataDir=.*|dataDir=$RUN_DIR/data|" \
    -e "s|^clientPort=.*|clientPort=$PORT|" \
    "$ROOT/packaging/zoo.cfg.sample" > "$CFG"

if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  echo "run-local: something already listens on 127.0.0.1:$PORT (set ZK_PORT to use another port)" >&2
  exit 1
fi

# TODO(ensemble): once zkd replicates, start a 3-node ensemble here instead
# (one config and dataDir per node under $RUN_DIR) and mount zkfs on it.

echo "run-local: zkd on 127.0.0.1:$PORT, config $CFG, data in $RUN_DIR/data"
exec "$ZKD" "$CFG"
