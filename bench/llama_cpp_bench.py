#!/usr/bin/env python3
"""The llama.cpp baseline for engine_bench: the same workload through
llama-cpp-python's low-level API (llama_batch with several sequences in one
unified KV cache). For each batch size B: B sequences of --prompt-len tokens
prefilled in one llama_decode, then --decode-steps steps of B tokens.
Prints one JSON object per line, like engine_bench.
"""
import argparse
import ctypes
import json
import os
import sys
import time

import llama_cpp as L


def make_batch(entries, n_max):
    """entries: list of (token, pos, seq_id, want_logits)."""
    b = L.llama_batch_init(n_max, 0, 1)
    for i, (tok, pos, seq, out) in enumerate(entries):
        b.token[i] = tok
        b.pos[i] = pos
        b.n_seq_id[i] = 1
        b.seq_id[i][0] = seq
        b.logits[i] = 1 if out else 0
    b.n_tokens = len(entries)
    return b


def run(model, ctx_params, b, prompt_len, steps, n_vocab):
    ctx = L.llama_init_from_model(model, ctx_params)
    if not ctx:
        raise RuntimeError("llama_init_from_model failed")
    try:
        entries = []
        for s in range(b):
            for t in range(prompt_len):
                entries.append((100 + (t * 7 + s * 13) % 20000, t, s, t == prompt_len - 1))
        batch = make_batch(entries, len(entries))
        t0 = time.perf_counter()
        if L.llama_decode(ctx, batch) != 0:
            raise RuntimeError("prefill decode failed")
        prefill = time.perf_counter() - t0
        L.llama_batch_free(batch)
        tokens = [1] * b
        decode = 0.0
        for step in range(steps):
            batch = make_batch([(tokens[s], prompt_len + step, s, True) for s in range(b)], b)
            t0 = time.perf_counter()
            if L.llama_decode(ctx, batch) != 0:
                raise RuntimeError("decode failed")
            decode += time.perf_counter() - t0
            L.llama_batch_free(batch)
            tokens = [(t * 31 + 7) % 20000 + 100 for t in tokens]  # fixed feed; sampling is not timed
        return b * prompt_len / prefill, b * steps / decode
    finally:
        L.llama_free(ctx)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--batches", default="1,8,32")
    ap.add_argument("--prompt-len", type=int, default=128)
    ap.add_argument("--decode-steps", type=int, default=64)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    L.llama_backend_init()
    mp = L.llama_model_default_params()
    if hasattr(mp, "use_extra_bufts"):
        mp.use_extra_bufts = False  # see docs/REFERENCE.md: CPU repack buffers crash on some AMX machines
    model = L.llama_model_load_from_file(args.model.encode(), mp)
    if not model:
        sys.exit("cannot load " + args.model)
    n_vocab = L.llama_vocab_n_tokens(L.llama_model_get_vocab(model))
    for b in [int(x) for x in args.batches.split(",")]:
        cp = L.llama_context_default_params()
        cp.n_ctx = b * (args.prompt_len + args.decode_steps) + 64
        cp.n_batch = cp.n_ubatch = max(512, b * args.prompt_len)
        cp.n_seq_max = b
        cp.kv_unified = True
        cp.n_threads = cp.n_threads_batch = args.threads
        cp.no_perf = True
        best_p = best_d = 0.0
        for _ in range(args.repeat):
            p, d = run(model, cp, b, args.prompt_len, args.decode_steps, n_vocab)
            best_p, best_d = max(best_p, p), max(best_d, d)
        print(json.dumps({"engine": "llama.cpp", "version": L.__version__, "batch": b,
                          "prompt_len": args.prompt_len, "decode_steps": args.decode_steps,
                          "prefill_tok_s": round(best_p, 1), "decode_tok_s": round(best_d, 1)}), flush=True)
    L.llama_model_free(model)


if __name__ == "__main__":
    main()
