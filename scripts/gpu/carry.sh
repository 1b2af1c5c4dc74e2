#!/usr/bin/env bash
# What a GPU machine without package access needs from a development machine,
# packed under build-gpu-carry/ (ignored by git, like every build*/ folder):
#
#   scripts/gpu/carry.sh prepare   # on the development machine
#     build-gpu-carry/googletest/   GoogleTest source (Debian's /usr/src/googletest)
#     build-gpu-carry/smollm2-a/    first half of SmolLM2-135M-Instruct.Q4_1.gguf
#     build-gpu-carry/smollm2-b/    second half, and the file's sha256
#   scripts/gpu/carry.sh stash     # on the GPU machine: keep carried halves in /tmp
#   scripts/gpu/carry.sh join DEST # on the GPU machine: rebuild the model, check it
#
# Why halves: what travels to the GPU machine with one command is limited to
# 64 MiB and the model is 94 MiB. So the first command carries
# build-gpu-carry/googletest and build-gpu-carry/smollm2-a and runs
# `scripts/gpu/carry.sh stash` before verify.sh; the next command (on the same,
# still warm machine) carries build-gpu-carry/smollm2-b and runs
# `scripts/gpu/carry.sh stash && scripts/gpu/verify.sh --skip-build --only smollm2,bench,summary`.
# verify.sh calls `join` itself; with a half missing it skips the SmolLM2 stages
# and says so.
set -euo pipefail

CARRY=build-gpu-carry
STASH=${SKIPJOIN_CARRY_STASH:-/tmp/skipjoin-carry}
MODEL_NAME=SmolLM2-135M-Instruct.Q4_1.gguf

case "${1:-}" in
  prepare)
    src=${SKIPJOIN_MODEL_PATH:-${SKIPJOIN_CACHE:-$HOME/.cache/skipjoin}/models/$MODEL_NAME}
    [ -f "$src" ] || { echo "carry.sh: $src not found (run scripts/fetch_model.sh)" >&2; exit 1; }
    rm -rf "$CARRY/googletest" "$CARRY/smollm2-a" "$CARRY/smollm2-b"
    mkdir -p "$CARRY/smollm2-a" "$CARRY/smollm2-b"
    if [ -f /usr/src/googletest/CMakeLists.txt ]; then
      cp -r /usr/src/googletest "$CARRY/googletest"
    else
      echo "carry.sh: /usr/src/googletest not found (apt-get install googletest); GoogleTest not packed" >&2
    fi
    size=$(stat -c %s "$src")
    half=$(( (size + 1) / 2 ))
    head -c "$half" "$src" >"$CARRY/smollm2-a/part"
    tail -c +"$((half + 1))" "$src" >"$CARRY/smollm2-b/part"
    (cd "$(dirname "$src")" && sha256sum "$MODEL_NAME") >"$CARRY/smollm2-b/sha256"
    du -sh "$CARRY"/*
    ;;
  stash)
    mkdir -p "$STASH"
    for h in a b; do
      if [ -f "$CARRY/smollm2-$h/part" ]; then
        cp "$CARRY/smollm2-$h/part" "$STASH/smollm2-$h.part"
        [ -f "$CARRY/smollm2-$h/sha256" ] && cp "$CARRY/smollm2-$h/sha256" "$STASH/smollm2.sha256"
      fi
    done
    ls -la "$STASH"
    ;;
  join)
    dest=${2:?usage: carry.sh join DEST}
    parts=()
    for h in a b; do
      if [ -f "$CARRY/smollm2-$h/part" ]; then parts+=("$CARRY/smollm2-$h/part")
      elif [ -f "$STASH/smollm2-$h.part" ]; then parts+=("$STASH/smollm2-$h.part")
      else echo "carry.sh: SmolLM2 half '$h' is neither carried ($CARRY/smollm2-$h) nor stashed ($STASH)" >&2; exit 1
      fi
    done
    sum=$CARRY/smollm2-b/sha256
    [ -f "$sum" ] || sum=$STASH/smollm2.sha256
    [ -f "$sum" ] || { echo "carry.sh: no sha256 for the model" >&2; exit 1; }
    mkdir -p "$(dirname "$dest")"
    cat "${parts[@]}" >"$dest.tmp"
    want=$(cut -d' ' -f1 "$sum")
    got=$(sha256sum "$dest.tmp" | cut -d' ' -f1)
    [ "$want" = "$got" ] || { rm -f "$dest.tmp"; echo "carry.sh: joined model has sha256 $got, expected $want" >&2; exit 1; }
    mv "$dest.tmp" "$dest"
    echo "carry.sh: $dest rebuilt (sha256 ok)"
    ;;
  *)
    sed -n '2,22p' "$0"
    exit 2
    ;;
esac
