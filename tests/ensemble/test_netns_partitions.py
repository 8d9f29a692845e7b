"""Real network partitions: each member runs in a network namespace of its own (tests/lib/netns.py,
NetnsEnsemble in tests/lib/ensemble.py) and the kernel drops the packets, under the checked workload
of tests/lib/history.py (kazoo clients in the test process reach the members through the bridge).

  isolated member   a follower's cable is pulled (peers and clients lose it): the rest serve on,
                    its clients move elsewhere, it rejoins and catches up after the heal
  leader cut        the leader reaches its clients but not its followers: they elect a new leader,
                    the old one stops serving and acknowledges nothing the new epoch lacks, then
                    rejoins as a follower
  flapping          one member's connectivity toggles every few hundred ms, on a seeded schedule
  random (soak)     random cuts, splits, cable pulls, crashes and restarts (NETNS_NEMESIS_RUNS=<n>)

Seeds are printed; HISTORY_SEED=<n> replays a run's random choices (workload and flapping
schedule).  Soak: NETNS_FLAP_SECONDS=<s> (default 5) flaps longer, HISTORY_RUNS=<n> repeats the
flapping test with n seeds.  Skipped only where `ip netns add` is impossible (not root, no kernel
support); the cut needs `nft` (packaging/install-deps.sh installs nftables).
"""
import os
import random
import time

import pytest

from tests.lib import netns
from tests.lib.ensemble import NetnsEnsemble, wait_for
from tests.lib.history import Workload, check, format_violations, seed_from_env

FLAP_SECONDS = float(os.environ.get("NETNS_FLAP_SECONDS", "5"))
RUNS = int(os.environ.get("HISTORY_RUNS", "1"))

_unavailable = []


@pytest.fixture
def netns_ensemble(ensemble_factory):
    """make(participants=3) -> a started NetnsEnsemble of `kind`; all closed (namespaces deleted,
    processes killed) at teardown, whatever happened (conftest's ensemble_factory)."""
    if not _unavailable:
        _unavailable.append(netns.unavailable_reason())
    if _unavailable[0]:
        pytest.skip("network namespaces unavailable: %s" % _unavailable[0])
    return lambda participants=3: ensemble_factory(participants=participants, cls=NetnsEnsemble)


# -- helpers ----------------------------------------------------------------

def zxid(ens, sid):
    """Member `sid`'s last zxid (srvr), or None if it does not answer."""
    try:
        return int(ens.srvr(sid).get("Zxid", ""), 16)
    except (OSError, ValueError):
        return None


def epoch(z):
    return z >> 32


def acked_writes(wl, since, clients=None):
    return [op for op in list(wl.history.ops)
            if op.is_write and op.outcome == "ok" and op.invoke >= since
            and (clients is None or op.client in clients)]


def peer_addr(client):
    """The address of the member a kazoo client is connected to, or None."""
    try:
        return client._connection._socket.getpeername()[0]
    except (AttributeError, OSError):
        return None


def others(ens, sid):
    return [s for s in ens.participants if s != sid]


def converged(ens):
    zs = [zxid(ens, sid) for sid in ens.sids]
    return None not in zs and len(set(zs)) == 1


def tree(ens, sid, root="/history"):
    """{path: (data, version, mzxid)} under `root` as member `sid` has it (no sync: call it
    once the members have converged)."""
    from kazoo.client import KazooClient

    c = KazooClient(hosts=ens.hosts_of([sid]), timeout=4.0)
    c.start(timeout=30)
    try:
        out = {}
        for child in sorted(c.get_children(root)):
            path = root + "/" + child
            data, stat = c.get(path)
            out[path] = (data, stat.version, stat.mzxid)
        return out
    finally:
        c.stop()
        c.close()


def run_checked(ens, fault, seed, client_hosts=(), writes_before=20):
    """Runs the workload (plus clients on `client_hosts`), calls fault(ens, wl) once
    `writes_before` writes were acknowledged (fault heals and returns while the workload runs),
    stops the workload, waits until every member serves and has applied the same last zxid, reads
    the final state from every member and checks the history."""
    wl = Workload([ens.hosts_of([sid]) for sid in ens.sids], seed, client_hosts=client_hosts)
    wl.start()
    try:
        t0 = time.monotonic()
        wait_for(lambda: len(acked_writes(wl, t0)) >= writes_before, 60,
                 "writes before the fault", ens)
        fault(ens, wl)
    finally:
        wl.stop()
        ens.heal()
    ens.wait_serving(timeout=60)
    wait_for(lambda: converged(ens), 60, "every member at the same zxid", ens)
    wl.read_final({sid: ens.hosts_of([sid]) for sid in ens.sids})
    assert not wl.errors, wl.errors
    violations = check(wl.history)
    assert not violations, "seed %d: %s\n%s" % (
        seed, format_violations(violations, wl.history), ens.describe())
    print("seed %d: %s" % (seed, wl.history.summary()))
    return wl


# -- 1. a member cut from everyone ---------------------------------------------

def test_isolated_member_rejoins(netns_ensemble):
    """A follower's cable is pulled: peers and clients lose it.  The leader keeps its quorum and
    serves on, the clients that were on the follower move to other members and write there; after
    the heal the follower serves again and holds exactly the others' data."""
    ens = netns_ensemble()
    seed = seed_from_env()
    leader = ens.leader()
    cut = ens.followers()[0]
    rest = others(ens, cut)
    # Two clients that start on the member to be cut and may fall back on the others.
    movers = {5, 6}
    hosts = [ens.hosts_of([s]) for s in [cut] + rest]

    def fault(ens, wl):
        mover_clients = [wl.clients[i] for i in sorted(movers)]
        wait_for(lambda: all(peer_addr(c) == ens.addrs[cut] for c in mover_clients), 30,
                 "the movers on member %d" % cut, ens)
        t_cut = time.monotonic()
        ens.isolate(cut)  # cable pulled
        assert ens.wait_serving(rest) == leader  # no election: the leader kept its quorum
        wait_for(lambda: ens.mode(cut) is None, 30, "the cut member to stop serving", ens)
        wait_for(lambda: len(acked_writes(wl, t_cut)) >= 20, 60, "writes without member %d" % cut,
                 ens)
        wait_for(lambda: all(peer_addr(c) in (ens.addrs[s] for s in rest)
                             for c in mover_clients), 30, "the movers on other members", ens)
        wait_for(lambda: {op.client for op in acked_writes(wl, t_cut, movers)} == movers, 30,
                 "a write by each mover after the cut", ens)
        behind = zxid(ens, leader)
        assert (zxid(ens, cut) or 0) < behind, "the cut member kept up without a network?"
        ens.heal()
        ens.wait_serving(timeout=60)
        wait_for(lambda: (zxid(ens, cut) or 0) >= behind, 30, "member %d catching up" % cut, ens)
        t_heal = time.monotonic()
        wait_for(lambda: len(acked_writes(wl, t_heal)) >= 10, 60, "writes after the heal", ens)

    run_checked(ens, fault, seed, client_hosts=[hosts, hosts[:1] + hosts[:0:-1]])
    trees = {sid: tree(ens, sid) for sid in ens.sids}
    assert trees[cut] == trees[leader], "member %d differs from the leader %d" % (cut, leader)
    assert all(t == trees[leader] for t in trees.values())


# -- 2. a leader that reaches its clients but not its followers ------------------

def test_leader_cut_from_followers(netns_ensemble, kz):
    """The leader and its followers drop each other's packets; clients still reach all three, and
    two clients can reach ONLY the old leader.  The followers elect a new leader; the old one must
    stop serving, must acknowledge no write it could not commit (nothing invoked after the cut, in
    the old epoch), and rejoins as a follower of the new epoch after the heal.  Right after the
    cut a probe client sends writes that only the old leader can see (it logs and applies them
    as proposals, never committed): they must fail, and be gone from the old leader after it
    rejoins, and again after it restarts from its own disk."""
    ens = netns_ensemble()
    seed = seed_from_env()
    old = ens.leader()
    followers = others(ens, old)
    pinned = {5, 6}  # clients that know only the old leader
    marks = {}
    probe = kz(ens.hosts_of([old]))
    probe.create("/probe", b"before the cut")
    probes = []

    def fault(ens, wl):
        ens.partition([old])  # old <-> followers; clients reach everyone
        # Times and epochs from when every drop rule is in place (writes may commit meanwhile).
        marks["cut"] = t_cut = time.monotonic()
        marks["epoch"] = old_epoch = epoch(zxid(ens, old))
        probes.extend(probe.set_async("/probe", b"probe %d" % i) for i in range(3))
        new = ens.wait_serving(followers, timeout=60)
        assert new != old
        wait_for(lambda: ens.mode(old) is None, 30, "the old leader to stop serving", ens)
        print("%.2fs after the cut: new leader %d serves, old leader %d does not" % (
            time.monotonic() - t_cut, new, old))
        wait_for(lambda: len([op for op in acked_writes(wl, t_cut)
                              if epoch(op.mzxid) > old_epoch]) >= 20, 60,
                 "writes in the new epoch", ens)
        marks["heal"] = time.monotonic()
        ens.heal()
        ens.wait_serving(timeout=60)
        assert ens.mode(old) == "follower", ens.describe()
        # The old leader's own clients write again, through the new epoch.
        wait_for(lambda: {op.client for op in acked_writes(wl, marks["heal"], pinned)} == pinned,
                 60, "writes by the old leader's clients after the heal", ens)

    wl = run_checked(ens, fault, seed, client_hosts=[[ens.hosts_of([old])]] * 2)
    old_epoch = marks["epoch"]
    stale = [op for op in acked_writes(wl, marks["cut"]) if epoch(op.mzxid) <= old_epoch]
    assert not stale, "acknowledged in the old epoch after the cut: %s" % stale[:10]
    during = [op for op in acked_writes(wl, marks["cut"], pinned) if op.complete < marks["heal"]]
    assert not during, "the cut-off old leader acknowledged writes: %s" % during[:10]
    assert all(epoch(op.mzxid) > old_epoch for op in acked_writes(wl, marks["heal"], pinned))
    for p in probes:
        p.wait(10)
        assert not p.successful(), "the cut-off old leader acknowledged a probe write: %r" % (
            p.value,)

    def check_probe_and_trees(when):
        wait_for(lambda: converged(ens), 60, "every member at the same zxid " + when, ens)
        for sid in ens.sids:
            c = kz(ens.hosts_of([sid]))
            assert c.get("/probe")[0] == b"before the cut", "member %d %s" % (sid, when)
        trees = {sid: tree(ens, sid) for sid in ens.sids}
        assert all(t == trees[old] for t in trees.values()), "trees differ " + when

    check_probe_and_trees("after the heal")
    ens.kill(old)  # the old leader recovers from its own log: the probes must be gone from it
    ens.start_member(old)
    check_probe_and_trees("after the old leader restarted")


# -- 3. flapping links ----------------------------------------------------------

def flap_schedule(rng, seconds):
    """[(down_s, up_s), ...] covering about `seconds`: up 0.1 to 0.7 s; down mostly as short
    (below the 1 s syncLimit: the peers may not notice), one in three times 1 to 1.6 s (they do:
    an election may start or end while the link flaps)."""
    out, total = [], 0.0
    while total < seconds:
        down = rng.uniform(1.0, 1.6) if rng.random() < 1 / 3 else rng.uniform(0.1, 0.7)
        up = rng.uniform(0.1, 0.7)
        out.append((round(down, 3), round(up, 3)))
        total += down + up
    return out


def test_flapping_links(netns_ensemble):
    """One member's connectivity goes down and up every few hundred ms for FLAP_SECONDS under the
    workload: the leader or a follower (seeded), by cable (clients lose it too) or by a cut from
    its peers only (seeded).  The history stays valid and the ensemble converges afterwards."""
    for run in range(RUNS):
        ens = netns_ensemble()
        seed = seed_from_env() if run == 0 else random.randrange(1 << 32)
        rng = random.Random(seed)
        role = rng.choice(["leader", "follower"])
        how = rng.choice(["link", "cut"])
        target = ens.leader() if role == "leader" else ens.followers()[0]
        schedule = flap_schedule(rng, FLAP_SECONDS)
        print("seed %d: flapping the %s (member %d) by %s, %d toggles: %s" % (
            seed, role, target, how, len(schedule), schedule))

        def fault(ens, wl):
            for down, up in schedule:  # the only timed waits: the schedule itself
                ens.isolate(target, mode=how)
                time.sleep(down)
                ens.heal()
                time.sleep(up)
            t_end = time.monotonic()
            ens.wait_serving(timeout=60)
            wait_for(lambda: len(acked_writes(wl, t_end)) >= 10, 60, "writes after flapping",
                     ens)

        run_checked(ens, fault, seed)
        ens.close()


# -- soak: random partitions, crashes and restarts -----------------------------------

NEMESIS_RUNS = int(os.environ.get("NETNS_NEMESIS_RUNS", "0"))
NEMESIS_SECONDS = float(os.environ.get("NETNS_NEMESIS_SECONDS", "20"))
NEMESIS = ["isolate", "cut_one", "split", "cut_pair", "heal", "kill", "restart"]


def nemesis_schedule(rng, sids, seconds):
    """[(fault, members in a random order, hold_s), ...] covering about `seconds`."""
    out, total = [], 0.0
    while total < seconds:
        members = list(sids)
        rng.shuffle(members)
        hold = round(rng.uniform(0.2, 2.5), 3)
        out.append((rng.choice(NEMESIS), members, hold))
        total += hold
    return out


def apply_nemesis(ens, fault, members):
    if fault == "kill":
        if ens[members[0]].running:
            ens.kill(members[0])
        return
    if fault == "restart":
        for sid in ens.sids:
            if not ens[sid].running:
                ens.start_member(sid, wait=False)
        return
    ens.heal()
    if fault == "isolate":
        ens.isolate(members[0])  # cable
    elif fault == "cut_one":
        ens.partition([members[0]])  # from its peers only
    elif fault == "split":
        half = len(members) // 2
        ens.partition(members[:half], members[half:])
    elif fault == "cut_pair":
        ens.net.cut([members[0]], [members[1]])  # non-transitive: both still reach the rest


@pytest.mark.skipif(NEMESIS_RUNS <= 0, reason="soak only: set NETNS_NEMESIS_RUNS=<n> "
                    "(and NETNS_NEMESIS_SECONDS, default 20)")
def test_random_partitions_soak(netns_ensemble):
    """NETNS_NEMESIS_RUNS runs of a random schedule on 3 or 5 members: cables pulled, one member
    cut from its peers, minority/majority splits, one pair cut (non-transitive), SIGKILLs and
    restarts, each held 0.2 to 2.5 s, for NETNS_NEMESIS_SECONDS; then everything healed and
    restarted, the history checked and the members' trees compared."""
    for run in range(NEMESIS_RUNS):
        seed = seed_from_env() if run == 0 else random.randrange(1 << 32)
        rng = random.Random(seed)
        ens = netns_ensemble(participants=rng.choice([3, 5]))
        schedule = nemesis_schedule(rng, ens.sids, NEMESIS_SECONDS)
        print("seed %d: %d members, schedule %s" % (seed, len(ens.sids), schedule))

        def fault(ens, wl):
            for what, members, hold in schedule:  # timed: the schedule itself
                apply_nemesis(ens, what, members)
                time.sleep(hold)
            ens.heal()
            apply_nemesis(ens, "restart", [])
            ens.wait_serving(timeout=60)
            t_end = time.monotonic()
            wait_for(lambda: len(acked_writes(wl, t_end)) >= 10, 60, "writes after the schedule",
                     ens)

        run_checked(ens, fault, seed)
        trees = {sid: tree(ens, sid) for sid in ens.sids}
        assert all(t == trees[ens.sids[0]] for t in trees.values()), "seed %d: trees differ" % seed
        ens.close()
