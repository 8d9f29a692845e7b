#!/usr/bin/env bash
# Builds the libFuzzer target with clang (ASan+UBSan) in build-fuzz/ and fuzzes
# zkd's decoders from the seed corpus for ZK_FUZZ_SECONDS (default 60).
#
#   bash packaging/fuzz.sh            # short run, as CI does
#   ZK_FUZZ_SECONDS=3600 bash packaging/fuzz.sh
#
# New inputs go to build-fuzz/corpus (the committed seeds stay untouched);
# a crash leaves build-fuzz/crash-* and makes this script fail.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
CC=clang cmake -S . -B build-fuzz -DZK_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz_request
mkdir -p build-fuzz/corpus
cd build-fuzz
ASAN_OPTIONS=detect_leaks=0 ./bin/fuzz_request -max_total_time="${ZK_FUZZ_SECONDS:-60}" \
  -rss_limit_mb=4096 -print_final_stats=1 corpus "$ROOT/tests/fuzz/corpus" 2>&1 | tail -n 25
echo "fuzz: no crash in ${ZK_FUZZ_SECONDS:-60}s"
