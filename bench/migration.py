#!/usr/bin/python3
"""Rolling migration between Apache ZooKeeper 3.8 and zkd (issue 16): client-visible
unavailability per member swap, against an Apache-to-Apache rolling restart.

    /usr/bin/python3 bench/migration.py [--rounds 2] [--plans migration,apache-restart]
                                        [--no-load] [--json FILE] [--keep]

Plans, each on a fresh 3-member ensemble of Apache members (tickTime=200, initLimit=20,
syncLimit=5, as tests/lib/ensemble.py), with every round swapping each member once in each
direction:

  migration        each member replaced by zkd (same zoo.cfg keys, myid, dataDir), then each
                   replaced by Apache again: the migration and its roll-back
  apache-restart   each member stopped and started again as Apache, twice: the rolling restart an
                   operator does today (an upgrade, a configuration change)

A swap (tests/lib/migration.py) is timed from the stop signal (SIGTERM) until a write through the
other two members is acknowledged again ("unavailable": what clients see; a follower's stop costs
next to nothing, the leader's an election), and until the replacement serves ("rejoined").
Meanwhile the checked workload of the fault tests runs (five kazoo clients, tests/lib/history.py)
unless --no-load, and its history is checked at the end of each plan; one kazoo session holds an
ephemeral node throughout and must survive.  Prints a markdown table per plan, leader and follower
swaps apart (min / median / max), with the load average.  Not a test: no thresholds;
tests/ensemble/test_rolling_migration.py runs one round with the checks.
"""
import argparse
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.lib.ensemble import MixedEnsemble, ensemble_missing_reason  # noqa: E402
from tests.lib.history import Workload, check, format_violations  # noqa: E402
from tests.lib.migration import MIGRATION_CFG, HeldSession, rolling  # noqa: E402

PLANS = {
    "migration": ["zkd"] * 3 + ["apache"] * 3,
    "apache-restart": ["apache"] * 6,
}


def run_plan(name, rounds, workdir, load=True, log=print):
    """Runs `rounds` rounds of plan `name`; returns (swaps, notes)."""
    ens = MixedEnsemble(os.path.join(workdir, name), [], participants=3, cfg=MIGRATION_CFG)
    held = HeldSession(ens)
    wl = None
    swaps, notes = [], []
    try:
        ens.start()
        held.start()
        if load:
            wl = Workload([ens.hosts_of([sid]) for sid in ens.sids], seed=1)
            wl.start()
        for r in range(rounds):
            log("%s round %d" % (name, r + 1))
            swaps.extend(rolling(ens, PLANS[name], log=log))
        if wl:
            wl.stop()
            ens.wait_serving()
            wl.read_final({sid: ens.hosts_of([sid]) for sid in ens.sids})
            violations = check(wl.history)
            notes.append("history: %s; %s" % (
                wl.history.summary(), format_violations(violations, wl.history)
                if violations else "no violations"))
        problems = held.check()
        notes.append("held session: %s" % ("; ".join(problems) if problems else "kept"))
    finally:
        if wl and not wl._stop.is_set():
            wl.stop()
        held.close()
        ens.close()
    return swaps, notes


def stats(values):
    if not values:
        return "- | - | - | -"
    return "%d | %.3f | %.3f | %.3f" % (len(values), min(values), statistics.median(values),
                                         max(values))


def table(name, swaps):
    out = ["| %s: swap | role | n | unavailable min | median | max | stopping (median) | "
           "rejoined (median) |" % name, "|---|---|---|---|---|---|---|---|"]
    for was, now in sorted({(s.was, s.now) for s in swaps}):
        for role, is_leader in (("leader", True), ("follower", False)):
            sel = [s for s in swaps if (s.was, s.now) == (was, now) and s.leader == is_leader]
            if sel:
                out.append("| %s -> %s | %s | %s | %.3f | %.3f |" % (
                    was, now, role, stats([s.unavailable for s in sel]),
                    statistics.median(s.stopping for s in sel),
                    statistics.median(s.rejoined for s in sel)))
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--plans", default="migration,apache-restart")
    ap.add_argument("--no-load", action="store_true", help="no client workload during the swaps")
    ap.add_argument("--json", help="also write the raw swaps here")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = ap.parse_args(argv)
    logging.getLogger("kazoo").setLevel(logging.CRITICAL)
    plans = [p.strip() for p in args.plans.split(",") if p.strip()]
    for p in plans:
        if p not in PLANS:
            ap.error("unknown plan %r (%s)" % (p, ", ".join(PLANS)))
    for kind in ("apache", "zkd"):
        reason = ensemble_missing_reason(kind)
        if reason:
            print("cannot run: %s: %s" % (kind, reason))
            return 1

    workdir = tempfile.mkdtemp(prefix="migration-")
    results, raw = [], {}
    load_before = os.getloadavg()
    try:
        for p in plans:
            swaps, notes = run_plan(p, args.rounds, workdir, load=not args.no_load)
            results.append((p, swaps, notes))
            raw[p] = [vars(s) for s in swaps]
    finally:
        if args.keep:
            print("work directory kept: %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    load_after = os.getloadavg()

    print()
    print("Rolling swaps of a 3-member ensemble, %d round(s) per plan, %s, tickTime=200 ms; "
          "seconds from the member's SIGTERM until a write through the other members is "
          "acknowledged; load average %s before, %s after" % (
              args.rounds, "no load" if args.no_load else "under the 5-client checked workload",
              " ".join("%.2f" % x for x in load_before),
              " ".join("%.2f" % x for x in load_after)))
    for p, swaps, notes in results:
        print()
        print(table(p, swaps))
        print()
        for n in notes:
            print("- %s" % n)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rounds": args.rounds, "load": [load_before, load_after], "swaps": raw}, f,
                      indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
