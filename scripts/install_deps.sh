#!/usr/bin/env bash
# Installs what building and testing skipjoin needs on Debian 12 (bookworm):
# compilers and CMake, the libraries of the design card, and the Python
# packages the end-to-end tests use (openai client), and the headless browser
# the dashboard tests render with. Idempotent; run as root.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
pkgs=(
  build-essential cmake ninja-build pkg-config git python3 python3-pip curl unzip
  libgtest-dev libgmock-dev
  libopenblas-dev
  nlohmann-json3-dev libyaml-cpp-dev
  libzmq3-dev cppzmq-dev libmsgpack-cxx-dev
  libgloo-dev  # CPU tensor parallelism across nodes (Gloo's ring all-reduce)
  libboost-dev libboost-system-dev
  prometheus-cpp-dev prometheus
  chromium  # renders the Prometheus console pages in tests/monitoring
  # scripts/ci_extra.sh: clang with libFuzzer and the sanitizer runtimes, and
  # llvm-symbolizer for readable sanitizer stack traces
  clang libclang-rt-14-dev llvm
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install_deps: apt-get install ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}"
fi
# Python side: the official OpenAI client drives the HTTP API in e2e tests.
python3 -m pip install -q --disable-pip-version-check -r "$(dirname "$0")/requirements-test.txt"
