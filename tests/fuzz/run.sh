#!/usr/bin/env bash
# Runs every libFuzzer target for N seconds (default 60) on a copy of its
# seed corpus, JOBS at a time; prints execs, execs/s, cov and ft per target.
# Exits 1 if any target crashed, leaked, timed out, ran out of memory, hung,
# is missing, or left no statistics (a run that fuzzed nothing is a
# failure); the reproducer and log are kept under $OUT/<target>/. Exits 2
# when the build fails or the arguments are wrong.
#   tests/fuzz/run.sh [seconds]     env: BUILD=build-fuzz JOBS=$(nproc) OUT=<tmp>
set -u
cd "$(dirname "$0")/../.."
SECS=${1:-60}
BUILD=${BUILD:-build-fuzz}
JOBS=${JOBS:-$(nproc)}
OUT=${OUT:-$(mktemp -d /tmp/tm-fuzz.XXXXXX)}
TARGETS="frame rule_line json sigv4 oauth1 ddb_response creds_response marshal decode"

case "$SECS" in
  '' | *[!0-9]* | 0) echo "run.sh: seconds must be a positive integer, not '$SECS'" >&2; exit 2 ;;
esac

log="$OUT/build.log"
mkdir -p "$OUT"
# Configured every time (a second or so), so an existing directory gets the
# fuzz options too.
if ! cmake -S . -B "$BUILD" -DTM_FUZZ=ON -DTM_SANITIZE=ON -DCMAKE_C_COMPILER=clang \
           -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$log" 2>&1; then
  tail -20 "$log" >&2; echo "run.sh: configuring $BUILD failed (log $log)" >&2; exit 2
fi
if ! cmake --build "$BUILD" -j"$JOBS" $(for t in $TARGETS; do printf -- '--target fuzz_%s ' "$t"; done) \
     >>"$log" 2>&1; then
  tail -30 "$log" >&2; echo "run.sh: building the fuzz targets failed (log $log)" >&2; exit 2
fi

run_one() {
  local t=$1 dir="$OUT/$t" bin="$BUILD/tests/fuzz_$t"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp tests/fuzz/corpus/"$t"/* "$dir/corpus/" 2>/dev/null
  if [ ! -x "$bin" ]; then
    echo "no binary $bin" >"$dir/log"
    echo missing >"$dir/rc"
    return
  fi
  # The outer timeout catches a target that never stops (libFuzzer's own
  # -timeout only covers one input).
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    timeout -k 10 $((SECS + 120)) \
    "$bin" -max_total_time="$SECS" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
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
printf '%-15s %12s %10s %8s %8s  %s\n' target execs execs/s cov ft result
for t in $TARGETS; do
  dir="$OUT/$t"
  rc=$(cat "$dir/rc" 2>/dev/null || echo none)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" 2>/dev/null)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" 2>/dev/null)
  cov=$(grep -Eo 'cov: [0-9]+' "$dir/log" 2>/dev/null | tail -1 | cut -d' ' -f2)
  ft=$(grep -Eo 'ft: [0-9]+' "$dir/log" 2>/dev/null | tail -1 | cut -d' ' -f2)
  res=ok
  if [ "$rc" = missing ]; then
    res="MISSING: no $BUILD/tests/fuzz_$t"
  elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    res="HUNG (killed after $((SECS + 120)) s): log $dir/log"
  elif [ "$rc" != 0 ] || ls "$dir/artifacts/"* >/dev/null 2>&1; then
    kind=CRASH
    grep -q 'ERROR: LeakSanitizer' "$dir/log" && kind=LEAK
    grep -q 'ERROR: libFuzzer: timeout' "$dir/log" && kind=TIMEOUT
    grep -q 'ERROR: libFuzzer: out-of-memory' "$dir/log" && kind=OOM
    res="$kind (rc $rc): $(ls "$dir/artifacts/" | tr '\n' ' ')log $dir/log"
  elif [ -z "$execs" ] || [ "$execs" = 0 ] || [ -z "$cov" ]; then
    res="NO STATS: the target ran nothing; log $dir/log"
  fi
  [ "$res" = ok ] || fail=1
  printf '%-15s %12s %10s %8s %8s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$res"
done
echo "logs and corpora: $OUT"
exit $fail
