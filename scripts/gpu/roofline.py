#!/usr/bin/env python3
"""Turn engine_bench and cuda_copy_bench JSON lines into a markdown summary.

For every engine_bench line: decode tokens/s, the time of one decode step, the
bytes one step must read (weights + the K/V at the run's mean context, as
engine_bench computes them), the bandwidth that implies, and its fraction of
the measured device-to-device copy bandwidth counted as bytes read + written
(the practical HBM peak: the roofline fraction). Then the copy bandwidths:
pinned and pageable host<->device against the swap path (Backend
CopyBlocksToHost / ToDevice).

Usage: roofline.py --bench bench.jsonl [--copy copy.jsonl] > roofline.md
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def read_lines(path: str | None) -> list[dict]:
    if not path or not Path(path).exists():
        return []
    out = []
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", required=True, help="engine_bench output; lines may carry a \"model\" key")
    ap.add_argument("--copy", help="cuda_copy_bench output")
    args = ap.parse_args()
    bench = [b for b in read_lines(args.bench) if "decode_tok_s" in b]
    copies = read_lines(args.copy)
    peak = next((c["rw_gb_s"] for c in copies if c.get("copy") == "d2d"), None)
    dev = next((c["device"] for c in copies if "device" in c), None)

    print("## Decode against the memory roofline\n")
    if peak:
        print(f"Peak: device-to-device copy on {dev}, {peak:.0f} GB/s counting bytes read and written.\n")
    else:
        print("Peak: not measured (no cuda_copy_bench output); fractions omitted.\n")
    print("| model | device | weights | batch | prefill tok/s | decode tok/s | step ms | MB read/step | GB/s | roofline |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for b in bench:
        frac = f"{b['decode_gb_s'] / peak:.2f}" if peak and b.get("decode_gb_s") else "-"
        print(f"| {b.get('model', '?')} | {b.get('device', '?')} | {b.get('weight_format', '?')} | {b['batch']} | "
              f"{b['prefill_tok_s']:.0f} | {b['decode_tok_s']:.1f} | {1e3 * b.get('decode_step_s', 0):.3f} | "
              f"{b.get('decode_bytes_per_step', 0) / 1e6:.1f} | {b.get('decode_gb_s', 0):.1f} | {frac} |")
    if copies:
        print("\n## Copy bandwidth\n")
        print("| copy | pattern | block bytes | GB/s |")
        print("| --- | --- | --- | --- |")
        for c in copies:
            if "copy" not in c:
                continue
            extra = f" ({c['rw_gb_s']:.0f} read+write)" if "rw_gb_s" in c else ""
            print(f"| {c['copy']} | {c.get('pattern', '-')} | {c.get('block_bytes', '-')} | {c['gb_s']:.1f}{extra} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
