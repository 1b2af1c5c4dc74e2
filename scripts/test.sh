#!/usr/bin/env bash
# The test command: installs what the build needs, fetches the default model,
# builds, and runs every test (ctest; GPU tests report a skip without a GPU).
# Extra arguments go to ctest, e.g. scripts/test.sh -L unit.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then scripts/install_deps.sh; else sudo scripts/install_deps.sh; fi
SKIPJOIN_MODEL_PATH="$(scripts/fetch_model.sh | tail -n 1)"
export SKIPJOIN_MODEL_PATH
scripts/build.sh
ctest --test-dir "${SKIPJOIN_BUILD_DIR:-build}" --output-on-failure -j2 "$@"
