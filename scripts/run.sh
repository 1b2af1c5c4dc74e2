#!/usr/bin/env bash
# The main job: install what the build needs, build, fetch the default model
# (SmolLM2-135M-Instruct), launch a local cluster from cluster_configs/
# local-cpu.yaml (a coordinator and two CPU workers), stream a chat completion
# through the native client, and show where the metrics are. The cluster is
# stopped at the end; with --keep it keeps serving until Ctrl-C.
#   scripts/run.sh [--keep] [--config FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
KEEP=0
CONFIG=cluster_configs/local-cpu.yaml
while [ $# -gt 0 ]; do
  case "$1" in
    --keep) KEEP=1 ;;
    --config) CONFIG="$2"; shift ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ "$(id -u)" = 0 ]; then scripts/install_deps.sh; else sudo scripts/install_deps.sh; fi
MODEL="$(scripts/fetch_model.sh | tail -n 1)"
scripts/build.sh
SJ=build/client/skipjoin

RUN_DIR="$(mktemp -d /tmp/skipjoin-run.XXXXXX)"
"$SJ" launch "$CONFIG" --set "model.path=$MODEL" --run-dir "$RUN_DIR" > "$RUN_DIR/launch.out" 2>&1 &
LAUNCH_PID=$!
stop_cluster() { kill -TERM "$LAUNCH_PID" 2>/dev/null && wait "$LAUNCH_PID" 2>/dev/null || true; }
trap stop_cluster EXIT
for _ in $(seq 1 600); do
  grep -q "cluster healthy" "$RUN_DIR/launch.out" 2>/dev/null && break
  if ! kill -0 "$LAUNCH_PID" 2>/dev/null; then cat "$RUN_DIR/launch.out" >&2; exit 1; fi
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
if [ "$KEEP" = 1 ]; then
  echo "cluster running; Ctrl-C stops it"
  wait "$LAUNCH_PID"
fi
