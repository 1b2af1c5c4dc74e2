#!/usr/bin/env bash
# The CI steps after scripts/test.sh (.ci/run calls both):
#   1. fuzz: builds the libFuzzer targets (tests/fuzz) in build-fuzz/, replays
#      every seed corpus, then fuzzes each target for SKIPJOIN_FUZZ_SECONDS
#      (default 60) over its corpus, two targets at a time.
#   2. asan: builds an ASan+UBSan tree in build-asan/ and runs the unit and
#      integration tests there, less two too slow under ASan (the e2e Python
#      tests are left to scripts/test.sh; docs/RELIABILITY.md has the measured
#      reasons).
# Either step alone: scripts/ci_extra.sh fuzz | asan. Every sanitizer report
# is fatal; a crashing fuzz input is saved under build-fuzz/artifacts/<target>/
# and the script fails naming it.
set -euo pipefail
cd "$(dirname "$0")/.."
steps=("$@")
((${#steps[@]})) || steps=(fuzz asan)
jobs="${SKIPJOIN_CI_JOBS:-2}"
fuzz_seconds="${SKIPJOIN_FUZZ_SECONDS:-60}"
targets=(protocol_codec openai_request http_request gguf safetensors chat_template)

# Sanitizer runtime options (tests/sanitizer/README.md explains each).
sanitizer_dir="$PWD/tests/sanitizer"
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:detect_leaks=1:strict_init_order=1:detect_stack_use_after_return=0:print_summary=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$sanitizer_dir/ubsan.supp"
export LSAN_OPTIONS="suppressions=$sanitizer_dir/lsan.supp:print_suppressions=0"

log() { printf 'ci_extra: %s\n' "$*"; }
configure() {
  local dir="$1"
  shift
  CC=clang CXX=clang++ cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSKIPJOIN_WITH_CUDA=OFF "$@" >/dev/null
}
timed() {
  local name="$1" start=$SECONDS
  shift
  "$@"
  log "$name took $((SECONDS - start)) s"
}

fuzz_one() {
  local t="$1" dict=() work="build-fuzz/corpus-work/$1" art="build-fuzz/artifacts/$1/"
  [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
  mkdir -p "$work" "$art"
  # New inputs go to the scratch corpus (first directory), never into the
  # committed seeds; -timeout and -rss_limit_mb turn hangs and runaway
  # allocations into failures too.
  if ! "build-fuzz/tests/fuzz/fuzz_$t" -max_total_time="$fuzz_seconds" -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 "${dict[@]}" -artifact_prefix="$art" \
      "$work" "tests/fuzz/corpus/$t" >"build-fuzz/fuzz-$t.log" 2>&1; then
    tail -n 60 "build-fuzz/fuzz-$t.log"
    log "fuzz_$t failed; inputs: $(ls "$art" | tr '\n' ' ')"
    return 1
  fi
  log "fuzz_$t: $(grep -E '^stat::number_of_executed_units' "build-fuzz/fuzz-$t.log" | awk '{print $2}') executions in ${fuzz_seconds} s, corpus $(ls "$work" | wc -l) + $(ls "tests/fuzz/corpus/$t" | wc -l) seeds"
}

step_fuzz() {
  timed "fuzz configure" configure build-fuzz -DSKIPJOIN_FUZZ=ON
  timed "fuzz build" ninja -C build-fuzz -j"$jobs" fuzzers
  timed "fuzz corpus replay" ctest --test-dir build-fuzz -L fuzz --output-on-failure -j"$jobs"
  local failed=0 pids=() t
  for t in "${targets[@]}"; do
    fuzz_one "$t" &
    pids+=($!)
    if ((${#pids[@]} >= jobs)); then
      wait "${pids[0]}" || failed=1
      pids=("${pids[@]:1}")
    fi
  done
  for p in "${pids[@]}"; do wait "$p" || failed=1; done
  return "$failed"
}

step_asan() {
  if [ -z "${SKIPJOIN_MODEL_PATH:-}" ]; then
    SKIPJOIN_MODEL_PATH="$(scripts/fetch_model.sh | tail -n 1)"
    export SKIPJOIN_MODEL_PATH
  fi
  # Without OpenBLAS: tests/sanitizer/README.md says why.
  timed "asan configure" configure build-asan -DSKIPJOIN_SANITIZE=address,undefined \
    -DSKIPJOIN_WITH_OPENBLAS=OFF
  timed "asan build" ninja -C build-asan -j"$jobs"
  # Left out by measurement (docs/RELIABILITY.md): the SmolLM2 reference
  # test (past 900 s on the instrumented built-in GEMM), the dashboards test
  # (latency alerts fire on the slow build) and the e2e label (over 10 min).
  timed "asan tests" ctest --test-dir build-asan -L 'unit|integration' -LE gpu \
    -E 'engine_smollm2_reference_test|monitoring_dashboards_test' \
    --output-on-failure -j"$jobs" --timeout 900
}

# Several steps: each in its own process (so set -e holds inside it), all of
# them run, and the script fails if any failed.
if ((${#steps[@]} > 1)); then
  rc=0
  for s in "${steps[@]}"; do "$0" "$s" || rc=1; done
  exit "$rc"
fi
case "${steps[0]}" in
  fuzz) timed "fuzz step" step_fuzz ;;
  asan) timed "asan step" step_asan ;;
  *) echo "usage: scripts/ci_extra.sh [fuzz] [asan]" >&2; exit 2 ;;
esac
