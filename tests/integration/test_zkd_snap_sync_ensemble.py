"""A zkd follower too far behind its zkd leader catches up by SNAP, and the SNAP carries Apache's
snapshot stream (what a snapshot file's body holds, then "BenWasHere"), the one format zkd has:
the bytes the leader sent, captured on the proxied quorum link and sealed into a snapshot file,
load in `zkd snapshot-dump` with every node, Stat, ACL and session the leader has.  After the
sync the follower holds exactly the leader's tree (every Stat field, data and ACLs: digest, ip and
world), its sessions (the ephemerals' owner is known there: closing it removes them everywhere)
and sequential counters (a sequential create through it continues the leader's numbering).
Every member's dataDir then holds only files Apache knows."""
import json
import os
import struct
import subprocess
import zlib

import pytest
from kazoo.client import KazooClient
from kazoo.security import ACL, Id, make_digest_acl

from tests.conftest import stop_kazoo
from tests.integration.test_apache_datadir import apache_names_only
from tests.lib.ensemble import Ensemble, ensemble_missing_reason
from tests.lib.paths import BUILD_BIN
from tests.lib.waiting import wait_until

pytestmark = pytest.mark.skipif(ensemble_missing_reason("zkd") is not None,
                                reason=str(ensemble_missing_reason("zkd")))

# zkd's quorum messages (server/quorum_int.h enum qmsg)
QM_SNAPBEGIN, QM_SNAPREC, QM_SNAPEND = 5, 6, 7
SIGNATURE = b"BenWasHere"
STAT_FIELDS = ("czxid", "mzxid", "ctime", "mtime", "version", "cversion", "aversion",
               "ephemeralOwner", "dataLength", "numChildren", "pzxid")


@pytest.fixture
def clients():
    made = []

    def make(hosts):
        c = KazooClient(hosts=hosts, timeout=10)
        c.start(timeout=30)
        c.add_auth("digest", "alice:secret")
        made.append(c)
        return c

    yield make
    for c in made:
        stop_kazoo(c)


def snap_stream(recorded):
    """The SNAP stream in the leader's messages to the follower: (zxid, the SNAPRECs' bytes)."""
    off, zxid, body, end = 0, None, bytearray(), None
    while off + 4 <= len(recorded):
        (n,) = struct.unpack_from(">I", recorded, off)
        msg = bytes(recorded[off + 4:off + 4 + n])
        off += 4 + n
        if len(msg) < n:
            break
        if msg[0] == QM_SNAPBEGIN:
            (zxid,) = struct.unpack_from(">q", msg, 1)
        elif msg[0] == QM_SNAPREC and zxid is not None:
            body += msg[1:]
        elif msg[0] == QM_SNAPEND:
            (end,) = struct.unpack_from(">q", msg, 1)
            break
    assert zxid is not None and end == zxid, "no complete SNAP in the leader's messages"
    return zxid, bytes(body)


def as_snapshot_file(body, path):
    """Apache's FileSnap around a SNAP body: FileHeader, body, Adler-32 seal, "/"."""
    head = b"ZKSN" + struct.pack(">iq", 2, -1)
    seal = zlib.adler32(head + body) & 0xFFFFFFFF
    path.write_bytes(head + body + struct.pack(">q", seal) + struct.pack(">i", 1) + b"/")


def walk(zk, path="/"):
    """{path: (data, stat fields, acl triples)} of the whole tree."""
    data, stat = zk.get(path)
    acls, _ = zk.get_acls(path)
    out = {path: (data, tuple(getattr(stat, f) for f in STAT_FIELDS),
                  sorted((a.perms, a.id.scheme, a.id.id) for a in acls))}
    for name in zk.get_children(path):
        out.update(walk(zk, (path.rstrip("/") + "/" + name)))
    return out


def test_follower_catches_up_by_apache_snap(tmp_path_factory, clients, tmp_path):
    ens = Ensemble(tmp_path_factory.mktemp("ens"), "zkd", proxied=True,
                   cfg={"snapCount": "100"})
    try:
        ens.start()
        leader = ens.leader()
        lagging, other = [s for s in ens.participants if s != leader]
        zk = clients(ens.hosts_of([leader]))
        owner = clients(ens.hosts_of([other]))  # its session owns the ephemerals
        secret = make_digest_acl("alice", "secret", all=True)
        zk.create("/acl", b"", acl=[secret, ACL(1, Id("ip", "127.0.0.1"))])
        zk.create("/seq", b"")
        for i in range(5):
            zk.create("/seq/s-", b"%d" % i, sequence=True)
        zk.delete("/seq/s-0000000001")  # a gap in the counter and in the children
        ens.kill(lagging)
        # More than snapCount transactions behind: the leader must send a SNAP.
        for i in range(60):
            zk.create("/acl/n%02d" % i, b"x" * i, acl=[secret])
            zk.create("/seq/s-", b"", sequence=True)
        for i in range(3):
            owner.create("/eph%d" % i, b"e", ephemeral=True)
        zk.set("/acl/n01", b"changed")
        zk.set_acls("/acl/n02", [ACL(31, Id("world", "anyone"))])
        zk.delete("/acl/n03")

        proxy = ens.links[(lagging, leader)].proxies[0]  # its quorum link to the leader
        proxy.record()
        mark = ens.log_size(leader)
        ens.start_member(lagging)
        assert ens.leader() == leader
        assert "by snapshot at" in ens.log_since(leader, mark)

        fz = clients(ens.hosts_of([lagging]))
        fz.sync("/")
        want = walk(zk)
        assert walk(fz) == want

        # The bytes on the wire: Apache's snapshot body, then the signature.
        zxid, stream = snap_stream(proxy.recorded)
        sig = struct.pack(">i", len(SIGNATURE)) + SIGNATURE
        assert stream.endswith(sig)
        snap = tmp_path / ("snapshot.%x" % zxid)
        as_snapshot_file(stream[:-len(sig)], snap)
        dump = json.loads(subprocess.run(
            [os.path.join(BUILD_BIN, "zkd"), "snapshot-dump", str(snap), "--json"],
            check=True, capture_output=True, timeout=60).stdout)
        # The image is exact at its zxid: the last write (the delete, in its parent's pzxid).
        assert zxid == max(max(s[1][0], s[1][1], s[1][10]) for s in want.values())
        assert dump["znodes"] == len(want)
        for n in dump["nodes"]:
            stat = want[n["path"]][1]
            assert tuple(n[f] for f in STAT_FIELDS) == stat, n["path"]
            assert sorted((a["perms"], a["scheme"], a["id"]) for a in n["acl"]) == \
                want[n["path"]][2], n["path"]
        sessions = {s["id"]: s["ephemerals"] for s in dump["sessions"]}
        assert sessions.get(owner.client_id[0]) == 3

        # Counters and sessions live on in the follower.
        made = fz.create("/seq/s-", b"", sequence=True)
        assert made == "/seq/s-%010d" % (5 + 60)
        stop_kazoo(owner)
        wait_until(lambda: not any(fz.exists("/eph%d" % i) for i in range(3)), timeout=30,
                   what="the closed session's ephemerals to go on the follower")
        fz.sync("/")
        zk.sync("/")
        assert walk(fz) == walk(zk)
        for sid in ens.sids:  # no file Apache would not know, on any member
            assert apache_names_only(ens.members[sid].data_dir) == [], sid
    finally:
        ens.close()
