"""Offline migration of a 3-member ensemble: Apache 3.8 -> zkd -> Apache 3.8 (issue 12).

Three Apache members build a tree (sequential nodes, ACLs, deletes, multi, a session
with ephemerals that stays open); all stop; three zkd members start with the same
zoo.cfg server lines, myids, ports and dataDirs and serve exactly that tree, and the
open session reconnects to them with its id and password; zkd writes more; all stop;
the Apache members start again and serve exactly what zkd had, the session still
open.  (The rolling, mixed-ensemble migration is another issue's.)
"""
import os

import pytest

kazoo = pytest.importorskip("kazoo")

from kazoo.security import ACL, Id, make_digest_acl  # noqa: E402

from tests.conftest import stop_kazoo  # noqa: E402
from tests.integration.test_apache_datadir import client, compare, read_tree  # noqa: E402
from tests.integration.test_apache_sessions import Held  # noqa: E402
from tests.lib.ensemble import Ensemble, ensemble_missing_reason  # noqa: E402

pytestmark = pytest.mark.skipif(ensemble_missing_reason("zkd") is not None,
                                reason=str(ensemble_missing_reason("zkd")))

# Sessions outlive the switches; snapshots (fuzzy ones) happen while writing.
CFG = {"maxSessionTimeout": "600000", "snapCount": "50"}


class SameAddresses(Ensemble):
    """An ensemble of another kind on an earlier ensemble's ports and dataDirs."""

    def __init__(self, earlier, kind):
        self.earlier = earlier
        super().__init__(earlier.workdir, kind, participants=len(earlier.sids), cfg=CFG)

    def _plan_addresses(self):
        e = self.earlier
        self.addrs, self.client_ports = dict(e.addrs), dict(e.client_ports)
        self.quorum_ports, self.election_ports = dict(e.quorum_ports), dict(e.election_ports)


def write(zk, tag, n):
    zk.create("/ens/%s" % tag, b"t", makepath=True)
    zk.create("/ens/%s/acl" % tag, b"a", acl=[make_digest_acl("alice", "secret", all=True),
                                             ACL(1, Id("ip", "127.0.0.1"))])
    seqs = [zk.create("/ens/%s/seq-" % tag, b"%d" % i, sequence=True) for i in range(n)]
    for path in seqs[1::4]:
        zk.delete(path)
    zk.set("/ens/%s" % tag, b"changed")
    t = zk.transaction()
    t.check("/ens/%s" % tag, 1)
    t.create("/ens/%s/multi" % tag, b"m")
    t.delete(seqs[0])
    assert all(not isinstance(r, Exception) for r in t.commit())


def stop_all(ens):
    for sid in ens.sids:
        ens.stop(sid)


def switch(old, new, held, what):
    held.connected.clear()
    stop_all(old)
    new.start()
    held.await_reconnect(what)


def test_three_members_apache_to_zkd_and_back(tmp_path):
    apache = Ensemble(tmp_path, "apache", participants=3, cfg=CFG)
    zkd = None
    held = None
    try:
        apache.start()
        zk = client(apache)
        write(zk, "apache", 200)
        held = Held(apache, "held")
        want = read_tree(zk, "/ens")
        stop_kazoo(zk)
        for sid in apache.sids:
            assert os.path.exists(os.path.join(apache[sid].data_dir, "version-2"))

        zkd = SameAddresses(apache, "zkd")
        switch(apache, zkd, held, "Apache->zkd")
        held.check_owned(held.zk, "on zkd")
        zk = client(zkd)
        compare(want, read_tree(zk, "/ens"), "zkd ensemble after Apache")
        write(zk, "zkd", 100)
        held.add_ephemeral("on-zkd")
        want2 = read_tree(zk, "/ens")
        stop_kazoo(zk)

        switch(zkd, apache, held, "zkd->Apache")
        held.check_owned(held.zk, "on Apache again")
        zk = client(apache)
        # every Apache member, each read through a client of its own
        for sid in apache.sids:
            one = client(apache[sid])
            one.sync("/")
            compare(want2, read_tree(one, "/ens"), "Apache member %d after zkd" % sid)
            stop_kazoo(one)
        stop_kazoo(zk)
    finally:
        if held is not None:
            stop_kazoo(held.zk)
        for ens in (zkd, apache):
            if ens is not None:
                ens.close()
