#!/usr/bin/python3
"""The leader's get latency while learners are SNAP-synced (issue 20).

    /usr/bin/python3 bench/snap_sync_probe.py -n 1000000 [--kinds zkd,apache] [--learners 2]
                                              [--baseline 5] [--runs 2] [--out FILE.md]

Goal: "a follower or observer that needs a full SNAP of the tree gets it without stalling the
leader's clients (get 1x1 p99.9 during the sync within 2x of its value without one), and a
leader that streams SNAPs to two learners at once still serves."

For each kind (and run): an ensemble of three participants and, with --learners 2, one observer.
Members 1 and 2 start from a dataDir of N znodes of 100 bytes under N/1000 parents
(bench/snapgen.py, the scale profile's tree) and elect a leader; member 3 (and the observer 4)
start with an empty dataDir, so each needs a SNAP of the whole tree.  One session on the leader
sends one get at a time to random znodes of the tree (bench/scale.py's probe) for --baseline
seconds, then the learners are started together, and the probe goes on until each of them
serves (its `srvr` mode is follower or observer).  The table gives the probe's latency without
and during the sync, and the ratio of the p99.9s.

Apache gets a heap of --apache-heap per member (three or four JVMs: keep N at 1M or below for
it on a 24 GiB machine).

--pin A:B (CPU lists, e.g. 0:1) stands in for learners on machines of their own: members 1 and 2
and the probe run on CPUs A, the syncing learners on CPUs B (processes inherit the bench's
affinity when started; both kinds alike).  Without it every process shares every CPU, so on a
2-core machine what the probe sees during a sync is mostly the learners' own loading.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH_DIR)
sys.path.insert(0, ROOT)
sys.path.insert(0, BENCH_DIR)

import bench as B  # noqa: E402
import scale  # noqa: E402
from tests.lib.ensemble import Ensemble  # noqa: E402

CFG = {"tickTime": "2000", "initLimit": "150", "syncLimit": "10",
       "snapCount": "100000000", "4lw.commands.whitelist": "*"}


def log(msg):
    sys.stderr.write("[snap-sync %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def one(kind, template, n, learners, baseline_s, heap, workdir, pin=None):
    """One run; returns {"without": summary, "during": summary, "sync_s": s, "load": [..]}.
    `pin`: (leader CPUs, learner CPUs) or None."""
    everywhere = os.sched_getaffinity(0)
    if pin:
        os.sched_setaffinity(0, pin[0])
    try:
        return one_pinned(kind, template, n, learners, baseline_s, heap, workdir, pin)
    finally:
        os.sched_setaffinity(0, everywhere)


def one_pinned(kind, template, n, learners, baseline_s, heap, workdir, pin):
    shutil.rmtree(workdir, ignore_errors=True)
    ens = Ensemble(workdir, kind=kind, participants=3, observers=learners - 1, cfg=CFG,
                   apache_heap=heap)
    try:
        for sid in (1, 2):
            shutil.copytree(template, os.path.join(ens[sid].data_dir, "version-2"),
                            dirs_exist_ok=True)
            ens[sid].start(wait=False)
        leader = ens.wait_serving(sids=[1, 2], timeout=600)
        log("%s: member %d leads %d znodes" % (kind, leader, n))
        probe = scale.Probe(ens.client_ports[leader], n, n // scale.PER_PARENT, workdir)
        try:
            time.sleep(baseline_s)  # the window without a sync: nothing to wait for
            la = os.getloadavg()[0]
            t_sync = time.monotonic()
            syncing = [3, 4][:learners]
            if pin:
                os.sched_setaffinity(0, pin[1])
            for sid in syncing:
                ens[sid].start(wait=False)
            if pin:
                os.sched_setaffinity(0, pin[0])
            while not all(ens.mode(sid) in ("follower", "observer") for sid in syncing):
                for sid in syncing:
                    if ens[sid].proc.poll() is not None:
                        raise RuntimeError("member %d exited\n%s" % (sid, ens.describe()))
                time.sleep(0.05)
            t_done = time.monotonic()
        finally:
            probe.finish()
        return {"without": probe.window(probe.t0, t_sync), "during": probe.window(t_sync, t_done),
                "sync_s": t_done - t_sync, "load": [la, os.getloadavg()[0]]}
    finally:
        ens.close()


def cell(w):
    if not w.get("count"):
        return "-"
    return "%.0f / %.0f / %.0f / %.0f (%d gets)" % (w["p50"], w["p99"], w["p999"], w["max"],
                                                   w["count"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=1_000_000)
    ap.add_argument("--kinds", default="zkd,apache")
    ap.add_argument("--learners", type=int, choices=(1, 2), default=2)
    ap.add_argument("--baseline", type=float, default=5.0)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--apache-heap", default="3g")
    ap.add_argument("--pin", metavar="A:B", help="members 1, 2 and the probe on CPUs A, the "
                    "syncing learners on CPUs B (e.g. 0:1)")
    ap.add_argument("--out")
    a = ap.parse_args()
    pin = B.parse_pin(a.pin)
    work = tempfile.mkdtemp(prefix="snapsyncprobe-")
    lines = ["# Leader get latency during SNAP sync of %s znodes to %d learner(s) at once" %
             ("{:,}".format(a.n), a.learners), "",
             "Command: `bench/snap_sync_probe.py %s`; latencies in microseconds, "
             "p50 / p99 / p99.9 / max." % " ".join(sys.argv[1:]), "",
             "| run | kind | get 1x1 without sync | get 1x1 during sync | p99.9 during / without "
             "| sync [s] | load before, after |",
             "|---|---|---|---|---:|---:|---|"]
    try:
        template = os.path.join(work, "template")
        subprocess.run([sys.executable, os.path.join(BENCH_DIR, "snapgen.py"), template,
                        "-n", str(a.n)], check=True)
        template = os.path.join(template, "version-2")
        for r in range(a.runs):
            for kind in a.kinds.split(","):
                res = one(kind, template, a.n, a.learners, a.baseline, a.apache_heap,
                          os.path.join(work, "run"), pin)
                w, d = res["without"], res["during"]
                ratio = d["p999"] / w["p999"] if w.get("count") and d.get("count") else float("nan")
                lines.append("| %d | %s | %s | %s | %.2fx | %.2f | %.1f, %.1f |" % (
                    r + 1, kind, cell(w), cell(d), ratio, res["sync_s"], *res["load"]))
                log(lines[-1])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
