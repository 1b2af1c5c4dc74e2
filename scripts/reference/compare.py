#!/usr/bin/env python3
"""Compare skipjoin engine output against the llama.cpp reference fixtures.

Each ENGINE file is JSON in the fixture schemas (docs/REFERENCE.md) and is
classified by content:
  * top-level "cases"                      -> tokenizer comparison
  * "prompts" entries with "positions"     -> teacher-forced logits comparison
  * "prompts" entries with "output_ids"    -> greedy comparison
One file may carry both "positions" and "output_ids" per prompt.

Prints, per prompt: max / mean abs logit diff (256 sampled vocab ids and
the reference top-20 ids present in the engine's top-20), top-1 agreement,
top-20 overlap; greedy identity with the first divergence and the reference
top-1/top-2 margin there (a tiny margin means a near-tie, not a bug).

Exit status is 0 unless a --max-abs-diff / --min-top1 / --require-greedy /
--require-tokenize threshold is violated, or an input is malformed.

Usage:
  python3 scripts/reference/compare.py engine.json [more.json ...]
      [--ref-dir tests/fixtures/smollm2] [--greedy-ref f32|q41]
      [--max-abs-diff 0.05] [--min-top1 0.99] [--require-greedy] [--require-tokenize]
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_REF = REPO / "tests" / "fixtures" / "smollm2"


class InputError(Exception):
    pass


def load(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: {e}") from e


def by_name(doc: dict, path) -> dict[str, dict]:
    out = {}
    for p in doc.get("prompts", []):
        if "name" not in p:
            raise InputError(f"{path}: prompt entry without 'name'")
        out[p["name"]] = p
    return out


def fmt(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:.5f}"


# ---------------------------------------------------------------------------

def compare_logits(ref: dict, eng: dict, eng_path) -> dict:
    sampled_ids = ref["sampled_ids"]
    if "sampled_ids" in eng and eng["sampled_ids"] != sampled_ids:
        raise InputError(f"{eng_path}: sampled_ids differ from the fixture's list")
    ref_p = by_name(ref, "reference")
    eng_p = {n: p for n, p in by_name(eng, eng_path).items() if "positions" in p}

    print("\n== teacher-forced logits (reference: %s, llama-cpp-python %s) =="
          % (ref.get("model"), ref.get("llama_cpp_python")))
    hdr = (f"{'prompt':14s} {'pos':>4s} {'max|d| smp':>11s} {'mean|d| smp':>11s} "
           f"{'max|d| top20':>12s} {'top1':>9s} {'top20 ovl':>9s}  notes")
    print(hdr)
    print("-" * len(hdr))

    g_max = 0.0
    g_sum = 0.0
    g_n = 0
    g_top_max = 0.0
    g_agree = 0
    g_pos = 0
    missing = []
    for name, rp in ref_p.items():
        ep = eng_p.get(name)
        if ep is None:
            missing.append(name)
            continue
        notes = []
        if "ids" in ep and ep["ids"] != rp["ids"]:
            notes.append("INPUT IDS DIFFER")
        rpos, epos = rp["positions"], ep["positions"]
        if len(epos) != len(rpos):
            notes.append(f"{len(epos)} positions vs {len(rpos)}")
        n = min(len(rpos), len(epos))
        p_max = 0.0
        p_sum = 0.0
        p_n = 0
        p_top_max = 0.0
        agree = 0
        overlap = 0
        worst_disagree = []
        for i in range(n):
            r, e = rpos[i], epos[i]
            rs, es = r["sampled"], e.get("sampled")
            if es is not None:
                if len(es) != len(rs):
                    raise InputError(f"{eng_path}: {name} pos {i}: {len(es)} sampled logits, expected {len(rs)}")
                for a, b in zip(rs, es):
                    d = abs(a - b)
                    p_sum += d
                    p_n += 1
                    if d > p_max or math.isnan(d):
                        p_max = d if not math.isnan(d) else float("inf")
            etop = {int(t): float(v) for t, v in e.get("top20", [])}
            rtop = {int(t): float(v) for t, v in r["top20"]}
            overlap += len(set(etop) & set(rtop))
            for t, v in rtop.items():
                if t in etop:
                    p_top_max = max(p_top_max, abs(v - etop[t]))
            e_top1 = e.get("top1")
            if e_top1 is None and e.get("top20"):
                e_top1 = int(e["top20"][0][0])
            if e_top1 == r["top1"]:
                agree += 1
            else:
                margin = r["top20"][0][1] - r["top20"][1][1]
                worst_disagree.append((i, margin))
        if worst_disagree:
            near = sum(1 for _, m in worst_disagree if m < 1e-2)
            notes.append(f"top1 miss @{','.join(str(i) for i, _ in worst_disagree[:5])}"
                         f"{'...' if len(worst_disagree) > 5 else ''}"
                         f" (ref margin<0.01: {near}/{len(worst_disagree)})")
        g_max = max(g_max, p_max)
        g_sum += p_sum
        g_n += p_n
        g_top_max = max(g_top_max, p_top_max)
        g_agree += agree
        g_pos += n
        print(f"{name:14s} {n:4d} {fmt(p_max):>11s} {fmt(p_sum / p_n if p_n else float('nan')):>11s} "
              f"{fmt(p_top_max):>12s} {agree:4d}/{n:<4d} {overlap / (20 * n) if n else 0:9.3f}  {'; '.join(notes)}")
    print("-" * len(hdr))
    rate = g_agree / g_pos if g_pos else 0.0
    print(f"{'ALL':14s} {g_pos:4d} {fmt(g_max):>11s} {fmt(g_sum / g_n if g_n else float('nan')):>11s} "
          f"{fmt(g_top_max):>12s} {rate:9.4f}")
    if missing:
        print(f"missing prompts in engine output: {', '.join(missing)}")
    return {"max_abs_diff": max(g_max, g_top_max), "top1_rate": rate, "missing": missing,
            "positions": g_pos}


def compare_greedy(ref: dict, eng: dict, eng_path) -> dict:
    ref_p = by_name(ref, "reference")
    eng_p = {n: p for n, p in by_name(eng, eng_path).items() if "output_ids" in p}
    print("\n== greedy continuations (reference: %s, llama-cpp-python %s) =="
          % (ref.get("model"), ref.get("llama_cpp_python")))
    hdr = f"{'prompt':14s} {'ref':>4s} {'eng':>4s} {'identical':>9s} {'diverge@':>8s} {'ref margin':>10s}  notes"
    print(hdr)
    print("-" * len(hdr))
    n_ident = 0
    n_total = 0
    missing = []
    for name, rp in ref_p.items():
        ep = eng_p.get(name)
        if ep is None:
            missing.append(name)
            continue
        notes = []
        if "ids" in ep and ep["ids"] != rp["ids"]:
            notes.append("INPUT IDS DIFFER")
        r_out, e_out = rp["output_ids"], list(ep["output_ids"])
        ident = r_out == e_out
        div = None
        margin = None
        if not ident:
            div = next((i for i, (a, b) in enumerate(zip(r_out, e_out)) if a != b), min(len(r_out), len(e_out)))
            if div < len(rp.get("margins", [])):
                margin = rp["margins"][div]
            if div == min(len(r_out), len(e_out)):
                notes.append("prefix; lengths differ")
        if bool(ep.get("stopped_at_eos", rp["stopped_at_eos"])) != rp["stopped_at_eos"]:
            notes.append("stopped_at_eos differs")
        n_total += 1
        n_ident += ident
        print(f"{name:14s} {len(r_out):4d} {len(e_out):4d} {'yes' if ident else 'NO':>9s} "
              f"{'-' if div is None else div:>8} {fmt(margin) if margin is not None else '-':>10s}  {'; '.join(notes)}")
    print("-" * len(hdr))
    print(f"identical: {n_ident}/{n_total}")
    if missing:
        print(f"missing prompts in engine output: {', '.join(missing)}")
    return {"identical": n_ident, "total": n_total, "missing": missing}


def compare_tokenize(ref: dict, eng: dict, eng_path) -> dict:
    key = lambda c: (c["text"], bool(c["add_special"]), bool(c["parse_special"]))  # noqa: E731
    ref_c = {key(c): c["ids"] for c in ref["cases"]}
    eng_c = {key(c): c["ids"] for c in eng["cases"]}
    print("\n== tokenizer (reference: llama-cpp-python %s) ==" % ref.get("llama_cpp_python"))
    ok = 0
    bad = []
    missing = 0
    for k, ids in ref_c.items():
        if k not in eng_c:
            missing += 1
            continue
        if eng_c[k] == ids:
            ok += 1
        else:
            bad.append((k, ids, eng_c[k]))
    for (text, a, p), want, got in bad[:20]:
        print(f"MISMATCH add_special={a} parse_special={p} text={text!r}\n  want {want}\n  got  {got}")
    if len(bad) > 20:
        print(f"... {len(bad) - 20} more mismatches")
    print(f"tokenize: {ok}/{len(ref_c)} match, {len(bad)} mismatch, {missing} missing")
    return {"ok": ok, "bad": len(bad), "missing": missing}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("engine", nargs="+", type=Path, help="engine output JSON file(s)")
    ap.add_argument("--ref-dir", type=Path, default=DEFAULT_REF)
    ap.add_argument("--greedy-ref", choices=["f32", "q41"], default="f32",
                    help="greedy fixture to compare against (default f32)")
    ap.add_argument("--max-abs-diff", type=float, default=None,
                    help="fail if any compared logit differs by more than this")
    ap.add_argument("--min-top1", type=float, default=None,
                    help="fail if the top-1 agreement rate is below this (0..1)")
    ap.add_argument("--require-greedy", action="store_true",
                    help="fail unless every greedy continuation is identical")
    ap.add_argument("--require-tokenize", action="store_true",
                    help="fail unless every tokenizer case matches")
    args = ap.parse_args()

    failures = []
    seen = False
    try:
        for path in args.engine:
            eng = load(path)
            prompts = eng.get("prompts", [])
            if "cases" in eng:
                seen = True
                res = compare_tokenize(load(args.ref_dir / "tokenize_corpus.json"), eng, path)
                if args.require_tokenize and (res["bad"] or res["missing"]):
                    failures.append("tokenizer mismatch")
            if any("positions" in p for p in prompts):
                seen = True
                res = compare_logits(load(args.ref_dir / "logits_f32.json"), eng, path)
                if args.max_abs_diff is not None and not res["max_abs_diff"] <= args.max_abs_diff:
                    failures.append(f"max abs logit diff {res['max_abs_diff']:.5f} > {args.max_abs_diff}")
                if args.min_top1 is not None and res["top1_rate"] < args.min_top1:
                    failures.append(f"top-1 agreement {res['top1_rate']:.4f} < {args.min_top1}")
                if res["missing"] and (args.max_abs_diff is not None or args.min_top1 is not None):
                    failures.append("logits: prompts missing")
            if any("output_ids" in p for p in prompts):
                seen = True
                res = compare_greedy(load(args.ref_dir / f"greedy_{args.greedy_ref}.json"), eng, path)
                if args.require_greedy and (res["identical"] != res["total"] or res["missing"]):
                    failures.append(f"greedy identical {res['identical']}/{res['total']}")
            if not seen:
                raise InputError(f"{path}: nothing to compare (no 'cases', no prompts with "
                                 "'positions' or 'output_ids')")
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (KeyError, TypeError, ValueError, IndexError) as e:
        print(f"error: malformed input: {e!r}", file=sys.stderr)
        return 2
    if failures:
        print("\nFAIL: " + "; ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
