"""A three-host cluster across Linux network namespaces, from one config.

Hosts: c (the coordinator; its one device serves no replica), w1 and w2
(worker nodes), each in its own network namespace with one 10.x address on
a bridge that lives in a fourth namespace; the test itself reaches them
through one more veth in its own namespace. Every host runs
`skipjoin launch CONFIG --node NAME` with the same generated config.
Addressing is exercised on the way: the coordinator binds 0.0.0.0 and
advertises a host name, w1 is named by a host name (each namespace has its
own /etc/hosts through /etc/netns/NS/hosts) and binds 0.0.0.0, w2 is named
by its IP and binds a host name (resolved to that IP before binding).

Replicas: dp-w1 (tp=1 on w1), dp-w2 (tp=1 on w2) and tp3 (tp=3: two ranks on
w1, one on w2).

  start: each worker node's launch reports itself healthy only once its own
    workers are ready at the coordinator ("node 'w1' healthy ... 3 of 3
    workers of node 'w1' ready"); `skipjoin status` shows node, host, device
    and rank per worker; the coordinator wrote file_sd scrape targets for
    every node, and each target answers /metrics from the test's namespace.
  (a) data parallel: concurrent completions are served, by the replicas of
    both worker nodes (their step counters at the coordinator grow).
  (c) w2's link goes down (ip link set down on the bridge side) for
    LINK_DOWN_S: dp-w2 and tp3 are declared dead, dp-w1 serves on (the
    tp=1 reference outputs for (b) are taken now, from dp-w1 alone); after
    the link comes back every replica is live again within REJOIN_WITHIN_S.
  (b) tensor parallel across nodes: concurrent greedy completions of the
    same prompts on every replica equal the tp=1 references, and tp3 and
    dp-w2 ran steps (so the rejoined replicas serve).

Namespaces, veths, /etc/netns entries and processes are removed in a finally
block; leftovers of an earlier run that died are removed first (names
sjnet<pid>-*, for pids no longer alive). Exits 77 (skipped) when not root,
when `ip netns` does not work, or when the model is missing. The durations
go to stdout; SKIPJOIN_NETNS_KEEP=DIR keeps the logs there.

usage: test_multinode_netns.py SKIPJOIN_BINARY
"""
import concurrent.futures
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from cluster_launch import exit_with, wait_for  # noqa: E402

SKIP = 77
BIN = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "skipjoin"
MODEL = os.environ.get("SKIPJOIN_MODEL_PATH", "")
PREFIX = "sjnet"
LINK_DOWN_S = 4
REJOIN_WITHIN_S = 60
HEALTHY_WITHIN_S = 90
PROMPTS = ["The sea is", "Paris is the capital of", "One, two, three,"]
MAX_TOKENS = 6
HTTP_PORT, CLIENT_PORT, WORKER_PORT, METRICS_PORT, WORKER_METRICS_BASE = 8000, 5555, 5556, 9400, 9401


def run(*cmd, check=True):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {r.stderr.strip()}")
    return r


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def netns_list():
    r = run("ip", "netns", "list", check=False)
    return [line.split()[0] for line in r.stdout.splitlines() if line.strip()]


def remove_netns(name):
    # Processes keep a namespace alive; kill what runs there first.
    pids = run("ip", "netns", "pids", name, check=False).stdout.split()
    for p in pids:
        try:
            os.kill(int(p), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass
    run("ip", "netns", "del", name, check=False)
    shutil.rmtree(f"/etc/netns/{name}", ignore_errors=True)


def remove_leftovers():
    """Namespaces and links of earlier runs whose process is gone."""
    for ns in netns_list():
        m = re.fullmatch(PREFIX + r"(\d+)-\w+", ns)
        if m and not alive(int(m.group(1))):
            print(f"removing namespace {ns} left by an earlier run")
            remove_netns(ns)
    for line in run("ip", "-o", "link", "show", check=False).stdout.splitlines():
        m = re.match(r"\d+: (" + PREFIX + r"(\d+)h)[@:]", line)
        if m and not alive(int(m.group(2))):
            run("ip", "link", "del", m.group(1), check=False)


def netns_usable():
    probe = f"{PREFIX}{os.getpid()}-probe"
    ok = run("ip", "netns", "add", probe, check=False).returncode == 0
    ok = ok and run("ip", "netns", "exec", probe, "ip", "link", "set", "lo", "up",
                    check=False).returncode == 0
    run("ip", "netns", "del", probe, check=False)
    return ok


class Network:
    """Hosts on one bridge, in namespaces <prefix>-<host>; the bridge in <prefix>-sw."""

    def __init__(self, hosts):
        self.tag = f"{PREFIX}{os.getpid()}"
        self.switch = f"{self.tag}-sw"
        self.root_link = f"{self.tag}h"
        net = 20 + os.getpid() % 200
        self.subnet = f"10.213.{net}"
        self.ip = {h: f"{self.subnet}.{i + 1}" for i, h in enumerate(hosts)}
        self.root_ip = f"{self.subnet}.254"
        self.ns = {h: f"{self.tag}-{h}" for h in hosts}
        self.hosts_file = ""

    def up(self, names):
        """names: extra /etc/hosts lines (name -> ip) every namespace sees."""
        run("ip", "netns", "add", self.switch)
        sw = ["ip", "netns", "exec", self.switch]
        run(*sw, "ip", "link", "add", "name", "br0", "type", "bridge")
        run(*sw, "ip", "link", "set", "br0", "up")
        self.hosts_file = "127.0.0.1 localhost\n" + "".join(f"{ip} {n}\n" for n, ip in names.items())
        for h, ns in self.ns.items():
            run("ip", "netns", "add", ns)
            os.makedirs(f"/etc/netns/{ns}", exist_ok=True)
            with open(f"/etc/netns/{ns}/hosts", "w") as f:
                f.write(self.hosts_file)
            run(*sw, "ip", "link", "add", "name", f"p{h}", "type", "veth", "peer", "name", "eth0",
                "netns", ns)
            run(*sw, "ip", "link", "set", f"p{h}", "master", "br0", "up")
            inside = ["ip", "netns", "exec", ns]
            run(*inside, "ip", "addr", "add", f"{self.ip[h]}/24", "dev", "eth0")
            run(*inside, "ip", "link", "set", "eth0", "up")
            run(*inside, "ip", "link", "set", "lo", "up")
        # The test's own way in.
        run("ip", "link", "add", "name", self.root_link, "type", "veth", "peer", "name", "proot",
            "netns", self.switch)
        run(*sw, "ip", "link", "set", "proot", "master", "br0", "up")
        run("ip", "addr", "add", f"{self.root_ip}/24", "dev", self.root_link)
        run("ip", "link", "set", self.root_link, "up")

    def set_link(self, host, up):
        run("ip", "netns", "exec", self.switch, "ip", "link", "set", f"p{host}",
            "up" if up else "down")

    def down(self):
        for ns in list(self.ns.values()) + [self.switch]:
            remove_netns(ns)
        run("ip", "link", "del", self.root_link, check=False)


def write_config(work, net, names):
    path = os.path.join(work, "cluster.yaml")
    cpu = "{kind: cpu, index: %d, threads: 1}"
    with open(path, "w") as f:
        f.write(f"""name: netns
coordinator: {{node: c, host: {names['c']}, bind: 0.0.0.0, http_port: {HTTP_PORT},
               client_port: {CLIENT_PORT}, worker_port: {WORKER_PORT}}}
nodes:
  - {{name: c, host: {net.ip['c']}, devices: [{cpu % 0}]}}
  - {{name: w1, host: {names['w1']}, bind: 0.0.0.0, devices: [{cpu % 0}, {cpu % 1}, {cpu % 2}]}}
  - {{name: w2, host: {net.ip['w2']}, bind: {names['w2']}, devices: [{cpu % 0}, {cpu % 1}]}}
model: {{path: {MODEL}, name: m}}
replicas:
  - {{name: dp-w1, devices: [w1:cpu:0]}}
  - {{name: dp-w2, devices: [w2:cpu:0]}}
  - {{name: tp3, tp: 3, devices: [w1:cpu:1, w1:cpu:2, w2:cpu:1]}}
scheduler: {{cost_model_dir: none}}
kv: {{block_size: 16, num_device_blocks: 128, host_swap_bytes: 0}}
metrics: {{coordinator_port: {METRICS_PORT}, worker_port_base: {WORKER_METRICS_BASE}}}
heartbeat: {{interval_ms: 200, timeout_ms: 1500}}
security: {{keys_dir: {os.path.join(work, 'keys')}}}
monitoring: {{prometheus: off}}
""")
    return path


class Launches:
    """One `skipjoin launch CONFIG --node NAME` per host, inside its namespace."""

    def __init__(self, net, config, work):
        self.net, self.config, self.work = net, config, work
        self.procs, self.logs = {}, {}

    def start(self, host):
        run_dir = os.path.join(self.work, f"run-{host}")
        os.makedirs(run_dir, exist_ok=True)
        out = open(os.path.join(run_dir, "launch.out"), "w")
        self.logs[host] = out
        self.procs[host] = subprocess.Popen(
            ["ip", "netns", "exec", self.net.ns[host], BIN, "launch", self.config, "--node", host,
             "--run-dir", run_dir, "--health-timeout-s", str(HEALTHY_WITHIN_S)],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def output(self, host):
        with open(os.path.join(self.work, f"run-{host}", "launch.out")) as f:
            return f.read()

    def run_dir(self, host):
        return os.path.join(self.work, f"run-{host}")

    def stop(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for p in self.procs.values():
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        for f in self.logs.values():
            f.close()


def http(url, body=None, timeout=60):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read().decode()


def completion(base, prompt):
    _, text = http(base + "/v1/completions",
                   {"model": "m", "prompt": prompt, "max_tokens": MAX_TOKENS, "temperature": 0})
    return json.loads(text)["choices"][0]["text"]


def concurrent_completions(base, prompts):
    with concurrent.futures.ThreadPoolExecutor(len(prompts)) as pool:
        return list(pool.map(lambda p: completion(base, p), prompts))


def steps_by_replica(metrics_url):
    _, text = http(metrics_url, timeout=10)
    out = {}
    for m in re.finditer(r'^skipjoin_step_duration_seconds_count\{[^}]*replica="([^"]+)"[^}]*\} (\S+)$',
                         text, re.M):
        out[m.group(1)] = float(m.group(2))
    return out


def replicas_up(metrics_url):
    try:
        _, text = http(metrics_url, timeout=3)
    except Exception:
        return {}
    return {m.group(1): float(m.group(2)) == 1 for m in
            re.finditer(r'^skipjoin_replica_up\{[^}]*replica="([^"]+)"[^}]*\} (\S+)$', text, re.M)}


def check_start(net, launches, names, config):
    for host in ("c", "w1", "w2"):
        if launches.procs[host].poll() is not None:
            raise RuntimeError(f"launch on {host} exited with {launches.procs[host].returncode}")
    for host, ranks in (("w1", 3), ("w2", 2)):
        out = launches.output(host)
        want = f"node '{host}' healthy after"
        if want not in out or f"{ranks} of {ranks} workers of node '{host}' ready" not in out:
            raise RuntimeError(f"launch on {host} did not wait for its own workers:\n{out[-3000:]}")
        if "cluster healthy" in out:
            raise RuntimeError(f"launch on {host} reported the cluster's health, not its node's")
    # Bind and advertise, in the logs.
    with open(os.path.join(launches.run_dir("c"), "coordinator.log")) as f:
        log = f.read()
    if "bound 0.0.0.0" not in log or f"advertised as {names['c']}" not in log:
        raise RuntimeError(f"the coordinator did not log its bind and advertised address:\n{log[-2000:]}")
    with open(os.path.join(launches.run_dir("w1"), "worker-w1-cpu-0.log")) as f:
        log = f.read()
    want = f"metrics bound 0.0.0.0:{WORKER_METRICS_BASE}, advertised as http://{names['w1']}:"
    if want not in log:
        raise RuntimeError(f"worker w1/cpu:0 did not log '{want}':\n{log[-2000:]}")
    with open(os.path.join(launches.run_dir("w2"), "worker-w2-cpu-0.log")) as f:
        log = f.read()
    want = f"metrics bound {net.ip['w2']}:{WORKER_METRICS_BASE}, advertised as http://{net.ip['w2']}:"
    if want not in log:  # its bind is a host name, resolved before binding
        raise RuntimeError(f"worker w2/cpu:0 did not log '{want}':\n{log[-2000:]}")
    # skipjoin status: node, host, device and rank of every worker.
    r = run(BIN, "status", "--config", config, "--coordinator",
            f"tcp://{net.ip['c']}:{CLIENT_PORT}")
    rows = {(m.group(1), m.group(2)): m.group(0) for m in
            re.finditer(r"^(\S+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)$", r.stdout, re.M)}
    want_rows = {("dp-w1", "0"): ("w1", names["w1"], "cpu:0"),
                 ("dp-w2", "0"): ("w2", net.ip["w2"], "cpu:0"),
                 ("tp3", "0"): ("w1", names["w1"], "cpu:1"),
                 ("tp3", "1"): ("w1", names["w1"], "cpu:2"),
                 ("tp3", "2"): ("w2", net.ip["w2"], "cpu:1")}
    for key, (node, host, device) in want_rows.items():
        row = rows.get(key, "")
        if row.split()[2:] != [node, host, device, "ready"]:
            raise RuntimeError(f"status row of {key} is {row!r}, expected {node} {host} {device} "
                               f"ready:\n{r.stdout}")
    # file_sd targets of every node, each answering from here.
    tdir = os.path.join(launches.run_dir("c"), "prometheus", "targets")
    with open(os.path.join(tdir, "skipjoin-worker.json")) as f:
        workers = json.load(f)
    with open(os.path.join(tdir, "skipjoin-coordinator.json")) as f:
        coordinator = json.load(f)
    nodes = sorted(g["labels"]["node"] for g in workers)
    if nodes != ["w1", "w1", "w1", "w2", "w2"]:
        raise RuntimeError(f"worker scrape targets by node: {nodes}")
    if coordinator[0]["targets"] != [f"{names['c']}:{METRICS_PORT}"]:
        raise RuntimeError(f"coordinator scrape target: {coordinator}")
    by_name = {v: net.ip[k] for k, v in names.items()}  # the test's namespace has no such names
    for g in workers + coordinator:
        host, port = g["targets"][0].rsplit(":", 1)
        code, _ = http(f"http://{by_name.get(host, host)}:{port}/metrics", timeout=10)
        if code != 200:
            raise RuntimeError(f"{g['targets'][0]} ({g['labels']['node']}) answered {code}")
    print(f"scrape targets: {len(workers)} workers on w1 and w2 plus the coordinator, all answering")


def main():
    if os.geteuid() != 0:
        print("not root: network namespaces need root; skipping")
        return SKIP
    if shutil.which("ip") is None:
        print("no `ip` command (iproute2); skipping")
        return SKIP
    if not MODEL or not os.path.exists(MODEL):
        print("SKIPJOIN_MODEL_PATH is not set or missing; skipping")
        return SKIP
    remove_leftovers()
    if not netns_usable():
        print("`ip netns add` does not work here; skipping")
        return SKIP
    t0 = time.monotonic()
    work = tempfile.mkdtemp(prefix="sj_netns_")
    net = Network(["c", "w1", "w2"])
    names = {"c": f"coordinator.{net.tag}.test", "w1": f"w1.{net.tag}.test",
             "w2": f"w2.{net.tag}.test"}
    launches = None
    ok = False
    try:
        net.up({names[h]: net.ip[h] for h in names})
        config = write_config(work, net, names)
        run(BIN, "keygen", config)
        launches = Launches(net, config, work)
        for host in ("c", "w1", "w2"):
            launches.start(host)
        base = f"http://{net.ip['c']}:{HTTP_PORT}"
        metrics = f"http://{net.ip['c']}:{METRICS_PORT}/metrics"

        def started():
            return ("cluster healthy" in launches.output("c") and
                    all(f"node '{h}' healthy" in launches.output(h) for h in ("w1", "w2")))

        def exited():
            return any(p.poll() is not None for p in launches.procs.values())

        wait_for(lambda: started() or exited(), HEALTHY_WITHIN_S + 10, 0.2)
        t_start = time.monotonic() - t0
        check_start(net, launches, names, config)
        print(f"start: every node healthy {t_start:.1f} s after the test began")

        # (a) data parallel on both worker nodes.
        before = steps_by_replica(metrics)
        texts = concurrent_completions(base, PROMPTS * 2)
        after = steps_by_replica(metrics)
        if any(not t for t in texts):
            raise RuntimeError(f"an empty completion: {texts}")
        for r in ("dp-w1", "dp-w2"):
            if after.get(r, 0) <= before.get(r, 0):
                raise RuntimeError(f"replica {r} ran no step for 6 concurrent requests: {after}")
        print(f"(a) 6 concurrent completions served; steps by replica {after}")

        # (c) w2's link down, then up.
        net.set_link("w2", up=False)
        down_at = time.monotonic()
        if not wait_for(lambda: not replicas_up(metrics).get("dp-w2", True), 10, 0.1):
            raise RuntimeError(f"dp-w2 still up with w2's link down: {replicas_up(metrics)}")
        declared_s = time.monotonic() - down_at
        up = replicas_up(metrics)
        if up.get("tp3") or not up.get("dp-w1"):
            raise RuntimeError(f"with w2 down expected only dp-w1 up: {up}")
        reference = [completion(base, p) for p in PROMPTS]  # dp-w1 alone: tp=1
        time.sleep(max(0.0, LINK_DOWN_S - (time.monotonic() - down_at)))
        net.set_link("w2", up=True)
        back_at = time.monotonic()
        if not wait_for(lambda: all(replicas_up(metrics).get(r) for r in ("dp-w1", "dp-w2", "tp3")),
                        REJOIN_WITHIN_S, 0.1):
            raise RuntimeError(f"not every replica live {REJOIN_WITHIN_S} s after w2's link came "
                               f"back: {replicas_up(metrics)}\n{launches.output('w2')[-3000:]}")
        rejoin_s = time.monotonic() - back_at
        print(f"(c) w2 down {LINK_DOWN_S} s: declared dead after {declared_s:.1f} s, dp-w1 served "
              f"on; every replica live again {rejoin_s:.1f} s after the link came back")

        # (b) tp=3 across both nodes against the tp=1 references.
        before = steps_by_replica(metrics)
        texts = concurrent_completions(base, PROMPTS * 3)
        after = steps_by_replica(metrics)
        for i, t in enumerate(texts):
            if t != reference[i % len(PROMPTS)]:
                raise RuntimeError(f"greedy output of {PROMPTS[i % len(PROMPTS)]!r} differs: "
                                   f"{t!r} vs tp=1 {reference[i % len(PROMPTS)]!r}")
        for r in ("tp3", "dp-w2"):
            if after.get(r, 0) <= before.get(r, 0):
                raise RuntimeError(f"replica {r} ran no step for 9 concurrent requests: {after}")
        print(f"(b) 9 concurrent greedy completions equal the tp=1 references {reference}; "
              f"steps by replica {after}")
        ok = True
    finally:
        if launches is not None:
            launches.stop()
            if not ok:
                for host in ("c", "w1", "w2"):
                    try:
                        print(f"--- launch on {host}:\n{launches.output(host)[-4000:]}")
                    except OSError:
                        pass
        net.down()
        if os.environ.get("SKIPJOIN_NETNS_KEEP"):  # a folder to keep the run's logs in
            shutil.copytree(work, os.environ["SKIPJOIN_NETNS_KEEP"], dirs_exist_ok=True)
        shutil.rmtree(work, ignore_errors=True)
    print(f"total {time.monotonic() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    exit_with(main)
