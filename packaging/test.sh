#!/usr/bin/env bash
# Installs the dependencies, builds, and runs every test:
#
#   sudo bash packaging/test.sh
#
# 1. the pytest suite (tests/: C unit tests, differential tests against Apache
#    ZooKeeper, durability, C client, ...) on the RelWithDebInfo build in build/;
# 2. the same suite on an ASan+UBSan build in build-asan/ (skip with ZK_SKIP_ASAN=1);
# 3. a short libFuzzer run of every fuzz target (packaging/fuzz.sh; skip with ZK_SKIP_FUZZ=1).
#
# The sanitizer run leaves out the ensemble tests of kind "apache" (ZK_SKIP_APACHE_ONLY=1, see
# tests/ensemble/conftest.py): they start Apache members and kazoo only.
# Environment: ZK_SKIP_ASAN=1, ZK_TEST_TIMEOUT (seconds per test, default 600),
# ZK_PYTEST_ARGS (extra pytest arguments, e.g. "-k diff -x").
# Exits non-zero if any step or any test fails.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

PY=/usr/bin/python3   # Debian's, which has pytest and kazoo (not a pyenv one on PATH)

bash packaging/install-deps.sh
bash packaging/build.sh

# --durations: the slowest tests of each run, printed at its end, so a CI log shows where the
# time budget goes.
PYTEST=("$PY" -m pytest -q -ra -p no:cacheprovider --durations=25)
if "$PY" -c "import pytest_timeout" 2>/dev/null; then
  PYTEST+=(--timeout="${ZK_TEST_TIMEOUT:-600}")
fi
# shellcheck disable=SC2206
EXTRA=(${ZK_PYTEST_ARGS:-})

status=0
run_suite() {
  local build_dir=$1 label=$2 start rc
  start=$(date +%s)
  echo "== test.sh: pytest on $label ($build_dir)"
  set +e
  ZK_BUILD_DIR="$build_dir" "${PYTEST[@]}" "${EXTRA[@]}" tests
  rc=$?
  set -e
  echo "== test.sh: $label suite exit $rc after $(( $(date +%s) - start ))s"
  if ((rc != 0)); then status=1; fi
}

run_suite "$ROOT/build" "RelWithDebInfo build"

if [[ "${ZK_SKIP_ASAN:-0}" == 1 ]]; then
  echo "== test.sh: ZK_SKIP_ASAN=1: sanitizer build and run skipped"
else
  bash packaging/build.sh --asan
  # Ensemble tests of kind "apache" run no binary of ours: the plain run covered them.
  ZK_SKIP_APACHE_ONLY=1 run_suite "$ROOT/build-asan" "ASan+UBSan build"
fi

# A short libFuzzer run of every target, ZK_FUZZ_SECONDS in all (skip: ZK_SKIP_FUZZ=1).
if [[ "${ZK_SKIP_FUZZ:-0}" != 1 ]]; then
  echo "== test.sh: fuzzing for ${ZK_FUZZ_SECONDS:-60}s"
  if ! bash packaging/fuzz.sh; then
    echo "== test.sh: fuzz run found a crash"
    status=1
  fi
fi

if ((status != 0)); then
  echo "== test.sh: FAILED"
else
  echo "== test.sh: all suites passed"
fi
exit $status
