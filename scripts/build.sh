#!/usr/bin/env bash
# Configures and builds skipjoin into ./build (Release, Ninja). Extra arguments
# go to cmake's configure step, e.g. scripts/build.sh -DSKIPJOIN_WITH_CUDA=OFF.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${SKIPJOIN_BUILD_DIR:-build}"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
ninja -C "$BUILD_DIR" -j"$(nproc)"
