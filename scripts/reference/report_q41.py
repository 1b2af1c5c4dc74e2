#!/usr/bin/env python3
"""Greedy continuations of `skipjoin generate` on the original Q4_1 GGUF
against llama.cpp's, on the fixture prompts.

llama.cpp multiplies Q4_1 weights by activations quantized to 8 bits; skipjoin
decodes the same weights to float32 inside its kernels and keeps activations in
float32 (it computes the F32 model), so the two are not expected to be
identical. This reports how often they agree.

usage: scripts/reference/report_q41.py --skipjoin build/client/skipjoin [--model PATH]
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "..", "tests", "fixtures", "smollm2")


def run(binary, model, ids, n):
    out = subprocess.run(
        [binary, "generate", "--model", model, "--prompt-ids", ",".join(map(str, ids)),
         "--max-tokens", str(n), "--ignore-eos", "--show-ids", "--threads", "2"],
        capture_output=True, text=True, check=True)
    for line in out.stderr.splitlines():
        if line.startswith("generated ids:"):
            return [int(t) for t in line.split(":", 1)[1].split()]
    raise RuntimeError("no generated ids in output:\n" + out.stderr)


def common_prefix(a, b):
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skipjoin", required=True)
    ap.add_argument("--model", default=os.path.expanduser(
        os.environ.get("SKIPJOIN_MODEL_PATH", "~/.cache/skipjoin/models/SmolLM2-135M-Instruct.Q4_1.gguf")))
    args = ap.parse_args()
    q41 = json.load(open(os.path.join(FIXTURES, "greedy_q41.json")))
    f32 = {p["name"]: p for p in json.load(open(os.path.join(FIXTURES, "greedy_f32.json")))["prompts"]}
    print(f"{'prompt':<14} {'vs llama.cpp Q4_1':>18} {'vs llama.cpp F32':>17}")
    same_q = same_f = 0
    for p in q41["prompts"]:
        want_q = p["output_ids"]
        want_f = f32[p["name"]]["output_ids"]
        got = run(args.skipjoin, args.model, p["ids"], len(want_q))
        pq = common_prefix(got, want_q)
        pf = common_prefix(got, want_f)
        same_q += got[:len(want_q)] == want_q
        same_f += got[:len(want_f)] == want_f
        print(f"{p['name']:<14} {pq:>3}/{len(want_q):<3} tokens {'same' if pq == len(want_q) else 'diff':>5}"
              f" {pf:>3}/{len(want_f):<3} tokens {'same' if pf == len(want_f) else 'diff':>5}")
    n = len(q41["prompts"])
    print(f"identical continuations: {same_q}/{n} vs llama.cpp on Q4_1, {same_f}/{n} vs llama.cpp on F32")


if __name__ == "__main__":
    sys.exit(main())
