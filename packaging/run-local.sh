#!/usr/bin/env bash
# The main job, on a fresh Debian 12 machine:
#
#   sudo bash packaging/run-local.sh
#
# installs the build dependencies, builds, starts a local 3-member zkd
# ensemble (clients on 127.0.0.1:2181, :2182, :2183) and mounts its namespace
# with zkfs at run/mnt.  It stays in the foreground; Ctrl-C unmounts and
# stops the ensemble.  Meanwhile, from another shell:
#
#   echo "max_conns=10" > run/mnt/app.cfg ; cat run/mnt/app.cfg ; ls -la run/mnt
#   build/bin/zkcli -s 127.0.0.1:2181,127.0.0.1:2182,127.0.0.1:2183 ls /
#   /usr/lib/zookeeper/bin/cli_mt -h 127.0.0.1:2182     (any ZooKeeper client)
#
# Environment: ZK_RUN_DIR (default <repo>/run), ZK_MOUNT (default $ZK_RUN_DIR/mnt),
# ZK_MEMBERS (default 3; 1 runs a standalone server), ZK_PORT (first client
# port, default 2181), ZK_SKIP_INSTALL=1 / ZK_SKIP_BUILD=1 to skip those steps,
# ZK_BUILD_DIR to run another build (e.g. build-asan), ZK_NO_MOUNT=1 to skip zkfs.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PORT=${ZK_PORT:-2181}
MEMBERS=${ZK_MEMBERS:-3}
RUN_DIR=${ZK_RUN_DIR:-$ROOT/run}
MNT=${ZK_MOUNT:-$RUN_DIR/mnt}
BUILD_DIR=${ZK_BUILD_DIR:-$ROOT/build}

[[ "${ZK_SKIP_INSTALL:-0}" == 1 ]] || bash "$ROOT/packaging/install-deps.sh"
[[ "${ZK_SKIP_BUILD:-0}" == 1 ]] || bash "$ROOT/packaging/build.sh" --build-dir "$BUILD_DIR"

ZKD="$BUILD_DIR/bin/zkd"
ZKFS="$BUILD_DIR/bin/zkfs"
if [[ ! -x "$ZKD" ]]; then
  echo "run-local: $ZKD was not built" >&2
  exit 1
fi

port_busy() { { (exec 3<>"/dev/tcp/127.0.0.1/$1"); } 2>/dev/null; }
# Answers of a four-letter word (empty if nobody listens).
four_letter() {
  local reply
  { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 0
  printf '%s' "$2" >&3
  reply=$(cat <&3 2>/dev/null || true)
  exec 3<&- 3>&-
  printf '%s' "$reply"
}

HOSTS=""
for ((i = 1; i <= MEMBERS; i++)); do
  p=$((PORT + i - 1))
  if port_busy "$p"; then
    echo "run-local: something already listens on 127.0.0.1:$p (set ZK_PORT to use other ports)" >&2
    exit 1
  fi
  HOSTS+="${HOSTS:+,}127.0.0.1:$p"
done

PIDS=()
cleanup() {
  trap - EXIT INT TERM
  if mountpoint -q "$MNT" 2>/dev/null; then
    fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
  fi
  if ((${#PIDS[@]})); then
    kill -TERM "${PIDS[@]}" 2>/dev/null || true
    wait "${PIDS[@]}" 2>/dev/null || true
  fi
  echo "run-local: stopped"
}
trap cleanup EXIT INT TERM

for ((i = 1; i <= MEMBERS; i++)); do
  dir="$RUN_DIR/n$i"
  mkdir -p "$dir/data"
  echo "$i" > "$dir/data/myid"
  sed -e "s|^dataDir=.*|dataDir=$dir/data|" -e "/^clientPort=/d" -e "/^clientPortAddress=/d" \
    "$ROOT/packaging/zoo.cfg.sample" > "$dir/zoo.cfg"
  {
    if ((MEMBERS == 1)); then
      echo "clientPort=$PORT"
    else
      echo "initLimit=10"
      echo "syncLimit=5"
      for ((j = 1; j <= MEMBERS; j++)); do
        echo "server.$j=127.0.0.1:$((2887 + j)):$((3887 + j));127.0.0.1:$((PORT + j - 1))"
      done
    fi
  } >> "$dir/zoo.cfg"
  "$ZKD" "$dir/zoo.cfg" 2> "$dir/zkd.log" &
  PIDS+=($!)
done

echo "run-local: waiting for the ensemble ($HOSTS) to elect a leader"
for _ in $(seq 1 100); do
  modes=""
  for ((i = 1; i <= MEMBERS; i++)); do
    modes+=$(four_letter $((PORT + i - 1)) srvr | sed -n 's/^Mode: //p')" "
  done
  [[ "$modes" == *leader* || "$modes" == *standalone* ]] && break
  for pid in "${PIDS[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "run-local: a member exited; see $RUN_DIR/n*/zkd.log" >&2
      tail -n 5 "$RUN_DIR"/n*/zkd.log >&2
      exit 1
    fi
  done
  sleep 0.1
done
echo "run-local: members: $modes(logs in $RUN_DIR/n*/zkd.log)"

if [[ "${ZK_NO_MOUNT:-0}" != 1 && -x "$ZKFS" ]]; then
  mkdir -p "$MNT"
  "$ZKFS" "$HOSTS" "$MNT"
  echo "run-local: namespace mounted at $MNT (zkfs on $HOSTS)"
else
  echo "run-local: zkfs not mounted (ZK_NO_MOUNT=1 or $ZKFS missing)"
fi
echo "run-local: running; Ctrl-C stops"
wait "${PIDS[@]}"
