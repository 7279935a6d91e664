#!/usr/bin/env bash
# Every test, twice: a normal build with -Werror, then an AddressSanitizer +
# UndefinedBehaviorSanitizer build; then the libFuzzer targets for a minute
# each (see the end). Installs missing Debian packages first.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/deps.sh
tm_deps podman runc mmdebstrap valgrind   # podman etc.: the container tests (tests/container); valgrind: the valgrind.* cases
jobs="$(nproc)"

run_suite() { # build-dir, cmake flags...
  local dir=$1; shift
  echo "== $dir: configure and build ($*)"
  cmake -S . -B "$dir" -DTM_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j"$jobs" >/dev/null
  echo "== $dir: tests"
  (cd "$dir" && ctest -j"$jobs" --output-on-failure --timeout 300)
}

run_suite build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTM_VALGRIND=ON
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:abort_on_error=1 \
  run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DTM_SANITIZE=ON
echo "== all tests passed in both builds"

# Then every libFuzzer target (tests/fuzz) for FUZZ_SECONDS each, nproc at a
# time (about 5 min on 2 cores); a crash, leak, timeout or a target that
# ran nothing fails. FUZZ_SECONDS=0 or TM_SKIP_FUZZ=1 skips it (local runs).
fuzz_secs="${FUZZ_SECONDS:-60}"
if [ "${TM_SKIP_FUZZ:-0}" = 1 ] || [ "$fuzz_secs" = 0 ]; then
  echo "== fuzz: skipped (FUZZ_SECONDS=0 or TM_SKIP_FUZZ=1)"
else
  tm_deps clang libclang-rt-14-dev
  echo "== build-fuzz: libFuzzer targets, ${fuzz_secs} s each, $jobs at a time"
  BUILD=build-fuzz JOBS="$jobs" bash tests/fuzz/run.sh "$fuzz_secs"
  echo "== fuzz: no target crashed"
fi
