#!/usr/bin/env bash
# The GPU checklist of docs/GPU.md in one command, run from the repository root:
#
#   scripts/gpu/verify.sh                      # everything, on cuda:0
#   scripts/gpu/verify.sh --only build,ctest   # some stages
#   scripts/gpu/verify.sh --device cpu --quick --build-dir build --skip-build
#                                              # the plumbing on a CPU machine
#
# Stages (in order; --only picks a comma-separated subset):
#   build    engine-only CMake build (-DSKIPJOIN_ENGINE_ONLY=ON) for $CUDA_ARCH
#            (default 90), building GoogleTest from source when the system has none
#   ctest    ctest -L gpu, verbose (the ops and engine tests print their agreement;
#            kernels_cuda_nccl_test is the one-rank NCCL self-check, the 2gpu one
#            runs two ranks where two GPUs exist)
#   smollm2  SmolLM2-135M Q4_1 greedy + teacher-forced logits on the device against
#            the CPU backend, and both against the llama.cpp fixtures
#   hf1b     the Llama-3.2-1B-shaped random model against transformers (bf16 on the
#            device; fp32 on the CPU with --device cpu)
#   bench    engine_bench decode/prefill at batch 1, 8, 64, 256 for the 1B-shaped
#            model and SmolLM2, with the bytes each decode step reads
#   copy     cuda_copy_bench: device copy bandwidth, pinned/pageable host copies,
#            swap copies through the backend
#   summary  roofline fractions and a markdown summary
#
# Results go to $OUT when set (the device tool's folder), else
# build-gpu-results/<time>: summary.md, verify.log and at most six more files.
# Large intermediates (models, logits) go to <build-dir>/verify-work.
# Without a GPU the device stages are skipped with the reason, and the exit
# status is 0 only if every stage that ran passed.
set -uo pipefail

DEVICE=cuda:0
BUILD=build-gpu
ONLY=build,ctest,smollm2,hf1b,bench,copy,summary
QUICK=0
SKIP_BUILD=0
STAGE_TIMEOUT=${STAGE_TIMEOUT:-540}
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE=$2; shift 2 ;;
    --build-dir) BUILD=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --skip-build) SKIP_BUILD=1; shift ;;
    -h|--help) sed -n '2,31p' "$0"; exit 0 ;;
    *) echo "verify.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -f CMakeLists.txt ] && [ -d kernels/cuda ] || { echo "verify.sh: run from the repository root" >&2; exit 2; }
ROOT=$PWD
RES=${OUT:-$ROOT/build-gpu-results/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$RES"
WORK=$ROOT/$BUILD/verify-work
LOG=$RES/verify.log
SUMMARY=$RES/summary.md
: >"$LOG"
exec > >(tee -a "$LOG") 2>&1
export PYTHONUNBUFFERED=1

declare -a RESULTS=()
FAILED=0
note() { echo "== $*"; }
result() {  # stage, status (ok|FAILED|skipped), detail
  RESULTS+=("| $1 | $2 | $3 |")
  [ "$2" = FAILED ] && FAILED=1
  note "$1: $2 $3"
}
want() { [[ ",$ONLY," == *",$1,"* ]]; }
run_timed() { timeout --foreground -k 10 "$STAGE_TIMEOUT" "$@"; }

note "skipjoin GPU verification: device $DEVICE, build $BUILD, results $RES, $(date -u +%FT%TZ)"
git log -1 --format='commit %H %s' 2>/dev/null || true
git status --short 2>/dev/null | head -20 || true

# --- Is there a device? -------------------------------------------------------
ON_GPU=0
GPU_REASON=""
if [[ "$DEVICE" == cuda* ]]; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    nvidia-smi -L
    nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version,clocks.max.sm,clocks.max.mem --format=csv || true
    ON_GPU=1
  else
    if command -v nvidia-smi >/dev/null 2>&1; then
      GPU_REASON="nvidia-smi: $(nvidia-smi -L 2>&1 | head -2 | tr '\n' ' ')"
    else
      GPU_REASON="no nvidia-smi"
    fi
    # The CUDA runtime's own reason, from this build's copy benchmark when built.
    if [ -x "$BUILD/bench/cuda_copy_bench" ]; then
      GPU_REASON="$("$BUILD/bench/cuda_copy_bench" --mib 1 --repeat 1 2>&1 >/dev/null | head -1); $GPU_REASON"
    fi
    if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.device_count() > 0 else 1)' 2>/dev/null; then
      ON_GPU=1
    else
      GPU_REASON="no CUDA device visible: $GPU_REASON"
      echo "verify.sh: $GPU_REASON: the device stages are skipped; build and ctest still run" \
           "(ctest reports the gpu tests as skipped)"
    fi
  fi
fi
command -v nvcc >/dev/null 2>&1 && nvcc --version | tail -2
c++ --version 2>/dev/null | head -1
nproc
device_stage_ok() {  # a stage that needs the device: say why it cannot run
  if [[ "$DEVICE" == cuda* && $ON_GPU -eq 0 ]]; then
    result "$1" skipped "$GPU_REASON"
    return 1
  fi
  return 0
}

# --- build --------------------------------------------------------------------
JOBS=$(nproc)
if want build && [ $SKIP_BUILD -eq 0 ]; then
  note "build: engine-only, CUDA architectures ${CUDA_ARCH:-90}"
  CFG=(-S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSKIPJOIN_ENGINE_ONLY=ON
       "-DCMAKE_CUDA_ARCHITECTURES=${CUDA_ARCH:-90}" "-DSKIPJOIN_TEST_DIRS=kernels;kernels_cuda;engine;testutil")
  mkdir -p "$WORK"
  if ! cmake "${CFG[@]}" >"$WORK.cfg.log" 2>&1; then
    if grep -q GTest "$WORK.cfg.log"; then
      # No GoogleTest on this machine: build it from source (Debian's
      # /usr/src/googletest copied into build-gpu-carry/ by carry.sh prepare).
      GTEST_SRC=${GTEST_SRC:-}
      for d in "$ROOT/build-gpu-carry/googletest" /usr/src/googletest; do
        [ -z "$GTEST_SRC" ] && [ -f "$d/CMakeLists.txt" ] && GTEST_SRC=$d
      done
      if [ -z "$GTEST_SRC" ]; then
        result build FAILED "GoogleTest not found and no source (set GTEST_SRC or run scripts/gpu/carry.sh prepare where it exists)"
      else
        note "building GoogleTest from $GTEST_SRC"
        cmake -S "$GTEST_SRC" -B "$BUILD/_gtest" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_GMOCK=OFF \
              -DCMAKE_POSITION_INDEPENDENT_CODE=ON "-DCMAKE_INSTALL_PREFIX=$ROOT/$BUILD/_gtest/prefix" >/dev/null &&
          ninja -C "$BUILD/_gtest" install >/dev/null &&
          CFG+=("-DGTest_DIR=$ROOT/$BUILD/_gtest/prefix/lib/cmake/GTest") &&
          cmake "${CFG[@]}" >"$WORK.cfg.log" 2>&1 || result build FAILED "configure with the built GoogleTest failed"
      fi
    else
      result build FAILED "cmake configure failed"
    fi
    cat "$WORK.cfg.log"
  fi
  if [ $FAILED -eq 0 ]; then
    grep -E "skipjoin:" "$WORK.cfg.log" || true
    start=$SECONDS
    if run_timed ninja -C "$BUILD" -j"$JOBS"; then
      result build ok "$((SECONDS - start)) s"
    else
      result build FAILED "ninja failed (see verify.log)"
    fi
  fi
  [ $FAILED -eq 0 ] || { note "build failed; stopping"; printf '%s\n' "${RESULTS[@]}" >"$SUMMARY"; exit 1; }
fi
mkdir -p "$WORK"
BIN=$ROOT/$BUILD/bench
for t in engine_bench engine_dump; do
  [ -x "$BIN/$t" ] || { result tools FAILED "$BIN/$t missing (build first)"; }
done

# --- ctest -L gpu --------------------------------------------------------------
if want ctest; then
  note "ctest -L gpu"
  if [ ! -f "$BUILD/CTestTestfile.cmake" ]; then
    result ctest FAILED "no tests in $BUILD"
  else
    (cd "$BUILD" && run_timed ctest -L gpu -V --timeout 400) >"$RES/ctest_gpu.log" 2>&1
    rc=$?
    grep -E "^[0-9]+/[0-9]+ Test|tests passed|SKIPPED|FAILED|agree|Failure|Expected|Which is" "$RES/ctest_gpu.log" | head -80
    if [ $rc -eq 0 ]; then
      if grep -q "Skipped" "$RES/ctest_gpu.log" && [[ "$DEVICE" == cuda* && $ON_GPU -eq 1 ]]; then
        result ctest FAILED "gpu tests skipped although a device is present (see ctest_gpu.log)"
      else
        skipped=$(grep -c "(Skipped)" "$RES/ctest_gpu.log")
        result ctest ok "$(grep -E 'tests passed' "$RES/ctest_gpu.log" | tail -1); $skipped skipped"
      fi
    else
      result ctest FAILED "exit $rc: $(grep -E 'tests passed|tests failed' "$RES/ctest_gpu.log" | tail -1) (see ctest_gpu.log)"
    fi
  fi
fi

# --- SmolLM2 on the device against the CPU backend -----------------------------
SMOL=${SKIPJOIN_MODEL_PATH:-${SKIPJOIN_CACHE:-$HOME/.cache/skipjoin}/models/SmolLM2-135M-Instruct.Q4_1.gguf}
if [ ! -f "$SMOL" ] && [ -x scripts/gpu/carry.sh ]; then
  scripts/gpu/carry.sh join "$SMOL" || true
fi
if want smollm2 && device_stage_ok smollm2; then
  if [ ! -f "$SMOL" ]; then
    result smollm2 skipped "model not at $SMOL (scripts/gpu/carry.sh explains how to bring it)"
  else
    note "smollm2: $SMOL on $DEVICE and on cpu"
    ok=1
    # Greedy on the greedy fixture's prompts, teacher-forced logits on the logits fixture's.
    for dev in "$DEVICE" cpu; do
      tag=${dev/:/}
      mkdir -p "$WORK/smol-$tag"
      run_timed "$BIN/engine_dump" --model "$SMOL" --device "$dev" --prompts tests/fixtures/smollm2/greedy_f32.json \
        --no-logits --out "$WORK/smol-$tag/greedy.json" || ok=0
      run_timed "$BIN/engine_dump" --model "$SMOL" --device "$dev" --prompts tests/fixtures/smollm2/logits_f32.json \
        --out "$WORK/smol-$tag/logits.json" || ok=0
    done
    t=${DEVICE/:/}
    if [ $ok -eq 1 ] &&
       python3 scripts/gpu/compare_dumps.py "$WORK/smol-$t/greedy.json" "$WORK/smol-cpu/greedy.json" \
         --fixture tests/fixtures/smollm2/greedy_f32.json --json "$RES/smollm2_greedy.json" &&
       python3 scripts/gpu/compare_dumps.py "$WORK/smol-$t/logits.json" "$WORK/smol-cpu/logits.json" \
         --json "$WORK/smollm2_logits.json"; then
      rate=$(python3 -c "import json; d=json.load(open('$RES/smollm2_greedy.json')); print(f\"{d['greedy_token_agreement']:.4f} of tokens, {d['greedy_identical_prompts']}/{d['num_prompts']} prompts identical\")")
      result smollm2 ok "greedy $DEVICE vs cpu: $rate"
    else
      result smollm2 FAILED "engine_dump or the comparison failed"
    fi
  fi
fi

# --- The 1B-shaped random model against transformers ----------------------------
if [ $QUICK -eq 1 ]; then
  L1B_ARGS=(--layers 2 --vocab 32000); L1B=$WORK/llama1b-l2
else
  L1B_ARGS=(); L1B=$WORK/llama1b
fi
make_1b() {
  [ -f "$L1B/model.safetensors" ] || python3 scripts/reference/make_llama1b_random.py "$L1B" "${L1B_ARGS[@]}"
}
if want hf1b && device_stage_ok hf1b; then
  note "hf1b: ${L1B##*/} on $DEVICE against transformers"
  if ! python3 -c 'import torch, transformers' 2>/dev/null; then
    result hf1b skipped "python3 has no torch/transformers"
  elif make_1b && run_timed python3 scripts/reference/compare_transformers.py --model "$L1B" \
         --engine-dump "$BIN/engine_dump" --device "$DEVICE" --generate 8 --out "$WORK/hf1b"; then
    cp "$WORK/hf1b/compare.json" "$RES/compare_1b.json"
    result hf1b ok "$(python3 -c "import json; d=json.load(open('$RES/compare_1b.json')); print(f\"{d['hf_dtype']}: max|diff| {d['max_abs_diff']:.4f} (max|logit| {d['max_abs_ref']:.2f}), top-1 {d['top1_rate']:.4f}, clear flips {d['clear_top1_flips']}\")")"
  else
    result hf1b FAILED "see verify.log"
  fi
fi

# --- Benchmarks ---------------------------------------------------------------
if [ $QUICK -eq 1 ]; then
  BENCH_ARGS=(--batches 1,8 --prompt-len 32 --decode-steps 8 --repeat 1)
else
  BENCH_ARGS=(--batches 1,8,64,256 --prompt-len 128 --decode-steps 64 --repeat 3)
fi
if want bench && device_stage_ok bench; then
  note "bench: engine_bench ${BENCH_ARGS[*]} on $DEVICE"
  : >"$RES/bench.jsonl"
  ok=1
  if make_1b; then
    run_timed "$BIN/engine_bench" --model "$L1B" --device "$DEVICE" "${BENCH_ARGS[@]}" |
      sed "s/^{/{\"model\":\"${L1B##*/}\",/" | tee -a "$RES/bench.jsonl" || ok=0
  else
    ok=0
  fi
  if [ -f "$SMOL" ]; then
    for wf in auto dense; do
      run_timed "$BIN/engine_bench" --model "$SMOL" --device "$DEVICE" --weight-format $wf "${BENCH_ARGS[@]}" |
        sed "s/^{/{\"model\":\"smollm2-q4_1\",/" | tee -a "$RES/bench.jsonl" || ok=0
    done
  else
    echo "bench: SmolLM2 not at $SMOL, skipped"
  fi
  [ $ok -eq 1 ] && result bench ok "$(grep -c decode_tok_s "$RES/bench.jsonl") configurations" ||
    result bench FAILED "see verify.log"
fi

# --- Copy bandwidth -------------------------------------------------------------
if want copy; then
  if [[ "$DEVICE" != cuda* ]]; then
    result copy skipped "needs a cuda device"
  elif device_stage_ok copy; then
    if [ ! -x "$BIN/cuda_copy_bench" ]; then
      result copy FAILED "$BIN/cuda_copy_bench missing (CUDA not found at build time?)"
    elif run_timed "$BIN/cuda_copy_bench" --device "${DEVICE#cuda:}" | tee "$RES/copy.jsonl"; then
      result copy ok "$(grep '"d2d"' "$RES/copy.jsonl" | sed 's/.*"rw_gb_s":\([0-9.]*\).*/d2d \1 GB\/s read+write/')"
    else
      result copy FAILED "see verify.log"
    fi
  fi
fi

# --- Summary --------------------------------------------------------------------
{
  echo "# skipjoin GPU verification"
  echo
  echo "$(date -u +%FT%TZ), device $DEVICE, $(git log -1 --format='commit %h' 2>/dev/null)"
  [[ $ON_GPU -eq 1 ]] && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null
  echo
  echo "| stage | status | detail |"
  echo "| --- | --- | --- |"
  printf '%s\n' "${RESULTS[@]}"
  echo
  if want summary && [ -s "$RES/bench.jsonl" ]; then
    python3 scripts/gpu/roofline.py --bench "$RES/bench.jsonl" --copy "$RES/copy.jsonl"
  fi
} >"$SUMMARY"
note "summary ($SUMMARY):"
cat "$SUMMARY"
exit $FAILED
