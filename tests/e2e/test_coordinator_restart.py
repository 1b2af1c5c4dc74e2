"""A coordinator that crashes and is started again: the running worker serves again.

A real coordinator and one real CPU worker (the default model). After a
completion, the coordinator is killed with SIGKILL (no Shutdown reaches the
worker) and started again on the same ports. The worker notices the new
connection, registers again, reloads its model with the new assignment, and
the cluster must answer /health 200 and a completion within 10 s, with the
same worker process (nobody relaunched it). The time to serve again goes to
stdout.

Exits 77 (skipped) when the model is missing.

usage: test_coordinator_restart.py SKIPJOIN_BINARY
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
MODEL = os.environ.get("SKIPJOIN_MODEL_PATH", "")
SERVE_AGAIN_WITHIN_S = 10

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from cluster_launch import exit_with, free_port, greedy_completion, healthy  # noqa: E402


def main():
    if not MODEL or not os.path.exists(MODEL):
        print("SKIPJOIN_MODEL_PATH is not set or missing; skipping")
        return SKIP
    work = tempfile.mkdtemp(prefix="sj_restart_")
    http = free_port()
    config = os.path.join(work, "cluster.yaml")
    with open(config, "w") as f:
        f.write(f"""name: restart
coordinator: {{node: local, http_port: {http}, client_port: {free_port()}, worker_port: {free_port()}}}
nodes:
  - name: local
    host: 127.0.0.1
    devices: [{{kind: cpu, index: 0, threads: 1}}]
model: {{path: {MODEL}, name: m}}
replicas: {{count: 1, tp: 1}}
scheduler: {{cost_model_dir: none}}
kv: {{block_size: 16, num_device_blocks: 256, host_swap_bytes: 0}}
metrics: {{coordinator_port: {free_port()}, worker_port_base: {free_port()}}}
security: {{keys_dir: {os.path.join(work, 'keys')}}}
monitoring: {{prometheus: off}}
""")
    log_path = os.path.join(work, "log")
    log = open(log_path, "w")

    def spawn(args):
        return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_healthy(deadline, procs):
        while time.monotonic() < deadline:
            if healthy(http):
                return True
            if any(p.poll() is not None for p in procs):
                return False
            time.sleep(0.1)
        return False

    subprocess.run([BIN, "keygen", config], check=True, stdout=log, stderr=subprocess.STDOUT)
    coordinator = spawn([BIN, "coordinator", "--config", config])
    worker = spawn([BIN, "worker", "--config", config, "--node", "local", "--device", "cpu:0",
                    "--threads", "1"])
    procs = [coordinator, worker]
    ok = False
    try:
        if not wait_healthy(time.monotonic() + 300, procs):
            raise RuntimeError("cluster not healthy")
        before = greedy_completion(http)
        coordinator.kill()  # SIGKILL: the worker gets no Shutdown
        coordinator.wait()
        restart = time.monotonic()
        coordinator = spawn([BIN, "coordinator", "--config", config])
        procs = [coordinator, worker]
        if not wait_healthy(restart + SERVE_AGAIN_WITHIN_S, procs):
            raise RuntimeError(f"not healthy within {SERVE_AGAIN_WITHIN_S} s of the restart "
                               f"(worker exit code {worker.poll()})")
        after = greedy_completion(http)
        serving = time.monotonic() - restart
        print(f"serving again {serving:.2f} s after the restart; text before {before!r}, after {after!r}")
        if serving > SERVE_AGAIN_WITHIN_S:
            raise RuntimeError(f"a completion took until {serving:.1f} s after the restart")
        if worker.poll() is not None:
            raise RuntimeError("the worker exited")
        if before != after:
            raise RuntimeError("greedy output changed across the restart")
        ok = True
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        log.close()
        if not ok:
            print(open(log_path).read()[-4000:])
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    exit_with(main)
