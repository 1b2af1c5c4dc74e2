#!/usr/bin/env python3
"""Dequantize every tensor of a GGUF file to F32 and write a new GGUF.

All metadata key/value pairs are copied verbatim (same keys, same value
types, same order, raw string bytes), except general.file_type which is
set to 0 (ALL_F32). Tensor order and names are preserved.

Usage: make_f32_gguf.py INPUT.gguf OUTPUT.gguf
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

try:
    import gguf
    from gguf import GGUFReader, GGUFValueType, GGUFWriter, GGMLQuantizationType
    from gguf.quants import dequantize
except ImportError as e:  # pragma: no cover
    sys.exit(f"error: the 'gguf' Python package is required (pip install gguf): {e}")

# Pseudo-fields that GGUFReader synthesizes from the file header.
HEADER_FIELDS = {"GGUF.version", "GGUF.tensor_count", "GGUF.kv_count"}
FILE_TYPE_KEY = "general.file_type"
ALIGNMENT_KEY = "general.alignment"


def field_value(field):
    """Return (value, vtype, sub_type) suitable for GGUFWriter.add_key_value.

    Strings are returned as raw bytes so that non-UTF-8 token pieces (if any)
    survive unchanged.
    """
    vtype = field.types[0]
    if vtype == GGUFValueType.ARRAY:
        sub = field.types[-1]
        if len(field.types) != 2:
            raise ValueError(f"nested arrays are not supported: {field.name}")
        if sub == GGUFValueType.STRING:
            val = [bytes(field.parts[i].tobytes()) for i in field.data]
        else:
            val = [field.parts[i].tolist()[0] for i in field.data]
        return val, vtype, sub
    if vtype == GGUFValueType.STRING:
        return bytes(field.parts[-1].tobytes()), vtype, None
    return field.parts[-1].tolist()[0], vtype, None


def convert(src: str, dst: str, verbose: bool = True) -> None:
    reader = GGUFReader(src)
    arch_field = reader.get_field("general.architecture")
    if arch_field is None:
        raise SystemExit(f"error: {src}: missing general.architecture")
    arch = arch_field.contents()

    tmp = dst + ".tmp"
    writer = GGUFWriter(tmp, arch)
    # Drop the architecture key the writer pre-inserts; re-add everything in
    # the original file's order below.
    writer.kv_data = [{}]

    saw_file_type = False
    for name, field in reader.fields.items():
        if name in HEADER_FIELDS:
            continue
        val, vtype, sub = field_value(field)
        if name == FILE_TYPE_KEY:
            val = int(gguf.LlamaFileType.ALL_F32)
            saw_file_type = True
        if name == ALIGNMENT_KEY:
            writer.data_alignment = int(val)
        writer.add_key_value(name, val, vtype, sub)
    if not saw_file_type:
        writer.add_key_value(FILE_TYPE_KEY, int(gguf.LlamaFileType.ALL_F32), GGUFValueType.UINT32)

    for t in reader.tensors:
        # ggml shape order is (ne0, ne1, ...); numpy order is reversed.
        np_shape = tuple(int(x) for x in reversed(t.shape.tolist()))
        if t.tensor_type == GGMLQuantizationType.F32:
            arr = np.asarray(t.data, dtype=np.float32)
        else:
            arr = dequantize(t.data, t.tensor_type)
        arr = np.ascontiguousarray(arr, dtype=np.float32).reshape(np_shape)
        if verbose:
            print(f"  {t.name:32s} {t.tensor_type.name:6s} -> F32 {list(np_shape)}", file=sys.stderr)
        writer.add_tensor(t.name, arr)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(tmp, dst)


def verify(src: str, dst: str) -> None:
    """Check the output: same keys/values (except file_type), all tensors F32
    and numerically equal to the dequantized source."""
    a, b = GGUFReader(src), GGUFReader(dst)
    ka = [k for k in a.fields if k not in HEADER_FIELDS]
    kb = [k for k in b.fields if k not in HEADER_FIELDS]
    if ka != kb and not (FILE_TYPE_KEY not in ka and kb == ka + [FILE_TYPE_KEY]):
        raise SystemExit(f"error: metadata key mismatch:\n{ka}\n{kb}")
    for k in ka:
        if k == FILE_TYPE_KEY:
            continue
        va, ta, sa = field_value(a.fields[k])
        vb, tb, sb = field_value(b.fields[k])
        if (va, ta, sa) != (vb, tb, sb):
            raise SystemExit(f"error: metadata value mismatch for {k}")
    if field_value(b.fields[FILE_TYPE_KEY])[0] != 0:
        raise SystemExit("error: general.file_type is not 0")
    if [t.name for t in a.tensors] != [t.name for t in b.tensors]:
        raise SystemExit("error: tensor name/order mismatch")
    for ta, tb in zip(a.tensors, b.tensors):
        if tb.tensor_type != GGMLQuantizationType.F32:
            raise SystemExit(f"error: {tb.name} is not F32")
        if ta.shape.tolist() != tb.shape.tolist():
            raise SystemExit(f"error: {tb.name} shape mismatch")
        ref = dequantize(ta.data, ta.tensor_type).reshape(-1)
        got = np.asarray(tb.data, dtype=np.float32).reshape(-1)
        if not np.array_equal(ref.astype(np.float32), got):
            raise SystemExit(f"error: {tb.name} data mismatch")


def check_llama_cpp(dst: str) -> None:
    """If llama-cpp-python is installed, make sure llama.cpp loads the file
    and evaluates a token. Skipped (with a note) when it is not installed."""
    try:
        from llama_cpp import Llama
    except ImportError:
        print("note: llama-cpp-python not installed; skipped the llama.cpp load check", file=sys.stderr)
        return
    llm = Llama(model_path=dst, n_ctx=32, n_threads=1, n_gpu_layers=0, verbose=False)
    llm.eval([llm.token_bos()])
    print(f"llama.cpp loaded {os.path.basename(dst)} and evaluated one token", file=sys.stderr)
    del llm


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--no-verify", action="store_true", help="skip the read-back check")
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args()
    if not os.path.isfile(args.input):
        print(f"error: input not found: {args.input}", file=sys.stderr)
        return 1
    convert(args.input, args.output, verbose=not args.quiet)
    if not args.no_verify:
        verify(args.input, args.output)
        print(f"verified: {args.output}", file=sys.stderr)
        check_llama_cpp(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
