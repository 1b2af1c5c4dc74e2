#!/usr/bin/env python3
"""Sweeps the scheduler simulator over load and policy and plots the result.

Runs `skipjoin_simulate` for every (scenario, policy, load) and writes
results.json, a Markdown table (results.md) and a PNG plot (sched_sweep.png)
into --out. Every run's exact command line is recorded in results.json.

  python3 bench/sim/sweep.py --bin build-sched/coordinator/scheduler/skipjoin_simulate --out bench/sim/out
"""
import argparse
import json
import os
import subprocess
import sys

SCENARIOS = {
    # name: (extra flags, requests)
    "gpu7b": (["--model", "gpu7b"], 10000),
    "gpu7b-seq32": (["--model", "gpu7b", "--max-seqs", "32"], 10000),
    # The same model on a 24 GB card: ~16k tokens of KV (1000 blocks), so memory binds.
    "gpu7b-24g": (["--model", "gpu7b", "--device-blocks", "1000"], 10000),
    "cpu135m": (["--model", "cpu135m"], 3000),
}
LOADS = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95]
# srpt-oracle knows every output length: the best any size-based order could do.
POLICIES = ["mlfq", "fcfs", "srpt-oracle"]


def run(binary, scenario, policy, load, outdir, seed):
    flags, n = SCENARIOS[scenario]
    path = os.path.join(outdir, f"{scenario}-{policy}-{load:.2f}.json")
    cmd = [binary, *flags, "--policy", policy, "--load", str(load), "--num-requests", str(n),
           "--seed", str(seed), "--no-progress", "--json", path]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(path) as f:
        r = json.load(f)
    r["scenario"] = scenario
    r["command"] = " ".join(cmd)
    return r


def table(results):
    lines = ["| scenario | load | policy | mean JCT s | run-alone bound s | p99 JCT s | p99 TTFT s | p99 TBT s | goodput req/s | SLO % | preempt swap/recomp | swapped GiB |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        p = r["preemptions"]
        lines.append(
            f"| {r['scenario']} | {r['load']:.2f} | {r['policy']} | {r['jct_seconds']['mean']:.2f} | "
            f"{r['jct_lower_bound_mean_seconds']:.2f} | "
            f"{r['jct_seconds']['p99']:.1f} | {r['ttft_seconds']['p99']:.3f} | {r['itl_seconds']['p99']:.3f} | "
            f"{r['goodput_rps']:.3f} | {100 * r['slo_attainment']:.1f} | {p['swap']}/{p['recompute']} | "
            f"{r['swapped_bytes'] / 2**30:.1f} |")
    return "\n".join(lines) + "\n"


def target_table(results):
    """mlfq and srpt-oracle against fcfs at 80% load: the project target is
    mean JCT ratio <= 0.5 and p99 TTFT ratio <= 0.33."""
    lines = ["| scenario (80% load) | policy | mean JCT / fcfs | p99 TTFT / fcfs | p99 TBT s | fcfs mean JCT / run-alone bound |",
             "|---|---|---|---|---|---|"]
    for sc in SCENARIOS:
        by = {r["policy"]: r for r in results if r["scenario"] == sc and abs(r["load"] - 0.8) < 1e-9}
        if "fcfs" not in by:
            continue
        f = by["fcfs"]
        for pol in ("mlfq", "srpt-oracle"):
            if pol in by:
                r = by[pol]
                lines.append(f"| {sc} | {pol} | {r['jct_seconds']['mean'] / f['jct_seconds']['mean']:.2f} | "
                             f"{r['ttft_seconds']['p99'] / f['ttft_seconds']['p99']:.2f} | {r['itl_seconds']['p99']:.3f} | "
                             f"{f['jct_seconds']['mean'] / f['jct_lower_bound_mean_seconds']:.2f} |")
    return "\n".join(lines) + "\n"


def plot(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    scenarios = list(SCENARIOS)
    metrics = [("jct_seconds", "mean", "mean JCT (s)"), ("jct_seconds", "p99", "p99 JCT (s)"),
               ("ttft_seconds", "p99", "p99 TTFT (s)"), ("itl_seconds", "p99", "p99 TBT (s)")]
    fig, axes = plt.subplots(len(scenarios), len(metrics), figsize=(16, 3.6 * len(scenarios)), squeeze=False)
    for i, sc in enumerate(scenarios):
        for j, (key, stat, label) in enumerate(metrics):
            ax = axes[i][j]
            for pol, style in (("mlfq", "o-"), ("fcfs", "s--"), ("srpt-oracle", "^:")):
                pts = sorted((r["load"], r[key][stat]) for r in results if r["scenario"] == sc and r["policy"] == pol)
                if pts:
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=pol)
            if (key, stat) == ("jct_seconds", "mean"):
                pts = sorted((r["load"], r["jct_lower_bound_mean_seconds"]) for r in results
                             if r["scenario"] == sc and r["policy"] == "fcfs")
                if pts:
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], "k-", alpha=0.4, label="run-alone bound")
            ax.set_title(f"{sc}: {label}", fontsize=9)
            ax.set_xlabel("load (fraction of capacity)", fontsize=8)
            ax.set_yscale("log")
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default="build-sched/coordinator/scheduler/skipjoin_simulate")
    ap.add_argument("--out", default="bench/sim/out")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    results = []
    for sc in args.scenarios.split(","):
        for load in LOADS:
            for pol in POLICIES:
                results.append(run(args.bin, sc, pol, load, args.out, args.seed))
                print(f"{sc} {pol} {load:.2f}", file=sys.stderr)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    md = table(results) + "\n" + target_table(results)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(md)
    print(md)
    try:
        plot(results, os.path.join(args.out, "sched_sweep.png"))
    except ImportError:
        print("matplotlib missing: no plot (pip install matplotlib)", file=sys.stderr)


if __name__ == "__main__":
    main()
