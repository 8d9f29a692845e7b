#!/usr/bin/python3
"""The loop thread's syscalls during one zkd watch fan-out, by kind (issue 20, server/flush.h).

    /usr/bin/python3 bench/fanout_turns.py --watchers 5000 --share 32 --share 8 --share 0

For each notifyWritesPerTurn value (--share): a standalone zkd, N sessions of bench/fanout.c with
an exists watch on /fan, then --rounds times: `perf trace -s` attached to zkd, 1 s for it to
attach, one setData, every session's event collected, perf stopped.  Prints the per-thread
summary lines perf gives for zkd's loop thread (the one with the most events): write = one per
notified connection, epoll_wait = one per loop turn (the share turns, plus the idle waits of the
attach second).  Counts only: the times perf prints are those of a shared, loaded machine.
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(BENCH_DIR))
sys.path.insert(0, BENCH_DIR)

from tests.lib.paths import BUILD_BIN  # noqa: E402

import bench as B  # noqa: E402
import loader  # noqa: E402


def busiest_thread(summary):
    """{syscall: calls} of the thread with the most events in a `perf trace -s` summary."""
    best, cur, best_n = {}, None, -1
    for line in summary.splitlines():
        m = re.match(r"\s*\S+ \((\d+)\), (\d+) events", line)
        if m:
            cur = {}
            if int(m.group(2)) > best_n:
                best, best_n = cur, int(m.group(2))
            continue
        m = re.match(r"\s+(\w+)\s+(\d+)\s+\d+\s", line)
        if m and cur is not None:
            cur[m.group(1)] = int(m.group(2))
    return best


def run(share, args, base):
    wd = tempfile.mkdtemp(prefix="share%s-" % share, dir=base)
    z = B.BenchZkd(wd, os.path.join(BUILD_BIN, "zkd"), None,
                   cfg={"maxClientCnxns": "0", "maxSessionTimeout": "60000",
                        "notifyWritesPerTurn": str(share)})
    z.start(timeout=60)
    s, _sid, _to = loader.connect("127.0.0.1", z.port)
    gen = None
    try:
        loader.call(s, 1, loader.OP_CREATE, loader.create_body(b"/fan", b"0"))
        gen = subprocess.Popen([os.path.join(BUILD_BIN, "fanout"), "--conns", str(args.watchers),
                                "--out", os.path.join(wd, "events.bin"), "--threads", "2",
                                "--path", "/fan", "--hosts", "127.0.0.1:%d" % z.port],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        if not gen.stdout.readline().startswith("armed"):
            raise RuntimeError("generator did not arm")
        for rnd in range(1, args.rounds + 1):
            perf = subprocess.Popen(["perf", "trace", "-s", "-p", str(z.pid)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            time.sleep(1.0)  # perf attaches
            loader.call(s, 1 + rnd, 5, loader.set_body(b"/fan", b"%d" % rnd))
            gen.stdin.write("collect 60\n")
            gen.stdin.flush()
            done = gen.stdout.readline().split()
            perf.send_signal(signal.SIGINT)
            _out, err = perf.communicate(timeout=60)
            calls = busiest_thread(err)
            print("notifyWritesPerTurn=%s round %d: notified %s dup %s; loop thread: write %d, "
                  "epoll_wait %d, all %d; per notification %.3f"
                  % (share, rnd, done[2], done[3], calls.get("write", 0),
                     calls.get("epoll_wait", 0), sum(calls.values()),
                     sum(calls.values()) / max(1, int(done[2]))), flush=True)
            if not gen.stdout.readline().startswith("armed"):
                raise RuntimeError("generator did not re-arm")
    finally:
        if gen:
            gen.stdin.write("quit\n")
            gen.stdin.flush()
            gen.wait(60)
        loader.close_session(s)
        z.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--watchers", type=int, default=5000)
    ap.add_argument("--share", action="append", default=[], help="notifyWritesPerTurn values")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    base = tempfile.mkdtemp(prefix="zk-fanout-turns-")
    try:
        for share in args.share or ["32", "0"]:
            run(share, args, base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
