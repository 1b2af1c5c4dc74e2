"""Tensor parallelism on real CPU workers: the greedy tokens of tp=1.

Clusters of real processes, one after the other, all with the default model
(SmolLM2-135M: 9 heads, so tp=3):
  1. tp=1, one worker: the reference completions;
  2. tp=3 on one node, tp_comm auto: shared memory ("shm");
  3. tp=3 over two nodes (both on loopback here, each started by its own
     `skipjoin launch CONFIG --node NAME`), tp_comm auto: the TCP ring ("ring");
  4. the same with tp_comm gloo: Gloo's ring (a build without Gloo runs "ring");
  5. the same with tp_comm tcp: the star through rank 0.
Every completion of 2-5 must equal 1's, and each worker's log must name the
collectives the coordinator chose for its group.

Exits 77 (skipped) when the model is missing.

usage: test_tensor_parallel.py SKIPJOIN_BINARY [--gloo|--no-gloo]
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SKIP = 77
BIN = sys.argv[1] if len(sys.argv) > 1 else "skipjoin"
HAVE_GLOO = "--no-gloo" not in sys.argv
MODEL = os.environ.get("SKIPJOIN_MODEL_PATH", "")
PROMPTS = ["The sea is", "def fibonacci(n):", "Paris is the capital of"]
MAX_TOKENS = 8

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from cluster_launch import exit_with, free_port, greedy_completion, healthy  # noqa: E402


def free_port_run(count):
    """The first of `count` consecutive free loopback ports (worker metrics
    ports are worker_port_base + k; rank 0 of the replica listens for its TP
    group on coordinator.worker_port + 1)."""
    import socket
    while True:
        base = free_port()
        try:
            for k in range(1, count):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", base + k))
            return base
        except OSError:
            continue


def write_config(path, work, nodes, devices, tp_comm):
    """nodes: {name: number of cpu devices}; devices: the replica's refs."""
    # Node i is 127.0.0.(i+1): every node's worker metrics ports are
    # worker_port_base + k on its own address, as on separate machines.
    node_yaml = "".join(
        f"  - name: {name}\n    host: 127.0.0.{i + 1}\n    devices:\n" +
        "".join(f"      - {{kind: cpu, index: {k}, threads: 1}}\n" for k in range(count))
        for i, (name, count) in enumerate(nodes.items()))
    tp = len(devices)
    http = free_port()
    with open(path, "w") as f:
        f.write(f"""name: tp-e2e
coordinator: {{node: {next(iter(nodes))}, http_port: {http}, client_port: {free_port()}, worker_port: {free_port_run(2)}}}
nodes:
{node_yaml}model: {{path: {MODEL}, name: m}}
replicas:
  - {{name: r, tp: {tp}, tp_comm: {tp_comm}, devices: [{', '.join(devices)}]}}
scheduler: {{cost_model_dir: none}}
kv: {{block_size: 16, num_device_blocks: 256, host_swap_bytes: 0}}
metrics: {{coordinator_port: {free_port()}, worker_port_base: {free_port_run(max(nodes.values()))}}}
security: {{keys_dir: {os.path.join(work, 'keys')}}}
monitoring: {{prometheus: off}}
""")
    return http


def run_cluster(work, label, nodes, devices, expect_comm, tp_comm="auto"):
    """Starts one launch per node, returns the completions and the worker logs."""
    config = os.path.join(work, f"{label}.yaml")
    http = write_config(config, work, nodes, devices, tp_comm)
    procs, logs = [], []
    try:
        for i, node in enumerate(nodes):
            run_dir = os.path.join(work, f"{label}-{node}")
            out = open(os.path.join(work, f"{label}-{node}.out"), "w")
            logs.append(out)
            procs.append(subprocess.Popen(
                [BIN, "launch", config, "--node", node, "--run-dir", run_dir,
                 "--health-timeout-s", "240"],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
            if i == 0:
                # The coordinator's node creates the keys; the others read them.
                deadline = time.monotonic() + 60
                while not os.path.isdir(os.path.join(work, "keys")) and time.monotonic() < deadline:
                    time.sleep(0.1)
                time.sleep(0.5)
        deadline = time.monotonic() + 300
        while not healthy(http):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{label}: cluster not healthy after 300 s")
            for p in procs:
                if p.poll() is not None:
                    raise RuntimeError(f"{label}: launch exited with {p.returncode}")
            time.sleep(0.2)
        greedy_completion(http, PROMPTS[0], 1, timeout=120)  # warm-up
        started = time.monotonic()
        texts = [greedy_completion(http, prompt, MAX_TOKENS, timeout=120) for prompt in PROMPTS]
        took = time.monotonic() - started
        worker_logs = ""
        for node in nodes:
            run_dir = os.path.join(work, f"{label}-{node}")
            for name in sorted(os.listdir(run_dir)):
                if name.startswith("worker-"):
                    with open(os.path.join(run_dir, name)) as f:
                        worker_logs += f.read()
        if expect_comm:
            want = f"{expect_comm} collectives"
            count = worker_logs.count(want)
            if count != len(devices):
                raise RuntimeError(f"{label}: {count} of {len(devices)} ranks logged '{want}'")
        # Informational (a shared 2-core machine is no place for timing asserts).
        print(f"{label}: {took / (len(PROMPTS) * MAX_TOKENS) * 1000:.1f} ms per generated token "
              f"(prefill included): {texts}")
        return texts
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        for f in logs:
            f.close()


def main():
    if not MODEL or not os.path.exists(MODEL):
        print("SKIPJOIN_MODEL_PATH is not set or missing; skipping")
        return SKIP
    work = tempfile.mkdtemp(prefix="sj_tp_")
    ok = False
    try:
        start = time.monotonic()
        ref = run_cluster(work, "tp1", {"local": 1}, ["local:cpu:0"], None)
        shm = run_cluster(work, "tp3-shm", {"local": 3},
                          ["local:cpu:0", "local:cpu:1", "local:cpu:2"], "shm")
        two_nodes = ({"a": 2, "b": 1}, ["a:cpu:0", "a:cpu:1", "b:cpu:0"])
        ring = run_cluster(work, "tp3-ring", *two_nodes, "ring")
        gloo = run_cluster(work, "tp3-gloo", *two_nodes, "gloo" if HAVE_GLOO else "ring",
                           tp_comm="gloo")
        star = run_cluster(work, "tp3-tcp", *two_nodes, "tcp", tp_comm="tcp")
        for label, got in (("tp3-shm", shm), ("tp3-ring", ring), ("tp3-gloo", gloo),
                           ("tp3-tcp", star)):
            for prompt, want, have in zip(PROMPTS, ref, got):
                if want != have:
                    raise RuntimeError(f"{label}: {prompt!r} gave {have!r}, tp=1 gave {want!r}")
        print(f"PASSED in {time.monotonic() - start:.0f} s")
        ok = True
        return 0
    finally:
        if ok:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"logs kept in {work}")


if __name__ == "__main__":
    exit_with(main)
