#!/usr/bin/env python3
"""skipjoin against llama.cpp's own server on the same GGUF and cores.

The CPU anchor of docs/BENCHMARKS.md. llama-server is built from the
llama.cpp sources that the PyPI sdist of llama-cpp-python vendors (fetched
with pip, built once with CMake into --cache, about ten minutes on two
cores). Then, for each stream count and each round, in alternating order
(skipjoin, llama-server; then llama-server, skipjoin; ...), the same seeded
`skipjoin bench serve` load runs against each server, started fresh for the
round and stopped after it:

  - closed loop: `streams` requests in flight at once (--max-concurrency),
    `streams * --requests-per-stream` requests, unique random-token prompts
    of --input-len tokens, --output-len tokens each (ignore_eos), streaming;
  - skipjoin: `skipjoin launch` of --config as it is (default: the local CPU
    cluster, one replica per core);
  - llama-server: `-t THREADS -tb THREADS -np MAX_STREAMS -cb -c CTX`, the
    continuous-batching setup, one slot per stream of the largest count.

Every round's bench JSON and the servers' logs stay under --out, and the
summary (median of the rounds per system and stream count, and skipjoin's
ratio to llama-server) goes to --out/summary.json and stdout as a markdown
table. Only the Python standard library is used. From the repository root,
after scripts/build.sh and scripts/fetch_model.sh:

    python3 bench/llama_server_anchor.py --out bench/anchor/out
"""
import argparse
import glob
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster_launch  # noqa: E402  (same folder)

CACHE = os.path.join(os.environ.get("SKIPJOIN_CACHE", os.path.expanduser("~/.cache/skipjoin")))
MODEL = os.path.join(CACHE, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")


def log(msg):
    print(f"anchor: {msg}", file=sys.stderr, flush=True)


def build_llama_server(version, cache_dir, jobs):
    """The llama-server binary of llama-cpp-python `version`'s vendored llama.cpp."""
    top = os.path.join(cache_dir, f"llama-cpp-python-{version}")
    binary = os.path.join(top, "build", "bin", "llama-server")
    if os.path.exists(binary):
        return binary
    os.makedirs(top, exist_ok=True)
    sdists = glob.glob(os.path.join(top, f"llama_cpp_python-{version}.tar.gz"))
    if not sdists:
        log(f"fetching the llama-cpp-python {version} sdist from PyPI")
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
                        "-d", top, f"llama-cpp-python=={version}"], check=True)
        sdists = glob.glob(os.path.join(top, f"llama_cpp_python-{version}.tar.gz"))
    src = os.path.join(top, "src")
    if not os.path.isdir(src):
        with tarfile.open(sdists[0]) as tar:
            tar.extractall(src, filter="data")
    llama = glob.glob(os.path.join(src, "*", "vendor", "llama.cpp"))
    if not llama:
        sys.exit(f"anchor: no vendor/llama.cpp in {sdists[0]}")
    build = os.path.join(top, "build")
    log(f"building llama-server from {llama[0]} (once; about ten minutes on two cores)")
    subprocess.run(["cmake", "-S", llama[0], "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
                    "-DGGML_NATIVE=ON", "-DLLAMA_CURL=OFF", "-DLLAMA_BUILD_TESTS=OFF",
                    "-DLLAMA_BUILD_EXAMPLES=OFF", "-DLLAMA_BUILD_SERVER=ON"], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["ninja", "-C", build, f"-j{jobs}", "llama-server"], check=True, stdout=subprocess.DEVNULL)
    if not os.path.exists(binary):
        sys.exit(f"anchor: the build did not produce {binary}")
    return binary


class LlamaServer:
    def __init__(self, binary, model, threads, slots, ctx, run_dir):
        self.port = cluster_launch.free_port()
        self.cmd = [binary, "-m", model, "-t", str(threads), "-tb", str(threads), "-np", str(slots), "-cb",
                    "-c", str(ctx), "--host", "127.0.0.1", "--port", str(self.port)]
        self.log_path = os.path.join(run_dir, "llama-server.log")
        self.proc = None

    def start(self, timeout_s=120):
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

        def up():
            if self.proc.poll() is not None:
                sys.exit(f"anchor: llama-server exited with {self.proc.returncode}; see {self.log_path}")
            return cluster_launch.healthy(self.port)
        if not cluster_launch.wait_for(up, timeout_s, step_s=0.2):
            self.stop()
            sys.exit(f"anchor: llama-server not healthy after {timeout_s} s; see {self.log_path}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc:
            self.log.close()


def bench(args, port, streams, seed, path):
    cmd = [args.bin, "bench", "serve", "--base-url", f"http://127.0.0.1:{port}",
           "--num-prompts", str(streams * args.requests_per_stream), "--max-concurrency", str(streams),
           "--request-rate", "inf", "--dataset", "fixed", "--input-len", str(args.input_len),
           "--output-len", str(args.output_len), "--ignore-eos", "--seed", str(seed),
           "--prompt-format", "ids", "--vocab-low", "1000", "--vocab-high", "40000",
           "--no-progress", "--json", path]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(path) as f:
        return json.load(f)


def metrics(result):
    """The summary numbers of one bench JSON (keys as `skipjoin bench serve` writes them)."""
    return {
        "output_tok_s": result["output_throughput"],
        "ttft_ms_median": result["median_ttft_ms"],
        "tpot_ms_median": result["median_tpot_ms"],
        "failed": result.get("failed", 0),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="folder for the rounds' JSON, logs and summary")
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "client", "skipjoin"))
    ap.add_argument("--config", default=os.path.join(ROOT, "cluster_configs", "local-cpu.yaml"))
    ap.add_argument("--model", default=MODEL)
    ap.add_argument("--llama-cpp-python", default="0.3.36", help="the sdist version whose llama.cpp is built")
    ap.add_argument("--cache", default=os.path.join(CACHE, "llama-server"))
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="llama-server threads")
    ap.add_argument("--streams", default="1,8,32", help="comma-separated stream counts")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests-per-stream", type=int, default=4)
    ap.add_argument("--input-len", type=int, default=120)
    ap.add_argument("--output-len", type=int, default=64)
    ap.add_argument("--build-only", action="store_true", help="build llama-server and stop")
    args = ap.parse_args()

    server_bin = build_llama_server(args.llama_cpp_python, args.cache, args.threads)
    log(f"llama-server: {server_bin}")
    if args.build_only:
        return 0
    streams = [int(s) for s in args.streams.split(",")]
    os.makedirs(args.out, exist_ok=True)
    ctx = max(streams) * (args.input_len + args.output_len + 16)
    rows = {}
    for n in streams:
        for r in range(args.rounds):
            order = ["skipjoin", "llama-server"] if r % 2 == 0 else ["llama-server", "skipjoin"]
            for system in order:
                run_dir = os.path.join(args.out, f"s{n}-r{r}-{system}")
                shutil.rmtree(run_dir, ignore_errors=True)
                os.makedirs(run_dir)
                if system == "skipjoin":
                    server = cluster_launch.Cluster(args.bin, args.config, run_dir,
                                                    sets=[f"model.path={args.model}",
                                                          "monitoring.prometheus=off"])
                    server.start()
                    port = server.http_port
                else:
                    server = LlamaServer(server_bin, args.model, args.threads, max(streams), ctx, run_dir)
                    server.start()
                    port = server.port
                try:
                    log(f"{n} streams, round {r + 1}/{args.rounds}: {system}")
                    m = metrics(bench(args, port, n, seed=1000 * n + r,
                                      path=os.path.join(run_dir, "bench.json")))
                finally:
                    server.stop()
                rows.setdefault((n, system), []).append(m)
    summary = []
    print("| streams | skipjoin tok/s | llama-server tok/s | ratio | skipjoin TTFT ms | llama-server TTFT ms "
          "| skipjoin TPOT ms | llama-server TPOT ms |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in streams:
        med = {s: {k: statistics.median(m[k] for m in rows[(n, s)]) for k in rows[(n, s)][0]}
               for s in ("skipjoin", "llama-server")}
        ratio = med["skipjoin"]["output_tok_s"] / med["llama-server"]["output_tok_s"]
        summary.append({"streams": n, "rounds": args.rounds, "median": med, "ratio_output_tok_s": ratio,
                        "rounds_raw": {s: rows[(n, s)] for s in ("skipjoin", "llama-server")}})
        a, b = med["skipjoin"], med["llama-server"]
        print(f"| {n} | {a['output_tok_s']:.1f} | {b['output_tok_s']:.1f} | {ratio:.2f} | "
              f"{a['ttft_ms_median']:.0f} | {b['ttft_ms_median']:.0f} | {a['tpot_ms_median']:.1f} | "
              f"{b['tpot_ms_median']:.1f} |")
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump({"threads": args.threads, "input_len": args.input_len, "output_len": args.output_len,
                   "llama_cpp_python": args.llama_cpp_python, "rows": summary}, f, indent=1)
    return 0


if __name__ == "__main__":
    cluster_launch.exit_with(main)
