#!/usr/bin/env bash
# Configures and builds zkfs with CMake.
#
#   bash packaging/build.sh                  # RelWithDebInfo into build/
#   bash packaging/build.sh --asan           # ASan+UBSan (-DZK_SANITIZE=ON) into build-asan/,
#                                            # with clang unless CC says otherwise (GCC 12
#                                            # reports false -Wstringop-overread under ASan)
#   bash packaging/build.sh --build-dir DIR  # another build directory
#
# Binaries land in <build dir>/bin (zkd, ...), C unit tests in <build dir>/bin/unit.
# Other arguments are passed to cmake's configure step, e.g. -DZK_FUZZ=ON.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=""
ASAN=0
CMAKE_ARGS=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)

while (($#)); do
  case "$1" in
    --asan) ASAN=1; shift ;;
    --build-dir) BUILD_DIR="$2"; shift 2 ;;
    --build-dir=*) BUILD_DIR="${1#*=}"; shift ;;
    -h|--help) sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) CMAKE_ARGS+=("$1"); shift ;;
  esac
done

if ((ASAN)); then
  BUILD_DIR=${BUILD_DIR:-$ROOT/build-asan}
  CMAKE_ARGS+=(-DZK_SANITIZE=ON)
  if [[ -z "${CC:-}" ]] && command -v clang >/dev/null; then
    export CC=clang
  fi
else
  BUILD_DIR=${BUILD_DIR:-$ROOT/build}
  CMAKE_ARGS+=(-DZK_SANITIZE=OFF)
fi

JOBS=$(nproc 2>/dev/null || echo 2)

# CC only counts when a build directory is first configured: start afresh when
# the cached compiler is another one.
CACHE="$BUILD_DIR/CMakeCache.txt"
if [[ -n "${CC:-}" && -f "$CACHE" ]]; then
  cached=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$CACHE")
  want=$(command -v "$CC" || echo "$CC")
  if [[ -n "$cached" && "$(readlink -f "$cached")" != "$(readlink -f "$want")" ]]; then
    echo "build: $BUILD_DIR was configured with $cached, reconfiguring with $CC"
    CMAKE_ARGS+=(--fresh)
  fi
fi

echo "build: configuring $BUILD_DIR (${CMAKE_ARGS[*]})"
cmake -S "$ROOT" -B "$BUILD_DIR" "${CMAKE_ARGS[@]}"
echo "build: building with -j$JOBS"
cmake --build "$BUILD_DIR" -j"$JOBS"
echo "build: done: $BUILD_DIR/bin"
