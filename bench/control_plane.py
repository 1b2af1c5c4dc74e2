#!/usr/bin/env python3
"""Host overhead per step: the time a replica's worker is not computing.

For each variant (a skipjoin binary and scheduler.steps_in_flight), in
alternating order per round: start `skipjoin coordinator` and one `skipjoin
worker` (one CPU replica, the default model, --threads cores) that dials the
coordinator through a TCP relay (bench/tcp_relay.py; --delay-ms one way, 0 for
loopback plus the relay hop), then for each stream count run `skipjoin bench
serve` (fixed prompts and outputs, ignore_eos, --max-concurrency streams) and
read the coordinator's step trace for the steps sent during that run:

  host overhead per step = (wall time from the first to the last step sent
                            - worker compute of those steps) / steps

i.e. everything that is not the worker's forward pass and sampling: the
coordinator's planning and encoding, both socket hops, the worker's plan
decoding and result encoding, and the worker's idle wait for the next plan.
The definition needs only the trace fields every version writes (t,
worker_compute), so an older binary (--before) is measured the same way.

Only the Python standard library is used. From the repository root, after
scripts/build.sh and scripts/fetch_model.sh:

    python3 bench/control_plane.py --out bench/control_plane/out \\
        [--before /path/to/older/skipjoin] [--delay-ms 0,2]
"""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tcp_relay import TcpRelay  # noqa: E402  (same folder)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Replica:
    """A coordinator and one CPU worker that dials it through the relay."""

    def __init__(self, binary, steps_in_flight, model, threads, run_dir, delay_s):
        os.makedirs(run_dir, exist_ok=True)
        self.dir = run_dir
        self.http = free_port()
        self.trace = os.path.join(run_dir, "steps.jsonl")
        worker_port = free_port()
        sched = f"cost_model_dir: {os.path.join(run_dir, 'cost')}, step_trace: {self.trace}"
        if steps_in_flight:
            sched += f", steps_in_flight: {steps_in_flight}"
        # A binary with CURVE keys (keygen) needs them and the worker --config.
        secure = subprocess.run([binary, "keygen", "--help"], capture_output=True).returncode == 0
        config = os.path.join(run_dir, "cluster.yaml")
        with open(config, "w") as f:
            f.write(f"""name: control-plane-bench
coordinator: {{node: local, http_port: {self.http}, client_port: {free_port()}, worker_port: {worker_port}}}
nodes:
  - name: local
    host: 127.0.0.1
    devices: [{{kind: cpu, index: 0, threads: {threads}}}]
model: {{path: {model}, name: m}}
replicas: {{count: 1, tp: 1}}
scheduler: {{token_budget: 256, max_running: 64, {sched}}}
kv: {{block_size: 16, num_device_blocks: 2048, host_swap_bytes: 0}}
metrics: {{coordinator_port: {free_port()}, worker_port_base: {free_port()}}}
""" + (f"security: {{keys_dir: {os.path.join(self.dir, 'keys')}}}\n" if secure else ""))
        self.log = open(os.path.join(run_dir, "log"), "w")
        if secure:  # the keys exist before either process reads them
            subprocess.run([binary, "keygen", config], check=True, stdout=self.log, stderr=subprocess.STDOUT)
        self.procs = [self._spawn([binary, "coordinator", "--config", config])]
        self.relay = TcpRelay(("127.0.0.1", worker_port), delay_s=delay_s).start()
        self.procs.append(self._spawn([binary, "worker"] + (["--config", config] if secure else []) + [
                                       "--coordinator", f"tcp://127.0.0.1:{self.relay.port}",
                                       "--node", "local", "--device", "cpu:0", "--threads", str(threads)]))
        deadline = time.time() + 300
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.http}/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except Exception:
                pass
            if any(p.poll() is not None for p in self.procs):
                break
            time.sleep(0.3)
        self.stop()
        raise SystemExit(f"replica not healthy; see {os.path.join(run_dir, 'log')}")

    def _spawn(self, args):
        return subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self):
        for p in self.procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        self.relay.stop()

    def steps_between(self, start, end):
        with open(self.trace) as f:
            steps = [json.loads(line) for line in f]
        return [s for s in steps if start <= s["t"] <= end]


def overhead(steps):
    """Host overhead and worker compute per step, seconds, over consecutive sent steps."""
    if len(steps) < 3:
        return None, None
    steps = sorted(steps, key=lambda s: s["t"])
    wall = steps[-1]["t"] - steps[0]["t"]
    compute = sum(s["worker_compute"] for s in steps[:-1])
    n = len(steps) - 1
    return (wall - compute) / n, compute / n


def run_bench(client, replica, streams, args, path):
    cmd = [client, "bench", "serve", "--base-url", f"http://127.0.0.1:{replica.http}", "--model", "m",
           "--dataset", "fixed", "--input-len", str(args.input_len), "--output-len", str(args.output_len),
           "--ignore-eos", "--num-prompts", str(max(args.min_requests, args.requests_per_stream * streams)),
           "--max-concurrency", str(streams), "--seed", "1", "--no-progress", "--json", path]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(path) as f:
        j = json.load(f)
    return {"completed": j["completed"], "failed": j["failed"], "out_tok_per_s": j["output_throughput"],
            "mean_tpot_ms": j["mean_tpot_ms"], "median_itl_ms": j["median_itl_ms"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--after", default=os.path.join(ROOT, "build", "client", "skipjoin"),
                    help="the skipjoin binary measured with steps_in_flight 1 and 2 (also the load client)")
    ap.add_argument("--before", default="", help="an older skipjoin binary, measured as it is configured")
    ap.add_argument("--model", default=os.environ.get("SKIPJOIN_MODEL_PATH", ""))
    ap.add_argument("--out", required=True)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--streams", default="1,8,32")
    ap.add_argument("--delay-ms", default="0", help="one-way link delays, comma-separated")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--input-len", type=int, default=120)
    ap.add_argument("--output-len", type=int, default=64)
    ap.add_argument("--requests-per-stream", type=int, default=2)
    ap.add_argument("--min-requests", type=int, default=4)
    args = ap.parse_args()
    if not args.model:
        raise SystemExit("--model or SKIPJOIN_MODEL_PATH is required (scripts/fetch_model.sh)")
    variants = [("after k=1", args.after, 1), ("after k=2", args.after, 2)]
    if args.before:
        variants.insert(0, ("before", args.before, 0))
    streams = [int(s) for s in args.streams.split(",")]
    delays = [float(d) / 1e3 for d in args.delay_ms.split(",")]
    shutil.rmtree(args.out, ignore_errors=True)
    os.makedirs(args.out)
    rows = []
    for rnd in range(args.rounds):
        order = variants if rnd % 2 == 0 else list(reversed(variants))
        for delay in delays:
            for name, binary, k in order:
                tag = f"r{rnd}-{name.replace(' ', '').replace('=', '')}-d{delay * 1e3:g}"
                replica = Replica(binary, k, args.model, args.threads, os.path.join(args.out, tag), delay)
                try:
                    run_bench(args.after, replica, 1, args, os.path.join(replica.dir, "warmup.json"))
                    for n in streams:
                        start = time.monotonic()
                        b = run_bench(args.after, replica, n, args, os.path.join(replica.dir, f"bench-{n}.json"))
                        host, compute = overhead(replica.steps_between(start, time.monotonic()))
                        row = {"round": rnd, "variant": name, "delay_ms": delay * 1e3, "streams": n,
                               "host_overhead_ms": host * 1e3, "worker_compute_ms": compute * 1e3, **b}
                        rows.append(row)
                        print(f"round {rnd} {name:10s} delay {delay * 1e3:g} ms, {n:2d} streams: host overhead "
                              f"{host * 1e3:6.2f} ms/step, compute {compute * 1e3:6.2f} ms/step, "
                              f"TPOT {b['mean_tpot_ms']:6.2f} ms, {b['out_tok_per_s']:6.1f} tok/s", flush=True)
                finally:
                    replica.stop()
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"command": " ".join(sys.argv), "rows": rows}, f, indent=1)
    lines = ["| delay (one way) | streams | variant | host overhead per step | worker compute per step "
             "| mean TPOT | output tok/s |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for delay in delays:
        for n in streams:
            for name, _, _ in variants:
                rs = [r for r in rows if r["variant"] == name and r["streams"] == n and r["delay_ms"] == delay * 1e3]
                med = {k: statistics.median(r[k] for r in rs) for k in
                       ("host_overhead_ms", "worker_compute_ms", "mean_tpot_ms", "out_tok_per_s")}
                lines.append(f"| {delay * 1e3:g} ms | {n} | {name} | {med['host_overhead_ms']:.2f} ms "
                             f"| {med['worker_compute_ms']:.2f} ms | {med['mean_tpot_ms']:.2f} ms "
                             f"| {med['out_tok_per_s']:.1f} |")
    table = "\n".join(lines)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(f"`{' '.join(sys.argv)}`\n\nMedians over {args.rounds} rounds.\n\n{table}\n")
    print(table)


if __name__ == "__main__":
    main()
