"""TxnDigests after log entries, both ways (issue 12).

With digest.enabled (Apache's default since 3.6) each log entry ends with a
TxnDigest: digest version 2 and the digest of the whole tree after the txn.
Apache checks it when it applies the entry (DataTree.compareDigest) and logs
"Digests are not matching" for one that differs.  zkd keeps the tree digest
per node change (server/digest.c), writes it after every entry and checks
Apache's the same way.

- Apache's log, written under writes with a small snapCount (fuzzy
  snapshots), is replayed by zkd with every digest after the fuzzy stretch
  checked and none mismatching; then zkd's log is replayed by Apache with
  none mismatching either.
- A digest changed by one in zkd's log (its Adler-32 redone, so only the
  digest is wrong) is reported by zkd and by Apache: both do check them.
- `zkd verify-datadir` replays the newest snapshot with the log offline and
  checks the same digests (Apache's fuzzy snapshots included).
"""
import os
import shutil
import struct
import zlib

import pytest

kazoo = pytest.importorskip("kazoo")

from kazoo.exceptions import NodeExistsError  # noqa: E402

from tests.conftest import stop_kazoo  # noqa: E402
from tests.integration.test_apache_datadir import (client,  # noqa: E402
                                                   final_snapshot_named_as_fuzzy,
                                                   wait_snapshot_zero, zkd_tool)
from tests.integration.test_apache_digest import CFG, MISMATCH, LogSince, write_tree  # noqa: E402
from tests.integration.test_apache_txnlog import log_entries  # noqa: E402
from tests.lib import servers as S  # noqa: E402


def verified(data_dir):
    """(exit code, checked, mismatched) of zkd verify-datadir's digest replay."""
    r = zkd_tool("verify-datadir", data_dir)
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("log digests: ")]
    assert line, r.stdout + r.stderr
    words = line[0].split()
    return r.returncode, int(words[2]), int(words[-2])


def checked_digests(text):
    """The count of zkd's 'log replay: N transaction digests checked' line."""
    for line in text.splitlines():
        if "transaction digests checked" in line:
            return int(line.split("log replay: ")[1].split()[0])
    return 0


def write_more(zk):
    write_tree(zk, "zkd", 60)
    with pytest.raises(NodeExistsError):
        zk.create("/zkd", b"")  # a failed write: an ErrorTxn with a digest
    t = zk.transaction()
    t.create("/zkd/fails", b"")
    t.create("/zkd", b"")
    t.commit()


def test_log_digests_apache_to_zkd_and_back(server_factory):
    apache = server_factory("apache", cfg=CFG)
    zk = client(apache, timeout=600)
    write_tree(zk, "apache", 100)
    apache.stop()
    stop_kazoo(zk)

    rc, checked, bad = verified(apache.data_dir)
    assert (rc, bad) == (0, 0) and checked > 0
    zkd = S.Zkd(apache.workdir, port=apache.port, cfg=CFG)
    try:
        log = LogSince(zkd.log_path)
        zkd.start()
        text = log.text()
        assert checked_digests(text) > 0, text[-3000:]
        assert MISMATCH not in text and "digest mismatch" not in text.lower()
        first_zkd = zkd_zxid = None
        zk = client(zkd, timeout=600)
        first_zkd = zk.exists("/").pzxid + 1
        write_more(zk)
        zkd_zxid = zk.exists("/zkd/m").mzxid
        stop_kazoo(zk)
        zkd.stop()
        assert MISMATCH not in log.text()
    finally:
        zkd.close()
    # Every entry zkd wrote carries a version-2 TxnDigest.
    mine = [rec for z, _, rec in log_entries(apache.data_dir) if z >= first_zkd]
    assert len(mine) > 100
    assert all(rec[-12:-8] == struct.pack(">i", 2) for rec in mine)
    rc, _, bad = verified(apache.data_dir)  # zkd snapshotted (snapCount): a short replay
    assert (rc, bad) == (0, 0)

    log = LogSince(apache.zk_log_path)
    apache.start()
    zk = client(apache)
    assert zk.exists("/zkd/m").mzxid == zkd_zxid
    assert not zk.exists("/zkd/fails")
    stop_kazoo(zk)
    text = log.text()
    assert MISMATCH not in text and "digest mismatch" not in text.lower(), text[-3000:]


def break_last_digest(data_dir):
    """Adds one to the TxnDigest of the newest log entry and redoes its Adler-32."""
    logs = sorted((p for p in os.listdir(os.path.join(data_dir, "version-2"))
                   if p.startswith("log.")), key=lambda p: int(p.split(".")[1], 16))
    path = os.path.join(data_dir, "version-2", logs[-1])
    with open(path, "r+b") as f:
        buf = bytearray(f.read())
        at, last = 16, None
        while at + 12 <= len(buf):
            n = struct.unpack_from(">i", buf, at + 8)[0]
            if n <= 0:
                break
            last = at
            at += 12 + n + 1
        n = struct.unpack_from(">i", buf, last + 8)[0]
        rec = last + 12
        d = struct.unpack_from(">q", buf, rec + n - 8)[0]
        struct.pack_into(">q", buf, rec + n - 8, d + 1)
        struct.pack_into(">q", buf, last, zlib.adler32(bytes(buf[rec:rec + n])))
        f.seek(0)
        f.write(buf)


def test_a_wrong_log_digest_is_reported_by_zkd_and_apache(server_factory, tmp_path):
    zkd = server_factory("zkd")
    zk = client(zkd)
    zk.create("/a", b"1")
    zk.set("/a", b"2")
    stop_kazoo(zk)
    zkd.stop()
    clean = str(tmp_path / "clean")
    shutil.copytree(zkd.data_dir, clean)
    break_last_digest(zkd.data_dir)
    # createSession, create, setData, closeSession
    assert verified(clean) == (0, 4, 0)
    assert verified(zkd.data_dir) == (1, 4, 1)
    for_apache = str(tmp_path / "apache")
    shutil.copytree(zkd.data_dir, os.path.join(for_apache, "data"))

    log = LogSince(zkd.log_path)
    zkd.start()
    text = log.text()
    assert MISMATCH in text and "First digest mismatch" in text, text[-3000:]
    zk = client(zkd)
    assert zk.get("/a")[0] == b"2"  # reported, and the data served as Apache does
    stop_kazoo(zk)
    zkd.stop()

    apache = S.ApacheZK(for_apache)
    try:
        apache.start()
        with open(apache.zk_log_path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        assert "First digest mismatch" in text, text[-3000:]
    finally:
        apache.close()
    # The unbroken copy: no report from Apache.
    apache = S.ApacheZK(str(tmp_path / "apache-clean"))
    shutil.copytree(clean, apache.data_dir)
    try:
        apache.start()
        with open(apache.zk_log_path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        assert "Digests are not matching" not in text and "digest mismatch" not in text.lower()
    finally:
        apache.close()


def empty_zxid_digest(snap_path):
    """Rewrites a zkd snapshot's ZxidDigest trailer as Apache's empty one (zxid 0, what Apache
    writes when no point of the tree's digest is known, and zkd after a fuzzy SNAP), resealed."""
    b = open(snap_path, "rb").read()
    tail = 20 + 8 + 5  # ZxidDigest, its seal (long, then the string "/")
    assert struct.unpack_from(">q", b, len(b) - tail)[0] > 0  # it had a real one
    prefix = b[:-tail] + struct.pack(">qiq", 0, 2, 0)
    with open(snap_path, "wb") as f:
        f.write(prefix + struct.pack(">q", zlib.adler32(prefix)) + struct.pack(">i", 1) + b"/")


def test_fuzzy_snapshot_without_a_digest_point_is_not_a_mismatch(server_factory):
    """A snapshot that already holds the transactions after its zxid and carries the empty
    ZxidDigest (what a learner synced by an Apache leader's fuzzy SNAP writes): the replay's
    first TxnDigests describe trees it is already past, so they are compared only from the first
    one the tree matches, and none is reported as a mismatch."""
    zkd = server_factory("zkd", cfg={"snapCount": "1000000"})
    wait_snapshot_zero(zkd)
    zk = client(zkd)
    zk.create("/f", b"")
    stop_kazoo(zk)
    zkd.stop()
    zkd.start()  # the next writes go to a new log file
    zk = client(zkd)
    for i in range(10):
        zk.create("/f/n%02d" % i, b"")
        zk.set("/f", b"%d" % i)
    stop_kazoo(zk)
    zkd.stop()
    fuzzy, from_zxid, _ = final_snapshot_named_as_fuzzy(zkd)
    empty_zxid_digest(fuzzy)
    log = LogSince(zkd.log_path)
    zkd.start()
    text = log.text()
    assert "snapshot 0x%x" % from_zxid in text, text[-3000:]  # it loaded, seal and all
    assert MISMATCH not in text and "digest mismatch" not in text.lower(), text[-3000:]
    assert "fuzzy range is over" in text, text[-3000:]
    zk = client(zkd)
    assert zk.get("/f")[0] == b"9" and len(zk.get_children("/f")) == 10
    stop_kazoo(zk)
