#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) in build-fuzz/ and runs
# each from its seed corpus, one after another.  ZK_FUZZ_SECONDS (default 60)
# is the total, split evenly between the targets (at least 5 s each):
#
#   bash packaging/fuzz.sh                      # short run, as CI does (~1 min)
#   ZK_FUZZ_SECONDS=600 bash packaging/fuzz.sh  # longer run: 10 minutes in all
#   bash packaging/fuzz.sh client config        # only these targets
#
# Targets (tests/fuzz/fuzz_<name>.c, seeds in tests/fuzz/corpus/<name>/):
#   request     zkd: client byte streams, txn log and snapshot records
#   peer        zkd: peer framing, election and learner-to-leader messages
#   config      zkd: zoo.cfg, the dynamic config file, myid
#   jaas        zkd: the JAAS file
#   quorum_auth zkd: quorum SASL packets (QuorumAuthPacket, DIGEST-MD5 tokens)
#   jks         zkd: Java key stores (JKS) named by ssl.keyStore.location
#   datadir     zkd: recovery from whole snapshot and log files
#   zab         zkd: Apache's member protocol (QuorumPackets, SNAP stream, election hello/notifications)
#   client      libzk: replies, watch events, connect response, multi results
#   zkfs_names  zkfs: special file names (@eph, @seq, .zkdata), ACL xattrs
#
# New inputs go to build-fuzz/corpus/<name> (the committed seeds stay
# untouched).  A crash, leak or timeout leaves build-fuzz/<name>-crash-* (or
# -leak-*, -timeout-*) and makes this script fail, after the other targets
# have run; a summary prints each target's executions.  A crashing input
# belongs in tests/fuzz/corpus/<name>/ once its bug is fixed.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

ALL=(request peer config jaas quorum_auth jks datadir zab client zkfs_names)
TARGETS=("$@")
if ((${#TARGETS[@]} == 0)); then TARGETS=("${ALL[@]}"); fi
TOTAL=${ZK_FUZZ_SECONDS:-60}

CC=clang cmake -S . -B build-fuzz -DZK_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
# zkfs (and so fuzz_zkfs_names) is only built where libfuse3 is installed.
if ! grep -q '^FUSE3_FOUND:INTERNAL=1' build-fuzz/CMakeCache.txt; then
  echo "== fuzz.sh: no libfuse3: skipping zkfs_names"
  kept=()
  for t in "${TARGETS[@]}"; do [[ $t == zkfs_names ]] || kept+=("$t"); done
  TARGETS=("${kept[@]}")
fi
cmake --build build-fuzz -j"$(nproc)" --target "${TARGETS[@]/#/fuzz_}"
EACH=$((TOTAL / ${#TARGETS[@]}))
if ((EACH < 5)); then EACH=5; fi

cd build-fuzz
failed=()
summary=()
for t in "${TARGETS[@]}"; do
  mkdir -p "corpus/$t"
  echo "== fuzz.sh: fuzz_$t for ${EACH}s"
  set +e
  # Leak checking is on: an input that leaks is a finding like a crash.  The
  # request and peer targets drive one long-lived server whose state grows
  # by design, so nearly every input would trigger a (slow) leak scan; there
  # it is off.
  leaks=1
  if [[ $t == request || $t == peer ]]; then leaks=0; fi
  ASAN_OPTIONS=detect_leaks=$leaks LSAN_OPTIONS=suppressions="$ROOT/tests/fuzz/lsan.supp" \
    "./bin/fuzz_$t" -max_total_time="$EACH" -timeout=25 \
    -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$t-" \
    "corpus/$t" "$ROOT/tests/fuzz/corpus/$t" >"fuzz_$t.log" 2>&1
  rc=$?
  set -e
  tail -n 20 "fuzz_$t.log"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "fuzz_$t.log")
  if ((rc != 0)); then
    failed+=("$t")
    summary+=("$(printf '%-11s %10s execs  FAILED (exit %d, see build-fuzz/fuzz_%s.log)' "$t" "${execs:-?}" "$rc" "$t")")
  else
    summary+=("$(printf '%-11s %10s execs  no crash in %ss' "$t" "${execs:-?}" "$EACH")")
  fi
done

echo "== fuzz.sh: summary"
printf '  %s\n' "${summary[@]}"
if ((${#failed[@]} != 0)); then
  echo "fuzz: FAILED: ${failed[*]}"
  exit 1
fi
echo "fuzz: no crash in ${#TARGETS[@]} targets, ${EACH}s each"
