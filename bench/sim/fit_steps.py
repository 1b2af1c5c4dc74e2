#!/usr/bin/env python3
"""Fit the step cost model to a coordinator's step trace and show where it errs.

The coordinator writes one JSON line per finished step when the cluster config
sets `scheduler.step_trace` (docs/CONFIGURATION.md). This script fits

    t = a + b*tokens + c*sequences + d*context + e*prefill_pairs   (seconds)

by relative least squares (each step weighted by 1/its time; the model and
weighting the scheduler fits online, docs/SCHEDULER.md) to
the `seconds` of the steps in --fit, and reports, for the steps of --eval
(default: the same traces), the total and per-regime error of

  * the fit made here, and
  * the coordinator's own prediction at the time of each step (`predicted`).

Regimes: decode-only steps by batch size, and steps with a prefill chunk by
chunk size. The total error over a run is what decides whether a simulator
driven by the model reproduces the run's latencies; per-step errors show which
step shapes a linear model cannot follow.

    python3 bench/sim/fit_steps.py --fit run-calibrate/steps.jsonl \\
        --eval run-measure/steps.jsonl --out fitted.json

--out writes the fit as a cost model file `skipjoin simulate --cost-model`
reads. Only the Python standard library is used.
"""
import argparse
import json
import sys

FEATURES = ("1", "tokens", "sequences", "context", "prefill_pairs")


def load(paths):
    rows = []
    for path in paths:
        with open(path) as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    r = json.loads(line)
                    for key in ("tokens", "sequences", "context", "seconds", "prefill_tokens", "decode_sequences"):
                        float(r[key])
                except (ValueError, KeyError, TypeError) as e:
                    raise SystemExit(f"{path}:{n}: not a step trace line ({e})")
                rows.append(r)
    if not rows:
        raise SystemExit(f"no steps in {', '.join(paths)}")
    return rows


def x_of(r):
    return [1.0, float(r["tokens"]), float(r["sequences"]), float(r["context"]), float(r.get("prefill_pairs", 0.0))]


def solve(a, y):
    """Gaussian elimination with partial pivoting; a is n x n, y has n entries."""
    n = len(y)
    m = [row[:] + [y[i]] for i, row in enumerate(a)]
    for col in range(n):
        piv = max(range(col, n), key=lambda i: abs(m[i][col]))
        if abs(m[piv][col]) < 1e-300:
            raise SystemExit("the steps do not determine the model (a feature never varies)")
        m[col], m[piv] = m[piv], m[col]
        for i in range(n):
            if i != col:
                f = m[i][col] / m[col][col]
                for j in range(col, n + 1):
                    m[i][j] -= f * m[col][j]
    return [m[i][n] / m[i][i] for i in range(n)]


def fit(rows):
    # Scale the columns so the normal equations stay well conditioned.
    scale = [1.0, 1e3, 1e2, 1e5, 1e6]
    n = len(scale)
    ata = [[0.0] * n for _ in range(n)]
    aty = [0.0] * n
    for r in rows:
        # Relative least squares, as the coordinator fits: weight 1/seconds.
        w = 1.0 / max(r["seconds"], 1e-4)
        x = [v / s * w for v, s in zip(x_of(r), scale)]
        for i in range(n):
            aty[i] += x[i] * r["seconds"] * w
            for j in range(n):
                ata[i][j] += x[i] * x[j]
    for i in range(n):
        ata[i][i] += 1e-9 * len(rows)  # a whisper of ridge: a constant feature column still solves
    theta = solve(ata, aty)
    return [t / s for t, s in zip(theta, scale)]


def predict(coef, r):
    return max(1e-6, sum(c * v for c, v in zip(coef, x_of(r))))


def regime(r):
    if r["prefill_tokens"] == 0:
        s = r["sequences"]
        return "decode x1" if s == 1 else "decode x2-4" if s <= 4 else "decode x5-16" if s <= 16 else "decode x17+"
    p = r["prefill_tokens"]
    return "prefill <64 tok" if p < 64 else "prefill 64-191" if p < 192 else "prefill 192+"


def report(rows, predictors):
    names = list(predictors)
    order = ["decode x1", "decode x2-4", "decode x5-16", "decode x17+", "prefill <64 tok", "prefill 64-191",
             "prefill 192+", "all steps"]
    groups = {k: [] for k in order}
    for r in rows:
        groups[regime(r)].append(r)
        groups["all steps"].append(r)
    head = "| steps | n | measured s (sum) | " + " | ".join(f"{n} error" for n in names) + " |"
    lines = [head, "| --- " * (3 + len(names)) + "|"]
    for k in order:
        g = groups[k]
        if not g:
            continue
        meas = sum(r["seconds"] for r in g)
        cells = []
        for n in names:
            pred = sum(predictors[n](r) for r in g)
            cells.append(f"{(pred - meas) / meas * 100:+.1f}%")
        lines.append(f"| {k} | {len(g)} | {meas:.2f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fit", nargs="+", required=True, help="step traces to fit on")
    ap.add_argument("--eval", nargs="+", help="step traces to evaluate on (default: the --fit traces)")
    ap.add_argument("--out", help="write the fit as a cost model JSON file")
    args = ap.parse_args()
    fit_rows = load(args.fit)
    eval_rows = load(args.eval) if args.eval else fit_rows
    coef = fit(fit_rows)
    print(f"fit on {len(fit_rows)} steps: a={coef[0]:.4g} s, b={coef[1]:.4g} s/token, "
          f"c={coef[2]:.4g} s/seq, d={coef[3]:.4g} s/context token, e={coef[4]:.4g} s/prefill pair")
    predictors = {"this fit": lambda r: predict(coef, r)}
    if all("predicted" in r and r["predicted"] > 0 for r in eval_rows):
        predictors["coordinator's"] = lambda r: r["predicted"]
    print(f"evaluated on {len(eval_rows)} steps (error = predicted sum / measured sum - 1):")
    print(report(eval_rows, predictors))
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"a": coef[0], "b": coef[1], "c": coef[2], "d": coef[3], "e": coef[4],
                       "observations": len(fit_rows)}, f)
            f.write("\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
