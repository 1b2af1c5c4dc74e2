#!/usr/bin/env python3
"""The simulator against the real CPU cluster on the same workload.

1. calibrate: launch the cluster from a config with a fresh
   scheduler.cost_model_dir and run a mixed load through the HTTP API so the
   coordinator fits its step cost model from the workers' steps; stop it (the
   coordinator saves the fit).
2. measure: launch again (the coordinator loads the fit), replay a Poisson
   trace open-loop through the HTTP API (streaming /v1/completions, token-id
   prompts of the trace's lengths, max_tokens = the trace's output length,
   ignore_eos, greedy) and record each request's TTFT and E2E.
3. predict: `skipjoin simulate --trace` with the saved cost model as ground
   truth and the cluster's pools and scheduler settings.
4. compare mean TTFT and mean E2E; exit status 1 when either is off by more
   than --tolerance. Both runs trace their steps (scheduler.step_trace, in
   run-*/steps.jsonl); the report adds the cost model's error by step shape
   over the measured run (bench/sim/fit_steps.py does the same for any trace).

Only the Python standard library is used. Example (from the repository root,
after scripts/build.sh and scripts/fetch_model.sh):

    python3 bench/sim/validate_cluster.py --out bench/sim/validate
"""
import argparse
import http.client
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fit_steps  # noqa: E402  (same folder)

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import cluster_launch  # noqa: E402  (bench/)


class Cluster(cluster_launch.Cluster):
    """The validation cluster: the config with the run's scheduler settings and a step trace."""

    def __init__(self, args, run_dir):
        s = args.sched
        self.trace = os.path.join(run_dir, "steps.jsonl")
        super().__init__(args.bin, args.config, run_dir, [
            f"model.path={args.model}",
            f"replicas.count={args.replicas}", f"scheduler.policy={args.policy}",
            f"scheduler.token_budget={s['token_budget']}", f"scheduler.max_running={s['max_running']}",
            f"scheduler.mlfq.levels={s['levels']}", f"scheduler.mlfq.quantum_base_ms={s['q0'] * 1000}",
            f"scheduler.mlfq.quantum_ratio={s['ratio']}", f"scheduler.mlfq.starvation_ms={s['starvation'] * 1000}",
            f"scheduler.cost_model_dir={args.cost_dir}", f"kv.num_device_blocks={s['device_blocks']}",
            f"scheduler.step_trace={self.trace}",
        ])

    def start(self):
        if os.path.exists(self.trace):
            os.remove(self.trace)
        super().start()


def model_id(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/v1/models")
    models = json.loads(conn.getresponse().read())
    conn.close()
    return models["data"][0]["id"]


def stream_completion(port, model, prompt_ids, max_tokens, t_send):
    """POSTs one streaming completion; returns (ttft, e2e, tokens) in seconds from t_send."""
    body = json.dumps({"model": model, "prompt": prompt_ids, "max_tokens": max_tokens, "temperature": 0,
                       "ignore_eos": True, "stream": True, "stream_options": {"include_usage": True}})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request("POST", "/v1/completions", body=body, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    if resp.status != 200:
        raise RuntimeError(f"HTTP {resp.status}: {resp.read()[:300]!r}")
    ttft = None
    tokens = None
    for raw in resp:
        line = raw.decode("utf-8").strip()
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            break
        event = json.loads(data)
        if ttft is None and event.get("choices"):
            ttft = time.monotonic() - t_send
        if event.get("usage"):
            tokens = event["usage"]["completion_tokens"]
    e2e = time.monotonic() - t_send
    conn.close()
    return ttft, e2e, tokens


def make_trace(n, rate, prompt_range, output_range, seed):
    rng = random.Random(seed)
    t = 0.0
    trace = []
    for _ in range(n):
        t += rng.expovariate(rate)
        trace.append({"arrival": round(t, 6), "prompt_len": rng.randint(*prompt_range),
                      "output_len": rng.randint(*output_range)})
    return trace


def replay(port, trace, seed, label):
    """Open loop: each request is sent at its arrival time from its own thread."""
    rng = random.Random(seed + 1)
    prompts = [[rng.randint(300, 40000) for _ in range(r["prompt_len"])] for r in trace]
    results = [None] * len(trace)
    errors = []
    model = model_id(port)
    start = time.monotonic()

    def one(i):
        r = trace[i]
        delay = start + r["arrival"] - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        t_send = time.monotonic()
        try:
            results[i] = stream_completion(port, model, prompts[i], r["output_len"], t_send)
        except Exception as e:  # reported below; the run then fails
            errors.append(f"request {i}: {e}")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(trace))]
    for th in threads:
        th.start()
    done = 0
    while any(th.is_alive() for th in threads):
        finished = sum(1 for x in results if x is not None) + len(errors)
        if finished != done:
            done = finished
            sys.stderr.write(f"\r{label}: {done}/{len(trace)} requests done, {time.monotonic() - start:.0f} s")
            sys.stderr.flush()
        time.sleep(0.5)
    sys.stderr.write(f"\r{label}: {len(trace)}/{len(trace)} requests done, {time.monotonic() - start:.0f} s\n")
    if errors:
        raise SystemExit("requests failed:\n" + "\n".join(errors[:10]))
    for i, (ttft, _, tokens) in enumerate(results):
        if ttft is None or tokens != trace[i]["output_len"]:
            raise SystemExit(f"request {i}: got {tokens} tokens (ttft {ttft}), expected {trace[i]['output_len']}")
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build/client/skipjoin"), help="the skipjoin binary")
    ap.add_argument("--config", default=os.path.join(ROOT, "cluster_configs/local-cpu.yaml"))
    ap.add_argument("--model", default=None, help="model file (default: scripts/fetch_model.sh's)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench/sim/validate"), help="results folder")
    ap.add_argument("--replicas", type=int, default=1)
    ap.add_argument("--policy", default="mlfq", choices=["mlfq", "fcfs"])
    ap.add_argument("--num-requests", type=int, default=60)
    ap.add_argument("--rate", type=float, default=0.3, help="arrivals per second")
    ap.add_argument("--prompt-range", default="16,256", help="uniform prompt length range, tokens")
    ap.add_argument("--output-range", default="8,96", help="uniform output length range, tokens")
    ap.add_argument("--calibration-requests", type=int, default=48)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--tolerance", type=float, default=0.2)
    args = ap.parse_args()
    if args.model is None:
        out = subprocess.run([os.path.join(ROOT, "scripts/fetch_model.sh")], check=True, capture_output=True,
                             text=True).stdout.strip().splitlines()
        args.model = out[-1]
    args.sched = {"token_budget": 256, "max_running": 64, "levels": 6, "q0": 0.5, "ratio": 4,
                  "starvation": 200.0, "device_blocks": 2048}
    os.makedirs(args.out, exist_ok=True)
    args.cost_dir = os.path.join(args.out, "cost_models")
    shutil.rmtree(args.cost_dir, ignore_errors=True)
    pr = tuple(int(x) for x in args.prompt_range.split(","))
    orr = tuple(int(x) for x in args.output_range.split(","))

    # 1. Calibration: a trickle (requests mostly alone: small steps), a few
    # long prompts alone (one sequence with a long context: tells the
    # per-context-token term from the per-sequence one, which batches of
    # similar requests cannot), then a burst (large batches), so steps of many
    # shapes are seen and the fit's terms are told apart.
    cal = Cluster(args, os.path.join(args.out, "run-calibrate"))
    cal.start()
    try:
        n_long = args.calibration_requests // 8
        n_trickle = args.calibration_requests // 4
        trickle = make_trace(n_trickle, 0.2, pr, orr, args.seed + 100)
        long = make_trace(n_long, 0.1, (1024, 1536), (48, 64), args.seed + 300)
        burst = make_trace(args.calibration_requests - n_trickle - n_long, 4.0, pr, orr, args.seed + 200)
        t0 = trickle[-1]["arrival"] + 5 if trickle else 0
        for r in long:
            r["arrival"] += t0
        t0 = long[-1]["arrival"] + 10 if long else t0
        for r in burst:
            r["arrival"] += t0
        replay(cal.http_port, trickle + long + burst, args.seed + 100, "calibrate")
    finally:
        cal.stop()
    files = [f for f in os.listdir(args.cost_dir) if f.endswith(".json")] if os.path.isdir(args.cost_dir) else []
    if len(files) != 1:
        raise SystemExit(f"expected one saved cost model in {args.cost_dir}, found {files}")
    cost_file = os.path.join(args.cost_dir, files[0])
    with open(cost_file) as f:
        cost = json.load(f)
    print(f"fitted step cost model ({cost['observations']} steps, {files[0]}): a={cost['a']:.4g} s, "
          f"b={cost['b']:.4g} s/token, c={cost['c']:.4g} s/seq, d={cost['d']:.4g} s/context token, "
          f"e={cost.get('e', 0):.4g} s/prefill pair")
    shutil.copy(cost_file, os.path.join(args.out, "cost_model.json"))

    # 2. Measurement on the real cluster.
    trace = make_trace(args.num_requests, args.rate, pr, orr, args.seed)
    trace_path = os.path.join(args.out, "trace.jsonl")
    with open(trace_path, "w") as f:
        for r in trace:
            f.write(json.dumps(r) + "\n")
    run = Cluster(args, os.path.join(args.out, "run-measure"))
    run.start()
    try:
        measured = replay(run.http_port, trace, args.seed, "measure")
    finally:
        run.stop()

    # 3. Prediction.
    s = args.sched
    sim_json = os.path.join(args.out, "sim.json")
    sim_cmd = [args.bin, "simulate", "--model", "cpu135m", "--cost-model", os.path.join(args.out, "cost_model.json"),
               "--trace", trace_path, "--replicas", str(args.replicas), "--policy", args.policy,
               "--token-budget", str(s["token_budget"]), "--max-seqs", str(s["max_running"]),
               "--levels", str(s["levels"]), "--q0", str(s["q0"]), "--ratio", str(s["ratio"]),
               "--starvation", str(s["starvation"]), "--device-blocks", str(s["device_blocks"]),
               "--no-progress", "--json", sim_json]
    subprocess.run(sim_cmd, check=True, stdout=subprocess.DEVNULL)
    with open(sim_json) as f:
        sim = json.load(f)

    m_ttft = statistics.mean(r[0] for r in measured)
    m_e2e = statistics.mean(r[1] for r in measured)
    p_ttft = sim["ttft_seconds"]["mean"]
    p_e2e = sim["e2e_seconds"]["mean"]
    rows = [("mean TTFT s", m_ttft, p_ttft), ("mean E2E s", m_e2e, p_e2e),
            ("median TTFT s", statistics.median(r[0] for r in measured), sim["ttft_seconds"]["p50"]),
            ("median E2E s", statistics.median(r[1] for r in measured), sim["e2e_seconds"]["p50"])]
    lines = ["| metric | measured | simulated | error |", "| --- | --- | --- | --- |"]
    ok = True
    for name, m, p in rows:
        err = (p - m) / m if (p is not None and m > 0) else float("nan")
        if name.startswith("mean") and not abs(err) <= args.tolerance:
            ok = False
        lines.append(f"| {name} | {m:.3f} | {p:.3f} | {err * 100:+.1f}% |")
    # Where the simulator's ground truth (the saved fit) errs, by step shape,
    # against the steps the coordinator traced during the measured run.
    steps = fit_steps.load([os.path.join(args.out, "run-measure", "steps.jsonl")])
    coef = [cost["a"], cost["b"], cost["c"], cost["d"], cost.get("e", 0.0)]
    lines += ["", "Step times of the measured run against the simulator's cost model:", "",
              fit_steps.report(steps, {"cost model": lambda r: fit_steps.predict(coef, r)})]
    report = "\n".join(lines)
    print(report)
    result = {"measured": [{"ttft": r[0], "e2e": r[1]} for r in measured], "simulated": sim,
              "cost_model": cost, "sim_command": sim_cmd, "args": vars(args),
              "within_tolerance": ok}
    with open(os.path.join(args.out, "validate.json"), "w") as f:
        json.dump(result, f, indent=1, default=str)
    with open(os.path.join(args.out, "validate.md"), "w") as f:
        f.write(report + "\n")
    print(f"{'within' if ok else 'NOT within'} {args.tolerance * 100:.0f}% on the means; details in {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
