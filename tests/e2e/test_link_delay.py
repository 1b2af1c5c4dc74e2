"""Delay on the coordinator-worker link, with one and with two steps in flight.

A real coordinator and one real CPU worker (the default model) talk through a
TCP relay that adds a one-way delay to every byte (bench/tcp_relay.py; no
netem here). One greedy stream at a time. At one stream a token costs the
worker's step plus the time the worker sits idle waiting for the next plan;
the delay can only change the latter, which the worker measures itself
(StepTimings.idle_seconds, in the coordinator's step trace). With
scheduler.steps_in_flight=1 the idle wait is the whole round trip and must
grow by at least one one-way delay (which shows the relay really delays);
with 2 the next plan is already queued when a step ends, so a round trip
shorter than a step disappears: the idle wait may grow by at most 5% of the
step time (the control plane's target). The delay is switched between 0 and
DELAY on the same connections, alternately, so both sides of each comparison
share the cluster, the relay hop and the machine's state. The client's
per-token latency is printed too; on a shared 2-core machine it varies from
request to request by more than the effect, so it is not what is checked.

Exits 77 (skipped) when the model is missing. Measurements go to stdout.

usage: test_link_delay.py SKIPJOIN_BINARY SOURCE_DIR
"""
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

SKIP = 77
BIN = sys.argv[1] if len(sys.argv) > 1 else "skipjoin"
SRC = sys.argv[2] if len(sys.argv) > 2 else "."
MODEL = os.environ.get("SKIPJOIN_MODEL_PATH", "")
DELAY_S = 0.002  # each way
ROUNDS = 4
TOKENS = 64

sys.path.insert(0, os.path.join(SRC, "bench"))
from tcp_relay import TcpRelay  # noqa: E402
from cluster_launch import free_port  # noqa: E402


class Cluster:
    """`skipjoin coordinator` plus one `skipjoin worker` that dials it through the relay."""

    def __init__(self, steps_in_flight, workdir):
        self.dir = os.path.join(workdir, f"k{steps_in_flight}")
        os.makedirs(self.dir)
        self.http = free_port()
        self.trace = os.path.join(self.dir, "steps.jsonl")
        worker_port = free_port()
        config = os.path.join(self.dir, "cluster.yaml")
        with open(config, "w") as f:
            f.write(f"""name: link-delay
coordinator: {{node: local, http_port: {self.http}, client_port: {free_port()}, worker_port: {worker_port}}}
nodes:
  - name: local
    host: 127.0.0.1
    devices: [{{kind: cpu, index: 0, threads: 1}}]
model: {{path: {MODEL}, name: m}}
replicas: {{count: 1, tp: 1}}
scheduler: {{steps_in_flight: {steps_in_flight}, cost_model_dir: {os.path.join(self.dir, 'cost')}, step_trace: {self.trace}}}
kv: {{block_size: 16, num_device_blocks: 256, host_swap_bytes: 0}}
metrics: {{coordinator_port: {free_port()}, worker_port_base: {free_port()}}}
security: {{keys_dir: {os.path.join(self.dir, 'keys')}}}
""")
        self.log = open(os.path.join(self.dir, "log"), "w")
        # The keys exist before either process reads them.
        subprocess.run([BIN, "keygen", config], check=True, stdout=self.log, stderr=subprocess.STDOUT)
        self.procs = [self._spawn([BIN, "coordinator", "--config", config])]
        self.relay = TcpRelay(("127.0.0.1", worker_port)).start()
        self.procs.append(self._spawn([BIN, "worker", "--config", config,
                                       "--coordinator", f"tcp://127.0.0.1:{self.relay.port}",
                                       "--node", "local", "--device", "cpu:0", "--threads", "1"]))
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
        raise RuntimeError("cluster not healthy; log:\n" + open(os.path.join(self.dir, "log")).read()[-3000:])

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
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        self.relay.stop()

    def decode_steps(self, start, end):
        """The step trace's decode steps sent within [start, end] (both clocks are CLOCK_MONOTONIC)."""
        steps = []
        with open(self.trace) as f:
            for line in f:
                j = json.loads(line)
                if start <= j["t"] <= end and j["decode_sequences"] == 1 and j["prefill_tokens"] == 0:
                    steps.append(j)
        return steps

    def gaps(self):
        """One greedy streamed completion; the gaps between its tokens, seconds."""
        body = json.dumps({"model": "m", "prompt": "The history of the printing press", "max_tokens": TOKENS,
                           "temperature": 0, "ignore_eos": True, "stream": True})
        conn = http.client.HTTPConnection("127.0.0.1", self.http, timeout=120)
        conn.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        assert resp.status == 200, resp.read()
        times = []
        while True:
            line = resp.readline()
            if not line:
                break
            line = line.strip()
            if not line.startswith(b"data: ") or line == b"data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if chunk.get("choices") and chunk["choices"][0].get("text"):
                times.append(time.monotonic())
        conn.close()
        assert len(times) >= TOKENS // 2, f"only {len(times)} content chunks"
        return [b - a for a, b in zip(times, times[1:])]


def measure(cluster):
    """Per delay: the client's per-token latency (each request's mean token
    gap), the worker's idle wait before each decode step, and its step time;
    medians over ROUNDS requests (alternating delays) and their decode steps."""
    cluster.gaps()  # warm-up
    out = {}
    for r in range(ROUNDS):
        for delay in ((0.0, DELAY_S) if r % 2 == 0 else (DELAY_S, 0.0)):
            cluster.relay.delay_s = delay
            time.sleep(0.05)
            start = time.monotonic()
            gaps = cluster.gaps()
            steps = cluster.decode_steps(start, time.monotonic())
            assert len(steps) >= TOKENS // 2, f"only {len(steps)} decode steps traced"
            o = out.setdefault(delay, {"latency": [], "idle": [], "step": []})
            o["latency"].append(statistics.mean(gaps))
            o["idle"] += [j["worker_idle"] for j in steps]
            o["step"] += [j["worker_total"] for j in steps]
    return {d: {k: statistics.median(v) for k, v in o.items()} for d, o in out.items()}


def main():
    if not MODEL or not os.path.exists(MODEL):
        print("SKIPJOIN_MODEL_PATH is not set or missing; skipped")
        return SKIP
    work = tempfile.mkdtemp(prefix="sj_delay_")
    results = {}
    try:
        for k in (2, 1):
            c = Cluster(k, work)
            try:
                results[k] = measure(c)
            finally:
                c.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ok = True
    for k, m in sorted(results.items()):
        a, b = m[0.0], m[DELAY_S]
        print(f"steps_in_flight={k}: without delay / with {DELAY_S * 1e3:.0f} ms each way: "
              f"per-token latency {a['latency'] * 1e3:.2f} / {b['latency'] * 1e3:.2f} ms, "
              f"worker step {a['step'] * 1e3:.2f} / {b['step'] * 1e3:.2f} ms, "
              f"worker idle before a decode step {a['idle'] * 1e3:.3f} / {b['idle'] * 1e3:.3f} ms "
              f"(+{(b['idle'] - a['idle']) * 1e3:.3f} ms = {100 * (b['idle'] - a['idle']) / a['step']:+.1f}% "
              f"of the step)")
    # At one stream the worker's cycle is its step plus its idle wait for the
    # next plan; the delay changes the latter only (the step's own time on
    # this shared machine varies by more than the effect measured).
    one, two = results[1], results[2]
    grow1 = one[DELAY_S]["idle"] - one[0.0]["idle"]
    grow2 = two[DELAY_S]["idle"] - two[0.0]["idle"]
    step2 = two[0.0]["step"]
    if grow1 < DELAY_S:
        print(f"FAIL: with one step in flight the delay added only {grow1 * 1e3:.3f} ms of idle time "
              f"per step; the relay is not delaying")
        ok = False
    if step2 < 4 * DELAY_S:
        print(f"FAIL: the step ({step2 * 1e3:.2f} ms) is not longer than the round trip; nothing to hide")
        ok = False
    if grow2 > 0.05 * step2:
        print(f"FAIL: with two steps in flight the delay still added {grow2 * 1e3:.3f} ms of idle time "
              f"per step (> 5% of the {step2 * 1e3:.2f} ms step)")
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
