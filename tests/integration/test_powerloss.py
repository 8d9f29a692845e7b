"""Power loss: no acknowledged write is lost when the power goes, whatever zkd was doing.

zkd runs with dataDir and dataLogDir on a power-loss mount (tests/lib/powerloss_fs.py: a FUSE
pass-through that, at a cut, forgets everything that was not fsync'd under the strict POSIX model:
file data needs an fsync of the file, a directory entry an fsync of its directory; optionally the
last un-synced write of each file is torn).  Writers keep many requests in flight; at a random,
seeded point the mount is frozen (the instant of the cut), zkd and any snapshot child are
SIGKILLed, the cut is applied, and zkd restarts on a fresh mount of what survived.  Every create
and versioned set whose reply arrived must be there, and zkd must start.

Scenarios: plain writes; snapshots and log rolls in flight (snapCount small); zkd creating its own
data directories at first start; sessions resuming after the cut (createSession acknowledged ->
the session is still valid within its timeout, its ephemerals still there); one member of a
3-member ensemble cut; all members cut at once (epoch files must survive too).

Replay and long runs: every test prints its seed; ZK_POWERLOSS_SEED=N replays it (the cut points
and tears are seeded; zkd's own timing is not, so a replay reproduces the schedule, not every
interleaving).  ZK_POWERLOSS_CUTS=N sets the number of cut rounds per test (default: 1 to 3; the
file's 15 rounds take about 65 s on the 2-core test machine, two minutes when it is busy; 20 rounds
per test took 36 minutes there); a long run:

    ZK_POWERLOSS_CUTS=500 /usr/bin/python3 -m pytest -q -s tests/integration/test_powerloss.py
"""
import os
import random
import re

import pytest
from kazoo.client import KazooClient, KazooState
from kazoo.retry import KazooRetry

from tests.conftest import stop_kazoo
from tests.integration.test_zkd_durability import Writer
from tests.lib import powerloss_fs as P
from tests.lib import servers as S
from tests.lib.ensemble import Ensemble, ensemble_missing_reason
from tests.lib.waiting import wait_until

pytestmark = pytest.mark.skipif(P.missing_reason() is not None, reason=str(P.missing_reason()))


def cuts(default):
    return int(os.environ.get("ZK_POWERLOSS_CUTS", default))


def seeded(name):
    """The test's random generator; the seed is printed so a failure can be replayed."""
    seed = int(os.environ.get("ZK_POWERLOSS_SEED", random.randrange(1 << 30)))
    print("%s: power-loss seed %d (replay with ZK_POWERLOSS_SEED=%d)" % (name, seed, seed))
    return seed, random.Random("%s:%d" % (name, seed))


class Acks:
    """Every acknowledged create and set so far, over all rounds."""

    def __init__(self):
        self.creates, self.sets = set(), {}

    def add(self, writers):
        for creates, sets in (w.snapshot() for w in writers):
            self.creates |= creates
            for p, v in sets.items():
                self.sets[p] = max(v, self.sets.get(p, 0))

    @property
    def count(self):
        return len(self.creates) + len(self.sets)


def check_acknowledged(srv, acks):
    """Every acknowledged create is there and every set's value is at least the acknowledged one
    (as test_zkd_durability.check_acknowledged, with the reads pipelined)."""
    zk = KazooClient(hosts=srv.hosts, timeout=10.0)
    zk.start(timeout=30)
    try:
        paths = sorted(acks.creates | set(acks.sets))
        found = dict(zip(paths, [a.get(timeout=60) for a in
                                 [zk.get_async(p) for p in paths]]))
    except Exception as e:
        missing = [p for p in paths if zk.exists(p) is None]
        raise AssertionError("%d acknowledged creates lost, e.g. %s (%r)" % (
            len(missing), missing[:5], e)) from None
    finally:
        stop_kazoo(zk)
    low = [(p, v, found[p][0]) for p, v in acks.sets.items() if int(found[p][0]) < v]
    assert not low, "%d acknowledged sets lost, e.g. %s" % (len(low), low[:5])


def fast_retry():
    return KazooRetry(max_tries=-1, delay=0.05, max_delay=0.5)


def close_writers(writers):
    for w in writers:
        w.stop.set()
    for w in writers:
        w.close()


def start_writers(hosts, prefix, n=3):
    zk = KazooClient(hosts=hosts, timeout=10.0)
    zk.start(timeout=30)
    zk.ensure_path(prefix)
    stop_kazoo(zk)
    # Short reconnect backoff: closing a client whose server is down then takes no long sleep.
    writers = [Writer(hosts, prefix, connection_retry=fast_retry()) for _ in range(n)]
    for w in writers:
        w.thread.start()
    return writers


def acked(writers):
    return sum(len(w.acked_creates) for w in writers)


class Rig:
    """zkd with its dataDir (and dataLogDir) on a power-loss mount."""

    def __init__(self, tmp_path, seed, torn=True, cfg=None, separate_log=True, precreate=True):
        self.fs = P.PowerLossFS(tmp_path / "plfs", tmp_path / "mnt", seed=seed, torn=torn)
        mnt = self.fs.mountpoint
        self.data_dir = os.path.join(mnt, "data")
        self.log_dir = os.path.join(mnt, "log") if separate_log else self.data_dir
        if precreate:
            # Put in place before the first mount, so durable: as an administrator would have.
            self.fs.prepare(lambda b: [os.makedirs(os.path.join(b, d), exist_ok=True)
                                       for d in ("data", "log")])
        self.fs.mount()
        c = {"dataDir": self.data_dir, "dataLogDir": self.log_dir, "snapCount": 1000000,
             "autopurge.purgeInterval": "0"}
        c.update(cfg or {})
        self.srv = S.Zkd(tmp_path / "zkd", cfg=c)
        self.reports = []

    def cut(self):
        report = self.fs.cut(kill=[self.srv])
        self.reports.append(report)
        return report

    def close(self):
        try:
            self.srv.close()
        finally:
            self.fs.close()


def factory(cls, base, prefix):
    """A fixture body: make(...) builds a `cls` in a directory of its own under `base`; every
    one made is closed at teardown (servers.close_all)."""
    made = []

    def make(*a, **kw):
        r = cls(base / ("%s%d" % (prefix, len(made))), *a, **kw)
        made.append(r)
        return r

    try:
        yield make
    finally:
        S.close_all(made)


@pytest.fixture
def rig(tmp_path):
    yield from factory(Rig, tmp_path, "rig")


def describe(reports):
    """One line: what the cuts undid (the reports of tests/lib/powerloss_fs.py)."""
    torn = sum(len(r["torn"]) for r in reports)
    rolled = sum(len(r["rolled_back"]) for r in reports)
    forgotten = [os.path.join(d["dir"], n) for r in reports for d in r["dirs_reverted"]
                 for n in d["forgotten"]]
    restored = [os.path.join(d["dir"], n) for r in reports for d in r["dirs_reverted"]
                for n in d["restored"]]
    slowest = max((sum(r.get("timing", [0])) for r in reports), default=0)
    return ("%d cuts: %d files rolled back, %d torn writes, directory entries forgotten %s, "
            "restored %s; slowest cut %.1f s" % (len(reports), rolled, torn,
                                                  sorted(set(forgotten)), sorted(set(restored)),
                                                  slowest))


def run_cuts(rig, rng, rounds, lo, hi, name, last_cut_after=None):
    """Rounds of: writers under load, cut at a random number of acknowledged creates, restart,
    check every acknowledged write so far.  The cut lands after a random one of zkd's next file
    operations; in the last round, after one of that kind if `last_cut_after` names one."""
    acks = Acks()
    rig.srv.start()
    for rnd in range(rounds):
        writers = start_writers(rig.srv.hosts, "/pl/r%d" % rnd)
        target = rng.randrange(lo, hi)
        try:
            wait_until(lambda: acked(writers) >= target, 60, "%d acknowledged creates" % target)
            last = rnd == rounds - 1
            rig.fs.arm(rng.randrange(1, 40), last_cut_after if last else None)
            rig.fs.wait_frozen(30)
            rig.cut()
            acks.add(writers)  # after the kill: every reply that ever arrived
        finally:
            close_writers(writers)
        rig.srv.start()
        try:
            check_acknowledged(rig.srv, acks)
        except AssertionError as e:
            raise AssertionError("%s\nafter %s" % (e, describe(rig.reports))) from None
    print("%s: %s; %d acknowledged writes checked, none lost" % (
        name, describe(rig.reports), acks.count))
    return acks


def test_plain_writes_survive_power_loss(rig):
    seed, rng = seeded("plain")
    r = rig(seed, torn=True)
    # The last cut lands right after a write(), before its fdatasync(): random cut points alone
    # may all fall just after an fdatasync(), where a cut has nothing to forget.
    acks = run_cuts(r, rng, cuts(3), 20, 200, "plain", last_cut_after="write")
    assert acks.count > 0
    # The cuts really forgot something: zkd's log tail past the last fdatasync at least.
    assert r.reports[-1]["rolled_back"], r.reports[-1]


def test_snapshots_and_log_rolls_in_flight(rig):
    seed, rng = seeded("snapshots")
    # Purging at every start too: its unlinks are never directory-fsync'd on their own.
    r = rig(seed, torn=True, cfg={"snapCount": 100, "autopurge.purgeInterval": 1,
                                  "autopurge.snapRetainCount": 3})
    run_cuts(r, rng, cuts(3), 50, 250, "snapshots")
    names = os.listdir(os.path.join(r.data_dir, "version-2"))
    assert any(n.startswith("snapshot.") for n in names), names
    # Restarts recovered from snapshots (a log roll comes with each), not just from the log.
    with open(r.srv.log_path, errors="replace") as f:
        assert re.search(r"recovered .* \(snapshot 0x[0-9a-f]*[1-9a-f]", f.read())
    # zkd preallocated its log files through the mount (fallocate), not plain appends.
    assert sum(rep["stats"]["fallocates"] for rep in r.reports) > 0


def test_zkd_creates_its_data_directories(rig):
    """zkd makes dataDir and dataLogDir itself at first start: the new directories must be
    durably named, or the first power cut takes all the data with them."""
    seed, rng = seeded("mkdirs")
    r = rig(seed, torn=False, precreate=False)
    run_cuts(r, rng, cuts(1), 20, 200, "mkdirs")


@pytest.mark.parametrize("layout", ["one-dir", "separate-log-dir"])
def test_sessions_resume_after_power_loss(rig, layout):
    seed, rng = seeded("sessions-" + layout)
    r = rig(seed, torn=True, separate_log=(layout == "separate-log-dir"))
    r.srv.start()
    states = []
    # The client retries every 0.5 s at most: it must be back well within its session timeout.
    zk = KazooClient(hosts=r.srv.hosts, timeout=15.0, connection_retry=fast_retry())
    zk.add_listener(states.append)
    zk.start(timeout=30)
    try:
        # createSession is acknowledged when start() returns; the ephemeral when create() does.
        zk.create("/owner", ephemeral=True)
        sid = zk.client_id[0]
        for rnd in range(cuts(2)):
            writers = start_writers(r.srv.hosts, "/s%d" % rnd, n=1)
            try:
                target = rng.randrange(1, 200)
                wait_until(lambda: acked(writers) >= target, 60, "acknowledged creates")
                r.fs.arm(rng.randrange(1, 40))
                r.fs.wait_frozen(30)
                r.cut()
            finally:
                close_writers(writers)
            r.srv.start()
            wait_until(lambda: zk.connected or KazooState.LOST in states, 30, "reconnect")
            assert KazooState.LOST not in states, "session %#x expired after the cut (%s)" % (
                sid, describe(r.reports))
            assert zk.client_id[0] == sid
            st = zk.exists("/owner")
            assert st is not None and st.ephemeralOwner == sid
        print("sessions-%s: %s; session %#x and its ephemeral survived every cut" % (
            layout, describe(r.reports), sid))
    finally:
        stop_kazoo(zk)


# --------------------------------------------------------------------------
# Ensembles
# --------------------------------------------------------------------------

class EnsembleRig:
    """A 3-member zkd ensemble, each member's dataDir on its own power-loss mount."""

    def __init__(self, tmp_path, seed, torn=True):
        self.ens = Ensemble(tmp_path / "ens", "zkd", participants=3)
        self.fs = {}
        for sid, m in self.ens.members.items():
            fs = P.PowerLossFS(tmp_path / ("plfs%d" % sid), tmp_path / ("mnt%d" % sid),
                               seed=seed * 10 + sid, torn=torn)

            def prepare(b, sid=sid):
                os.makedirs(os.path.join(b, "data"))
                with open(os.path.join(b, "data", "myid"), "w") as f:
                    f.write("%d\n" % sid)
            fs.prepare(prepare)
            fs.mount()
            self.fs[sid] = fs
            m.data_dir = os.path.join(fs.mountpoint, "data")
            m.cfg["dataDir"] = m.data_dir
            m.cfg["snapCount"] = "300"
        self.reports = []

    def cut(self, sids):
        for sid in sids:  # one instant for all of them
            self.fs[sid].freeze()
        for sid in sids:
            self.reports.append(self.fs[sid].cut(kill=[self.ens.members[sid]]))

    def close(self):
        try:
            self.ens.close()
        finally:
            for fs in self.fs.values():
                fs.close()


@pytest.fixture
def ensemble_rig(tmp_path):
    reason = ensemble_missing_reason("zkd")
    if reason:
        pytest.skip(reason)
    yield from factory(EnsembleRig, tmp_path, "e")


def run_ensemble_cuts(er, rng, rounds, pick, name):
    acks = Acks()
    er.ens.start()
    for rnd in range(rounds):
        writers = start_writers(er.ens.hosts, "/pl/r%d" % rnd)
        target = rng.randrange(20, 400)
        victims = pick(rng)
        try:
            wait_until(lambda: acked(writers) >= target, 60, "%d acknowledged creates" % target)
            first = er.fs[victims[0]]
            first.arm(rng.randrange(1, 40))
            first.wait_frozen(30)
            er.cut(victims)
            if len(victims) < len(er.ens.sids):
                # The others carry on; writes acknowledged meanwhile count too.
                more = acked(writers) + rng.randrange(0, 100)
                wait_until(lambda: acked(writers) >= more, 60, "writes while a member is down")
            acks.add(writers)
        finally:
            close_writers(writers)
        for sid in victims:
            er.ens.start_member(sid, wait=False)
        er.ens.wait_serving(timeout=90)
        for sid in er.ens.sids:
            for f in ("version-2/acceptedEpoch", "version-2/currentEpoch"):
                assert os.path.exists(os.path.join(er.ens.members[sid].data_dir, f)), (sid, f)
        check_acknowledged(er.ens, acks)
    print("%s: %s; %d acknowledged writes checked, none lost" % (
        name, describe(er.reports), acks.count))


def test_ensemble_one_member_cut(ensemble_rig):
    seed, rng = seeded("ensemble-one")
    er = ensemble_rig(seed)
    run_ensemble_cuts(er, rng, cuts(2), lambda g: [g.choice([1, 2, 3])], "ensemble-one")


def test_ensemble_all_members_cut_at_once(ensemble_rig):
    seed, rng = seeded("ensemble-all")
    er = ensemble_rig(seed)
    run_ensemble_cuts(er, rng, cuts(2), lambda g: [1, 2, 3], "ensemble-all")
