#!/usr/bin/python3
"""Failover time: from SIGKILL of the leader of a 3-member ensemble until a write succeeds again.

    /usr/bin/python3 bench/failover.py [--runs 5] [--kinds apache,zkd] [--members 3]
                                       [--signal kill|stop] [--json FILE]

For each kind (Apache ZooKeeper 3.8 and zkd, same machine, same zoo.cfg timing: tickTime=200,
initLimit=20, syncLimit=5; see tests/lib/ensemble.py), one ensemble is started; each run then:

  1. checks that a write succeeds, through a kazoo client connected to the followers only (so the
     client never has to notice the leader's death itself: what is measured is the ensemble);
  2. SIGKILLs the leader (t0) and retries setData, each attempt bounded by 0.5 s, until one is
     acknowledged (t1); the run's time is t1 - t0;
  3. restarts the killed member and waits until all members serve again.

With --signal stop the leader is SIGSTOPped instead (a hang: its sockets stay open, so the others
notice only by timeout, syncLimit ticks) and SIGCONTed after the run.

Prints a markdown table (min / median / max over the runs).  A kind that cannot run (no java,
zkd without ensemble support: `zkd --version` must mention "ensemble") gets a row saying why.
The time includes election, synchronization of the new quorum and the client's reconnection
(kazoo, retrying every 50 ms), so it is what an application would see.  Not a test: no
thresholds; tests/ensemble/test_failover_bench.py only smoke-runs it.
"""
import argparse
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.lib.ensemble import Ensemble, ensemble_missing_reason  # noqa: E402
from tests.lib.migration import write_until_ok  # noqa: E402


def measure(kind, runs, members, workdir, sig="kill", log=print):
    from kazoo.client import KazooClient
    from kazoo.retry import KazooRetry

    ens = Ensemble(os.path.join(workdir, kind), kind, participants=members)
    times = []
    try:
        ens.start()
        for i in range(runs):
            leader = ens.leader(timeout=30)
            followers = [s for s in ens.sids if s != leader]
            client = KazooClient(hosts=ens.hosts_of(followers), timeout=4.0,
                                 connection_retry=KazooRetry(max_tries=-1, delay=0.05,
                                                             max_delay=0.05, backoff=1))
            client.start(timeout=30)
            try:
                client.ensure_path("/failover")
                client.set("/failover", b"before %d" % i)
                t0 = time.monotonic()
                if sig == "stop":
                    ens.pause(leader)
                else:
                    ens.kill(leader)
                t1 = write_until_ok(client, "/failover", b"after %d" % i, t0 + 120)
            finally:
                client.stop()
                client.close()
            times.append(t1 - t0)
            log("%s run %d: leader %d %s, writes back after %.3f s (new leader %s)" % (
                kind, i + 1, leader, "stopped" if sig == "stop" else "killed", t1 - t0,
                ens.leader(timeout=10)))
            if sig == "stop":
                ens.resume(leader)
                ens.wait_serving()
            else:
                ens.start_member(leader)
    finally:
        ens.close()
    return times


def row(kind, times=None, reason=None):
    if reason:
        return "| %s | - | - | - | - | skipped: %s |" % (kind, reason)
    return "| %s | %d | %.3f | %.3f | %.3f | |" % (
        kind, len(times), min(times), statistics.median(times), max(times))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--kinds", default="apache,zkd")
    ap.add_argument("--members", type=int, default=3)
    ap.add_argument("--signal", choices=("kill", "stop"), default="kill",
                    help="SIGKILL the leader (crash) or SIGSTOP it (hang)")
    ap.add_argument("--json", help="also write the raw times here")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = ap.parse_args(argv)
    logging.getLogger("kazoo").setLevel(logging.CRITICAL)  # reconnection chatter
    if args.runs < 1 or args.members < 3:
        ap.error("need --runs >= 1 and --members >= 3 (a leader must be killable)")

    workdir = tempfile.mkdtemp(prefix="failover-")
    rows, raw = [], {}
    try:
        for kind in [k.strip() for k in args.kinds.split(",") if k.strip()]:
            if kind not in ("apache", "zkd"):
                ap.error("unknown kind %r (apache, zkd)" % kind)
            reason = ensemble_missing_reason(kind)
            if reason:
                rows.append(row(kind, reason=reason))
                continue
            times = measure(kind, args.runs, args.members, workdir, args.signal)
            raw[kind] = times
            rows.append(row(kind, times))
    finally:
        if args.keep:
            print("work directory kept: %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    print()
    print("Failover: leader SIG%s until a write is acknowledged again, %d-member ensemble, "
          "tickTime=200 ms, seconds" % (args.signal.upper(), args.members))
    print()
    print("| server | runs | min | median | max | note |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(r)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"members": args.members, "signal": args.signal, "times": raw}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
