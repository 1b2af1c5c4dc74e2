#!/usr/bin/env python3
"""Compare skipjoin's logits with Hugging Face transformers on the same token ids.

Runs LlamaForCausalLM (float32 on the CPU, or bfloat16 on CUDA) and skipjoin's
engine (bench/engine_dump) over the same prompts of pseudo-random token ids,
teacher-forced, and reports per prompt: the largest |logit difference| over
every position and vocabulary entry, the largest |logit| of the reference (for
scale), top-1 agreement over positions, and how many top-1 disagreements happen
where the reference's top-1/top-2 margin exceeds the largest difference seen at
that position (a near-tie flipping is rounding; a clear winner flipping is a
bug). With --generate N it also compares N greedy tokens per prompt.

Works on any HF Llama directory; made for the output of make_llama1b_random.py.

Usage:
  compare_transformers.py --model DIR [--engine-dump build/bench/engine_dump]
      [--device cpu|cuda:0] [--lengths 1,7,33,128] [--seed 0] [--generate 0]
      [--out DIR] [--max-abs-diff X] [--min-top1 F]
--device picks both sides: cpu runs transformers in float32 on the CPU and the
engine on its CPU backend (float32); cuda:N runs transformers in bfloat16 on
that device and the engine on its CUDA backend (bf16 activations, fp32
accumulation). --hf-dtype overrides the transformers dtype.

Exit status: 0, or 1 when a threshold is violated, 2 on a usage or run error.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]


def load_hf(model_dir: str, device: str, dtype_name: str):
    import torch
    import transformers
    from transformers import LlamaForCausalLM

    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[dtype_name]
    kwargs = {"attn_implementation": "eager"}
    major = int(transformers.__version__.split(".")[0])
    kwargs["dtype" if major >= 5 else "torch_dtype"] = dtype
    model = LlamaForCausalLM.from_pretrained(model_dir, **kwargs)
    model.to(device)
    model.eval()
    return model


def hf_logits(model, ids: list[int], device: str) -> np.ndarray:
    import torch

    with torch.no_grad():
        x = torch.tensor([ids], dtype=torch.long, device=device)
        return model(input_ids=x).logits[0].float().cpu().numpy()


def hf_greedy(model, ids: list[int], n: int, device: str) -> list[int]:
    import torch

    out: list[int] = []
    seq = list(ids)
    with torch.no_grad():
        # No KV cache: the plain forward over the whole sequence is the reference.
        for _ in range(n):
            logits = model(input_ids=torch.tensor([seq], dtype=torch.long, device=device)).logits[0, -1]
            t = int(torch.argmax(logits.float()).item())
            out.append(t)
            seq.append(t)
    return out


def compare_logits(ours: np.ndarray, ref: np.ndarray) -> dict:
    diff = np.abs(ours.astype(np.float64) - ref.astype(np.float64))
    per_pos_max = diff.max(axis=1)
    top1_ours = ours.argmax(axis=1)
    top1_ref = ref.argmax(axis=1)
    agree = top1_ours == top1_ref
    srt = np.sort(ref, axis=1)
    margin = srt[:, -1] - srt[:, -2]
    clear_flips = int(np.sum(~agree & (margin > 2 * per_pos_max)))
    return {
        "positions": int(ref.shape[0]),
        "max_abs_diff": float(diff.max()),
        "mean_abs_diff": float(diff.mean()),
        "max_abs_ref": float(np.abs(ref).max()),
        "rel_max_diff": float(diff.max() / max(np.abs(ref).max(), 1e-30)),
        "top1_agree": int(agree.sum()),
        "top1_rate": float(agree.mean()),
        "clear_top1_flips": clear_flips,
        "per_position_max_abs_diff": [round(float(v), 6) for v in per_pos_max],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="HF model directory")
    ap.add_argument("--engine-dump", default=str(REPO / "build" / "bench" / "engine_dump"))
    ap.add_argument("--device", default="cpu", help="cpu or cuda:N (both sides)")
    ap.add_argument("--hf-dtype", choices=["fp32", "bf16", "fp16"], help="default: fp32 on cpu, bf16 on cuda")
    ap.add_argument("--lengths", default="1,7,33,128", help="prompt lengths, comma-separated")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--generate", type=int, default=0, help="greedy tokens to compare per prompt")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads for both sides; 0: all")
    ap.add_argument("--out", help="directory for prompts, dumps and compare.json (default: a temp dir)")
    ap.add_argument("--max-abs-diff", type=float, help="fail when any |logit diff| exceeds this")
    ap.add_argument("--min-top1", type=float, help="fail when the overall top-1 agreement is below this")
    args = ap.parse_args()

    on_cuda = args.device.startswith("cuda")
    torch_device = args.device if on_cuda else "cpu"
    hf_dtype = args.hf_dtype or ("bf16" if on_cuda else "fp32")
    cfg = json.loads(Path(args.model, "config.json").read_text())
    vocab = int(cfg["vocab_size"])
    lengths = [int(x) for x in args.lengths.split(",") if x]
    rng = np.random.default_rng(args.seed)
    prompts = [{"name": f"len{n}", "ids": [int(v) for v in rng.integers(0, vocab, size=n)],
                "n_generate": args.generate} for n in lengths]

    out_dir = Path(args.out or tempfile.mkdtemp(prefix="skipjoin_hf_compare_"))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "prompts.json").write_text(json.dumps({"prompts": prompts}))

    if not Path(args.engine_dump).exists():
        print(f"error: {args.engine_dump} not found (build the engine_dump target)", file=sys.stderr)
        return 2
    cmd = [args.engine_dump, "--model", args.model, "--device", args.device, "--prompts",
           str(out_dir / "prompts.json"), "--out", str(out_dir / "engine.json"), "--threads", str(args.threads)]
    print("$ " + " ".join(cmd), file=sys.stderr)
    t0 = time.time()
    r = subprocess.run(cmd)
    if r.returncode != 0:
        print(f"error: engine_dump exited {r.returncode}", file=sys.stderr)
        return 2
    engine_s = time.time() - t0
    ours = json.loads((out_dir / "engine.json").read_text())

    import torch

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    t0 = time.time()
    model = load_hf(args.model, torch_device, hf_dtype)
    rope = getattr(model.config, "rope_parameters", None) or getattr(model.config, "rope_scaling", None)
    print(f"transformers {__import__('transformers').__version__}, torch {torch.__version__}, "
          f"{hf_dtype} on {torch_device}; rope {rope}", file=sys.stderr)

    results = []
    for p, o in zip(prompts, ours["prompts"]):
        ref = hf_logits(model, p["ids"], torch_device)
        mine = np.load(out_dir / o["logits_file"])
        if mine.shape != ref.shape:
            print(f"error: {p['name']}: engine logits {mine.shape} vs transformers {ref.shape}", file=sys.stderr)
            return 2
        res = {"name": p["name"], **compare_logits(mine, ref)}
        if args.generate > 0:
            ref_gen = hf_greedy(model, p["ids"], args.generate, torch_device)
            our_gen = o.get("output_ids", [])
            same = 0
            while same < min(len(ref_gen), len(our_gen)) and ref_gen[same] == our_gen[same]:
                same += 1
            res.update({"greedy_ref": ref_gen, "greedy_ours": our_gen, "greedy_prefix_match": same})
        results.append(res)
    hf_s = time.time() - t0

    total_pos = sum(r["positions"] for r in results)
    summary = {
        "model": args.model,
        "config": {k: cfg.get(k) for k in ("hidden_size", "num_hidden_layers", "num_attention_heads",
                                           "num_key_value_heads", "intermediate_size", "vocab_size")},
        "device": args.device,
        "hf_dtype": hf_dtype,
        "transformers": __import__("transformers").__version__,
        "torch": torch.__version__,
        "engine_seconds": round(engine_s, 2),
        "transformers_seconds": round(hf_s, 2),
        "max_abs_diff": max(r["max_abs_diff"] for r in results),
        "max_abs_ref": max(r["max_abs_ref"] for r in results),
        "top1_rate": sum(r["top1_agree"] for r in results) / total_pos,
        "clear_top1_flips": sum(r["clear_top1_flips"] for r in results),
        "prompts": results,
    }
    (out_dir / "compare.json").write_text(json.dumps(summary, indent=1))

    print(f"{'prompt':>8} {'pos':>4} {'max|diff|':>10} {'mean|diff|':>10} {'max|ref|':>9} "
          f"{'rel':>8} {'top1':>9} {'clear flips':>11}" + ("  greedy" if args.generate else ""))
    for r in results:
        line = (f"{r['name']:>8} {r['positions']:>4} {r['max_abs_diff']:>10.5f} {r['mean_abs_diff']:>10.6f} "
                f"{r['max_abs_ref']:>9.4f} {r['rel_max_diff']:>8.2e} {r['top1_agree']:>4}/{r['positions']:<4} "
                f"{r['clear_top1_flips']:>11}")
        if args.generate:
            line += f"  {r['greedy_prefix_match']}/{args.generate}"
        print(line)
    print(f"overall: max|diff| {summary['max_abs_diff']:.5f} (max|logit| {summary['max_abs_ref']:.3f}), "
          f"top-1 {summary['top1_rate']:.4f}, clear flips {summary['clear_top1_flips']}; "
          f"engine {engine_s:.1f} s, transformers {hf_s:.1f} s; results in {out_dir}")

    failed = False
    if args.max_abs_diff is not None and summary["max_abs_diff"] > args.max_abs_diff:
        print(f"FAIL: max|diff| {summary['max_abs_diff']:.5f} > {args.max_abs_diff}", file=sys.stderr)
        failed = True
    if args.min_top1 is not None and summary["top1_rate"] < args.min_top1:
        print(f"FAIL: top-1 agreement {summary['top1_rate']:.4f} < {args.min_top1}", file=sys.stderr)
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
