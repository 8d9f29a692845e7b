#!/usr/bin/python3
"""Another client's get latency during a getChildren of 1,000,000 names (issue 20, listing.h).

    /usr/bin/python3 bench/wide_listing.py [--wide 1000000] [--reps 5] [--apache] [--out F.json]

One synthetic snapshot (bench/snapgen.py: W children of /scale/d000, 100-byte values) is
loaded by each server: zkd with getChildrenSlice at its default (sliced), zkd with
getChildrenSlice=0 (one piece, the old behaviour), and with --apache Apache 3.8.  Then, in
interleaved repetitions (server A, B, C, A, B, C, ...), a get 1x1 probe on another session runs
while one raw getChildren of the parent is sent: the probe's latencies of the gets sent during
that call (p50/p99/max, microseconds), its baseline over the second before, and the call's own
time are recorded.  Ratios within one run matter; the machine's load is printed with the
numbers.  Not part of the suite (a minute or more); results in
bench/results/2026-12-06-million-children.md."""
import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)
import scale as S  # noqa: E402
import bench as B  # noqa: E402
import snapgen  # noqa: E402

PARENT = b"/scale/d000"


def one_rep(srv, w, workdir):
    probe = S.Probe(srv.port, w, 1, workdir)
    time.sleep(1.0)
    t0 = time.monotonic()
    r = S.timed_get_children(srv.port, PARENT)
    t1 = time.monotonic()
    time.sleep(0.2)
    probe.finish()
    r["during"] = probe.window(t0, t1)
    r["baseline"] = probe.window(probe.t0 + 0.2, t0)
    r["load"] = os.getloadavg()[0]
    return r


def summary(reps):
    def med(key, sub):
        v = [r[key][sub] for r in reps if r[key].get("count")]
        return statistics.median(v) if v else None
    return {"call_s": statistics.median(r["call_s"] for r in reps),
            "during_p50_us": med("during", "p50"), "during_p99_us": med("during", "p99"),
            "during_max_us": med("during", "max"), "baseline_p99_us": med("baseline", "p99"),
            "probe_gets_during": statistics.median(r["during"]["count"] for r in reps),
            "loads": [round(r["load"], 1) for r in reps]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wide", type=int, default=1000000)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--apache", action="store_true")
    ap.add_argument("--out")
    a = ap.parse_args()
    base = tempfile.mkdtemp(prefix="wide-listing-")
    gen = os.path.join(base, "gen", "version-2")
    os.makedirs(gen)
    snapgen.generate(os.path.join(gen, "snapshot"), a.wide, 1)
    kinds = [("zkd sliced", "zkd", {}), ("zkd one piece", "zkd", {"getChildrenSlice": "0"})]
    if a.apache:
        kinds.append(("apache", "apache", {}))
    servers = []
    res = {"wide": a.wide, "uptime_before": open("/proc/loadavg").read().strip()}
    try:
        for name, kind, cfg in kinds:
            wd = os.path.join(base, name.replace(" ", "-"))
            os.makedirs(os.path.join(wd, "data"))
            shutil.copytree(gen, os.path.join(wd, "data", "version-2"))
            srv = S.make_server(kind, wd, {"cfg": cfg}, "2g")
            B.start_timed(srv, timeout=600)
            servers.append((name, srv, wd))
        reps = {name: [] for name, _s, _w in servers}
        for i in range(a.reps):
            for name, srv, wd in servers:
                r = one_rep(srv, a.wide, wd)
                reps[name].append(r)
                S.log("%s rep %d: call %.2f s, during p99 %s us max %s us (load %.1f)" % (
                    name, i, r["call_s"], r["during"].get("p99"), r["during"].get("max"),
                    r["load"]))
        res["summary"] = {name: summary(v) for name, v in reps.items()}
        res["reps"] = reps
        res["uptime_after"] = open("/proc/loadavg").read().strip()
    finally:
        for _n, srv, _w in servers:
            srv.close()
        shutil.rmtree(base, ignore_errors=True)
    text = json.dumps(res, indent=1, default=str)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    print(json.dumps(res["summary"], indent=1))


if __name__ == "__main__":
    main()
