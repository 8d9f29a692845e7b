"""Faults under a checked workload: several kazoo clients read, write and conditionally write a few
keys while a member crashes, hangs or is cut off; the recorded history is checked
(tests/lib/history.py) for linearizable writes, ZooKeeper's read guarantees, and that no
acknowledged write is lost (the final state is read from every member).  Seeds are printed;
HISTORY_SEED=<n> replays the random choices of a run.

Mixed ensembles (zkd members beside Apache 3.8 ones, issue 16) run the same faults: see
test_mixed_fault_schedule."""
import copy
import os
import random
import time

import pytest

from tests.lib.ensemble import MIXED_LAYOUTS, wait_for
from tests.lib.history import Workload, check, format_violations, seed_from_env


def acked_writes_since(wl, t):
    return sum(1 for op in list(wl.history.ops)
               if op.is_write and op.outcome == "ok" and op.invoke >= t)


def run_checked(ens, fault, writes_before=20, writes_after=20, seed=None):
    """Runs the workload, calls fault(ens) once `writes_before` writes were acknowledged (fault
    returns once the ensemble serves again without the faulty member, or has healed), waits for
    `writes_after` more, brings every member back and checks the history."""
    seed = seed_from_env() if seed is None else seed
    wl = Workload([ens.hosts_of([sid]) for sid in ens.sids], seed)
    wl.start()
    try:
        t0 = time.monotonic()
        wait_for(lambda: acked_writes_since(wl, t0) >= writes_before, 60,
                 "writes before the fault", ens)
        fault(ens)
        t1 = time.monotonic()
        wait_for(lambda: acked_writes_since(wl, t1) >= writes_after, 60,
                 "writes after the fault", ens)
    finally:
        wl.stop()
    for sid in ens.sids:
        if not ens[sid].running:
            ens.start_member(sid, wait=False)
    ens.heal() if ens.proxied else None
    ens.wait_serving(timeout=60)
    wl.read_final({sid: ens.hosts_of([sid]) for sid in ens.sids})
    assert not wl.errors, wl.errors
    violations = check(wl.history)
    if violations and ens.kind == "apache":
        # The reference run exists to prove the harness against a real ZooKeeper; what the
        # checker finds in Apache 3.8.0 itself is Apache's (seen once, under a majority
        # partition: a write read back at v15 was lost when the next epoch began, and a later
        # write got v15 again).  zkd's runs stay strict.
        pytest.xfail("Apache 3.8.0 broke the history, seed %d: %s" % (
            seed, format_violations(violations, wl.history)))
    assert not violations, "seed %d: %s" % (seed, format_violations(violations, wl.history))
    print("seed %d: %s" % (seed, wl.history.summary()))
    return wl.history


def others(ens, sid):
    return [s for s in ens.participants if s != sid]


def leader_sigkill(ens):
    leader = ens.leader()
    ens.kill(leader)
    assert ens.wait_serving(others(ens, leader)) != leader
    ens.start_member(leader)


def leader_sigstop(ens):
    leader = ens.leader()
    ens.pause(leader)
    assert ens.wait_serving(others(ens, leader)) != leader
    ens.resume(leader)
    ens.wait_serving()


def follower_sigkill(ens):
    follower = ens.followers()[0]
    ens.kill(follower)
    ens.wait_serving(others(ens, follower))
    ens.start_member(follower)


def whole_restart(ens):
    ens.restart_all()


def minority_partition(ens):
    follower = ens.followers()[0]
    ens.isolate(follower)
    leader = ens.wait_serving(others(ens, follower))
    wait_for(lambda: ens.mode(follower) is None, 30, "the cut-off follower to stop serving", ens)
    assert ens.leader() == leader
    ens.heal()
    ens.wait_serving()


def majority_partition(ens, mode="cut"):
    leader = ens.leader()
    ens.isolate(leader, mode=mode)  # the leader alone on its side
    assert ens.wait_serving(others(ens, leader)) != leader
    wait_for(lambda: ens.mode(leader) is None, 30, "the isolated leader to stop serving", ens)
    ens.heal()
    ens.wait_serving()


def majority_partition_blackhole(ens):
    """As majority_partition, but the links go silent instead of failing (noticed by timeouts)."""
    majority_partition(ens, mode="blackhole")


def leader_and_follower_sigkill(ens):
    """Two members at once (5 members: the other three still form a quorum)."""
    leader = ens.leader()
    follower = ens.followers()[0]
    ens.kill(leader)
    ens.kill(follower)
    rest = [s for s in ens.participants if s not in (leader, follower)]
    assert ens.wait_serving(rest) not in (leader, follower)
    ens.start_member(leader, wait=False)
    ens.start_member(follower)


def leader_in_minority_of_two(ens):
    """5 members split 2 | 3 with the leader on the small side."""
    leader = ens.leader()
    small = [leader, ens.followers()[0]]
    big = [s for s in ens.participants if s not in small]
    ens.partition(small, big)
    assert ens.wait_serving(big) in big
    wait_for(lambda: not any(ens.mode(s) for s in small), 30, "the minority to stop serving", ens)
    ens.heal()
    ens.wait_serving()


def slow_leader(ens):
    """The leader's links delay everything by 50 ms (a quarter of a tick): writes still commit,
    through it and through a follower, without an election."""
    from kazoo.client import KazooClient

    leader = ens.leader()
    ens.slow_down(leader, 0.05)
    for sid in (leader, ens.followers()[0]):
        c = KazooClient(hosts=ens.hosts_of([sid]), timeout=4.0)
        c.start(timeout=30)
        try:
            c.ensure_path("/slow")
            for i in range(5):
                c.set("/slow", b"%d" % i)
        finally:
            c.stop()
            c.close()
    assert ens.leader() == leader
    ens.heal()


FAULTS = [leader_sigkill, leader_sigstop, follower_sigkill, whole_restart]
LINK_FAULTS = [minority_partition, majority_partition, majority_partition_blackhole, slow_leader]
FIVE_ONLY = [leader_and_follower_sigkill, leader_in_minority_of_two]  # need 5 members


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.__name__)
def test_fault_keeps_history_valid(ensemble_factory, fault):
    run_checked(ensemble_factory(), fault)


@pytest.mark.parametrize("fault", LINK_FAULTS, ids=lambda f: f.__name__)
def test_link_fault_keeps_history_valid(ensemble_factory, fault):
    run_checked(ensemble_factory(proxied=True), fault)


def test_random_fault_schedules(ensemble_factory):
    """A random sequence of three faults per run, on a 3- or 5-member ensemble chosen by the seed;
    HISTORY_RUNS=<n> runs n schedules (a soak), each with its own printed seed.  Each recorded
    history is also corrupted (an acknowledged write dropped from the final state) to show the
    checker would have noticed on this real history."""
    for _ in range(int(os.environ.get("HISTORY_RUNS", "1"))):
        seed = seed_from_env() if "HISTORY_SEED" in os.environ else random.randrange(1 << 32)
        rng = random.Random(seed)
        size = rng.choice([3, 5])
        schedule = [rng.choice(FAULTS + LINK_FAULTS + (FIVE_ONLY if size == 5 else []))
                    for _ in range(3)]
        print("seed %d: %d members, faults %s" % (seed, size, [f.__name__ for f in schedule]))
        ens = ensemble_factory(participants=size, proxied=True)

        def faults(ens):
            for f in schedule:
                f(ens)

        history = run_checked(ens, faults, seed=seed)
        ens.close()

        broken = copy.copy(history)
        last = max((op for op in history.ops if op.is_write and op.outcome == "ok"),
                   key=lambda op: op.mzxid)
        older = history.initial[last.key]
        broken.final = dict(history.final)
        broken.final[last.key] = [(m, older[0], older[1], older[2]) for m, *_ in
                                  history.final[last.key]]
        assert any("newer than the final state" in v for v in check(broken))


@pytest.mark.parametrize("fault", FIVE_ONLY, ids=lambda f: f.__name__)
def test_five_members_survive_two_faulty(ensemble_factory, fault):
    run_checked(ensemble_factory(participants=5, proxied=True), fault)


# Mixed ensembles (zkd beside Apache 3.8, issue 16; layouts: tests/lib/ensemble.py MIXED_LAYOUTS).
# Each CI case is a schedule whose first fault hits the leader of a known kind (the layout's); a
# later fault hits whichever member the election made leader (printed; so far always the other
# kind).  Together: SIGKILL and SIGSTOP of a zkd and of an Apache leader, a zkd leader blackholed
# by the proxies, an Apache follower cut off and healed, members of both kinds restarting or
# resuming and rejoining, observers of both kinds throughout (5-13 s a case, 35-55 s in all on
# the shared 2-core machine; about half of each is starting the ensemble, the rest is the
# elections and timeouts the faults cause: every wait is a poll for an event).
# MIXED_FAULTS=all adds every layout with every single fault of FAULTS and LINK_FAULTS (24 cases)
# and MIXED_MORE below (29 cases in all, 5-6 min on the shared machine).
MIXED_CI = [
    ("zkd-leads-apache", [leader_sigkill]),
    # (Failed 3 of 3 before election.c replaced a link the lower-sid member had lost: the zkd
    # leader SIGSTOPped, Apache 2 takes over, zkd follows it, then Apache 1 is cut off and healed
    # and looked for ever, never hearing zkd's votes.)
    ("zkd-leads-apache", [leader_sigstop, minority_partition]),
    ("apache-leads-zkd", [leader_sigkill, leader_sigstop]),
    ("five-with-observers", [leader_sigstop, majority_partition_blackhole]),
]

# The leader's cut partition after a failover, so that the cut-off Apache leader has logged
# proposals it could not commit and the zkd leader must make it drop them (by SNAP since zkd
# follows Apache's no-TRUNC-across-epochs rule, by TRUNC before).  It failed 1 run in 2: zkd
# sent the TRUNC, the next epoch's proposals and one still uncommitted, NEWLEADER, and the
# COMMIT of that last one before UPTODATE; Apache 3.8.0's sync died on it (ZOOKEEPER-4394: a
# NullPointerException in Learner.syncWithLeader), its SyncThread then died in
# SendAckRequestProcessor.flush, and the member rejoined by DIFF but at times served no client.
# A zkd leader now sends a learner its COMMITs only after UPTODATE (apache_leader.c; checked
# deterministically by test_zkd_leader_wire.py::test_no_commit_between_newleader_and_uptodate).
# Since then it passed 6 runs in 7; the one failure (seed 1440164270, machine load ~20) is
# another: no NullPointerException, no dead SyncThread.  zkd (3) leads epoch 3 with Apache 1
# (synced by DIFF); member 2, the isolated leader, rejoins by SNAP after the heal, as the
# workload stops.  Member 1 served the workload's clients to the end (their closeSessions are
# logged) but answers no new client: the sessions read_final's client creates through it commit
# on every member ("Committing global session") and the client never gets the connect response,
# as when Apache's CommitProcessor has a local request at the head of its write queue that never
# commits (every commit is then taken as a remote one).  Likely cause, since fixed: zkd sent a
# SYNC after the COMMIT of a later write of the same learner (apache_leader.c aleader_commit;
# test_zkd_leader_wire.py::test_sync_goes_before_later_commits).  Since that fix it passed 11 runs
# of 11 (5 on its branch; after the merge, once in a full MIXED_FAULTS=all run and 5 times alone),
# so it is an ordinary case now.  About 20 s, hence only with MIXED_FAULTS=all.
MIXED_MORE = [("zkd-leads-apache", [leader_sigkill, majority_partition])]


def mixed_cases():
    if os.environ.get("MIXED_FAULTS") == "all":
        return MIXED_CI + [(layout, [f]) for layout in MIXED_LAYOUTS
                           for f in FAULTS + LINK_FAULTS] + MIXED_MORE
    return MIXED_CI


@pytest.mark.parametrize("layout,schedule", mixed_cases(),
                         ids=lambda v: "+".join(f.__name__ for f in v) if isinstance(v, list)
                         else v)
def test_mixed_fault_schedule(mixed_factory, layout, schedule):
    ens = mixed_factory(layout, proxied=True)

    def faults(ens):
        for f in schedule:
            leader = ens.leader()
            print("%s: leader %s (%s)" % (f.__name__, leader, ens.member_kind(leader)
                                           if leader else "-"))
            f(ens)

    run_checked(ens, faults)
