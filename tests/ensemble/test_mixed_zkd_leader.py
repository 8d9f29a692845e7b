"""zkd LEADING Apache ZooKeeper 3.8 followers and observers (issue 16, server/apache_leader.c).

zkd (memberProtocol=apache) has the highest sid and starts with one Apache member, so the fast
leader election picks it (equal histories: the larger sid wins); the other Apache member then
joins the established leader.  What is checked: writes through any member are read through every
other (the Apache followers forward them as REQUEST and answer them from zkd's PROPOSAL/COMMIT,
failures included, as ErrorTxns); sync; an Apache follower that was down catches up by DIFF and
by SNAP; an Apache observer (INFORM); the zkd leader is killed and the Apache members elect one
of themselves with every acknowledged write.
"""
import pytest
from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError

from tests.lib.rawzk import RawSession
from tests.lib.ensemble import MixedEnsemble, require_kinds, wait_for
from tests.lib.ensemble import kazoo_client as client

ZKD_SID = 3


def start_led_by_zkd(ens, first_apache=1):
    """zkd and one Apache member elect zkd; then the rest join it."""
    ens[ZKD_SID].start(wait=False)
    ens[first_apache].start(wait=False)
    leader = ens.wait_serving(sids=[first_apache, ZKD_SID], timeout=90)
    assert leader == ZKD_SID, ens.describe()
    for sid in ens.sids:
        if not ens[sid].running:
            ens[sid].start(wait=False)
    assert ens.wait_serving(timeout=60) == ZKD_SID


# zkd keeps the last snapCount transactions for DIFFs (server/txnwin.h): a follower further behind
# gets a SNAP.  (Apache reads the key as zookeeper.snapCount.)
SMALL_WINDOW = {"snapCount": "50"}


@pytest.fixture
def led(tmp_path):
    require_kinds("apache", "zkd")
    ens = MixedEnsemble(tmp_path, [ZKD_SID], participants=3, cfg=SMALL_WINDOW)
    try:
        start_led_by_zkd(ens)
        yield ens
    finally:
        ens.close()


def close_all(*clients):
    for kz in clients:
        kz.stop()
        kz.close()


def test_zkd_leads_apache_followers(led):
    assert led.mode(ZKD_SID) == "leader"
    assert led.mode(1) == "follower" and led.mode(2) == "follower"
    a1, a2, z = client(led, [1]), client(led, [2]), client(led, [ZKD_SID])
    try:
        # A write through an Apache follower is forwarded to zkd and answered by the follower
        # from zkd's COMMIT; the others read it after a sync.
        a1.create("/via-a1", b"1")
        z.create("/via-zkd", b"z")
        for kz in (a2, z):
            kz.sync("/")
            assert kz.get("/via-a1")[0] == b"1"
        a2.sync("/")
        assert a2.get("/via-zkd")[0] == b"z"
        stat = a2.set("/via-a1", b"2")
        assert stat.version == 1
        seq = a1.create("/seq-", b"", sequence=True)
        assert seq.startswith("/seq-")
        a1.delete(seq)
        # Failures through an Apache follower come back as the leader's ErrorTxn.
        with pytest.raises(NodeExistsError):
            a1.create("/via-zkd", b"again")
        with pytest.raises(NoNodeError):
            a2.delete("/missing")
        with pytest.raises(BadVersionError):
            a1.set("/via-a1", b"x", version=7)
        t = a1.transaction()
        t.create("/multi", b"m")
        t.check("/via-a1", 1)
        assert t.commit() == ["/multi", True]
        t = a2.transaction()
        t.create("/multi-2", b"")
        t.check("/via-a1", 9)
        results = t.commit()
        assert isinstance(results[1], BadVersionError)
        # Every member has the same tree, with the same zxids.
        for kz in (a1, a2, z):
            kz.sync("/")
        views = [(sorted(kz.get_children("/")), kz.get("/via-a1")[1].mzxid,
                  kz.exists("/multi").czxid) for kz in (a1, a2, z)]
        assert views[0] == views[1] == views[2]
        assert "multi-2" not in views[0][0]
        # A watch set on an Apache follower fires for a write through zkd.
        events = []
        a2.get("/via-a1", watch=events.append)
        z.set("/via-a1", b"3")
        wait_for(lambda: events, 10, "the watch on the Apache follower", led)
        assert events[0].type == "CHANGED"
    finally:
        close_all(a1, a2, z)


def test_sessions_on_apache_followers_under_zkd_leader(led):
    """Sessions are the leader's: created, revalidated, closed and expired by zkd for clients of
    the Apache followers."""
    a1 = RawSession(led.client_ports[1], timeout_ms=1000)  # createSession forwarded to zkd
    assert a1.create("/eph", flags=1) == (0, "/eph")
    # The client moves to the other Apache follower: it asks zkd (REVALIDATE) and is let in.
    a2 = RawSession(led.client_ports[2], session_id=a1.session_id, passwd=a1.passwd)
    assert a2.session_id == a1.session_id and a2.timeout > 0
    z = client(led, [ZKD_SID])
    try:
        assert z.exists("/eph").ephemeralOwner == a1.session_id
        # Both connections vanish without closing the session: zkd expires it (the Apache
        # followers' PING answers stop touching it) and every member drops the ephemeral.
        a1.close_socket()
        a2.close_socket()
        wait_for(lambda: z.exists("/eph") is None, 20, "the session's expiry on zkd", led)
        # closeSession forwarded by an Apache follower.
        kz = client(led, [1])
        kz.create("/eph-closed", ephemeral=True)
        close_all(kz)
        z.sync("/")
        assert z.exists("/eph-closed") is None
    finally:
        close_all(z)
    for sid in (1, 2):
        kz = client(led, [sid])
        try:
            kz.sync("/")
            assert kz.exists("/eph") is None and kz.exists("/eph-closed") is None
        finally:
            close_all(kz)


def _down_then_catch_up(ens, sid, writes):
    """Member `sid` misses `writes` creates of /while-down-N (N counts on across calls), then
    rejoins; returns what zkd logged meanwhile."""
    ens[sid].stop()
    kz = client(ens, [ZKD_SID])
    try:
        first = len([c for c in kz.get_children("/") if c.startswith("while-down-")])
        for i in range(first, first + writes):
            kz.create("/while-down-%d" % i, str(i).encode())
        writes += first
    finally:
        close_all(kz)
    mark = ens.log_size(ZKD_SID)
    ens.start_member(sid, wait=False)
    assert ens.wait_serving(timeout=60) == ZKD_SID
    kz = client(ens, [sid])
    try:
        kz.sync("/")
        names = [c for c in kz.get_children("/") if c.startswith("while-down-")]
        assert len(names) == writes
        assert kz.get("/while-down-%d" % (writes - 1))[0] == str(writes - 1).encode()
        kz.create("/after-catch-up-%d" % writes)  # and it forwards again
    finally:
        close_all(kz)
    return ens.log_since(ZKD_SID, mark)


def test_apache_follower_catches_up_by_diff_then_snap(led):
    log = _down_then_catch_up(led, 2, 10)
    assert "syncing server 2 by DIFF" in log and "by SNAP" not in log
    # More writes than zkd's history window holds: the database goes as a SNAP ("BenWasHere").
    log = _down_then_catch_up(led, 2, 200)
    assert "syncing server 2 by SNAP" in log
    # The follower that loaded zkd's SNAP serves a consistent tree after restarting from it.
    led[2].stop()
    led.start_member(2, wait=False)
    assert led.wait_serving(timeout=60) == ZKD_SID
    kz = client(led, [2])
    try:
        kz.sync("/")
        assert len([c for c in kz.get_children("/") if c.startswith("while-down-")]) == 210
    finally:
        close_all(kz)


def test_apache_observer_under_zkd_leader(tmp_path):
    """An Apache OBSERVER of the zkd leader: synced by DIFF, then INFORM per commit; its writes are
    forwarded to zkd."""
    require_kinds("apache", "zkd")
    ens = MixedEnsemble(tmp_path, [ZKD_SID], participants=3, observers=1)
    try:
        start_led_by_zkd(ens)
        obs = ens.observers[0]
        assert ens.mode(obs) == "observer"
        o, z = client(ens, [obs]), client(ens, [ZKD_SID])
        events = []
        try:
            z.create("/for-observer", b"1")
            o.sync("/")
            assert o.get("/for-observer", watch=events.append)[0] == b"1"
            o.create("/from-observer", b"o")
            with pytest.raises(NodeExistsError):
                o.create("/from-observer", b"again")
            z.set("/for-observer", b"2")
            wait_for(lambda: events, 10, "the watch on the Apache observer", ens)
            z.sync("/")
            assert z.get("/from-observer")[0] == b"o"
        finally:
            close_all(o, z)
    finally:
        ens.close()


def test_zkd_leader_killed_apache_members_take_over(led):
    kz = client(led, [1])
    try:
        for i in range(20):
            kz.create("/acked-%d" % i, b"x")
    finally:
        close_all(kz)
    led.kill(ZKD_SID)
    new = led.wait_quorum(timeout=60)
    assert new in (1, 2)
    kz = client(led, [1, 2])
    try:
        kz.sync("/")
        assert len([c for c in kz.get_children("/") if c.startswith("acked-")]) == 20
        kz.create("/after-zkd", b"y")
    finally:
        close_all(kz)
    # zkd comes back as a follower of the Apache leader and sees everything.
    led.start_member(ZKD_SID, wait=False)
    led.wait_serving(timeout=60)
    kz = client(led, [ZKD_SID])
    try:
        kz.sync("/")
        assert kz.get("/after-zkd")[0] == b"y"
    finally:
        close_all(kz)
