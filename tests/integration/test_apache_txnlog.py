"""zkd logs a multi's transaction as Apache does (issue 12).

The same client operations run against Apache 3.8 and against zkd; each server's
version-2 logs are read back and the multi entries compared byte for byte after
the TxnHeader (whose session id and time differ by nature).  Check ops are logged
inside the MultiTxn as CheckVersionTxn(path, version + 1), and a multi of checks
only is a transaction of its own (it takes a zxid), as in Apache's
PrepRequestProcessor.  Both run with digest.enabled=false here so that their
entries carry no TxnDigest.
"""
import glob
import os
import struct

import pytest

kazoo = pytest.importorskip("kazoo")

from tests.conftest import stop_kazoo  # noqa: E402
from tests.integration.test_apache_datadir import client  # noqa: E402
from tests.lib import servers as S  # noqa: E402

MULTI = 14
HEADER = struct.Struct(">qiqqi")  # TxnHeader: clientId, cxid, zxid, time, type


def log_entries(data_dir):
    """(zxid, type, record after the TxnHeader) of every entry in the logs."""
    out = []
    for path in sorted(glob.glob(os.path.join(data_dir, "version-2", "log.*")),
                       key=lambda p: int(p.rsplit(".", 1)[1], 16)):
        with open(path, "rb") as f:
            buf = f.read()
        assert buf[:4] == b"ZKLG", path
        at = 16
        while at + 12 <= len(buf):
            crc, n = struct.unpack_from(">qi", buf, at)
            if n <= 0:
                break  # preallocated zeros: the end of the log
            rec = buf[at + 12:at + 12 + n]
            _, _, zxid, _, typ = HEADER.unpack_from(rec)
            out.append((zxid, typ, rec[HEADER.size:]))
            at += 12 + n + 1
    return out


def run_multis(srv):
    zk = client(srv)
    try:
        zk.create("/m", b"")
        t = zk.transaction()
        t.check("/m", 0)
        t.set_data("/m", b"x")
        assert t.commit() == [True, zk.exists("/m")]
        t = zk.transaction()  # checks only
        t.check("/m", 1)
        t.check("/", -1)
        assert t.commit() == [True, True]
        t = zk.transaction()
        t.create("/m/c", b"c")
        t.check("/m/c", -1)
        t.check("/m", -1)
        assert t.commit() == ["/m/c", True, True]
    finally:
        stop_kazoo(zk)


def multis_of(srv):
    run_multis(srv)
    srv.stop()
    entries = log_entries(srv.data_dir)
    zxids = [z for z, _, _ in entries]
    assert zxids == sorted(zxids)
    return [rec for _, typ, rec in entries if typ == MULTI]


def test_multi_with_checks_is_logged_as_apache_logs_it(server_factory):
    apache = server_factory("apache", sysprops={"zookeeper.digest.enabled": "false"})
    want = multis_of(apache)
    assert len(want) == 3
    zkd = server_factory("zkd", cfg={"digest.enabled": "false"})  # as Apache here
    got = multis_of(zkd)
    assert got == want
    # zkd replays its own log: the checks change nothing.
    zkd.start()
    zk = client(zkd)
    try:
        data, stat = zk.get("/m")
        assert (data, stat.version, stat.cversion) == (b"x", 1, 1)
    finally:
        stop_kazoo(zk)
