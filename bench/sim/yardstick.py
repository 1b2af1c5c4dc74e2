#!/usr/bin/env python3
"""The scheduler yardstick: mlfq against fcfs on the simulator, over a grid.

Scenarios (gpu7b cost model, 7B-class model on one A100-80GB):
  nobind        256 sequences, 7000 device blocks: nothing binds
  seq16         16 sequences per step: slots bind
  seq16-kv400   16 sequences and 400 device blocks: slots and KV bind
                (FastServe's artifact setting)
  kv600         600 device blocks: KV binds
x output mixes {pareto (alpha 1.3, mean 250), bimodal (90% 1..64, 10% 512..2048)}
x arrivals {poisson, gamma CV 4} x load 0.5..1.1, where load is a fraction of
fcfs's *measured* saturated throughput (`skipjoin_simulate --capacity-only`:
20,000 requests of the same mix queued at once, completions counted between the
25th and 65th percentile). Prompts: the sharegpt-shaped log-normal (mean 200).

Per point: mean JCT, p50/p99 TTFT, p99/p99.9/max ITL, throughput, goodput
(TTFT <= 2 s and mean TPOT <= 100 ms; and the per-token version: TTFT <= 2 s and
every gap <= 100 ms), preemptions, swapped bytes. Then the capacity at SLO per
scenario, mix and policy: the highest Poisson rate at which the run is stable
(throughput >= 95% of the rate) with p99 TTFT <= 2 s, p99 TBT <= 100 ms and mean
JCT <= 3x the run-alone bound (bisection, 8 steps).

Writes results.json (every command), results.md (tables, the targets checked)
and yardstick.png into --out.

  python3 bench/sim/yardstick.py --bin build/coordinator/scheduler/skipjoin_simulate --out bench/sim/yardstick
"""
import argparse
import concurrent.futures as futures
import json
import os
import subprocess
import sys

SCENARIOS = {
    "nobind": [],
    "seq16": ["--max-seqs", "16"],
    "seq16-kv400": ["--max-seqs", "16", "--device-blocks", "400"],
    "kv600": ["--device-blocks", "600"],
}
MIXES = {
    "pareto": ["--output-dist", "pareto", "--output-alpha", "1.3", "--output-mean", "250"],
    "bimodal": ["--output-dist", "bimodal"],
}
ARRIVALS = {
    "poisson": [],
    "gamma4": ["--arrival", "gamma", "--cv", "4"],
}
LOADS = [0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1]
POLICIES = ["mlfq", "fcfs"]
SLO = {"ttft": 2.0, "tbt": 0.1, "jct_over_bound": 3.0}


def base_cmd(binary, scenario, mix):
    return [binary, "--model", "gpu7b", *SCENARIOS[scenario], *MIXES[mix]]


def capacity(binary, scenario, mix):
    out = subprocess.run(base_cmd(binary, scenario, mix) + ["--capacity-only"], check=True,
                         capture_output=True, text=True).stdout
    return float(out.strip().splitlines()[-1])


EXTRA_MLFQ = []  # --mlfq-flags: appended to every mlfq run (to try other settings)


def run_point(binary, outdir, scenario, mix, arrival, policy, rate, n, seed, tag):
    path = os.path.join(outdir, "runs", f"{scenario}-{mix}-{arrival}-{policy}-{tag}.json")
    extra = EXTRA_MLFQ if policy == "mlfq" else []
    cmd = base_cmd(binary, scenario, mix) + ARRIVALS[arrival] + extra + [
        "--policy", policy, "--rate", f"{rate:.6f}", "--num-requests", str(n), "--seed", str(seed),
        "--no-progress", "--json", path]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    with open(path) as f:
        r = json.load(f)
    r.update(scenario=scenario, mix=mix, arrival=arrival, command=" ".join(cmd))
    return r


def meets_slo(r):
    stable = r["throughput_rps"] >= 0.95 * r["rate_rps"]
    return (stable and r["ttft_seconds"]["p99"] <= SLO["ttft"] and r["itl_seconds"]["p99"] <= SLO["tbt"]
            and r["jct_seconds"]["mean"] <= SLO["jct_over_bound"] * r["jct_lower_bound_mean_seconds"])


def capacity_at_slo(binary, outdir, scenario, mix, policy, cap, n, seed):
    lo, hi = 0.0, 1.3 * cap
    best = None
    for i in range(8):
        mid = (lo + hi) / 2
        r = run_point(binary, outdir, scenario, mix, "poisson", policy, mid, n, seed, f"slo{i}")
        if meets_slo(r):
            lo, best = mid, r
        else:
            hi = mid
    return lo, best


def ratio(a, b):
    return a / b if b > 0 else float("inf")


def grid_table(points):
    lines = ["| scenario | mix | arrivals | load | policy | mean JCT s | p50 TTFT s | p99 TTFT s | p99 ITL s | "
             "p99.9 ITL s | max ITL s | req/s | goodput req/s | goodput (per-token) | preempt slot/swap/recomp | "
             "swapped GiB |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in points:
        p, i = r["preemptions"], r["itl_seconds"]
        lines.append(
            f"| {r['scenario']} | {r['mix']} | {r['arrival']} | {r['load']:.1f} | {r['policy']} | "
            f"{r['jct_seconds']['mean']:.2f} | {r['ttft_seconds']['p50']:.3f} | {r['ttft_seconds']['p99']:.2f} | "
            f"{i['p99']:.3f} | {i['p999']:.2f} | {i['max']:.2f} | {r['throughput_rps']:.3f} | "
            f"{r['goodput_rps']:.3f} | {r['goodput_itl_rps']:.3f} | {p['slot']}/{p['swap']}/{p['recompute']} | "
            f"{r['swapped_bytes'] / 2**30:.0f} |")
    return "\n".join(lines) + "\n"


def ratio_table(points):
    """mlfq / fcfs per point, with the targets that apply marked."""
    by = {(r["scenario"], r["mix"], r["arrival"], r["load"], r["policy"]): r for r in points}
    lines = ["| scenario | mix | arrivals | load | thr mlfq/fcfs | mean JCT mlfq/fcfs | p99 TTFT mlfq/fcfs | "
             "max ITL mlfq s | max ITL fcfs s | no-metastability (thr >= 0.98, JCT <= 1.05) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    verdict = {"metastability_ok": 0, "metastability_total": 0}
    for (sc, mix, arr, load, pol), m in sorted(by.items()):
        if pol != "mlfq":
            continue
        f = by[(sc, mix, arr, load, "fcfs")]
        thr = ratio(m["throughput_rps"], f["throughput_rps"])
        jct = ratio(m["jct_seconds"]["mean"], f["jct_seconds"]["mean"])
        ttft = ratio(m["ttft_seconds"]["p99"], f["ttft_seconds"]["p99"])
        ok = thr >= 0.98 and jct <= 1.05
        verdict["metastability_total"] += 1
        verdict["metastability_ok"] += ok
        lines.append(f"| {sc} | {mix} | {arr} | {load:.1f} | {thr:.3f} | {jct:.2f} | {ttft:.3f} | "
                     f"{m['itl_seconds']['max']:.2f} | {f['itl_seconds']['max']:.2f} | {'yes' if ok else '**no**'} |")
    return "\n".join(lines) + "\n", verdict


def targets(points, slo_caps):
    by = {(r["scenario"], r["mix"], r["arrival"], r["load"], r["policy"]): r for r in points}
    out = []

    def pair(sc, mix, arr, load):
        return by.get((sc, mix, arr, load, "mlfq")), by.get((sc, mix, arr, load, "fcfs"))

    for sc in ("seq16", "seq16-kv400"):
        for mix in MIXES:
            m, f = pair(sc, mix, "gamma4", 0.8)
            if m and f:
                out.append(f"- Bursts, {sc}, {mix}, gamma CV 4, load 0.8: p99 TTFT "
                           f"{ratio(m['ttft_seconds']['p99'], f['ttft_seconds']['p99']):.3f}x fcfs (target <= 0.05), "
                           f"max ITL {m['itl_seconds']['max']:.2f} s (target <= 2), mean JCT "
                           f"{ratio(m['jct_seconds']['mean'], f['jct_seconds']['mean']):.2f}x fcfs (target <= 0.5)")
    m, f = pair("seq16-kv400", "pareto", "poisson", 0.9)
    if m and f:
        out.append(f"- FastServe regime (seq16-kv400, pareto, poisson, 0.9): mean JCT "
                   f"{ratio(m['jct_seconds']['mean'], f['jct_seconds']['mean']):.2f}x fcfs (target <= 0.4)")
    for mix in MIXES:
        c = slo_caps.get(("seq16-kv400", mix))
        if c:
            out.append(f"- Capacity at SLO, seq16-kv400, {mix}: mlfq {c['mlfq']:.3f} req/s, fcfs {c['fcfs']:.3f} "
                       f"req/s = {ratio(c['mlfq'], c['fcfs']):.2f}x (target >= 1.8)")
    worst_jct, worst_ttft = 0.0, 0.0
    for mix in MIXES:
        for arr in ARRIVALS:
            for load in LOADS:
                m, f = pair("nobind", mix, arr, load)
                if m and f:
                    worst_jct = max(worst_jct, ratio(m["jct_seconds"]["mean"], f["jct_seconds"]["mean"]))
                    worst_ttft = max(worst_ttft, ratio(m["ttft_seconds"]["p99"], f["ttft_seconds"]["p99"]))
    out.append(f"- Nothing binding, worst over the grid: mean JCT {worst_jct:.3f}x fcfs (target <= 1.02), "
               f"p99 TTFT {worst_ttft:.3f}x fcfs (target <= 1.0)")
    return "\n".join(out) + "\n"


def plot(points, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = [(sc, mix) for sc in SCENARIOS for mix in MIXES]
    fig, axes = plt.subplots(len(rows), 3, figsize=(13, 2.4 * len(rows)), squeeze=False)
    for i, (sc, mix) in enumerate(rows):
        for arr, style in (("poisson", "-"), ("gamma4", "--")):
            for pol, color in (("mlfq", "tab:blue"), ("fcfs", "tab:red")):
                pts = sorted((r for r in points if r["scenario"] == sc and r["mix"] == mix and r["arrival"] == arr
                              and r["policy"] == pol), key=lambda r: r["load"])
                if not pts:
                    continue
                x = [r["load"] for r in pts]
                label = f"{pol} {arr}"
                axes[i][0].plot(x, [r["jct_seconds"]["mean"] for r in pts], style, color=color, label=label)
                axes[i][1].plot(x, [r["ttft_seconds"]["p99"] for r in pts], style, color=color, label=label)
                axes[i][2].plot(x, [r["itl_seconds"]["max"] for r in pts], style, color=color, label=label)
        for j, title in enumerate(("mean JCT (s)", "p99 TTFT (s)", "max ITL (s)")):
            ax = axes[i][j]
            ax.set_yscale("log")
            ax.set_title(f"{sc} / {mix}: {title}", fontsize=9)
            ax.grid(True, alpha=0.3)
            if i == len(rows) - 1:
                ax.set_xlabel("load (fraction of fcfs saturated throughput)")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True, help="skipjoin_simulate binary")
    ap.add_argument("--out", required=True)
    ap.add_argument("--requests", type=int, default=4000, help="requests per grid point (default 4000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--no-slo", action="store_true", help="skip the capacity-at-SLO bisection")
    ap.add_argument("--mlfq-flags", default="", help="extra skipjoin_simulate flags for the mlfq runs")
    args = ap.parse_args()
    EXTRA_MLFQ.extend(args.mlfq_flags.split())
    os.makedirs(os.path.join(args.out, "runs"), exist_ok=True)

    caps = {}
    for sc in SCENARIOS:
        for mix in MIXES:
            caps[(sc, mix)] = capacity(args.bin, sc, mix)
            print(f"saturated fcfs throughput {sc}/{mix}: {caps[(sc, mix)]:.4f} req/s", file=sys.stderr)

    jobs = []
    with futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for sc in SCENARIOS:
            for mix in MIXES:
                for arr in ARRIVALS:
                    for load in LOADS:
                        for pol in POLICIES:
                            jobs.append((load, pool.submit(run_point, args.bin, args.out, sc, mix, arr, pol,
                                                           load * caps[(sc, mix)], args.requests, args.seed,
                                                           f"{load:.1f}")))
        points = []
        for k, (load, job) in enumerate(jobs):
            r = job.result()
            r["load"] = load
            points.append(r)
            print(f"\r{k + 1}/{len(jobs)} grid points", end="", file=sys.stderr)
        print(file=sys.stderr)
        slo_caps = {}
        if not args.no_slo:
            slo_jobs = {(sc, mix, pol): pool.submit(capacity_at_slo, args.bin, args.out, sc, mix, pol, caps[(sc, mix)],
                                                    args.requests, args.seed)
                        for sc in SCENARIOS for mix in MIXES for pol in POLICIES}
            for (sc, mix, pol), job in slo_jobs.items():
                slo_caps.setdefault((sc, mix), {})[pol] = job.result()[0]

    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"capacity_rps": {f"{k[0]}/{k[1]}": v for k, v in caps.items()},
                   "capacity_at_slo_rps": {f"{k[0]}/{k[1]}": v for k, v in slo_caps.items()},
                   "slo": SLO, "points": points}, f, indent=1)
    ratios, verdict = ratio_table(points)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write("# Scheduler yardstick\n\nSaturated fcfs throughput (req/s):\n\n")
        f.write("| scenario | " + " | ".join(MIXES) + " |\n|---|" + "---|" * len(MIXES) + "\n")
        for sc in SCENARIOS:
            f.write(f"| {sc} | " + " | ".join(f"{caps[(sc, m)]:.4f}" for m in MIXES) + " |\n")
        if slo_caps:
            f.write("\nCapacity at SLO (Poisson; p99 TTFT <= 2 s, p99 TBT <= 100 ms, mean JCT <= 3x run-alone), "
                    "req/s:\n\n| scenario | mix | mlfq | fcfs | mlfq/fcfs |\n|---|---|---|---|---|\n")
            for (sc, mix), c in slo_caps.items():
                f.write(f"| {sc} | {mix} | {c['mlfq']:.3f} | {c['fcfs']:.3f} | {ratio(c['mlfq'], c['fcfs']):.2f} |\n")
        f.write(f"\n## Targets\n\n- No metastability: {verdict['metastability_ok']} of "
                f"{verdict['metastability_total']} points have throughput >= 0.98x and mean JCT <= 1.05x fcfs\n")
        f.write(targets(points, slo_caps))
        f.write("\n## mlfq / fcfs per point\n\n" + ratios + "\n## Every point\n\n" + grid_table(points))
    try:
        plot(points, os.path.join(args.out, "yardstick.png"))
    except ImportError:
        print("matplotlib not installed (pip install matplotlib): no yardstick.png", file=sys.stderr)
    print(open(os.path.join(args.out, "results.md")).read().split("## mlfq / fcfs")[0])


if __name__ == "__main__":
    main()
