"""`skipjoin launch` supervising a real local CPU cluster (the default model).

  worker-kill: one replica on one worker. After a greedy completion the
    worker is killed with SIGKILL; launch must report it, start a new worker
    process, and the same greedy completion must succeed again within 10 s of
    the kill (through the new worker: there is no other replica). The time
    goes to stdout.
  tp-rank-kill: one tp=3 replica on three workers (SmolLM2's 9 heads split
    by 3). Rank 1 is killed with SIGKILL; the coordinator tells ranks 0 and 2
    to stop, launch restarts all three, and a greedy completion must succeed
    again within 10 s of the kill.
  coordinator-kill: one worker. The coordinator is killed with SIGKILL;
    launch restarts it, the same worker process registers again, and a
    greedy completion must succeed again within 10 s of the kill.
  coordinator-sigterm: two workers. The coordinator gets SIGTERM; it tells
    its workers to shut down, so both must exit by themselves (status 0,
    before launch stops anything) within 5 s, launch must restart nothing and
    exit 0. The times go to stdout.

Each run is bounded (about 60 s at most, cluster start included). Exits 77
(skipped) when the model is missing.

usage: test_launch_supervision.py SKIPJOIN_BINARY worker-kill|tp-rank-kill|coordinator-kill|coordinator-sigterm
"""
import os
import re
import shutil
import signal
import sys
import tempfile
import time

SKIP = 77
BIN = sys.argv[1] if len(sys.argv) > 1 else "skipjoin"
MODE = sys.argv[2] if len(sys.argv) > 2 else "worker-kill"
MODEL = os.environ.get("SKIPJOIN_MODEL_PATH", "")
SERVE_AGAIN_WITHIN_S = 10
WORKERS_EXIT_WITHIN_S = 5

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from cluster_launch import Cluster, exit_with, greedy_completion, healthy, wait_for  # noqa: E402


def write_config(work, workers, tp):
    devices = ", ".join(f"{{kind: cpu, index: {i}, threads: 1}}" for i in range(workers))
    path = os.path.join(work, "cluster.yaml")
    with open(path, "w") as f:
        f.write(f"""name: supervision
nodes:
  - name: local
    host: 127.0.0.1
    devices: [{devices}]
model: {{path: {MODEL}, name: m}}
replicas: {{count: {workers // tp}, tp: {tp}}}
scheduler: {{cost_model_dir: none}}
kv: {{block_size: 16, num_device_blocks: 256, host_swap_bytes: 0}}
heartbeat: {{interval_ms: 200, timeout_ms: 1500}}
security: {{keys_dir: {os.path.join(work, 'keys')}}}
monitoring: {{prometheus: off}}
""")
    return path


def launch_output(cluster):
    with open(os.path.join(cluster.run_dir, "launch.out")) as f:
        return f.read()


def pid_of(text, pattern):
    m = re.search(pattern, text)
    return int(m.group(1)) if m else None


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not reaped yet) counts as gone.
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


def worker_kill(cluster, device=0):
    """SIGKILL of worker local/cpu:<device>; its replica must serve again."""
    name = f"worker local/cpu:{device}"
    before = greedy_completion(cluster.http_port)
    victim = pid_of(launch_output(cluster), rf"started {name} \(pid (\d+)\)")
    if victim is None:
        raise RuntimeError("no worker pid in launch's output")
    os.kill(victim, signal.SIGKILL)
    killed = time.monotonic()
    after = None
    # The only replica is down until the new worker has loaded: a request in
    # that window may fail; retry until one succeeds or the time is up.
    while time.monotonic() - killed < SERVE_AGAIN_WITHIN_S:
        if healthy(cluster.http_port) and alive_replacement(cluster, name, victim):
            try:
                after = greedy_completion(cluster.http_port, timeout=SERVE_AGAIN_WITHIN_S)
                break
            except Exception:
                pass
        time.sleep(0.05)
    serving = time.monotonic() - killed
    out = launch_output(cluster)
    replacement = pid_of(out, rf"restarted {name} as pid (\d+) \(restart 1\)")
    print(f"serving again {serving:.2f} s after the SIGKILL of {name} (pid {victim}) "
          f"(replacement pid {replacement}); text before {before!r}, after {after!r}")
    if f"{name} (pid {victim}) was killed by signal 9" not in out:
        raise RuntimeError("launch did not report the killed worker")
    if f"restarting {name} in 0.5 s (restart 1 of at most 5 in a row)" not in out:
        raise RuntimeError("launch did not say when and which restart")
    if replacement is None or replacement == victim or not alive(replacement):
        raise RuntimeError(f"no live replacement worker (pid {replacement})")
    if after is None or serving > SERVE_AGAIN_WITHIN_S:
        raise RuntimeError(f"no completion within {SERVE_AGAIN_WITHIN_S} s of the kill")
    if before != after:
        raise RuntimeError("greedy output changed across the restart")


def alive_replacement(cluster, name, victim):
    pid = pid_of(launch_output(cluster), rf"restarted {name} as pid (\d+)")
    return pid is not None and pid != victim and alive(pid)


def tp_rank_kill(cluster):
    worker_kill(cluster, device=1)
    # The other ranks were told to stop and came back once the coordinator
    # answered.
    out = launch_output(cluster)
    for rank in (0, 2):
        if f"restarted worker local/cpu:{rank} as pid" not in out:
            raise RuntimeError(f"rank {rank} of the replica was not started again")


def coordinator_kill(cluster):
    out = launch_output(cluster)
    coordinator = pid_of(out, r"started coordinator \(pid (\d+)\)")
    worker = pid_of(out, r"started worker local/cpu:0 \(pid (\d+)\)")
    if coordinator is None or worker is None:
        raise RuntimeError("no coordinator or worker pid in launch's output")
    before = greedy_completion(cluster.http_port)
    os.kill(coordinator, signal.SIGKILL)
    killed = time.monotonic()
    after = None
    while after is None and time.monotonic() - killed < SERVE_AGAIN_WITHIN_S:
        restarted = pid_of(launch_output(cluster), r"restarted coordinator as pid (\d+)")
        if restarted is not None and healthy(cluster.http_port):
            try:
                after = greedy_completion(cluster.http_port, timeout=SERVE_AGAIN_WITHIN_S)
            except Exception:
                pass
        time.sleep(0.05)
    serving = time.monotonic() - killed
    print(f"serving again {serving:.2f} s after the SIGKILL of the coordinator (pid {coordinator}); "
          f"text before {before!r}, after {after!r}")
    if "restarting coordinator in 0.5 s (restart 1 of at most 5 in a row)" not in launch_output(cluster):
        raise RuntimeError("launch did not restart the coordinator")
    if after is None:
        raise RuntimeError(f"no completion within {SERVE_AGAIN_WITHIN_S} s of the kill")
    if not alive(worker):
        raise RuntimeError("the worker did not survive the coordinator's restart")
    if before != after:
        raise RuntimeError("greedy output changed across the restart")


def coordinator_sigterm(cluster):
    out = launch_output(cluster)
    coordinator = pid_of(out, r"started coordinator \(pid (\d+)\)")
    workers = [pid_of(out, rf"started worker local/cpu:{i} \(pid (\d+)\)") for i in range(2)]
    if coordinator is None or None in workers:
        raise RuntimeError("no coordinator or worker pids in launch's output")
    greedy_completion(cluster.http_port)
    os.kill(coordinator, signal.SIGTERM)
    stopped = time.monotonic()
    gone = wait_for(lambda: not any(alive(w) for w in workers), WORKERS_EXIT_WITHIN_S)
    workers_s = time.monotonic() - stopped
    launch_done = wait_for(lambda: cluster.proc.poll() is not None, 20, 0.05)
    launch_s = time.monotonic() - stopped
    out = launch_output(cluster)
    print(f"workers exited {workers_s:.2f} s after the coordinator's SIGTERM; launch exited "
          f"with {cluster.proc.returncode} after {launch_s:.2f} s")
    if not gone:
        raise RuntimeError(f"a worker is still running {WORKERS_EXIT_WITHIN_S} s after the SIGTERM")
    for i, w in enumerate(workers):
        if f"worker local/cpu:{i} (pid {w}) exited with status 0" not in out:
            raise RuntimeError(f"worker {i} did not exit cleanly by itself")
        log = os.path.join(cluster.run_dir, f"worker-local-cpu-{i}.log")
        with open(log) as f:
            if "coordinator asked to shut down" not in f.read():
                raise RuntimeError(f"worker {i} did not get the coordinator's Shutdown")
    if re.search(r"restart(ing|ed) (worker|coordinator)", out):
        raise RuntimeError("launch restarted something during a deliberate stop")
    if not launch_done or cluster.proc.returncode != 0:
        raise RuntimeError(f"launch did not exit 0 (returncode {cluster.proc.returncode})")


def main():
    if not MODEL or not os.path.exists(MODEL):
        print("SKIPJOIN_MODEL_PATH is not set or missing; skipping")
        return SKIP
    workers, tp, check = {
        "worker-kill": (1, 1, worker_kill),
        "tp-rank-kill": (3, 3, tp_rank_kill),
        "coordinator-kill": (1, 1, coordinator_kill),
        "coordinator-sigterm": (2, 1, coordinator_sigterm),
    }.get(MODE, (0, 0, None))
    if check is None:
        print(__doc__)
        return 2
    work = tempfile.mkdtemp(prefix="sj_supervision_")
    config = write_config(work, workers, tp)
    cluster = Cluster(BIN, config, os.path.join(work, "run"))
    ok = False
    try:
        cluster.start(timeout_s=30)
        check(cluster)
        ok = True
    finally:
        cluster.stop()
        if not ok:
            print(launch_output(cluster)[-6000:])
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    exit_with(main)
