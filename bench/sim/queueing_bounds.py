#!/usr/bin/env python3
"""Mean response time of PS, LAS (FB) and SRPT in an M/G/1 queue for the
simulator's heavy-tailed output lengths, from the textbook formulas.

When a step's time grows in proportion to the sequences in it (a CPU replica:
the fitted per-step constant is small next to the per-sequence cost), a batch
that holds every runnable job is processor sharing (PS), which is what fcfs
with continuous batching becomes. LAS (least attained service first, the limit
of MLFQ with many small quanta) is the best a size-blind policy does for
decreasing-hazard sizes; SRPT (shortest remaining first) needs every job's
size in advance and is optimal for mean response time. The ratios bound what
reordering can buy over fcfs in that regime.

  python3 bench/sim/queueing_bounds.py [--load 0.8] [--sigma 1.1] [--mean 250]
"""
import argparse

import numpy as np


def bounds(sizes, load):
    es = sizes.mean()
    lam = load / es
    x = np.sort(sizes)
    n = len(x)
    i = np.arange(1, n + 1)
    cs, cs2 = np.cumsum(x), np.cumsum(x * x)
    # LAS: T(x) = lam*E[min(S,x)^2] / (2(1-rho_x)^2) + x/(1-rho_x), rho_x = lam*E[min(S,x)].
    m1 = (cs + x * (n - i)) / n
    m2 = (cs2 + x * x * (n - i)) / n
    rho_x = lam * m1
    las = (lam * m2 / (2 * (1 - rho_x) ** 2) + x / (1 - rho_x)).mean()
    # SRPT: waiting lam*(E[S^2; S<=x] + x^2 P(S>x)) / (2(1-rho(x))^2), rho(x) = lam*E[S; S<=x],
    # plus residence integral_0^x dt / (1 - rho(t)).
    rho_le = lam * cs / n
    wait = lam * (cs2 / n + x * x * (n - i) / n) / (2 * (1 - rho_le) ** 2)
    prev = np.concatenate([[0.0], x[:-1]])
    rho_prev = np.concatenate([[0.0], rho_le[:-1]])
    srpt = (wait + np.cumsum((x - prev) / (1 - rho_prev))).mean()
    ps = es / (1 - load)
    return ps, las, srpt


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--load", type=float, default=0.8)
    ap.add_argument("--mean", type=float, default=250.0, help="mean output tokens before clamping")
    ap.add_argument("--sigma", type=float, default=1.1, help="lognormal sigma of the output length")
    ap.add_argument("--max", type=float, default=2048.0, help="clamp")
    ap.add_argument("--samples", type=int, default=400000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    mu = np.log(args.mean) - args.sigma ** 2 / 2
    sizes = np.clip(rng.lognormal(mu, args.sigma, args.samples), 1, args.max)
    ps, las, srpt = bounds(sizes, args.load)
    print(f"output ~ LogNormal(mean {args.mean:g}, sigma {args.sigma:g}) clamped to [1, {args.max:g}], "
          f"load {args.load:g}: mean size {sizes.mean():.1f}, CV^2 {sizes.var() / sizes.mean() ** 2:.2f}")
    print(f"mean response (in tokens of service): PS {ps:.0f}, LAS {las:.0f} ({las / ps:.2f} x PS), "
          f"SRPT {srpt:.0f} ({srpt / ps:.2f} x PS)")


if __name__ == "__main__":
    main()
