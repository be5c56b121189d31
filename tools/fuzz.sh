#!/usr/bin/env bash
# make fuzz: build every libFuzzer target (clang, ASan + UBSan) and run each for FUZZ_SECONDS
# (default 60) on a copy of its seed corpus, FUZZ_JOBS (default: cores) workers each. Prints the
# executions each reached; a crash stops here with the reproducer (crash-*) and its target.
# FUZZ_MERGE=1 merges what the run found that covers new code back into tests/fuzz/corpus;
# FUZZ_TARGETS="sse keys" runs only those (names without fuzz_).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${FUZZ_SECONDS:-60}
JOBS=${FUZZ_JOBS:-$(nproc)}
command -v clang >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q clang >/dev/null
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DSB_FUZZ=ON \
  -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -g" >/dev/null
targets=${FUZZ_TARGETS:-$(sed -n 's/.*fuzz_\([a-z_]*\)\.c$/\1/p' <(ls tests/fuzz/fuzz_*.c))}
cmake --build build-fuzz -j"$(nproc)" --target $(for t in $targets; do echo "fuzz_$t"; done) >/dev/null
mkdir -p build-fuzz/artifacts
printf '%-12s %14s %12s %s\n' target executions exec/s corpus
total=0
for t in $targets; do
  work=$(mktemp -d)
  cp tests/fuzz/corpus/"$t"/* "$work"/
  log=build-fuzz/artifacts/$t.log
  if ! ./build-fuzz/tests/fuzz/fuzz_"$t" -max_total_time="$SECONDS_EACH" -max_len=65536 -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 -jobs="$JOBS" -workers="$JOBS" \
      -artifact_prefix=build-fuzz/artifacts/"$t"- "$work" >"$log" 2>&1; then
    echo "fuzz_$t FAILED: see $log and build-fuzz/artifacts/$t-*"; exit 1
  fi
  # -jobs writes fuzz-N.log per worker; sum their executions
  runs=$(cat fuzz-*.log "$log" 2>/dev/null | sed -n 's/^stat::number_of_executed_units: *//p' | awk '{s+=$1} END {print s+0}')
  if grep -q "ERROR: \(AddressSanitizer\|UndefinedBehaviorSanitizer\|libFuzzer\)" fuzz-*.log 2>/dev/null; then
    cat fuzz-*.log >>"$log"; rm -f fuzz-*.log
    echo "fuzz_$t FAILED: see $log and build-fuzz/artifacts/$t-*"; exit 1
  fi
  rm -f fuzz-*.log
  printf '%-12s %14s %12s %s\n' "$t" "$runs" "$((runs / SECONDS_EACH))" "$(ls "$work" | wc -l)"
  total=$((total + runs))
  if [[ ${FUZZ_MERGE:-0} == 1 ]]; then
    ./build-fuzz/tests/fuzz/fuzz_"$t" -merge=1 -max_len=65536 tests/fuzz/corpus/"$t" "$work" >/dev/null 2>&1
  fi
  rm -rf "$work"
done
echo "total executions: $total"
