#!/usr/bin/env bash
# Runs every libFuzzer target for N seconds (default 60) on a copy of its
# seed corpus; prints execs, execs/s, cov and ft per target; exits 1 if any
# target crashed (the reproducer is kept under $OUT/<target>/).
#   tests/fuzz/run.sh [seconds]     env: BUILD=build-fuzz JOBS=$(nproc) OUT=<tmp>
set -u
cd "$(dirname "$0")/../.."
SECS=${1:-60}
BUILD=${BUILD:-build-fuzz}
JOBS=${JOBS:-$(nproc)}
OUT=${OUT:-$(mktemp -d /tmp/tm-fuzz.XXXXXX)}
TARGETS="frame rule_line json sigv4 oauth1 ddb_response"

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD" -DTM_FUZZ=ON -DTM_SANITIZE=ON -DCMAKE_C_COMPILER=clang \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 2
fi
cmake --build "$BUILD" -j"$JOBS" $(for t in $TARGETS; do printf -- '--target fuzz_%s ' "$t"; done) >/dev/null || exit 2

run_one() {
  local t=$1 dir="$OUT/$t"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp tests/fuzz/corpus/"$t"/* "$dir/corpus/" 2>/dev/null
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$BUILD/tests/fuzz_$t" -max_total_time="$SECS" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$dir/artifacts/" "$dir/corpus" >"$dir/log" 2>&1
  echo $? >"$dir/rc"
}

running=0
for t in $TARGETS; do
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then wait -n; running=$((running - 1)); fi
done
wait

fail=0
printf '%-14s %12s %10s %8s %8s  %s\n' target execs execs/s cov ft result
for t in $TARGETS; do
  dir="$OUT/$t" rc=$(cat "$OUT/$t/rc")
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log")
  cov=$(grep -Eo 'cov: [0-9]+' "$dir/log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -Eo 'ft: [0-9]+' "$dir/log" | tail -1 | cut -d' ' -f2)
  res=ok
  if [ "$rc" != 0 ] || ls "$dir/artifacts/"* >/dev/null 2>&1; then
    res="CRASH (rc $rc): $(ls "$dir/artifacts/" | tr '\n' ' ') log $dir/log"
    fail=1
  fi
  printf '%-14s %12s %10s %8s %8s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$res"
done
echo "logs and corpora: $OUT"
exit $fail
