#!/usr/bin/env python3
"""A burst of 10x the pending-request limit against a real local cluster.

Measures, in one run: small-request latency unloaded; then a burst of
`--burst` concurrent completions (the limit is `--limit` pending requests)
with small probe requests every 0.2 s while it drains. Reports how fast the
429s came back, how many were admitted, the probes' latency against the
unloaded one, and the coordinator's peak RSS.

  python3 bench/overload_burst.py --bin build/client/skipjoin \
      --config cluster_configs/local-cpu.yaml --out /tmp/burst

Only the Python standard library is used.
"""
import argparse
import http.client
import json
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_launch import Cluster  # noqa: E402


def complete(port, max_tokens, prompt="Write one sentence about the sea.", timeout=600):
    body = json.dumps({"model": MODEL, "prompt": prompt, "max_tokens": max_tokens,
                       "temperature": 0, "ignore_eos": True})
    start = time.monotonic()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        return r.status, time.monotonic() - start, r.getheader("Retry-After")
    except OSError as e:
        return f"error: {e}", time.monotonic() - start, None
    finally:
        c.close()


def coordinator_rss_kb(session_id):
    """RSS of the `skipjoin coordinator` process in the launch's session."""
    best = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.getsid(int(pid)) != session_id:
                continue
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            if len(argv) < 2 or argv[1] != b"coordinator":
                continue
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        best = max(best, int(line.split()[1]))
        except (OSError, ValueError):
            continue
    return best


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def main():
    global MODEL
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default="build/client/skipjoin")
    ap.add_argument("--config", default="cluster_configs/local-cpu.yaml")
    ap.add_argument("--out", default="/tmp/overload_burst")
    ap.add_argument("--limit", type=int, default=32, help="coordinator.limits.max_pending_requests")
    ap.add_argument("--burst", type=int, default=320, help="concurrent requests in the burst")
    ap.add_argument("--burst-tokens", type=int, default=32, help="max_tokens of each burst request")
    ap.add_argument("--probes", type=int, default=20, help="unloaded small requests")
    args = ap.parse_args()

    cluster = Cluster(args.bin, args.config, args.out,
                      sets=[f"coordinator.limits.max_pending_requests={args.limit}",
                            "monitoring.prometheus=off"])
    cluster.start()
    try:
        port = cluster.http_port
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("GET", "/v1/models")
        MODEL = json.loads(c.getresponse().read())["data"][0]["id"]
        c.close()
        complete(port, 4)  # warm-up
        unloaded = [complete(port, 4)[1] for _ in range(args.probes)]
        rss_before = coordinator_rss_kb(cluster.proc.pid)

        results = [None] * args.burst
        probes = []
        rss_peak = [rss_before]
        done = threading.Event()

        def burst_one(i):
            results[i] = complete(port, args.burst_tokens)

        def probe_loop():
            while not done.is_set():
                probes.append(complete(port, 4))
                time.sleep(0.2)

        def rss_loop():
            while not done.is_set():
                rss_peak[0] = max(rss_peak[0], coordinator_rss_kb(cluster.proc.pid))
                time.sleep(0.2)

        threads = [threading.Thread(target=burst_one, args=(i,)) for i in range(args.burst)]
        watchers = [threading.Thread(target=probe_loop), threading.Thread(target=rss_loop)]
        start = time.monotonic()
        for t in threads:
            t.start()
        for w in watchers:
            w.start()
        for t in threads:
            t.join()
        drained = time.monotonic() - start
        done.set()
        for w in watchers:
            w.join()
    finally:
        cluster.stop()

    rejected = [r for r in results if r[0] == 429]
    admitted = [r for r in results if r[0] == 200]
    other = [r for r in results if r[0] not in (200, 429)]
    probe_ok = [p[1] for p in probes if p[0] == 200]
    report = {
        "limit": args.limit, "burst": args.burst, "burst_tokens": args.burst_tokens,
        "admitted": len(admitted), "rejected_429": len(rejected), "other": len(other),
        "other_examples": [str(r[0]) for r in other[:5]],
        "reject_latency_ms": {"p50": 1e3 * pct([r[1] for r in rejected], 0.5),
                              "p99": 1e3 * pct([r[1] for r in rejected], 0.99),
                              "max": 1e3 * max([r[1] for r in rejected], default=float("nan"))},
        "retry_after_s": sorted({int(r[2]) for r in rejected if r[2]}),
        "unloaded_probe_ms": {"p50": 1e3 * statistics.median(unloaded), "p99": 1e3 * pct(unloaded, 0.99)},
        "probes_during_burst": {"ok": len(probe_ok), "rejected": sum(1 for p in probes if p[0] == 429),
                                "p50_ms": 1e3 * pct(probe_ok, 0.5), "p99_ms": 1e3 * pct(probe_ok, 0.99)},
        "coordinator_rss_mb": {"before": rss_before / 1024, "peak": rss_peak[0] / 1024},
        "burst_wall_s": drained,
    }
    print(json.dumps(report, indent=2))
    with open(os.path.join(args.out, "report.json"), "w") as f:
        json.dump(report, f, indent=2)


MODEL = ""
if __name__ == "__main__":
    main()
