"""Local sessions (localSessionsEnabled, localSessionsUpgradingEnabled; server/localsess.h),
differential: the same scenario runs on a 3-member Apache 3.8 ensemble, a 3-member zkd ensemble, a
zkd follower of an Apache leader and Apache followers of a zkd leader, each time with the client on
a follower and on the leader, and every run must observe what Apache 3.8 does (expected_*, measured
on Debian's zookeeper 3.8 and read in its sources: LeaderSessionTracker, LearnerSessionTracker,
QuorumZooKeeperServer.checkUpgradeSession, PrepRequestProcessor.validateCreateRequest):

  - a new session is local, on the leader too: connecting and closing take no zxid; mntr's
    local_sessions counts it on its member only, global_sessions stays 0;
  - without upgrading, an ephemeral create fails EPHEMERALONLOCALSESSION (-120) and takes one zxid
    (an error txn); in a multi the failed op says -120 on the leader, but SESSIONEXPIRED (-112)
    through a follower (the leader's answer: the session is not global);
  - the session taken to another member is expired there (it stays alive on its own member); one
    that times out is expired by its member without a zxid; a member that changes role (its leader
    died) forgets its local sessions;
  - with upgrading, the ephemeral create first logs the session's createSession (two zxids), the
    session is then global on every member, moves to another member with its ephemeral, and its
    close is a closeSession txn that deletes the ephemeral.

Cost: about 60 s (two ensembles of each of the four kinds; Apache members take ~6 s to start),
40 s in the sanitizer build's run (no Apache-only ensembles there).
"""
import pytest

from tests.ensemble.test_mixed_ensemble import MixedEnsemble
from tests.ensemble.test_mixed_zkd_leader import ZKD_SID, start_led_by_zkd
from tests.lib import rawzk as R
from tests.lib.ensemble import Ensemble, require_kinds
from tests.lib.waiting import wait_until

EPHEMERAL = 1
EPHEMERALONLOCALSESSION, SESSIONEXPIRED = -120, -112
MULTI = 14
LONG_MS = 30000  # a session timeout no election here comes near (maxSessionTimeout below)


def cfg(upgrading):
    return {"localSessionsEnabled": "true",
            "localSessionsUpgradingEnabled": "true" if upgrading else "false",
            "maxSessionTimeout": str(2 * LONG_MS)}


def multi(sess, ops):
    """A multi of creates [(path, flags)]; returns (err, [path or error code per op])."""
    body = b""
    for path, flags in ops:
        body += R.i32(1) + R.zbool(False) + R.i32(-1) + R.zstr(path) + R.zbuf(b"") + \
            R.acls(R.OPEN_ACL) + R.i32(flags)
    body += R.i32(-1) + R.zbool(True) + R.i32(-1)
    R.OPS.setdefault("multi", MULTI)
    err, r = sess.call("multi", body)
    out = []
    while err == 0:
        typ, done, _ = r.int(), r.bool(), r.int()
        if done:
            break
        out.append(r.int() if typ == -1 else r.str())
    return err, out


class Probe:
    """Reads an ensemble's zxid (at its leader) and session counts (mntr of each member)."""

    def __init__(self, ens):
        self.ens = ens
        self.leader = ens.leader(timeout=30)
        self.followers = [s for s in ens.participants if s != self.leader]
        # One write first: until the epoch's first txn a follower's srvr may say the zxid it
        # had before the election (Apache's does unless it synced by snapshot), the leader's
        # <epoch>00000000, and the deltas below must not see that.
        first = R.RawSession(self.port(self.leader))
        assert first.create("/probe")[0] == 0
        first.close_session()

    def port(self, sid):
        return self.ens.client_ports[sid]

    def zxid(self):
        """The zxid every member has reached (waiting until they agree: a follower answers its
        client before the leader's own apply catches up, and the other way round)."""
        seen = {}

        def agree():
            seen.update((sid, int(self.ens.srvr(sid)["Zxid"], 16))
                        for sid in self.ens.participants)
            return len(set(seen.values())) == 1
        wait_until(agree, 30, "the members to agree on the zxid")
        return seen[self.leader]

    def sessions(self, sid):
        m = dict(line.split("\t", 1) for line in self.ens[sid].four_letter("mntr").splitlines()
                 if "\t" in line)
        return int(m["zk_local_sessions"]), int(m["zk_global_sessions"])

    def all_sessions(self):
        return {sid: self.sessions(sid) for sid in self.ens.participants}


def counts(holder, probe, local, glob):
    """The (local, global) counts every member should report when `holder` has `local`."""
    return {sid: (local if sid == holder else 0, glob) for sid in probe.ens.participants}


def without_upgrading(probe, holder, tag):
    """Observations of a local session on `holder` when upgrading is off."""
    obs = {}
    other = next(s for s in probe.ens.participants if s != holder)
    z = probe.zxid()
    a = R.RawSession(probe.port(holder), timeout_ms=4000)
    obs["connect takes a zxid"] = probe.zxid() - z
    obs["sessions after connect"] = probe.all_sessions() == counts(holder, probe, 1, 0)
    z = probe.zxid()
    obs["persistent create"] = a.create("/p" + tag)[0]
    obs["persistent create zxids"] = probe.zxid() - z
    z = probe.zxid()
    obs["ephemeral create"] = a.create("/p%s/e" % tag, flags=EPHEMERAL)[0]
    obs["ephemeral create zxids"] = probe.zxid() - z
    z = probe.zxid()
    obs["multi with ephemeral"] = multi(a, [("/m" + tag, 0), ("/m%s/e" % tag, EPHEMERAL)])
    obs["multi zxids"] = probe.zxid() - z
    obs["global sessions"] = probe.all_sessions() == counts(holder, probe, 1, 0)
    # Taken to another member it is unknown there (expired: a ConnectResponse with session 0) ...
    a.close_socket()
    moved = R.RawSession(probe.port(other), timeout_ms=4000, session_id=a.session_id,
                         passwd=a.passwd)
    obs["moved session id"] = moved.session_id
    moved.close_socket()
    # ... and still alive on its own member, where closing it takes no zxid.
    back = R.RawSession(probe.port(holder), timeout_ms=4000, session_id=a.session_id,
                        passwd=a.passwd)
    obs["back on its member"] = back.session_id == a.session_id
    z = probe.zxid()
    obs["close"] = back.close_session()
    obs["close zxids"] = probe.zxid() - z
    obs["sessions after close"] = probe.sessions(holder)
    # A local session that times out is expired by its member, without a zxid.
    z = probe.zxid()
    short = R.RawSession(probe.port(holder), timeout_ms=400)
    short.close_socket()
    wait_until(lambda: probe.sessions(holder) == (0, 0), 30, "the local session to expire")
    obs["expiry zxids"] = probe.zxid() - z
    gone = R.RawSession(probe.port(holder), timeout_ms=4000, session_id=short.session_id,
                        passwd=short.passwd)
    obs["expired session id"] = gone.session_id
    gone.close_socket()
    if holder != probe.leader:
        # Its member changing role forgets it (Apache's restarts its ZooKeeperServer): after the
        # leader dies, the session is expired, well within its timeout.
        kept = R.RawSession(probe.port(holder), timeout_ms=LONG_MS)
        kept.close_socket()
        probe.ens.kill(probe.leader)
        probe.ens.wait_serving(sids=[s for s in probe.ens.participants if s != probe.leader])
        again = R.RawSession(probe.port(holder), timeout_ms=LONG_MS, session_id=kept.session_id,
                             passwd=kept.passwd)
        obs["after a leader change"] = again.session_id
        again.close_socket()
    return obs


def with_upgrading(probe, holder, tag):
    """Observations of a local session on `holder` upgraded by an ephemeral create."""
    obs = {}
    other = next(s for s in probe.ens.participants if s != holder)
    z = probe.zxid()
    a = R.RawSession(probe.port(holder), timeout_ms=4000)
    obs["connect takes a zxid"] = probe.zxid() - z
    z = probe.zxid()
    obs["ephemeral create"] = a.create("/u" + tag, flags=EPHEMERAL)[0]
    obs["ephemeral create zxids"] = probe.zxid() - z
    wait_until(lambda: probe.all_sessions() == counts(holder, probe, 0, 1), 30,
               "the upgraded session on every member")
    # Global now: it moves to another member with its ephemeral.
    a.close_socket()
    b = R.RawSession(probe.port(other), timeout_ms=4000, session_id=a.session_id, passwd=a.passwd)
    obs["moved keeps the session"] = b.session_id == a.session_id
    obs["ephemeral seen after the move"] = b.exists("/u" + tag)
    z = probe.zxid()
    obs["close"] = b.close_session()
    obs["close zxids"] = probe.zxid() - z
    c = R.RawSession(probe.port(holder), timeout_ms=4000)
    obs["ephemeral after close"] = c.exists("/u" + tag)
    # A multi holding an ephemeral upgrades too.
    z = probe.zxid()
    obs["multi with ephemeral"] = multi(c, [("/um" + tag, 0), ("/um%s/e" % tag, EPHEMERAL)])
    obs["multi zxids"] = probe.zxid() - z
    c.close_session()
    wait_until(lambda: probe.all_sessions() == counts(holder, probe, 0, 0), 30,
               "no session left")
    return obs


def expected_without(role, tag):
    refused = EPHEMERALONLOCALSESSION if role == "leader" else SESSIONEXPIRED
    more = {} if role == "leader" else {"after a leader change": 0}
    return dict(more, **{
        "connect takes a zxid": 0, "sessions after connect": True,
        "persistent create": 0, "persistent create zxids": 1,
        "ephemeral create": EPHEMERALONLOCALSESSION, "ephemeral create zxids": 1,
        "multi with ephemeral": (0, [0, refused]), "multi zxids": 1, "global sessions": True,
        "moved session id": 0, "back on its member": True,
        "close": 0, "close zxids": 0, "sessions after close": (0, 0),
        "expiry zxids": 0, "expired session id": 0,
    })


def expected_with(tag):
    return {
        "connect takes a zxid": 0, "ephemeral create": 0, "ephemeral create zxids": 2,
        "moved keeps the session": True, "ephemeral seen after the move": 0,
        "close": 0, "close zxids": 1, "ephemeral after close": -101,
        "multi with ephemeral": (0, ["/um" + tag, "/um%s/e" % tag]), "multi zxids": 2,
    }


# The ensembles: (name, the kinds it needs, start(tmp_path, cfg) -> (ensemble, follower sid)).
def _plain(kind):
    def start(tmp_path, config):
        ens = Ensemble(tmp_path, kind, cfg=config)
        ens.start()
        return ens, None
    return start


def _zkd_follows_apache(tmp_path, config):
    ens = MixedEnsemble(tmp_path, [ZKD_SID], participants=3, cfg=config)
    for sid in (1, 2):
        ens[sid].start(wait=False)
    ens.wait_serving(sids=[1, 2], timeout=90)
    ens.start_member(ZKD_SID, wait=False)
    ens.wait_serving(timeout=60)
    return ens, ZKD_SID


def _apache_follows_zkd(tmp_path, config):
    ens = MixedEnsemble(tmp_path, [ZKD_SID], participants=3, cfg=config)
    start_led_by_zkd(ens)
    return ens, 1


ENSEMBLES = {
    "apache": (("apache",), _plain("apache")),
    "zkd": (("zkd",), _plain("zkd")),
    "zkd-follows-apache": (("apache", "zkd"), _zkd_follows_apache),
    "apache-follows-zkd": (("apache", "zkd"), _apache_follows_zkd),
}


def start_kind(kind, tmp_path, config):
    """Starts an ensemble of `kind` (ENSEMBLES) with `config` -> (ensemble, a follower's sid);
    skips the test when one of its kinds cannot run here."""
    kinds, start = ENSEMBLES[kind]
    require_kinds(*kinds)
    return start(tmp_path, config)


@pytest.mark.parametrize("upgrading", [False, True], ids=["no-upgrade", "upgrade"])
# (named `kind`: the sanitizer build's run leaves out kind "apache", tests/ensemble/conftest.py)
@pytest.mark.parametrize("kind", list(ENSEMBLES))
def test_local_sessions_as_apache(kind, upgrading, tmp_path):
    ens = None
    try:
        ens, follower = start_kind(kind, tmp_path, cfg(upgrading))
        probe = Probe(ens)
        if follower is not None:
            assert probe.leader != follower, ens.describe()
        # (the leader first: the follower's scenario ends by killing it)
        holders = {"leader": probe.leader, "follower": follower or probe.followers[0]}
        scenario = with_upgrading if upgrading else without_upgrading
        seen = {role: scenario(probe, sid, role) for role, sid in holders.items()}
        want = {role: expected_with(role) if upgrading else expected_without(role, role)
                for role in holders}
        differ = {(role, k): (seen[role].get(k), v)
                  for role in want for k, v in want[role].items() if seen[role].get(k) != v}
        assert not differ, "(seen, Apache's) %r" % differ
        assert seen == want
    finally:
        if ens is not None:
            ens.close()


@pytest.mark.parametrize("kind", ["apache", "zkd"])
def test_standalone_sessions_stay_global(kind, server_factory):
    """A standalone server has no local sessions, localSessionsEnabled or not (Apache's
    ZooKeeperServer keeps a SessionTrackerImpl): the session takes a zxid, may hold an
    ephemeral, and mntr counts no local session."""
    srv = server_factory(kind, cfg=dict(cfg(False), **{"4lw.commands.whitelist": "*"}))
    base = R.RawSession(srv.port)
    assert base.create("/probe")[0] == 0
    z = base.last_zxid
    a = R.RawSession(srv.port, timeout_ms=4000)
    assert a.create("/eph", flags=EPHEMERAL)[0] == 0
    assert a.last_zxid - z == 2  # createSession, then the create
    mntr = dict(line.split("\t", 1) for line in srv.four_letter("mntr").splitlines()
                if "\t" in line)
    assert (int(mntr["zk_local_sessions"]), int(mntr["zk_global_sessions"])) == (0, 2)
    assert a.close_session() == 0
    base.close_session()
