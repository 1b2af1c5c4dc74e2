"""Median over rounds of `comm_bench` output, one row per op and size, the
backends side by side (docs/DISTRIBUTED.md):

    build/bench/comm_bench ... > out.txt && python3 bench/comm_summary.py out.txt
"""
import statistics
import sys
from collections import defaultdict


def main(path):
    rows = defaultdict(lambda: defaultdict(list))  # (op, floats) -> comm -> [(p50, p99, bytes)]
    comms = []
    header = ""
    for line in open(path):
        if line.startswith("#"):
            header = line.strip()
            continue
        f = line.split()
        if len(f) != 7 or f[0] == "round":
            continue
        _, comm, op, floats, p50, p99, nbytes = f
        if comm not in comms:
            comms.append(comm)
        rows[(op, int(floats))][comm].append((float(p50), float(p99), float(nbytes)))
    print(header)
    print("| op | floats | " + " | ".join(f"{c} p50 / p99 us" for c in comms) + " | " +
          " | ".join(f"{c} B/call/rank" for c in comms if c != "shm") + " |")
    print("|" + " --- |" * (2 + len(comms) + len([c for c in comms if c != "shm"])))
    for (op, floats) in sorted(rows, key=lambda k: (k[0] != "allreduce", k[1])):
        cells = []
        for c in comms:
            v = rows[(op, floats)].get(c, [])
            cells.append(f"{statistics.median(x[0] for x in v):.1f} / "
                         f"{statistics.median(x[1] for x in v):.1f}" if v else "-")
        byte_cells = []
        for c in comms:
            if c == "shm":
                continue
            v = rows[(op, floats)].get(c, [])
            byte_cells.append(f"{statistics.median(x[2] for x in v):.0f}" if v else "-")
        print(f"| {op} | {floats} | " + " | ".join(cells) + " | " + " | ".join(byte_cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1])
