"""What an ensemble with local sessions shows of them, differential against Apache 3.8 (issue 13;
the scenarios and ensemble kinds of test_local_sessions.py):

  - the `dump` four-letter word's session tracker part has Apache's layout for the member's role
    (LeaderSessionTracker/LearnerSessionTracker.dumpSessions): on the leader "Local Session Sets"
    then "Global Session Sets", on a follower "Local Session Sets" then "Global Sessions(N)";
  - a refused ephemeral create of a local session is logged by the leader as an ErrorTxn of
    EPHEMERALONLOCALSESSION (-120) for the leader's own session, SESSIONEXPIRED (-112) for a
    follower's (whose client still gets -120), read back from the leader's txn log with
    `zkd log-dump`;
  - right after an election the leader's srvr says Zxid <epoch>00000000 before any write (Apache's
    Leader.lead sets it), also when it takes over a database with txns;
  - a standalone server's dump has Apache's "Session Sets" (SessionTrackerImpl);
  - a follower's session being upgraded stays local until the leader commits its createSession:
    if the leader dies first, no member knows the session (LearnerSessionTracker).

Cost: about 60 s (seven ensembles, two standalone servers); 25 s in the sanitizer build's run
(no Apache-only ensembles there).
"""
import glob
import os
import re
import signal
import subprocess

import pytest

from tests.ensemble.test_local_sessions import EPHEMERAL, LONG_MS, cfg, start_kind
from tests.lib import rawzk as R
from tests.lib import servers as S
from tests.lib.waiting import wait_until

EPHEMERALONLOCALSESSION, SESSIONEXPIRED = -120, -112
KINDS = ["apache", "zkd", "apache-follows-zkd"]

SECTION = re.compile(r"^(Local Session Sets|Global Session Sets|Session Sets) \((\d+)\)/\((\d+)\):$"
                     r"|^(Global Sessions)\((\d+)\):$")


def tracker_sections(dump):
    """The session tracker part of a dump: {section: (session count, sorted session ids)}."""
    out, cur = {}, None
    for line in dump.split("ephemeral nodes dump:")[0].splitlines()[1:]:
        m = SECTION.match(line)
        if m:
            cur = m.group(1) or m.group(4)
            out[cur] = (int(m.group(3) or m.group(5)), [])
        elif cur and line.startswith("\t0x"):
            out[cur][1].append(int(line[1:], 16))
        elif cur and line.startswith("0x"):
            out[cur][1].append(int(line.split("\t")[0], 16))
        else:
            assert cur and re.match(r"^\d+ expire at \w{3} \w{3} \d\d \d\d:\d\d:\d\d \S+ \d{4}:$",
                                    line), (line, dump)
    return {k: (n, sorted(ids)) for k, (n, ids) in out.items()}


def leader_error_txns(member):
    """{session id: [ErrorTxn code, ...]} of the error txns in the member's txn logs."""
    out = {}
    for log in sorted(glob.glob(os.path.join(member.data_dir, "version-2", "log.*"))):
        r = subprocess.run([os.path.join(S.BUILD_BIN, "zkd"), "log-dump", log],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        for m in re.finditer(r" session (0x[0-9a-f]+) cxid \S+ zxid \S+ error (-?\d+)$", r.stdout,
                             re.M):
            out.setdefault(int(m.group(1), 16), []).append(int(m.group(2)))
    return out


def epoch_start(zxid):
    return zxid >> 32 >= 1 and zxid & 0xffffffff == 0


def global_sessions(ens, sid):
    mntr = dict(line.split("\t", 1) for line in ens[sid].four_letter("mntr").splitlines()
                if "\t" in line)
    return int(mntr["zk_global_sessions"])


@pytest.mark.parametrize("kind", KINDS)
def test_local_session_state_as_apache(kind, tmp_path):
    ens = None
    try:
        ens, follower = start_kind(kind, tmp_path,
                                   dict(cfg(False), **{"4lw.commands.whitelist": "*"}))
        leader = ens.leader(timeout=30)
        follower = follower or next(s for s in ens.participants if s != leader)
        assert leader != follower, ens.describe()
        first = int(ens.srvr(leader)["Zxid"], 16)
        assert epoch_start(first), (hex(first), ens.describe())

        on_leader = R.RawSession(ens.client_ports[leader], timeout_ms=4000)
        on_follower = R.RawSession(ens.client_ports[follower], timeout_ms=4000)
        lid, fid = on_leader.session_id, on_follower.session_id
        assert tracker_sections(ens[leader].four_letter("dump")) == {
            "Local Session Sets": (1, [lid]), "Global Session Sets": (0, [])}
        assert tracker_sections(ens[follower].four_letter("dump")) == {
            "Local Session Sets": (1, [fid]), "Global Sessions": (0, [])}

        assert on_leader.create("/e-leader", flags=EPHEMERAL)[0] == EPHEMERALONLOCALSESSION
        assert on_follower.create("/e-follower", flags=EPHEMERAL)[0] == EPHEMERALONLOCALSESSION
        assert leader_error_txns(ens[leader]) == {lid: [EPHEMERALONLOCALSESSION],
                                                  fid: [SESSIONEXPIRED]}
        on_leader.close_session()
        on_follower.close_session()

        if kind in ("apache", "zkd"):
            # A new leader over a database with txns: its epoch's zxid before any write.
            last = int(ens.srvr(leader)["Zxid"], 16)
            ens.kill(leader)
            new = ens.wait_serving(sids=[s for s in ens.participants if s != leader])
            zxid = int(ens.srvr(new)["Zxid"], 16)
            assert epoch_start(zxid) and zxid > last, (hex(zxid), hex(last), ens.describe())
    finally:
        if ens is not None:
            ens.close()


@pytest.mark.parametrize("kind", ["apache", "zkd"])
def test_standalone_dump_as_apache(kind, server_factory):
    """A standalone server's tracker is Apache's SessionTrackerImpl: "Session Sets"."""
    srv = server_factory(kind, cfg=dict(cfg(False), **{"4lw.commands.whitelist": "*"}))
    a = R.RawSession(srv.port, timeout_ms=4000)
    assert tracker_sections(srv.four_letter("dump")) == {"Session Sets": (1, [a.session_id])}
    a.close_session()


@pytest.mark.parametrize("kind", ["apache", "zkd", "zkd-follows-apache"])
def test_upgrade_lost_with_its_leader(kind, tmp_path):
    """A follower upgrading a local session (an ephemeral create, localSessionsUpgradingEnabled)
    sends the createSession to its leader; the leader dies before it proposes it (SIGSTOP, then
    SIGKILL: the follower's request is never read).  No member may then know the session: it
    stays local until the createSession commits (LearnerSessionTracker.commitSession), and its
    member forgets it with its other local sessions when it changes role."""
    ens = None
    try:
        ens, follower = start_kind(kind, tmp_path, cfg(True))
        leader = ens.leader(timeout=30)
        follower = follower or next(s for s in ens.participants if s != leader)
        survivors = [s for s in ens.participants if s != leader]
        a = R.RawSession(ens.client_ports[follower], timeout_ms=LONG_MS)
        mark = ens.log_size(follower)
        ens.pause(leader)
        a._send(R.i32(1) + R.i32(R.OPS["create"]) + R.zstr("/eph") + R.zbuf(b"") +
                R.acls(R.OPEN_ACL) + R.i32(EPHEMERAL))  # (no answer comes)
        upgrading = "upgrading session 0x%x" % a.session_id
        wait_until(lambda: upgrading in ens.log_since(follower, mark).lower(), 30,
                   "the follower to upgrade the session")
        ens.members[leader].kill(signal.SIGKILL)  # (ens.kill would let it run first)
        ens.paused.discard(leader)
        a.close_socket()
        ens.wait_serving(sids=survivors, timeout=90)
        assert {sid: global_sessions(ens, sid) for sid in survivors} == \
            {sid: 0 for sid in survivors}, ens.describe()
        again = R.RawSession(ens.client_ports[follower], timeout_ms=LONG_MS,
                             session_id=a.session_id, passwd=a.passwd)
        assert again.session_id == 0, ens.describe()
        again.close_socket()
    finally:
        if ens is not None:
            ens.close()
