"""Failed writes take a zxid and are logged, as Apache does (issue 12).

Apache's PrepRequestProcessor gives every write request its zxid before it
validates it.  A write that then fails is logged at that zxid as an ErrorTxn
(TxnHeader type error), and a multi with a failing op as a MultiTxn holding
the ops prepared before it, ErrorTxn(code) for the failing op and
ErrorTxn(RUNTIMEINCONSISTENCY) for every later one.  So the zxids after a
failure (czxid/mzxid of later nodes, the zxid in every reply header) are
Apache's only if zkd does the same.

The same client sequence runs against Apache 3.8 and zkd; the logs are
compared entry by entry (zxid, type and record: all but the session id and
time), the later nodes' Stats are compared, and Apache is then started on
zkd's dataDir and must see the same tree.  Both servers run with digests off
here, so their entries carry no TxnDigest.
"""
import glob
import os
import struct

import pytest

kazoo = pytest.importorskip("kazoo")

from kazoo.exceptions import (BadVersionError, NoAuthError, NodeExistsError,  # noqa: E402
                              NoNodeError, NotEmptyError)
from kazoo.security import make_digest_acl  # noqa: E402

from tests.conftest import stop_kazoo  # noqa: E402
from tests.integration.test_apache_datadir import client, compare, read_tree  # noqa: E402
from tests.integration.test_apache_txnlog import HEADER, log_entries  # noqa: E402
from tests.integration.test_diff_ops import CONTAINER, raw_create  # noqa: E402
from tests.lib import servers as S  # noqa: E402
from tests.lib.waiting import wait_until  # noqa: E402

NO_DIGEST = {"zookeeper.digest.enabled": "false"}


def expect(exc, fn, *args, **kw):
    with pytest.raises(exc):
        fn(*args, **kw)


def run_failures(zk):
    """Every kind of failure Apache logs, each followed by a successful write."""
    zk.create("/f", b"")
    zk.create("/f/kid", b"")
    expect(NodeExistsError, zk.create, "/f", b"")
    zk.create("/f/a", b"a")
    expect(BadVersionError, zk.set, "/f", b"x", version=7)
    expect(NoNodeError, zk.delete, "/nope")
    expect(NotEmptyError, zk.delete, "/f")
    expect(NoNodeError, zk.create, "/nope/x", b"")
    zk.create("/locked", b"", acl=[make_digest_acl("nobody", "pw", all=True)])
    expect(NoAuthError, zk.set, "/locked", b"y")
    zk.create("/f/b", b"b")
    # A multi failing in the middle: the op before it is logged as prepared.
    t = zk.transaction()
    t.create("/f/m1", b"")
    t.set_data("/f", b"x", version=5)
    t.create("/f/m2", b"")
    t.delete("/f/kid")
    res = t.commit()
    assert [type(r).__name__ for r in res] == [
        "RolledBackError", "BadVersionError", "RuntimeInconsistency", "RuntimeInconsistency"]
    # A multi failing at its first op, and one at its last.
    t = zk.transaction()
    t.check("/f", 3)
    t.create("/f/m3", b"")
    t.commit()
    t = zk.transaction()
    t.create("/f/m4", b"")
    t.create("/f/m4", b"")
    t.commit()
    # Every kind of op prepared before the failing one (each logged as its own txn): check,
    # setData, a sequential and an ephemeral create, delete; the sequence number they took
    # is free again after the failure (Apache rolls back its pending changes).
    t = zk.transaction()
    t.check("/f/a", 0)
    t.set_data("/f/a", b"prepared", version=0)
    t.create("/f/s-", b"", sequence=True)
    t.create("/f/e", b"", ephemeral=True)
    t.delete("/f/kid")
    t.delete("/nope")
    t.create("/f/never", b"")
    res = t.commit()
    assert [type(r).__name__ for r in res] == ["RolledBackError"] * 5 + [
        "NoNodeError", "RuntimeInconsistency"]
    zk.create("/f/c", b"c", sequence=True)  # sequence: the parent's cversion after it all
    zk.set("/f/a", b"aa")


def run(srv):
    zk = client(srv)
    try:
        run_failures(zk)
        tree = read_tree(zk, "/f")
    finally:
        stop_kazoo(zk)
    srv.stop()
    # What is compared: zxid, type and record of every entry (clientId and
    # time differ by nature; the closeSession of the client ends each log).
    return tree, [(z, typ, rec) for z, typ, rec in log_entries(srv.data_dir)]


def test_failed_writes_take_zxids_as_in_apache(server_factory):
    apache = server_factory("apache", sysprops=NO_DIGEST)
    want_tree, want_log = run(apache)
    assert any(typ == -1 for _, typ, _ in want_log)  # the reference logged its failures
    zkd = server_factory("zkd", cfg={"digest.enabled": "false"})
    got_tree, got_log = run(zkd)
    assert [(z, t) for z, t, _ in got_log] == [(z, t) for z, t, _ in want_log]
    assert got_log == want_log
    # Stats hold zxids: later nodes' czxid/mzxid/pzxid are Apache's.  (ctime
    # and mtime differ: drop them.)
    strip = {p: (d, st[:2] + st[4:], acl, kids) for p, (d, st, acl, kids) in want_tree.items()}
    got = {p: (d, st[:2] + st[4:], acl, kids) for p, (d, st, acl, kids) in got_tree.items()}
    compare(strip, got, "zkd vs Apache")

    # Each reads the other's log, failed entries included (a failed multi's prepared ops
    # change nothing: DataTree.processTxn), and sees the other's tree; zkd its own too.
    replay_and_compare(zkd, got_tree, "zkd on its own dataDir")
    zkd.close()
    replay_and_compare(S.ApacheZK(zkd.workdir, port=zkd.port, sysprops=NO_DIGEST),
                       got_tree, "Apache on zkd's dataDir")
    replay_and_compare(S.Zkd(apache.workdir, port=apache.port, cfg={"digest.enabled": "false"}),
                       want_tree, "zkd on Apache's dataDir")


def replay_and_compare(srv, tree, what):
    """Starts `srv` on a dataDir holding `tree`; it must show that tree and log a first write
    two zxids after the dataDir's last (its client's session, then the write).  Stops it."""
    last_zxid = log_entries(srv.data_dir)[-1][0]
    try:
        srv.start()
        zk = client(srv)
        try:
            compare(tree, read_tree(zk, "/f"), what)
            zk.create("/after-" + srv.kind, b"")
            assert zk.exists("/after-" + srv.kind).czxid == last_zxid + 2, what
        finally:
            stop_kazoo(zk)
    finally:
        srv.stop()


def reaper_entries(data_dir):
    """(zxid, cxid, type, record) of the logged deleteContainer and error txns of session 0
    (the container reaper's)."""
    out = []
    for path in sorted(glob.glob(os.path.join(data_dir, "version-2", "log.*")),
                       key=lambda p: int(p.rsplit(".", 1)[1], 16)):
        with open(path, "rb") as f:
            buf = f.read()
        at = 16
        while at + 12 <= len(buf):
            _, n = struct.unpack_from(">qi", buf, at)
            if n <= 0:
                break
            session, cxid, zxid, _, typ = HEADER.unpack_from(buf, at + 12)
            if session == 0 and typ in (-1, 20):  # error, deleteContainer
                out.append((zxid, cxid, typ, buf[at + 12 + HEADER.size:at + 12 + n]))
            at += 12 + n + 1
    return out


@pytest.mark.parametrize("kind", ["apache", "zkd"])
def test_reaper_delete_that_no_longer_fits_takes_a_zxid(server_factory, kind):
    """Apache's ContainerManager lists the candidates, then submits one deleteContainer every
    minute / maxPerMinute, each prepared when its turn comes; a candidate that got a child in
    between fails with NOTEMPTY and is logged as an ErrorTxn (session 0, cxid 0) at its zxid.
    zkd's reaper must do the same, so that its zxids stay Apache's."""
    srv = server_factory(kind, cfg=dict(NO_DIGEST, **{"znode.container.checkIntervalMs": "200",
                                                     "znode.container.maxPerMinute": "20"}))
    zk = client(srv)
    for c in ("/ca", "/cb"):
        raw_create(zk, c, b"", flags=CONTAINER)
        zk.create(c + "/kid", b"")
    # Used, now empty: both candidates from the same check on (one multi, so no check can fall
    # between them; else the check that lists only one is followed by one that lists neither).
    tx = zk.transaction()
    tx.delete("/ca/kid")
    tx.delete("/cb/kid")
    assert all(r is True for r in tx.commit())
    # The reaper deletes one of them, then waits 3 s (60 s / 20) before the other.
    wait_until(lambda: not zk.exists("/ca") or not zk.exists("/cb"), 30, "a container reaped")
    other = "/cb" if zk.exists("/cb") else "/ca"
    zk.create(other + "/late", b"")
    wait_until(lambda: len(reaper_entries(srv.data_dir)) >= 2, 30, "the reaper's second delete")
    (ok, ok_cxid, ok_type, ok_rec), (bad, bad_cxid, bad_type, bad_rec) = reaper_entries(
        srv.data_dir)[:2]
    assert (ok_cxid, ok_type) == (0, 20)
    assert (bad_cxid, bad_type, bad_rec[:4]) == (0, -1, struct.pack(">i", -111))  # NOTEMPTY
    assert bad > ok
    assert zk.exists(other + "/late")
    after = zk.create("/after", b"")
    assert zk.exists(after).czxid == bad + 1  # the failed delete took its zxid
    stop_kazoo(zk)
