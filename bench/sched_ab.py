#!/usr/bin/env python3
"""mlfq against fcfs on the real CPU cluster, and what the simulator predicts.

For each round, in alternating order (mlfq, fcfs; then fcfs, mlfq; ...):
launch `cluster_configs/local-cpu-bound.yaml` (one CPU replica where 8 slots
and a 48-block KV pool bind) with scheduler.policy set, run the same seeded
`skipjoin bench serve` load against it (bursty: gamma arrivals with CV 4,
heavy-tailed pareto outputs, ignore_eos, token-id prompts), stop it. Every
run keeps its bench JSON and cluster logs under --out.

Then the simulator replays the first run's exact trace (send times, prompt and
output lengths) on the same pools and scheduler settings, with the step cost
model the coordinator fitted during the runs as ground truth.

Only the Python standard library is used. From the repository root, after
scripts/build.sh and scripts/fetch_model.sh:

    python3 bench/sched_ab.py --out bench/sched_ab/out
"""
import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster_launch  # noqa: E402  (same folder)

# Settings of cluster_configs/local-cpu-bound.yaml that the simulator needs.
# Host blocks: 256 MiB / (30 layers x 2 x 3 KV heads x 64 x 4 bytes x 16 tokens).
SIM = ["--model", "cpu135m", "--max-seqs", "8", "--token-budget", "128", "--device-blocks", "48",
       "--host-blocks", "364", "--block-size", "16", "--q0", "0.5", "--starvation", "60", "--max-stall", "5"]


def bench_cmd(args, port, path):
    return [args.bin, "bench", "serve", "--base-url", f"http://127.0.0.1:{port}", "--num-prompts",
            str(args.num_prompts), "--request-rate", str(args.rate), "--burstiness", str(args.burstiness),
            "--seed", str(args.seed), "--dataset", "pareto", "--input-len", "96", "--range-ratio", "0.5",
            "--output-len", "48", "--max-output-len", "256", "--ignore-eos", "--timeout", "900",
            "--no-progress", "--json", path]


def summarize_bench(path):
    with open(path) as f:
        j = json.load(f)
    ok = [r for r in j["requests"] if r["success"]]
    itl = [g for r in ok for g in r["itl_ms"]]
    return {
        "completed": j["completed"], "failed": j["failed"], "duration_s": j["duration"],
        "req_per_s": j["request_throughput"], "out_tok_per_s": j["output_throughput"],
        "mean_ttft_s": j["mean_ttft_ms"] / 1e3, "p50_ttft_s": j["median_ttft_ms"] / 1e3,
        "p99_ttft_s": j["p99_ttft_ms"] / 1e3, "mean_tpot_s": j["mean_tpot_ms"] / 1e3,
        "p99_itl_s": j["p99_itl_ms"] / 1e3, "max_itl_s": (max(itl) / 1e3) if itl else 0.0,
        "mean_e2e_s": j["mean_e2el_ms"] / 1e3,
    }


def summarize_sim(path):
    with open(path) as f:
        r = json.load(f)
    return {
        "completed": r["completed"], "failed": r["rejected"], "duration_s": r["makespan_seconds"],
        "req_per_s": r["throughput_rps"], "out_tok_per_s": r["output_tokens_per_second"],
        "mean_ttft_s": r["ttft_seconds"]["mean"], "p50_ttft_s": r["ttft_seconds"]["p50"],
        "p99_ttft_s": r["ttft_seconds"]["p99"], "mean_tpot_s": r["tpot_seconds"]["mean"],
        "p99_itl_s": r["itl_seconds"]["p99"], "max_itl_s": r["itl_seconds"]["max"],
        "mean_e2e_s": r["e2e_seconds"]["mean"],
    }


COLUMNS = [("req/s", "req_per_s", "{:.3f}"), ("out tok/s", "out_tok_per_s", "{:.1f}"),
           ("mean TTFT s", "mean_ttft_s", "{:.2f}"), ("p50 TTFT s", "p50_ttft_s", "{:.2f}"),
           ("p99 TTFT s", "p99_ttft_s", "{:.2f}"), ("mean TPOT s", "mean_tpot_s", "{:.3f}"),
           ("p99 ITL s", "p99_itl_s", "{:.2f}"), ("max ITL s", "max_itl_s", "{:.2f}"),
           ("mean E2E s", "mean_e2e_s", "{:.2f}")]


def table(rows):
    out = ["| run | " + " | ".join(c[0] for c in COLUMNS) + " |", "|---|" + "---|" * len(COLUMNS)]
    for name, s in rows:
        out.append(f"| {name} | " + " | ".join(fmt.format(s[key]) for _, key, fmt in COLUMNS) + " |")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build/client/skipjoin"))
    ap.add_argument("--sim", default=os.path.join(ROOT, "build/coordinator/scheduler/skipjoin_simulate"))
    ap.add_argument("--config", default=os.path.join(ROOT, "cluster_configs/local-cpu-bound.yaml"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--num-prompts", type=int, default=80)
    ap.add_argument("--rate", type=float, default=0.7, help="mean requests/s (default 0.7, ~75%% of capacity)")
    ap.add_argument("--burstiness", type=float, default=0.0625, help="gamma shape (0.0625: CV 4)")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    cost_dir = os.path.join(args.out, "cost")
    shutil.rmtree(cost_dir, ignore_errors=True)

    results = []
    for rnd in range(args.rounds):
        order = ["mlfq", "fcfs"] if rnd % 2 == 0 else ["fcfs", "mlfq"]
        for policy in order:
            name = f"r{rnd + 1}-{policy}"
            run_dir = os.path.join(args.out, name)
            shutil.rmtree(run_dir, ignore_errors=True)
            cluster = cluster_launch.Cluster(args.bin, args.config, run_dir,
                                             [f"scheduler.policy={policy}", f"scheduler.cost_model_dir={cost_dir}"])
            cluster.start()
            path = os.path.join(args.out, f"{name}.json")
            try:
                cmd = bench_cmd(args, cluster.http_port, path)
                print(f"{name}: {' '.join(cmd)}", file=sys.stderr)
                subprocess.run(cmd, check=True, stdout=open(os.path.join(run_dir, "bench.out"), "w"))
            finally:
                cluster.stop()
            results.append((name, policy, summarize_bench(path)))
            print(f"{name}: {results[-1][2]}", file=sys.stderr)

    # The simulator on the first run's trace, with the fitted cost model as ground truth.
    with open(os.path.join(args.out, f"{results[0][0]}.json")) as f:
        first = json.load(f)
    trace = os.path.join(args.out, "trace.jsonl")
    with open(trace, "w") as f:
        for r in first["requests"]:
            f.write(json.dumps({"arrival": r["start_s"], "prompt_len": r["input_len"],
                                "output_len": r["output_len_asked"]}) + "\n")
    fits = glob.glob(os.path.join(cost_dir, "*.json"))
    sim_rows = []
    for policy in ("mlfq", "fcfs"):
        out = os.path.join(args.out, f"sim-{policy}.json")
        cmd = [args.sim, *SIM, "--policy", policy, "--trace", trace, "--no-progress", "--json", out]
        if fits:
            cmd += ["--cost-model", fits[0]]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        sim_rows.append((f"simulated {policy}", summarize_sim(out)))

    rows = [(name, s) for name, _, s in results]
    mean = {}
    for policy in ("mlfq", "fcfs"):
        runs = [s for _, p, s in results if p == policy]
        mean[policy] = {k: statistics.mean(s[k] for s in runs) for k in runs[0]}
    ratio = {k: (mean["mlfq"][k] / mean["fcfs"][k] if mean["fcfs"][k] else float("nan")) for k in mean["mlfq"]}
    report = ["# Real CPU cluster: mlfq vs fcfs (bench/sched_ab.py)", "",
              f"Config {os.path.relpath(args.config, ROOT)}; {args.num_prompts} prompts at {args.rate} req/s, "
              f"burstiness {args.burstiness} (gamma), seed {args.seed}; {args.rounds} interleaved rounds.", "",
              "Load: `" + " ".join(bench_cmd(args, "PORT", "OUT.json")) + "`", "",
              table(rows + [("mean mlfq", mean["mlfq"]), ("mean fcfs", mean["fcfs"]), ("mlfq / fcfs", ratio)]
                    + sim_rows), "",
              "Simulator: `" + " ".join([os.path.relpath(args.sim, ROOT), *SIM, "--trace", "trace.jsonl",
                                         "--cost-model", "cost/<fit>.json", "--policy", "P"]) + "`", ""]
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write("\n".join(report))
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"runs": [{"name": n, "policy": p, **s} for n, p, s in results],
                   "simulated": {n: s for n, s in sim_rows}}, f, indent=1)
    print("\n".join(report))


if __name__ == "__main__":
    main()
