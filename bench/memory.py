#!/usr/bin/python3
"""Memory per znode of zkd, measured from a snapshot load (issue 20).

    /usr/bin/python3 bench/memory.py [-n 10000000] [--zkd BIN ...] [--out FILE]

Writes the scale profile's tree (N znodes of 100 bytes, 1,000 per parent: bench/snapgen.py)
as an Apache snapshot once, then for each zkd binary given (default: the build's) starts it on
an empty dataDir and on a copy of that snapshot, and reports (VmRSS after the load - VmRSS of
the empty server) / N.  Loading an image instead of N creates takes a minute at 10M instead of
several, and measures the same tree: the txn log and the load generator play no part.  Several
binaries (e.g. before and after a change) are measured on the same image, one after the other.
The report (markdown, and JSON next to it) goes to bench/results/<date>-<host>-memory-<N>.md
unless --out says otherwise.  The image and dataDirs live in a temporary directory that is
removed at the end (a 10M image is 1.9 GB; the server then needs ~1.8 GB of memory).
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import snapgen  # noqa: E402
from tests.lib.paths import BUILD_BIN  # noqa: E402

DATA_BYTES = snapgen.SIZE
NAME_BYTES = 6  # "n00000"
# The Stat fields a leaf cannot derive: czxid, mzxid, ctime, mtime, version (its cversion,
# aversion, pzxid and ephemeralOwner are defaults; its dataLength and numChildren follow).
STAT_BYTES = 8 * 4 + 4


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def vmrss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS for pid %d" % pid)


def serving(port):
    """True once zkd answers srvr (it listens only after loading its dataDir)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"srvr")
            return s.recv(64).startswith(b"Zookeeper")
    except OSError:
        return False


def run_zkd(binary, datadir, settle_s, timeout_s):
    """Starts zkd on datadir; returns (VmRSS once serving and settled, seconds to serve)."""
    port = free_port()
    cfg = datadir + ".cfg"
    with open(cfg, "w") as f:
        f.write("tickTime=2000\ndataDir=%s\nclientPort=%d\nadmin.enableServer=false\n"
                % (datadir, port))
    log = open(datadir + ".log", "w")
    t0 = time.monotonic()
    proc = subprocess.Popen([binary, cfg], stdout=log, stderr=log)
    try:
        while not serving(port):
            if proc.poll() is not None:
                raise RuntimeError("zkd exited with %s; see %s" % (proc.returncode, log.name))
            if time.monotonic() - t0 > timeout_s:
                raise RuntimeError("zkd not serving after %.0f s" % timeout_s)
            time.sleep(0.2)
        ready = time.monotonic() - t0
        time.sleep(settle_s)  # the post-load snapshot's child and the loader's buffers go
        return vmrss(proc.pid), ready
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def measure(binary, image_dir, work, n, settle_s):
    empty = os.path.join(work, "empty")
    os.makedirs(empty)
    rss_empty, _ = run_zkd(binary, empty, settle_s, 60)
    loaded = os.path.join(work, "loaded")
    shutil.copytree(image_dir, loaded)
    try:
        rss_loaded, ready = run_zkd(binary, loaded, settle_s, 600 + n / 20000)
    finally:
        shutil.rmtree(loaded, True)
        shutil.rmtree(empty, True)
    return {"zkd": binary, "rss_empty": rss_empty, "rss_loaded": rss_loaded,
            "load_s": round(ready, 2), "bytes_per_znode": (rss_loaded - rss_empty) / n}


def report(res):
    floor = DATA_BYTES + NAME_BYTES + STAT_BYTES
    lines = ["# zkd memory per znode (bench/memory.py), %s" % res["date"], "",
             "%s znodes of %d bytes under %s parents, loaded from an Apache snapshot; "
             "host %s, load average %s before the runs." % (
                 "{:,}".format(res["n"]), DATA_BYTES, "{:,}".format(res["parents"]),
                 res["host"], res["loadavg"]), "",
             "| zkd | empty RSS [MiB] | loaded RSS [MiB] | load [s] | bytes per znode |",
             "|---|---:|---:|---:|---:|"]
    for r in res["runs"]:
        lines.append("| `%s` | %.1f | %.1f | %.1f | %.1f |" % (
            r["zkd"], r["rss_empty"] / 1048576.0, r["rss_loaded"] / 1048576.0, r["load_s"],
            r["bytes_per_znode"]))
    lines += ["", "Floor: %d bytes per znode (%d data + %d name + %d of Stat a leaf cannot "
              "derive: czxid, mzxid, ctime, mtime, version)." % (
                  floor, DATA_BYTES, NAME_BYTES, STAT_BYTES)]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=10_000_000)
    ap.add_argument("--zkd", action="append", help="zkd binary (repeatable; default the build's)")
    ap.add_argument("--out", help="report path (.md; JSON beside it)")
    ap.add_argument("--settle", type=float, default=3.0, help="seconds between serving and RSS")
    a = ap.parse_args()
    binaries = [os.path.abspath(b) for b in (a.zkd or [os.path.join(BUILD_BIN, "zkd")])]
    parents = max(1, a.n // snapgen.PER_PARENT)
    with open("/proc/loadavg") as f:
        loadavg = " ".join(f.read().split()[:3])
    res = {"date": datetime.date.today().isoformat(), "host": platform.node(), "n": a.n,
           "parents": parents, "loadavg": loadavg, "runs": []}
    work = tempfile.mkdtemp(prefix="zkd-memory-")
    try:
        image = os.path.join(work, "image")
        vdir = os.path.join(image, "version-2")
        os.makedirs(vdir)
        snapgen.generate(os.path.join(vdir, "snapshot"), a.n, parents)
        for b in binaries:
            r = measure(b, image, work, a.n, a.settle)
            print("%s: %.1f bytes per znode (load %.1f s)" % (b, r["bytes_per_znode"], r["load_s"]),
                  flush=True)
            res["runs"].append(r)
    finally:
        shutil.rmtree(work, True)
    out = a.out or os.path.join(HERE, "results", "%s-%s-memory-%d.md" % (
        res["date"], platform.node(), a.n))
    with open(out, "w") as f:
        f.write(report(res))
    with open(os.path.splitext(out)[0] + ".json", "w") as f:
        json.dump(res, f, indent=1)
    print(out)


if __name__ == "__main__":
    main()
