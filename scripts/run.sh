#!/usr/bin/env bash
# The main job: install what the build needs, build, fetch the default model
# (SmolLM2-135M-Instruct), launch a local cluster from cluster_configs/
# local-cpu.yaml (a coordinator and two CPU workers), stream a chat completion
# through the native client, and show where the metrics are. The cluster is
# stopped at the end; with --keep it keeps serving until Ctrl-C.
#   scripts/run.sh [--keep] [--config FILE]
# The steps print one progress line each; their full output goes to
# build/logs/run-<UTC time>.log (SKIPJOIN_BUILD_DIR moves build/), and a step
# that fails shows the end of its output and that path.
set -euo pipefail
cd "$(dirname "$0")/.."
KEEP=0
CONFIG=cluster_configs/local-cpu.yaml
while [ $# -gt 0 ]; do
  case "$1" in
    --keep) KEEP=1 ;;
    --config) CONFIG="$2"; shift ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
BUILD_DIR="${SKIPJOIN_BUILD_DIR:-build}"
mkdir -p "$BUILD_DIR/logs"
LOG="$(cd "$BUILD_DIR/logs" && pwd)/run-$(date -u +%Y%m%dT%H%M%SZ).log"
: > "$LOG"
echo "run.sh: full output of every step in $LOG"

# step NAME COMMAND...: runs COMMAND with its output appended to $LOG under a
# header; on failure prints the last 40 lines of that output and the log path,
# and exits with COMMAND's status.
step() {
  local name="$1"; shift
  printf '\n===== %s: %s (%s)\n' "$name" "$*" "$(date -u +%H:%M:%SZ)" >> "$LOG"
  local from rc=0
  from=$(($(wc -l < "$LOG") + 1))
  "$@" >> "$LOG" 2>&1 || rc=$?
  if [ "$rc" != 0 ]; then step_failed "$name" "$from" "$rc"; fi
}
step_failed() {
  echo >&2
  echo "run.sh: $1 failed (exit status $3); its last lines:" >&2
  tail -n +"$2" "$LOG" | tail -n 40 | sed 's/^/  | /' >&2
  echo "run.sh: the full log is $LOG" >&2
  exit "$3"
}

# Ninja's "[k/N] ..." lines become one counter: rewritten in place on a
# terminal, else a line every 10% of the steps. Every line still goes to $LOG.
build_progress() {
  local line k n shown=-1 tty=0
  [ -t 1 ] && tty=1
  while IFS= read -r line; do
    printf '%s\n' "$line" >> "$LOG"
    [[ "$line" =~ ^\[([0-9]+)/([0-9]+)\] ]] || continue
    k=${BASH_REMATCH[1]}; n=${BASH_REMATCH[2]}
    if [ "$tty" = 1 ]; then
      printf '\rbuilding (ninja [%d/%d])' "$k" "$n"
    elif [ $((k * 10 / n)) -gt "$shown" ]; then
      shown=$((k * 10 / n))
      printf 'building (ninja [%d/%d])\n' "$k" "$n"
    fi
  done
  [ "$tty" = 1 ] && [ "$shown" = -1 ] && [ -n "${k:-}" ] && printf '\n'
  return 0
}
build() {
  printf '\n===== build: scripts/build.sh (%s)\n' "$(date -u +%H:%M:%SZ)" >> "$LOG"
  local from rc=0
  from=$(($(wc -l < "$LOG") + 1))
  echo "building..."
  scripts/build.sh 2>&1 | build_progress || rc=$?
  if [ "$rc" != 0 ]; then step_failed build "$from" "$rc"; fi
}

echo "installing dependencies..."
if [ "$(id -u)" = 0 ]; then
  step "installing dependencies" scripts/install_deps.sh
else
  step "installing dependencies" sudo scripts/install_deps.sh
fi
echo "fetching the model..."
MODEL_OUT="$BUILD_DIR/logs/.model-path"
step "fetching the model" sh -c 'scripts/fetch_model.sh > "$1"' sh "$MODEL_OUT"
MODEL="$(tail -n 1 "$MODEL_OUT")"
rm -f "$MODEL_OUT"
build
SJ="$BUILD_DIR/client/skipjoin"

echo "launching..."
RUN_DIR="$(mktemp -d /tmp/skipjoin-run.XXXXXX)"
"$SJ" launch "$CONFIG" --model "$MODEL" --run-dir "$RUN_DIR" > "$RUN_DIR/launch.out" 2>&1 &
LAUNCH_PID=$!
stop_cluster() {
  kill -TERM "$LAUNCH_PID" 2>/dev/null && wait "$LAUNCH_PID" 2>/dev/null || true
  { echo; echo "===== launch output"; cat "$RUN_DIR/launch.out"; } >> "$LOG" 2>/dev/null || true
}
trap stop_cluster EXIT
for _ in $(seq 1 600); do
  grep -q "cluster healthy" "$RUN_DIR/launch.out" 2>/dev/null && break
  if ! kill -0 "$LAUNCH_PID" 2>/dev/null; then
    echo "run.sh: launch failed; its output:" >&2
    tail -n 40 "$RUN_DIR/launch.out" | sed 's/^/  | /' >&2
    echo "run.sh: process logs in $RUN_DIR; the full log is $LOG" >&2
    exit 1
  fi
  sleep 0.5
done
cat "$RUN_DIR/launch.out"
echo
echo "== streaming a completion through the native client (skipjoin submit) =="
"$SJ" submit --config "$CONFIG" --stream --max-tokens 96 \
  --chat "${SKIPJOIN_PROMPT:-Explain in three sentences what a KV cache is.}"
echo
echo "== the same cluster speaks the OpenAI API, e.g.:"
echo "   curl -s http://127.0.0.1:8000/v1/chat/completions -H 'Content-Type: application/json' \\"
echo "     -d '{\"model\":\"smollm2-135m-instruct\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}'"
echo "== metrics: the endpoints above (Prometheus text); scrape config monitoring/prometheus.yml,"
echo "   dashboard monitoring/grafana/skipjoin-dashboard.json, docs/METRICS.md"
"$SJ" status --config "$CONFIG" || true
echo "run.sh: full log $LOG"
if [ "$KEEP" = 1 ]; then
  echo "cluster running; Ctrl-C stops it"
  wait "$LAUNCH_PID"
fi
