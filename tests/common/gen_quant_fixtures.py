#!/usr/bin/env python3
"""Regenerates tests/common/testdata/quant_fixtures.gguf.

For each ggml type the C++ dequantizers support, writes random blocks as a
tensor "<type>.raw" (stored in that type) and gguf-py's own dequantization of
those bytes as "<type>.expected" (F32). quant_test.cc checks DequantizeRow and
ModelFile::ReadF32 against them bit for bit.

  pip install gguf numpy
  python3 tests/common/gen_quant_fixtures.py
"""
import os
import sys

import numpy as np
from gguf import GGMLQuantizationType as Q
from gguf import GGUFWriter
from gguf.constants import GGML_QUANT_SIZES
from gguf.quants import dequantize

ROWS = 3
BLOCKS_PER_ROW = 2
# Byte offsets of the f16 scale fields inside one block, kept finite.
HALF_FIELDS = {
    Q.Q8_0: [0],
    Q.Q4_0: [0],
    Q.Q4_1: [0, 2],
    Q.Q4_K: [0, 2],
    Q.Q6_K: [208],
}


def random_blocks(rng, qtype):
    block, size = GGML_QUANT_SIZES[qtype]
    if qtype == Q.F32:
        return rng.standard_normal((ROWS, BLOCKS_PER_ROW * 32), dtype=np.float32).view(np.uint8)
    if qtype in (Q.F16, Q.BF16):
        # Finite values of every magnitude, including subnormals and zeros.
        bits = rng.integers(0, 1 << 16, size=(ROWS, BLOCKS_PER_ROW * 32), dtype=np.uint16)
        exp_mask = 0x7C00 if qtype == Q.F16 else 0x7F80
        bits[(bits & exp_mask) == exp_mask] &= ~np.uint16(0x4000)
        return bits.view(np.uint8)
    raw = rng.integers(0, 256, size=(ROWS, BLOCKS_PER_ROW, size), dtype=np.uint8)
    for off in HALF_FIELDS[qtype]:
        d = (rng.standard_normal((ROWS, BLOCKS_PER_ROW)) * 0.05).astype(np.float16)
        raw[:, :, off:off + 2] = d.view(np.uint8).reshape(ROWS, BLOCKS_PER_ROW, 2)
    return raw.reshape(ROWS, BLOCKS_PER_ROW * size)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "testdata", "quant_fixtures.gguf")
    rng = np.random.default_rng(20240611)
    w = GGUFWriter(out, "fixture")
    for qtype in (Q.F32, Q.F16, Q.BF16, Q.Q8_0, Q.Q4_0, Q.Q4_1, Q.Q4_K, Q.Q6_K):
        raw = random_blocks(rng, qtype)
        expected = dequantize(raw, qtype).astype(np.float32)
        name = qtype.name.lower()
        w.add_tensor(name + ".raw", raw, raw_dtype=qtype)
        w.add_tensor(name + ".expected", expected)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()
