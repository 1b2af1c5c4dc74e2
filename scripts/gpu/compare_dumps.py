#!/usr/bin/env python3
"""Compare two engine_dump outputs (e.g. cuda:0 against cpu) on the same prompts.

For every prompt present in both: greedy agreement (the length of the common
prefix of output_ids, and the share of positions whose token agrees up to the
shorter output), and, when both dumps carry logits, the largest |logit
difference| and top-1 agreement over the prompt positions. With --fixture (a
tests/fixtures/smollm2/greedy_*.json file) each dump's greedy output is also
compared with the fixture's output_ids (llama.cpp), with the fixture's top-1
margin at the first divergence (a near-tie flipping is rounding, not a bug).

Usage: compare_dumps.py TEST.json BASE.json [--fixture FILE] [--json OUT.json]
Prints a table; exit status 0 (it reports, it does not judge), 2 on bad input.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def prefix(a: list[int], b: list[int]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("test")
    ap.add_argument("base")
    ap.add_argument("--fixture")
    ap.add_argument("--json", help="write the per-prompt results here")
    args = ap.parse_args()
    try:
        test = json.loads(Path(args.test).read_text())
        base = json.loads(Path(args.base).read_text())
        fixture = json.loads(Path(args.fixture).read_text()) if args.fixture else None
    except (OSError, json.JSONDecodeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    fx = {p["name"]: p for p in fixture["prompts"]} if fixture else {}
    base_by = {p["name"]: p for p in base["prompts"]}
    rows = []
    for t in test["prompts"]:
        b = base_by.get(t["name"])
        if b is None:
            continue
        r = {"name": t["name"], "prompt_len": len(t["ids"])}
        to, bo = t.get("output_ids", []), b.get("output_ids", [])
        if to or bo:
            n = min(len(to), len(bo))
            r.update({"greedy_len": [len(to), len(bo)], "greedy_prefix": prefix(to, bo),
                      "greedy_same_tokens": sum(1 for i in range(n) if to[i] == bo[i]), "greedy_compared": n})
        if "logits_file" in t and "logits_file" in b:
            lt = np.load(Path(args.test).parent / t["logits_file"])
            lb = np.load(Path(args.base).parent / b["logits_file"])
            d = np.abs(lt.astype(np.float64) - lb)
            r.update({"max_abs_diff": float(d.max()), "max_abs_base": float(np.abs(lb).max()),
                      "top1_agree": int((lt.argmax(1) == lb.argmax(1)).sum()), "positions": int(lb.shape[0])})
        if t["name"] in fx:
            ref = fx[t["name"]]["output_ids"]
            margins = fx[t["name"]].get("margins", [])
            for side, out in (("test", to), ("base", bo)):
                k = prefix(out, ref)
                r[f"fixture_prefix_{side}"] = k
                if k < min(len(out), len(ref)) and k < len(margins):
                    r[f"fixture_margin_at_divergence_{side}"] = margins[k]
        rows.append(r)
    if not rows:
        print("error: no prompt names in common", file=sys.stderr)
        return 2

    print(f"{test.get('device')} vs {base.get('device')}:")
    print(f"{'prompt':>16} {'len':>4} {'greedy prefix':>14} {'same/compared':>14} {'max|dlogit|':>11} {'top1':>9}"
          + (f" {'fixture prefix (test/base)':>27}" if fixture else ""))
    same = compared = full = 0
    for r in rows:
        g = f"{r.get('greedy_prefix', '-')}/{min(r.get('greedy_len', [0, 0]))}" if "greedy_len" in r else "-"
        s = f"{r.get('greedy_same_tokens', '-')}/{r.get('greedy_compared', '-')}"
        ld = f"{r['max_abs_diff']:.4f}" if "max_abs_diff" in r else "-"
        t1 = f"{r['top1_agree']}/{r['positions']}" if "positions" in r else "-"
        line = f"{r['name']:>16} {r['prompt_len']:>4} {g:>14} {s:>14} {ld:>11} {t1:>9}"
        if fixture:
            line += f" {str(r.get('fixture_prefix_test', '-')) + '/' + str(r.get('fixture_prefix_base', '-')):>27}"
        print(line)
        same += r.get("greedy_same_tokens", 0)
        compared += r.get("greedy_compared", 0)
        full += 1 if "greedy_len" in r and r["greedy_prefix"] == min(r["greedy_len"]) else 0
    summary = {"test": test.get("device"), "base": base.get("device"), "prompts": rows,
               "greedy_token_agreement": same / compared if compared else None,
               "greedy_identical_prompts": full, "num_prompts": len(rows)}
    if compared:
        print(f"greedy agreement: {same}/{compared} tokens ({same / compared:.4f}), "
              f"{full}/{len(rows)} prompts identical")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
