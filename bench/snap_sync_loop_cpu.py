#!/usr/bin/python3
"""CPU the leader's event-loop thread spends SNAP-syncing a follower (issue 20).

    /usr/bin/python3 bench/snap_sync_loop_cpu.py -n 1000000 BUILD_DIR [BUILD_DIR ...] [--runs 2]

As bench/snapshot_loop_cpu.py, a count rather than a latency: for each build (its bin/zkd) a
3-member zkd ensemble on localhost (memberProtocol=zkd) whose members 1 and 2 start from a dataDir
of N znodes (bench/snapgen.py) and elect 2; member 3 then starts with an empty dataDir and needs a
SNAP.  The leader's loop thread's CPU (its main thread: utime+stime from /proc, clock ticks) and
the whole process's are read before member 3 starts and when the leader logs it in sync.  Builds
alternate, `--runs` times.
"""
import os
import shutil
import subprocess
import sys
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH_DIR)
sys.path.insert(0, ROOT)
sys.path.insert(0, BENCH_DIR)

from snapshot_loop_cpu import compare_builds, cpu, proc_cpu, wait_log  # noqa: E402
from tests.lib.servers import free_port  # noqa: E402


def ensemble(build, template, work):
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    ports = {sid: (free_port(), free_port(), free_port()) for sid in (1, 2, 3)}
    servers = "".join("server.%d=127.0.0.1:%d:%d\n" % (sid, q, e)
                      for sid, (q, e, _) in ports.items())
    logs = {}
    for sid in (1, 2, 3):
        data = os.path.join(work, "m%d" % sid)
        if sid == 3:
            os.makedirs(data)
        else:
            shutil.copytree(template, data)
        with open(os.path.join(data, "myid"), "w") as f:
            f.write("%d\n" % sid)
        cfg = os.path.join(work, "zoo%d.cfg" % sid)
        with open(cfg, "w") as f:
            f.write("tickTime=2000\ninitLimit=30\nsyncLimit=10\ndataDir=%s\nclientPort=%d\n"
                    "clientPortAddress=127.0.0.1\npollSpinMicros=0\nadmin.enableServer=false\n%s"
                    % (data, ports[sid][2], servers))
        logs[sid] = os.path.join(work, "m%d.log" % sid)
    return logs, lambda sid: subprocess.Popen(
        [os.path.join(build, "bin", "zkd"), os.path.join(work, "zoo%d.cfg" % sid)],
        stdout=open(logs[sid], "a"), stderr=subprocess.STDOUT)


def one(build, template, work):
    logs, start = ensemble(build, template, work)
    procs = {}
    try:
        procs[1], procs[2] = start(1), start(2)
        wait_log(logs[2], r"leading epoch")
        leader = procs[2].pid
        before_loop, before_all = cpu(leader, leader), proc_cpu(leader)
        t0 = time.time()
        procs[3] = start(3)
        wait_log(logs[2], r"server 3 is in sync")
        wall = time.time() - t0
        after_loop, after_all = cpu(leader, leader), proc_cpu(leader)
        return dict(loop=after_loop - before_loop, total=after_all - before_all, wall=wall,
                    load=os.getloadavg()[0])
    finally:
        for p in procs.values():
            p.terminate()
        for p in procs.values():
            p.wait()


def main():
    # each run gets a fresh directory of its own (one() starts three members there)
    compare_builds("snapsync-", 2,
                   ["leader loop thread CPU [s]", "leader process CPU [s]", "sync wall [s]", "load"],
                   lambda b, template, work: one(b, template, os.path.join(work, "run")),
                   lambda res: ["%.2f" % res["loop"], "%.2f" % res["total"], "%.2f" % res["wall"],
                                "%.1f" % res["load"]])


if __name__ == "__main__":
    main()
