#!/usr/bin/env bash
# The main job: installs what the build needs, builds, fetches the default
# model (SmolLM2-135M-Instruct) and streams a completion from it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then scripts/install_deps.sh; else sudo scripts/install_deps.sh; fi
MODEL="$(scripts/fetch_model.sh | tail -n 1)"
scripts/build.sh
build/client/skipjoin generate --model "$MODEL" --chat --max-tokens 96 \
  --prompt "${SKIPJOIN_PROMPT:-Explain in three sentences what a KV cache is.}"
