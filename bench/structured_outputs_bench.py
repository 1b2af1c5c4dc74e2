#!/usr/bin/env python3
"""What structured outputs cost a decode step, through the serving API.

Starts a local cluster (`skipjoin launch`, the default two-replica CPU
config unless --config says otherwise) and runs interleaved rounds of
--streams concurrent streaming completions of --tokens tokens each:
  plain:  no constraint, ignore_eos (every stream runs to --tokens),
  guided: a JSON schema (an object holding a list of at least 16 objects, so
          no stream can finish before --tokens), the same prompt and length.
Both kinds decode the same number of sequences at the same context lengths,
so the difference in time per output token (TPOT) is what the guide adds:
the mask of each guided sequence (common/grammar), applying it, and the copy
of the logits row. Checks that every guided output is a prefix the schema
allows (the cluster answered with finish_reason "length" and the text starts
the expected document shape).

  python3 bench/structured_outputs_bench.py build/client/skipjoin --out /tmp/so

Prints a table (and writes results.json under --out). Standard library and
the official openai client only.
"""
import argparse
import json
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster_launch  # noqa: E402

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["fruits"],
    "properties": {
        "fruits": {
            "type": "array",
            "minItems": 16,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "colour", "grams"],
                "properties": {
                    "name": {"type": "string", "maxLength": 24},
                    "colour": {"enum": ["red", "green", "yellow", "orange", "purple"]},
                    "grams": {"type": "integer"},
                },
            },
        }
    },
}
PROMPT = "Here is a long list of fruits with their colour and weight, as JSON:"


def one_stream(client, model, kind, tokens, seed, out):
    extra = {"ignore_eos": True} if kind == "plain" else {"guided_json": SCHEMA}
    t0 = time.perf_counter()
    first = None
    text = []
    finish = None
    stream = client.completions.create(model=model, prompt=PROMPT, max_tokens=tokens,
                                       temperature=1.0, seed=seed, stream=True,
                                       stream_options={"include_usage": True}, extra_body=extra)
    n = 0
    for chunk in stream:
        if chunk.choices:
            c = chunk.choices[0]
            if c.text:
                if first is None:
                    first = time.perf_counter()
                text.append(c.text)
            if c.finish_reason:
                finish = c.finish_reason
        if chunk.usage:
            n = chunk.usage.completion_tokens
    end = time.perf_counter()
    out.append({"kind": kind, "ttft": first - t0, "tpot": (end - first) / max(1, n - 1),
                "tokens": n, "finish": finish, "text": "".join(text)})


def run_round(client, model, kind, streams, tokens, seed_base):
    results = []
    threads = [threading.Thread(target=one_stream,
                                args=(client, model, kind, tokens, seed_base + i, results))
               for i in range(streams)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if len(results) != streams:
        raise RuntimeError(f"{kind}: {streams - len(results)} streams failed")
    for r in results:
        if r["finish"] != "length" or r["tokens"] != tokens:
            raise RuntimeError(f"{kind}: a stream ended with {r['finish']} after {r['tokens']} tokens")
        if kind == "guided" and not "".join(r["text"].split()).startswith('{"fruits":[{'):
            raise RuntimeError(f"guided output does not start the schema's object: {r['text'][:60]!r}")
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("skipjoin", help="the skipjoin binary (build/client/skipjoin)")
    ap.add_argument("--config", default=os.path.join(os.path.dirname(__file__), "..",
                                                     "cluster_configs", "local-cpu.yaml"))
    ap.add_argument("--out", required=True, help="run directory and results.json")
    ap.add_argument("--streams", type=int, default=16,
                    help="concurrent streams (16 = batch 8 on each of the default two replicas)")
    ap.add_argument("--tokens", type=int, default=64, help="output tokens per stream")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of each kind, interleaved")
    args = ap.parse_args()
    import openai

    cluster = cluster_launch.Cluster(args.skipjoin, args.config, os.path.join(args.out, "run"),
                                     sets=["monitoring.prometheus=off"])
    cluster.start()
    try:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{cluster.http_port}/v1", api_key="none",
                               timeout=600)
        model = client.models.list().data[0].id
        run_round(client, model, "guided", 2, 8, 999)  # warm-up: compiles the schema
        rows = []
        for r in range(args.rounds):
            order = ("plain", "guided") if r % 2 == 0 else ("guided", "plain")
            for kind in order:
                res = run_round(client, model, kind, args.streams, args.tokens, 1000 * (r + 1))
                tpot = statistics.mean(x["tpot"] for x in res)
                ttft = statistics.mean(x["ttft"] for x in res)
                rows.append({"round": r + 1, "kind": kind, "mean_tpot_s": tpot, "mean_ttft_s": ttft})
                print(f"round {r + 1} {kind:6s} mean TPOT {tpot * 1000:7.2f} ms  mean TTFT {ttft:6.2f} s",
                      flush=True)
    finally:
        cluster.stop()
    plain = statistics.mean(x["mean_tpot_s"] for x in rows if x["kind"] == "plain")
    guided = statistics.mean(x["mean_tpot_s"] for x in rows if x["kind"] == "guided")
    summary = {"streams": args.streams, "tokens": args.tokens, "rounds": args.rounds,
               "plain_tpot_s": plain, "guided_tpot_s": guided,
               "overhead_fraction": guided / plain - 1, "rows": rows}
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(f"mean TPOT plain {plain * 1000:.2f} ms, guided {guided * 1000:.2f} ms: "
          f"guided / plain = {guided / plain:.3f}")
    return 0


if __name__ == "__main__":
    cluster_launch.exit_with(main)
