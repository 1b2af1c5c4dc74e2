"""`skipjoin launch` of a local cluster for benchmarks, on free ports.

  c = Cluster(skipjoin_bin, config, run_dir, sets=["scheduler.policy=fcfs"])
  c.start()          # returns once launch prints "cluster healthy"
  ... http://127.0.0.1:{c.http_port} ...
  c.stop()           # SIGTERM to the launch process group, SIGKILL after 30 s

Only the Python standard library is used.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request


_handed_out = set()


def free_port():
    """A free loopback port, never one this process handed out before: a
    config's ports must differ, and a port released by one bind can be the
    next bind's."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def healthy(port):
    """GET /health answers 200."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
            return r.status == 200
    except Exception:
        return False


def greedy_completion(port, prompt="The sea is", max_tokens=4, timeout=60):
    """The text of a temperature-0 completion (raises on any HTTP error)."""
    body = json.dumps({"model": "m", "prompt": prompt, "max_tokens": max_tokens,
                       "temperature": 0}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/completions", body,
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())["choices"][0]["text"]


def wait_for(what, limit_s, step_s=0.02):
    """Polls what() every step_s until it is true or limit_s passed; its last value."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if what():
            return True
        time.sleep(step_s)
    return what()


def exit_with(main):
    """Exits with main()'s return code; a RuntimeError prints 'FAILED: why'
    and exits 1 (the e2e tests' convention)."""
    try:
        sys.exit(main())
    except RuntimeError as e:
        print(f"FAILED: {e}")
        sys.exit(1)


class Cluster:
    """`skipjoin launch CONFIG` in its own process group, with every port free."""

    def __init__(self, skipjoin_bin, config, run_dir, sets=()):
        self.bin = skipjoin_bin
        self.config = config
        self.run_dir = run_dir
        self.http_port = free_port()
        client, worker, worker_metrics, metrics = (free_port() for _ in range(4))
        self.sets = [f"coordinator.http_port={self.http_port}", f"coordinator.client_port={client}",
                     f"coordinator.worker_port={worker}", f"metrics.coordinator_port={metrics}",
                     f"metrics.worker_port_base={worker_metrics}", *sets]
        self.proc = None
        self.log = None

    def start(self, timeout_s=300):
        os.makedirs(self.run_dir, exist_ok=True)
        cmd = [self.bin, "launch", self.config, "--run-dir", self.run_dir]
        for kv in self.sets:
            cmd += ["--set", kv]
        out = os.path.join(self.run_dir, "launch.out")
        self.log = open(out, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"launch exited with {self.proc.returncode}; see {out}")
            with open(out) as f:
                if "cluster healthy" in f.read():
                    return
            time.sleep(0.25)
        self.stop()
        raise SystemExit(f"cluster not healthy after {timeout_s} s; see {out}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.log:
            self.log.close()
            self.log = None
