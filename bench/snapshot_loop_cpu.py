#!/usr/bin/python3
"""CPU the event-loop thread spends while a background snapshot runs (issue 20).

    /usr/bin/python3 bench/snapshot_loop_cpu.py -n 1000000 BUILD_DIR [BUILD_DIR ...] [--runs 3]

A count rather than a latency, so it holds on a loaded machine: for each build (its
bin/zkd), a dataDir of N znodes from bench/snapgen.py, zkd started on it with
pollSpinMicros=0 (no busy-poll window: the loop thread sleeps when idle) and snapCount=2;
two setData start a background snapshot; the loop thread's and the whole process's CPU
time (utime+stime from /proc, clock ticks) are read before and when the log says the
snapshot is written.  Builds alternate, `--runs` times.  The loop thread is the process's
main thread (zkd re-executes itself once for huge pages: the same pid).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH_DIR)
sys.path.insert(0, ROOT)

from kazoo.client import KazooClient  # noqa: E402

from tests.lib.servers import free_port  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu(pid, tid):
    with open("/proc/%d/task/%d/stat" % (pid, tid)) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def proc_cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def wait_log(path, pattern, timeout=600):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with open(path, errors="replace") as f:
            m = re.search(pattern, f.read())
        if m:
            return m
        time.sleep(0.05)
    raise RuntimeError("%s: no %r" % (path, pattern))


def one(build, template, workdir):
    data = os.path.join(workdir, "data")
    shutil.rmtree(data, ignore_errors=True)
    shutil.copytree(template, data)
    port = free_port()
    cfg = os.path.join(workdir, "zoo.cfg")
    with open(cfg, "w") as f:
        f.write("tickTime=2000\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"
                "snapCount=2\npollSpinMicros=0\nadmin.enableServer=false\n" % (data, port))
    logp = os.path.join(workdir, "zkd.log")
    with open(logp, "w") as lf:
        p = subprocess.Popen([os.path.join(build, "bin", "zkd"), cfg], stdout=lf, stderr=lf)
    try:
        wait_log(logp, r"ready:")
        zk = KazooClient(hosts="127.0.0.1:%d" % port, timeout=30)
        zk.start(timeout=60)
        zk.ensure_path("/bench")
        before_loop, before_all = cpu(p.pid, p.pid), proc_cpu(p.pid)
        t0 = time.time()
        for i in range(4):
            zk.set("/bench", b"%d" % i)
        m = wait_log(logp, r"snapshot 0x[0-9a-f]+ written in ([0-9.]+) s")
        after_loop, after_all = cpu(p.pid, p.pid), proc_cpu(p.pid)
        wall = time.time() - t0
        zk.stop()
        zk.close()
        return dict(loop=after_loop - before_loop, total=after_all - before_all,
                    snap_s=float(m.group(1)), wall=wall, load=os.getloadavg()[0])
    finally:
        p.terminate()
        p.wait()


def compare_builds(prefix, default_runs, columns, one, row):
    """The driver both loop-CPU benches share: parses BUILD_DIR... -n --runs, makes one
    dataDir of N znodes (bench/snapgen.py), then runs `one(build, template, workdir)` for each
    build in turn, `--runs` times, printing a markdown table of `columns` with `row(result)`
    after the run number and the build."""
    ap = argparse.ArgumentParser()
    ap.add_argument("builds", nargs="+")
    ap.add_argument("-n", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=default_runs)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix=prefix)
    template = os.path.join(work, "template")
    subprocess.run([sys.executable, os.path.join(BENCH_DIR, "snapgen.py"), template,
                    "-n", str(a.n)], check=True)
    print("| run | build | %s |" % " | ".join(columns))
    print("|---|---|" + "---:|" * len(columns))
    try:
        for r in range(a.runs):
            for b in a.builds:
                res = one(b, template, work)
                print("| %d | %s | %s |" % (r + 1, b, " | ".join(row(res))))
                sys.stdout.flush()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    compare_builds("snaploop-", 3,
                   ["snapshot [s]", "loop thread CPU [s]", "process CPU [s]", "load"], one,
                   lambda res: ["%.2f" % res["snap_s"], "%.2f" % res["loop"], "%.2f" % res["total"],
                                "%.1f" % res["load"]])


if __name__ == "__main__":
    main()
