"""What a zkd leader sends Apache ZooKeeper 3.8 learners, checked on the wire and in their logs
(issue 16, server/apache_leader.c).

- TxnDigest: with digest.enabled (Apache's default) a PROPOSAL carries the TxnHeader, the txn and
  a TxnDigest (the tree digest after the txn), as Apache's Leader sends it; an Apache follower
  logs what it received and checks the digest when it applies the commit.  Its log must hold
  zkd's records byte for byte (so every one has zkd's digest), it must report no mismatch, and
  its `hash` history must be zkd's.
- A forwarded createSession for a session id the leader already has: Apache's leader logs a
  createSession txn all the same (PrepRequestProcessor: trackSession touches the existing
  session, the commit replaces its timeout), and the learner answers its client from that
  commit.  Checked with a scripted observer on zkd's quorum port (below), since a real Apache
  follower only repeats a session id after its host's monotonic clock went back (a reboot).
"""
import os
import signal
import struct

import pytest
from kazoo.client import KazooClient

from tests.ensemble.test_mixed_zkd_leader import ZKD_SID, close_all, start_led_by_zkd
from tests.integration.test_apache_datadir import AUTH
from tests.integration.test_apache_digest import MISMATCH, write_tree
from tests.integration.test_apache_txnlog import log_entries
from tests.lib import servers as S
from tests.lib.ensemble import MixedEnsemble, require_kinds, synced_value, wait_for
from tests.lib.ensemble import kazoo_client as client
from tests.lib.rawzk import RawSession
from tests.lib.zablearner import TRUNC, LearnerError, ScriptedLearner

DIGEST_CFG = {"extendedTypesEnabled": "true", "znode.container.checkIntervalMs": "3600000"}


def _apache_log(ens, sid):
    with open(ens[sid].zk_log_path, "rb") as f:
        return f.read().decode("utf-8", "replace")


def authed(ens, sid):
    kz = KazooClient(hosts=ens.hosts_of([sid]), timeout=10, auth_data=AUTH)
    kz.start(timeout=30)
    return kz


def start_zkd_leading(ens):
    """Starts the zkd member and Apache member 1, and waits until zkd leads them."""
    ens[ZKD_SID].start(wait=False)
    ens[1].start(wait=False)
    assert ens.wait_serving(sids=[1, ZKD_SID], timeout=90) == ZKD_SID


def test_apache_followers_check_zkd_digests(tmp_path):
    require_kinds("apache", "zkd")
    ens = MixedEnsemble(tmp_path, [ZKD_SID], participants=3, cfg=DIGEST_CFG)
    try:
        start_led_by_zkd(ens)
        a1, z = authed(ens, 1), authed(ens, ZKD_SID)
        try:
            # Forwarded by an Apache follower and written by zkd's own clients: creates of
            # every kind, deletes, setData/setACL, multis (one that fails), ephemerals; over
            # 128 zxids, so the `hash` history has an entry.
            write_tree(a1, "via-apache", 120)
            write_tree(z, "via-zkd", 20)
            close_all(a1)  # closeSession with its ephemeral
            z.sync("/")
            last = z.exists("/via-zkd/m").mzxid
        finally:
            close_all(z)
        for sid in ens.sids:
            kz = client(ens, [sid])
            try:
                kz.sync("/")
            finally:
                close_all(kz)
        hashes = {sid: S.four_letter(ens.client_ports[sid], "hash") for sid in ens.sids}
        assert hashes[ZKD_SID].strip(), "no digest history on zkd"
        assert hashes[1] == hashes[2] == hashes[ZKD_SID], hashes
        for sid in (1, 2):
            text = _apache_log(ens, sid)
            assert MISMATCH not in text and "digest mismatch" not in text.lower(), sid
        ens.stop(1)  # its log flushed and closed
        ens.stop(ZKD_SID)
    finally:
        ens.close()
    theirs = {zx: rec for zx, _, rec in log_entries(ens[1].data_dir)}
    ours = {zx: rec for zx, _, rec in log_entries(ens[ZKD_SID].data_dir)}
    assert max(theirs) >= last and len(theirs) > 200
    assert all(rec[-12:-8] == struct.pack(">i", 2) for rec in theirs.values())
    # The Apache follower logged exactly what zkd logged: the txns and their digests.
    assert {zx: ours.get(zx) for zx in theirs} == theirs


CREATE_SESSION = -10


def apache_password(session_id):
    """ZooKeeperServer.generatePasswd: new java.util.Random(id ^ 0xB3415C00).nextBytes(16)."""
    mult, mask = 0x5DEECE66D, (1 << 48) - 1
    seed = ((session_id ^ 0xB3415C00) ^ mult) & mask
    out = b""
    while len(out) < 16:
        seed = (seed * mult + 0xB) & mask
        out += struct.pack("<I", seed >> 16)
    return out


def test_forwarded_create_session_for_a_known_session(tmp_path):
    """Apache's leader logs a forwarded createSession even for a session it has (the learner
    waits for that commit to answer its client); zkd answered nothing, leaving the client
    hanging.  The scripted observer (sid 4) forwards createSession for X, again for X with a new
    timeout, then for Y: the leader must INFORM all three, in order, each with its timeout."""
    require_kinds("apache", "zkd")
    ens = MixedEnsemble(tmp_path, [ZKD_SID], participants=3, observers=1)
    ln = None
    try:
        start_zkd_leading(ens)
        last = int(ens.srvr(ZKD_SID)["Zxid"], 16)
        ln = ScriptedLearner(S.HOST, ens.quorum_ports[ZKD_SID], sid=4)
        ln.join(last)
        x, y = (4 << 56) | 0x5101, (4 << 56) | 0x5102
        seen = []
        ln.touch = {x: 6000, y: 4000}  # the sessions stay alive while the test runs
        for session, timeout in ((x, 4000), (x, 6000), (y, 4000)):
            ln.request(session, 0, CREATE_SESSION, struct.pack(">i", timeout))
        for _ in range(3):
            zxid, (client_id, _, hzxid, _, typ), rest = ln.next_txn()
            assert typ == CREATE_SESSION and hzxid == zxid
            seen.append((client_id, struct.unpack_from(">i", rest)[0]))
        assert seen == [(x, 4000), (x, 6000), (y, 4000)]
        # The session X lives on zkd (the repeated createSession touched it, not replaced it):
        # a client reconnecting with it through the Apache follower is let in.
        a = RawSession(ens.client_ports[1], session_id=x, passwd=apache_password(x),
                       timeout_ms=6000)
        assert a.session_id == x and a.timeout > 0
        a.close_socket()
    finally:
        if ln:
            ln.close()
        ens.close()


CLOSE_SESSION, ERROR_TXN, SESSIONEXPIRED = -11, -1, -112


def refused(port, session_id):
    """Whether a member refuses a client reconnecting with session_id (Apache answers a session
    that is not valid with a zero timeout and closes; zkd the same)."""
    try:
        a = RawSession(port, session_id=session_id, passwd=apache_password(session_id),
                       timeout_ms=6000)
    except (ConnectionError, OSError):
        return True
    a.close_socket()
    return a.timeout <= 0 or a.session_id != session_id


def test_forwarded_create_session_during_its_close(tmp_path):
    """A createSession forwarded for a session whose closeSession is proposed but not committed:
    Apache's leader (PrepRequestProcessor: trackSession, then setOwner) finds the session closing
    and logs an ErrorTxn(SESSIONEXPIRED); the close then removes the session, so it is not live
    (a client reconnecting with it is refused).  zkd applied the close first and made the
    session live again with a createSession txn.  The Apache follower is stopped while the scripted
    observer forwards closeSession and createSession for X, so neither can commit before both
    were proposed."""
    require_kinds("apache", "zkd")
    ens = MixedEnsemble(tmp_path, [ZKD_SID], participants=3, observers=1)
    ln = None
    stopped = False
    try:
        start_zkd_leading(ens)
        ln = ScriptedLearner(S.HOST, ens.quorum_ports[ZKD_SID], sid=4)
        ln.join(int(ens.srvr(ZKD_SID)["Zxid"], 16))
        x = (4 << 56) | 0x5201
        ln.touch = {x: 6000}
        ln.request(x, 0, CREATE_SESSION, struct.pack(">i", 6000))
        zxid, (client_id, _, _, _, typ), _ = ln.next_txn()
        assert (client_id, typ) == (x, CREATE_SESSION)
        assert not refused(ens.client_ports[1], x)  # live
        os.kill(ens[1].pid, signal.SIGSTOP)  # no quorum: nothing commits
        stopped = True
        ln.request(x, 1, CLOSE_SESSION, b"")
        ln.request(x, 2, CREATE_SESSION, struct.pack(">i", 8000))
        wait_for(lambda: int(ens.srvr(ZKD_SID)["Zxid"], 16) >= zxid + 2, 30,
                 "the leader proposed both")
        os.kill(ens[1].pid, signal.SIGCONT)
        stopped = False
        got = [ln.next_txn() for _ in range(2)]
        # As Apache's leader logs it (checked against 3.8 with this scripted observer): the
        # createSession fails with an ErrorTxn(SESSIONEXPIRED).
        assert [(h[0], h[4]) for _, h, _ in got] == [(x, CLOSE_SESSION), (x, ERROR_TXN)]
        assert got[1][2][:4] == struct.pack(">i", SESSIONEXPIRED)
        # Not live: the leader answers the follower's REVALIDATE "invalid", and refuses it too.
        assert refused(ens.client_ports[1], x), "the session is live again after its close"
        assert refused(ens.client_ports[ZKD_SID], x)
    finally:
        if stopped:
            os.kill(ens[1].pid, signal.SIGCONT)
        if ln:
            ln.close()
        ens.close()


PROPOSAL, COMMIT = 2, 4
# Long enough that the leader keeps its epoch while its one Apache follower is stopped and the
# scripted follower has not acknowledged NEWLEADER (20 s at the ensembles' 200 ms tick).
PATIENT_CFG = {"syncLimit": "100", "initLimit": "100"}


def all_threads_stopped(pid):
    """Whether every thread of `pid` is stopped (SIGSTOP takes effect asynchronously)."""
    def state(tid):
        with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    return all(state(t) == "T" for t in os.listdir("/proc/%d/task" % pid))


def test_no_commit_between_newleader_and_uptodate(tmp_path):
    """A proposal the sync sends above the commit point is committed only after the learner's
    UPTODATE.  Apache 3.8.0's Learner.syncWithLeader logs and forgets the proposals it holds
    when NEWLEADER comes, and a COMMIT before UPTODATE then kills the sync (NullPointerException,
    ZOOKEEPER-4394): in the mixed fault runs an Apache follower synced after a TRUNC, slow to
    ACK NEWLEADER, got such a COMMIT, and its dead sync left a follower that served no client.
    Here the Apache follower is stopped while a write is proposed, so the scripted follower
    (sid 2) is synced with that write uncommitted; the write commits (the follower resumed) before
    the scripted one ACKs NEWLEADER: its next packet must be UPTODATE, then the COMMIT."""
    require_kinds("apache", "zkd")
    ens = MixedEnsemble(tmp_path, [ZKD_SID], participants=3, cfg=PATIENT_CFG)
    ln = kz = None
    stopped = False
    try:
        start_zkd_leading(ens)
        kz = client(ens, [ZKD_SID])
        before = int(ens.srvr(ZKD_SID)["Zxid"], 16)
        os.kill(ens[1].pid, signal.SIGSTOP)  # no quorum: the write waits
        stopped = True
        wait_for(lambda: all_threads_stopped(ens[1].pid), 30, "the Apache follower to stop")
        write = kz.create_async("/held", b"x")
        wait_for(lambda: int(ens.srvr(ZKD_SID)["Zxid"], 16) > before, 30, "the write proposed")
        held = int(ens.srvr(ZKD_SID)["Zxid"], 16)
        ln = ScriptedLearner(S.HOST, ens.quorum_ports[ZKD_SID], sid=2, observer=False)
        synced = [(typ, zxid) for typ, zxid, _ in ln.sync(before)]
        assert (PROPOSAL, held) in synced and (COMMIT, held) not in synced, synced
        os.kill(ens[1].pid, signal.SIGCONT)
        stopped = False
        write.get(timeout=30)
        kz.exists("/held")  # a round trip: the leader is past the commit of the write
        ln.ack_newleader()  # (fails on a COMMIT before UPTODATE)
        typ, zxid, _ = ln.read()
        assert (typ, zxid) == (COMMIT, held)
    finally:
        if stopped:
            os.kill(ens[1].pid, signal.SIGCONT)
        if ln:
            ln.close()
        if kz:
            close_all(kz)
        ens.close()


SET_DATA, SYNC_OP, ACK, SYNC = 5, 9, 3, 7


def test_sync_goes_before_later_commits(tmp_path):
    """A learner's forwarded sync is answered right after the commits up to the last proposal
    before it, ahead of the COMMITs of later proposals, as Apache's leader orders them (its
    CommitProcessor takes a commit for its own request only when that request heads its queue:
    a write forwarded after the sync and committed before the SYNC is taken as another member's,
    and the learner answers no client write again).  The scripted follower (sid 2; the Apache
    follower is stopped, so the commit point is its ACK) forwards a write, a sync and a write,
    then ACKs only the second write once zkd has logged it: the commit point passes both writes
    at once, as when the leader's own fsync completes both."""
    require_kinds("apache", "zkd")
    ens = MixedEnsemble(tmp_path, [ZKD_SID], participants=3, cfg=PATIENT_CFG)
    ln = None
    stopped = False
    try:
        start_zkd_leading(ens)
        ln = ScriptedLearner(S.HOST, ens.quorum_ports[ZKD_SID], sid=2, observer=False)
        ln.join(int(ens.srvr(ZKD_SID)["Zxid"], 16))
        os.kill(ens[1].pid, signal.SIGSTOP)  # the commit point is the scripted follower's ACK
        stopped = True
        wait_for(lambda: all_threads_stopped(ens[1].pid), 30, "the Apache follower to stop")
        u = (2 << 56) | 0x5301  # a session zkd does not know: each write is an ErrorTxn
        body = struct.pack(">i", 1) + b"/" + struct.pack(">i", 1) + b"x" + struct.pack(">i", -1)
        ln.request(u, 1, SET_DATA, body)
        w1 = ln.next_txn()[0]
        ln.request(u, 2, SYNC_OP, struct.pack(">i", 1) + b"/")
        ln.request(u, 3, SET_DATA, body)
        w2 = ln.next_txn()[0]
        wait_for(lambda: any(z == w2 for z, _, _ in log_entries(ens[ZKD_SID].data_dir)), 30,
                 "zkd to log the second write")
        ln.send(ACK, w2)
        got = [ln.read()[:2] for _ in range(3)]
        assert got == [(COMMIT, w1), (SYNC, 0), (COMMIT, w2)], got
    finally:
        if stopped:
            os.kill(ens[1].pid, signal.SIGCONT)
        if ln:
            ln.close()
        ens.close()


def test_no_trunc_across_an_epoch(tmp_path):
    """A learner whose last zxid is of an earlier epoch and beyond our history in it (a leader
    deposed with proposals it could not commit) is synced by SNAP when transactions of a later
    epoch would follow the TRUNC, as Apache's LearnerHandler does (Apache's learner would hold
    them only in the unsynced snapshot it takes at NEWLEADER); a learner past our whole history
    gets a TRUNC with nothing after it, as from Apache."""
    require_kinds("apache", "zkd")
    ens = MixedEnsemble(tmp_path, [ZKD_SID], participants=3)
    kz = None
    try:
        start_zkd_leading(ens)
        kz = client(ens, [ZKD_SID])
        kz.create("/e1", b"x")
        epoch1_last = int(ens.srvr(ZKD_SID)["Zxid"], 16)
        ens.kill(1)  # zkd looks again and leads the next epoch
        ens[1].start(wait=False)
        assert ens.wait_serving(sids=[1, ZKD_SID], timeout=90) == ZKD_SID
        kz.create("/e2", b"x", ephemeral=False)  # (kazoo retries through the election)
        last = int(ens.srvr(ZKD_SID)["Zxid"], 16)
        assert last >> 32 > epoch1_last >> 32
        ln = ScriptedLearner(S.HOST, ens.quorum_ports[ZKD_SID], sid=2, observer=False)
        try:
            with pytest.raises(LearnerError, match="SNAP"):
                ln.sync(epoch1_last + 5)
        finally:
            ln.close()
        ln = ScriptedLearner(S.HOST, ens.quorum_ports[ZKD_SID], sid=2, observer=False)
        try:
            assert [(t, z) for t, z, _ in ln.sync(last + 5)] == [(TRUNC, last)]
        finally:
            ln.close()
    finally:
        if kz:
            close_all(kz)
        ens.close()


SUPER = ("digest", "super:test")
SUPER_DIGEST = "super:D/InIHSb7yEEbrWz8b9l71RjZJU="  # sha1("super:test"), base64
RECONFIG_CFG = {"reconfigEnabled": "true", "DigestAuthenticationProvider.superDigest": SUPER_DIGEST}


def membership(ens, sid):
    """The configuration an Apache member runs (`conf`: after "membership: ", its
    QuorumVerifier)."""
    return ens[sid].four_letter("conf").split("membership: \n", 1)[1].strip()


def check_activated(ens, text, sids=None):
    """/zookeeper/config is `text` on members `sids` (all by default), and each Apache one runs
    it (`conf`)."""
    sids = ens.sids if sids is None else sids
    for sid in sids:
        kz = client(ens, [sid])
        try:
            kz.sync("/zookeeper/config")
            assert kz.get("/zookeeper/config")[0].decode() == text, sid
        finally:
            close_all(kz)
    for sid in sids:
        if ens.member_kind(sid) == "apache":
            wait_for(lambda: membership(ens, sid) == text, 10,
                     "member %d to activate %s" % (sid, text.rsplit("\n", 1)[-1]), ens)


def test_reconfig_activates_on_apache_followers(tmp_path):
    """reconfig through a kazoo client while zkd leads two Apache followers: one is removed, then
    added back.  zkd commits each reconfig with COMMITANDACTIVATE, so the followers switch to the
    new membership (Apache's `conf`), not only write it in /zookeeper/config; a follower that was
    down meanwhile syncs and runs the newest one."""
    require_kinds("apache", "zkd")
    ens = MixedEnsemble(tmp_path, [ZKD_SID], participants=3, cfg=RECONFIG_CFG)
    try:
        start_led_by_zkd(ens)
        admin = KazooClient(hosts=ens.hosts_of([ZKD_SID]), timeout=10, auth_data=[SUPER])
        admin.start(timeout=30)
        try:
            data, stat = admin.reconfig(joining=None, leaving="2", new_members=None)
            removed = data.decode()
            assert "server.2=" not in removed and int(removed.rsplit("version=", 1)[1], 16) == stat.mzxid
            check_activated(ens, removed)
            data, _ = admin.reconfig(joining="server.2=" + ens.server_line(1, 2), leaving=None,
                                     new_members=None)
            added = data.decode()
            assert "server.2=" in added
            check_activated(ens, added)
            # Member 2 misses two reconfigs while down; its DIFF brings them with plain COMMITs
            # (as Apache's LearnerHandler sends them), and it must end up running the newest
            # membership, which the election's notifications and NEWLEADER both carry.  (This
            # passes without NEWLEADER's: the notifications suffice here.)
            ens.stop(2)
            admin.reconfig(joining=None, leaving="2", new_members=None)
            data, _ = admin.reconfig(joining="server.2=" + ens.server_line(1, 2), leaving=None,
                                     new_members=None)
            missed = data.decode()
            mark = ens.log_size(ZKD_SID)
            ens.start_member(2, wait=False)
            assert ens.wait_serving(timeout=60) == ZKD_SID
            assert "syncing server 2 by DIFF" in ens.log_since(ZKD_SID, mark)
            check_activated(ens, missed)
            admin.create("/after-reconfig", b"r")
        finally:
            close_all(admin)
        assert synced_value(ens, [2], "/after-reconfig") == b"r"  # a voter again, serving
    finally:
        ens.close()


def test_zkd_follower_applies_a_reconfig_of_an_apache_leader(tmp_path):
    """The other way round: an Apache leader commits a reconfig to its zkd follower with
    COMMITANDACTIVATE, which zkd must take as the commit (it ignored it, so the reconfig applied
    on zkd only with the next COMMIT: a read after sync through zkd saw the old membership)."""
    require_kinds("apache", "zkd")
    ens = MixedEnsemble(tmp_path, [ZKD_SID], participants=3, cfg=RECONFIG_CFG)
    try:
        for sid in (1, 2):
            ens[sid].start(wait=False)
        ens.wait_serving(sids=[1, 2], timeout=90)
        ens.start_member(ZKD_SID, wait=False)
        assert ens.wait_serving(timeout=60) in (1, 2)
        z = client(ens, [ZKD_SID])  # its session first: no write commits after the reconfig
        admin = KazooClient(hosts=ens.hosts_of([1, 2]), timeout=10, auth_data=[SUPER])
        admin.start(timeout=30)
        try:
            follower = [sid for sid in (1, 2) if ens.mode(sid) == "follower"][0]
            data, _ = admin.reconfig(joining=None, leaving=str(follower), new_members=None)
            text = data.decode()
            z.sync("/zookeeper/config")
            assert z.get("/zookeeper/config")[0].decode() == text
        finally:
            close_all(admin, z)
    finally:
        ens.close()
