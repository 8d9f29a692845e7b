"""Mixed ensembles (issue 16): zkd members (memberProtocol=apache) beside Apache ZooKeeper 3.8.

Two Apache participants and one zkd participant, same zoo.cfg shape as tests/lib/ensemble.py. The
Apache members start first and elect one of themselves; zkd joins and follows the Apache leader over
Apache's quorum protocol (server/zab.h).  zkd leading is in test_mixed_zkd_leader.py.

What is checked: writes through Apache are readable through zkd and the other way round (zkd
forwards them as REQUEST packets and answers them when their COMMIT applies), watches fire on
zkd, zkd restarts and catches up by DIFF and by SNAP, and the ensemble keeps serving without it.
"""
import threading

import pytest
from kazoo.exceptions import BadVersionError

from tests.lib.ensemble import MixedEnsemble, require_kinds, wait_for
from tests.lib.ensemble import kazoo_client as client

ZKD_SID = 3


def start_apache_then_zkd(ens):
    """The Apache members first, then zkd joins their leader (all at once, zkd would win: equal
    histories, the largest sid; test_mixed_zkd_leader.py covers zkd leading)."""
    apache = [sid for sid in ens.sids if sid != ZKD_SID]
    for sid in apache:
        ens[sid].start(wait=False)
    ens.wait_serving(sids=apache, timeout=90)
    ens.start_member(ZKD_SID, wait=False)
    ens.wait_serving(timeout=60)


@pytest.fixture
def mixed(tmp_path):
    require_kinds("apache", "zkd")
    ens = MixedEnsemble(tmp_path, [ZKD_SID], participants=3)
    try:
        start_apache_then_zkd(ens)
        yield ens
    finally:
        ens.close()


def test_writes_cross_between_apache_and_zkd(mixed):
    assert mixed.mode(ZKD_SID) == "follower"
    apache = client(mixed, [1])
    zkd = client(mixed, [ZKD_SID])
    try:
        apache.create("/from-apache", b"a1")
        zkd.sync("/")
        wait_for(lambda: zkd.exists("/from-apache") is not None, 10, "/from-apache on zkd", mixed)
        assert zkd.get("/from-apache")[0] == b"a1"

        # Forwarded writes: create, create2 (with stat), setData, delete; and an error.
        zkd.create("/from-zkd", b"z1")
        path = zkd.create("/seq-", b"", sequence=True)
        assert path.startswith("/seq-")
        stat = zkd.set("/from-apache", b"a2")
        assert stat.version == 1
        zkd.delete(path)
        with pytest.raises(Exception):
            zkd.create("/from-zkd", b"again")  # NodeExists, from the leader's error txn
        # A multi, forwarded: zkd builds the MultiResponse from the committed MultiTxn.
        t = zkd.transaction()
        t.create("/multi", b"m")
        t.set_data("/from-zkd", b"z2")
        t.check("/from-apache", 1)
        results = t.commit()
        assert results[0] == "/multi" and results[1].version == 1 and results[2] is True
        t = zkd.transaction()
        t.create("/multi-2", b"")
        t.check("/from-apache", 7)  # wrong version: the whole multi fails
        results = t.commit()
        assert isinstance(results[1], BadVersionError)
        assert zkd.exists("/multi-2") is None
        apache.sync("/")
        assert apache.get("/multi")[0] == b"m"
        assert apache.get("/from-zkd")[0] == b"z2"
        zkd.set("/from-zkd", b"z1")
        assert apache.get("/from-apache")[0] == b"a2"
        assert apache.exists(path) is None
    finally:
        for kz in (apache, zkd):
            kz.stop()
            kz.close()


def test_watch_fires_on_zkd(mixed):
    apache = client(mixed, [2])
    zkd = client(mixed, [ZKD_SID])
    events = []
    try:
        apache.create("/w", b"0")
        wait_for(lambda: zkd.exists("/w") is not None, 10, "/w on zkd", mixed)
        zkd.get("/w", watch=events.append)
        apache.set("/w", b"1")
        wait_for(lambda: events, 10, "the data watch on zkd", mixed)
        assert events[0].type == "CHANGED" and events[0].path == "/w"
    finally:
        for kz in (apache, zkd):
            kz.stop()
            kz.close()


def _restart_and_check(ens, writes):
    """Stops zkd, writes through Apache meanwhile, restarts zkd: it must catch up."""
    ens[ZKD_SID].stop()
    ens.wait_quorum(timeout=30)
    apache = client(ens, [1, 2])
    try:
        for i in range(writes):
            apache.create("/catchup-%d" % i, str(i).encode())
    finally:
        apache.stop()
        apache.close()
    ens.start_member(ZKD_SID, wait=False)
    ens.wait_serving(timeout=60)
    zkd = client(ens, [ZKD_SID])
    try:
        for i in (0, writes - 1):
            assert zkd.get("/catchup-%d" % i)[0] == str(i).encode()
        assert len([c for c in zkd.get_children("/") if c.startswith("catchup-")]) == writes
    finally:
        zkd.stop()
        zkd.close()


def test_zkd_restart_catches_up_by_diff(mixed):
    # zkd logs some transactions first: its last zxid must be one the leader's log holds (an
    # epoch's first zxid, all it has after its first SNAP, is not, and Apache answers that with
    # a SNAP whoever the learner is).
    kz = client(mixed, [ZKD_SID])
    try:
        for i in range(5):
            kz.create("/before-%d" % i)
    finally:
        kz.stop()
        kz.close()
    mark = mixed.log_size(ZKD_SID)
    _restart_and_check(mixed, 20)
    log = mixed.log_since(ZKD_SID, mark)
    assert "loaded the leader's snapshot" not in log


def test_zkd_restart_catches_up_by_snap(tmp_path):
    """snapCount=50 on the Apache members: after 400 writes their committed log no longer reaches
    back to zkd's last zxid, so the leader sends a SNAP (the database + "BenWasHere")."""
    require_kinds("apache", "zkd")
    ens = MixedEnsemble(tmp_path, [ZKD_SID], participants=3,
                        apache_sysprops={"zookeeper.snapCount": "50",
                                         "zookeeper.commitLogCount": "20",
                                         "zookeeper.snapshotSizeFactor": "0"})
    try:
        start_apache_then_zkd(ens)
        mark = ens.log_size(ZKD_SID)
        _restart_and_check(ens, 400)
        assert "loaded the leader's snapshot" in ens.log_since(ZKD_SID, mark)
    finally:
        ens.close()


def test_zkd_snap_sync_from_apache_leader_under_writes(tmp_path):
    """A SNAP from an Apache leader taken while writes go on: Apache serializes the tree after
    releasing its log lock, so the snapshot may hold transactions past the zxid it names (it is
    fuzzy), and zkd then applies those again.  zkd must end with the leader's exact tree and, once
    a transaction's digest matches its tree, compare every later digest without a mismatch."""
    require_kinds("apache", "zkd")
    ens = MixedEnsemble(tmp_path, [ZKD_SID], participants=3,
                        apache_sysprops={"zookeeper.snapCount": "50",
                                         "zookeeper.commitLogCount": "20",
                                         "zookeeper.snapshotSizeFactor": "0"})
    stop = threading.Event()
    acked = []
    try:
        start_apache_then_zkd(ens)
        ens[ZKD_SID].stop()
        ens.wait_quorum(timeout=30)
        writer = client(ens, [1, 2])
        for i in range(1000):  # a tree big enough that serializing it takes a while
            writer.create_async("/bulk-%d" % i, b"x" * 100)
        writer.sync("/")

        def write_on():
            i = 0
            while not stop.is_set():
                # creates, sets and deletes, so a fuzzy stretch replays every kind
                writer.create("/live-%d" % i, b"%d" % i)
                writer.set("/bulk-%d" % (i % 1000), b"v%d" % i)
                if i % 3 == 0:
                    writer.delete("/live-%d" % i)
                acked.append(i)
                i += 1

        t = threading.Thread(target=write_on, daemon=True)
        t.start()
        wait_for(lambda: len(acked) > 50, 30, "writes before zkd starts", ens)
        mark = ens.log_size(ZKD_SID)
        ens.start_member(ZKD_SID, wait=False)
        ens.wait_serving(timeout=60)
        n = len(acked)
        wait_for(lambda: len(acked) > n + 50, 30, "writes after zkd serves", ens)
        stop.set()
        t.join(30)
        writer.sync("/")
        zkd = client(ens, [ZKD_SID])
        try:
            zkd.sync("/")
            want = sorted(writer.get_children("/"))
            assert sorted(zkd.get_children("/")) == want
            for c in want:
                if c.startswith(("live-", "bulk-")):
                    a, b = writer.get("/" + c), zkd.get("/" + c)
                    assert (a[0], a[1].mzxid, a[1].version) == (b[0], b[1].mzxid, b[1].version), c
        finally:
            zkd.stop()
            zkd.close()
            writer.stop()
            writer.close()
        log = ens.log_since(ZKD_SID, mark)
        assert "loaded the leader's snapshot" in log
        # Digests are compared again from the first one that matches: that point was reached.
        assert "fuzzy range is over" in log, log[-3000:]
        assert "Digests are not matching" not in log, log[-3000:]
    finally:
        stop.set()
        ens.close()


def test_ensemble_serves_without_zkd(mixed):
    mixed[ZKD_SID].stop()
    mixed.wait_quorum(timeout=30)
    kz = client(mixed, [1, 2])
    try:
        kz.create("/after-zkd-left", b"x")
        assert kz.get("/after-zkd-left")[0] == b"x"
    finally:
        kz.stop()
        kz.close()


def test_zkd_observer_of_apache_leader(tmp_path):
    """zkd as an OBSERVER (OBSERVERINFO, INFORM) of two Apache participants."""
    require_kinds("apache", "zkd")
    ens = MixedEnsemble(tmp_path, [ZKD_SID], participants=2, observers=1)
    try:
        start_apache_then_zkd(ens)
        assert ens.mode(ZKD_SID) == "observer"
        apache = client(ens, [1])
        zkd = client(ens, [ZKD_SID])
        events = []
        try:
            apache.create("/o", b"1")
            zkd.sync("/")
            zkd.get("/o", watch=events.append)
            zkd.create("/from-observer", b"z")
            apache.set("/o", b"2")
            wait_for(lambda: events, 10, "the data watch on the zkd observer", ens)
            apache.sync("/")
            assert apache.get("/from-observer")[0] == b"z"
        finally:
            for kz in (apache, zkd):
                kz.stop()
                kz.close()
    finally:
        ens.close()


def test_apache_leader_crash_zkd_takes_over(mixed):
    """The Apache leader is killed: the other Apache member and zkd elect; with the same history
    the larger sid, zkd, wins and leads the Apache member; the old leader rejoins under it."""
    kz = client(mixed, [ZKD_SID])
    try:
        for i in range(10):
            kz.create("/before-crash-%d" % i, b"x")
    finally:
        kz.stop()
        kz.close()
    old = mixed.leader()
    assert old in (1, 2)
    mixed.kill(old)
    new = mixed.wait_quorum(timeout=60)
    assert new == ZKD_SID
    zkd = client(mixed, [ZKD_SID])
    try:
        assert len([c for c in zkd.get_children("/") if c.startswith("before-crash-")]) == 10
        zkd.create("/after-crash", b"y")
    finally:
        zkd.stop()
        zkd.close()
    mixed.start_member(old, wait=False)
    mixed.wait_serving(timeout=60)
    kz = client(mixed, [old])
    try:
        kz.sync("/")
        assert kz.get("/after-crash")[0] == b"y"
    finally:
        kz.stop()
        kz.close()


def _swap_kind(ens, sid, to_zkd):
    """Replaces member `sid` by the other kind on the same myid, ports and dataDir."""
    ens.replace_member(sid, "zkd" if to_zkd else "apache")
    ens.start_member(sid, wait=False)
    ens.wait_serving(timeout=90)


def test_rolling_swap_zkd_to_apache_and_back(mixed):
    """The migration's step, both ways: zkd's dataDir (snapshot and log written while it followed
    the Apache leader) is taken over by Apache 3.8 as the same member, then by zkd again."""
    kz = client(mixed, [ZKD_SID])
    try:
        for i in range(20):
            kz.create("/swap-%d" % i, b"z")
    finally:
        kz.stop()
        kz.close()
    _swap_kind(mixed, ZKD_SID, to_zkd=False)
    assert ZKD_SID not in mixed.zkd_sids and mixed.mode(ZKD_SID) in ("follower", "leader")
    kz = client(mixed, [ZKD_SID])
    try:
        assert len([c for c in kz.get_children("/") if c.startswith("swap-")]) == 20
        kz.create("/written-by-apache-3", b"a")
    finally:
        kz.stop()
        kz.close()
    _swap_kind(mixed, ZKD_SID, to_zkd=True)
    kz = client(mixed, [ZKD_SID])
    try:
        assert kz.get("/written-by-apache-3")[0] == b"a"
        assert len([c for c in kz.get_children("/") if c.startswith("swap-")]) == 20
    finally:
        kz.stop()
        kz.close()
