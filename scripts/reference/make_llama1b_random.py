#!/usr/bin/env python3
"""Write a Llama-3.2-1B-shaped model with random weights as a Hugging Face directory.

The directory holds config.json (the shapes and rotary settings of
Llama-3.2-1B: hidden 2048, 16 layers, 32 query heads, 8 KV heads, head_dim 64,
intermediate 8192, vocab 128256, rope_theta 500000 with llama3 scaling, tied
embeddings, RMSNorm eps 1e-5) and model.safetensors, written here without the
safetensors package. No tokenizer is written: skipjoin's engine and
transformers' LlamaForCausalLM both take token ids.

Weights are fixed by --seed: tensor i of the file is drawn from its own numpy
Generator seeded with (seed, i), so a model with fewer layers or a smaller
vocabulary shares nothing with the full one except the recipe. Linear weights
are N(0, 0.02) (the Llama initializer); norm weights are 1 + N(0, 0.1) so that
a wrong norm is visible; the embedding is N(0, --embed-std).

--dtype bf16 (default) stores bfloat16 (round to nearest even): both engines
then start from identical weights, transformers in fp32 upcasts them exactly.
--dtype f32 stores float32 (twice the size).

Full size: 1.24e9 parameters, 2.5 GB in bf16. For CPU runs use --layers 2
--vocab 32000 (about 0.2e9 parameters).

Usage:
  make_llama1b_random.py OUT_DIR [--seed 1234] [--layers 16] [--vocab 128256]
      [--dtype bf16|f32] [--embed-std 0.02]
"""
from __future__ import annotations

import argparse
import json
import os
import struct
import sys
import time

import numpy as np

LLAMA_3_2_1B = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 2048,
    "intermediate_size": 8192,
    "num_hidden_layers": 16,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "head_dim": 64,
    "vocab_size": 128256,
    "max_position_embeddings": 131072,
    "rms_norm_eps": 1e-5,
    "rope_theta": 500000.0,
    "rope_scaling": {
        "rope_type": "llama3",
        "factor": 32.0,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
        "original_max_position_embeddings": 8192,
    },
    "tie_word_embeddings": True,
    "attention_bias": False,
    "mlp_bias": False,
    "hidden_act": "silu",
    "bos_token_id": 128000,
    "eos_token_id": 128001,
    "initializer_range": 0.02,
    "torch_dtype": "bfloat16",
}


def to_bf16_bits(x: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bit patterns (uint16), round to nearest even."""
    u = x.astype(np.float32, copy=False).view(np.uint32)
    rounding = ((u >> 16) & 1) + np.uint32(0x7FFF)
    return ((u + rounding) >> 16).astype(np.uint16)


def tensor_plan(cfg: dict) -> list[tuple[str, tuple[int, ...], str]]:
    """(HF name, shape, kind) in file order; kind picks the distribution."""
    h, f = cfg["hidden_size"], cfg["intermediate_size"]
    q = cfg["num_attention_heads"] * cfg["head_dim"]
    kv = cfg["num_key_value_heads"] * cfg["head_dim"]
    plan = [("model.embed_tokens.weight", (cfg["vocab_size"], h), "embed")]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        plan += [
            (p + "input_layernorm.weight", (h,), "norm"),
            (p + "self_attn.q_proj.weight", (q, h), "linear"),
            (p + "self_attn.k_proj.weight", (kv, h), "linear"),
            (p + "self_attn.v_proj.weight", (kv, h), "linear"),
            (p + "self_attn.o_proj.weight", (h, q), "linear"),
            (p + "post_attention_layernorm.weight", (h,), "norm"),
            (p + "mlp.gate_proj.weight", (f, h), "linear"),
            (p + "mlp.up_proj.weight", (f, h), "linear"),
            (p + "mlp.down_proj.weight", (h, f), "linear"),
        ]
    plan.append(("model.norm.weight", (h,), "norm"))
    return plan


def draw(seed: int, index: int, shape: tuple[int, ...], kind: str, embed_std: float) -> np.ndarray:
    rng = np.random.Generator(np.random.PCG64([seed, index]))
    x = rng.standard_normal(size=shape, dtype=np.float32)
    if kind == "norm":
        return 1.0 + np.float32(0.1) * x
    return x * np.float32(embed_std if kind == "embed" else 0.02)


def write_model(out_dir: str, cfg: dict, seed: int, dtype: str, embed_std: float) -> int:
    plan = tensor_plan(cfg)
    esize = 2 if dtype == "bf16" else 4
    st_dtype = "BF16" if dtype == "bf16" else "F32"
    header: dict = {"__metadata__": {"format": "pt", "generator": "skipjoin make_llama1b_random.py",
                                     "seed": str(seed)}}
    offset = 0
    for name, shape, _ in plan:
        n = int(np.prod(shape)) * esize
        header[name] = {"dtype": st_dtype, "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    hbytes = json.dumps(header, separators=(",", ":")).encode()
    hbytes += b" " * ((8 - len(hbytes) % 8) % 8)  # keep the data section 8-byte aligned
    path = os.path.join(out_dir, "model.safetensors")
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(hbytes)))
        f.write(hbytes)
        for index, (name, shape, kind) in enumerate(plan):
            x = draw(seed, index, shape, kind, embed_std)
            (to_bf16_bits(x) if dtype == "bf16" else x).tofile(f)
    os.replace(path + ".tmp", path)
    return sum(int(np.prod(s)) for _, s, _ in plan)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--layers", type=int, default=LLAMA_3_2_1B["num_hidden_layers"])
    ap.add_argument("--vocab", type=int, default=LLAMA_3_2_1B["vocab_size"])
    ap.add_argument("--dtype", choices=["bf16", "f32"], default="bf16")
    ap.add_argument("--embed-std", type=float, default=0.02,
                    help="std of the (tied) embedding; larger spreads the logits")
    args = ap.parse_args()
    if args.layers < 1 or args.vocab < 2:
        ap.error("--layers must be >= 1 and --vocab >= 2")

    cfg = dict(LLAMA_3_2_1B)
    cfg["num_hidden_layers"] = args.layers
    cfg["vocab_size"] = args.vocab
    cfg["torch_dtype"] = "bfloat16" if args.dtype == "bf16" else "float32"
    if cfg["bos_token_id"] >= args.vocab:
        cfg["bos_token_id"], cfg["eos_token_id"] = 0, 1
    cfg["_name_or_path"] = f"llama-3.2-1b-shaped-random-seed{args.seed}"
    os.makedirs(args.out_dir, exist_ok=True)
    t0 = time.time()
    n = write_model(args.out_dir, cfg, args.seed, args.dtype, args.embed_std)
    with open(os.path.join(args.out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    print(f"wrote {args.out_dir}: {n / 1e9:.3f}e9 parameters ({args.dtype}, {args.layers} layers, "
          f"vocab {args.vocab}, seed {args.seed}) in {time.time() - t0:.1f} s", file=sys.stderr)
    print(args.out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
