"""Open sessions survive a migration between Apache ZooKeeper and zkd, both ways (issue 12).

zkd hands out session ids and passwords as Apache does (SessionTrackerImpl's
(time << 24) >>> 8 | myid << 56 ids; ZooKeeperServer.generatePasswd's
java.util.Random(id ^ 0xB3415C00) passwords), so a client connected to Apache
keeps its session when Apache is stopped and zkd started on the same dataDir and
port: it reconnects with the same id and password, is accepted, and its ephemerals
are still its own.  The same holds the other way, for a session zkd created.

Without Apache's password function, zkd would refuse the reconnect ("using a wrong
password") and kazoo would report the session LOST.
"""
import threading

import pytest

kazoo = pytest.importorskip("kazoo")

from kazoo.client import KazooClient, KazooState  # noqa: E402

from tests.conftest import stop_kazoo  # noqa: E402
from tests.lib import servers as S  # noqa: E402

CFG = {"maxSessionTimeout": "600000"}

# Reconnect quickly and forever: the client waits out the switch of servers.
RETRY = {"max_tries": -1, "delay": 0.05, "backoff": 1, "max_delay": 0.1}


class Held:
    """A session kept open across server switches, with its ephemerals."""

    def __init__(self, srv, name):
        self.states = []
        self.connected = threading.Event()
        # kazoo waits session timeout / number of hosts for a ConnectResponse; a
        # server still starting may take the connection and never answer (Apache
        # binds its port before it serves).  Listing 60 hosts (repeated) bounds that
        # wait to 10 s while the session itself may last 600 s.
        hosts = ",".join([srv.hosts] * (60 // len(srv.hosts.split(","))))
        self.zk = KazooClient(hosts=hosts, timeout=600, connection_retry=RETRY)
        self.zk.add_listener(self._on_state)
        self.zk.start(timeout=30)
        self.session_id = self.zk.client_id[0]
        self.name = name
        self.mine = ["/eph/%s-a" % name]
        self.zk.create(self.mine[0], b"", ephemeral=True, makepath=True)
        self.mine.append(self.zk.create("/eph/%s-seq-" % name, b"", ephemeral=True, sequence=True))

    def _on_state(self, state):
        self.states.append(state)
        if state == KazooState.CONNECTED:
            self.connected.set()
        else:
            self.connected.clear()

    def await_reconnect(self, what):
        assert self.connected.wait(60), "%s: %s never reconnected (states %s)" % (
            what, self.name, self.states)
        assert KazooState.LOST not in self.states, "%s: %s lost its session" % (what, self.name)
        assert self.zk.client_id[0] == self.session_id

    def add_ephemeral(self, tag):
        self.mine.append(self.zk.create("/eph/%s-%s" % (self.name, tag), b"", ephemeral=True))

    def check_owned(self, zk, what):
        for path in self.mine:
            stat = zk.exists(path)
            assert stat is not None, "%s: %s is gone" % (what, path)
            assert stat.ephemeralOwner == self.session_id, "%s: %s owner 0x%x" % (
                what, path, stat.ephemeralOwner)


def switch(old, new, helds, what):
    """Stops `old` (its sessions stay open in the dataDir), starts `new` on the same
    dataDir and port, and waits for every held session to come back."""
    for h in helds:
        h.connected.clear()
    old.stop()
    new.start()
    for h in helds:
        h.await_reconnect(what)


def test_sessions_survive_apache_to_zkd_to_apache(server_factory):
    apache = server_factory("apache", cfg=CFG)
    from_apache = Held(apache, "apache")
    assert from_apache.session_id >> 56 == 1  # standalone Apache: server id 1 in the top byte

    zkd = S.Zkd(apache.workdir, port=apache.port, cfg=CFG)
    helds = [from_apache]
    try:
        switch(apache, zkd, helds, "Apache->zkd")
        from_apache.add_ephemeral("on-zkd")
        from_zkd = Held(zkd, "zkd")
        helds.append(from_zkd)
        assert from_zkd.session_id != from_apache.session_id
        assert from_zkd.session_id >> 56 == 1  # as Apache standalone numbers them
        for h in helds:
            h.check_owned(h.zk, "on zkd")
        switch(zkd, apache, helds, "zkd->Apache")
    finally:
        zkd.close()

    # Apache accepted both sessions (ids and passwords it computes itself) and
    # still holds every ephemeral under its owner.
    for h in helds:
        h.check_owned(h.zk, "on Apache again")
        h.add_ephemeral("on-apache-again")
    # A session created by Apache after the round trip gets an id of its own.
    fresh = KazooClient(hosts=apache.hosts, timeout=30)
    fresh.start(timeout=30)
    try:
        assert fresh.client_id[0] not in {h.session_id for h in helds}
        assert sorted(fresh.get_children("/eph")) == sorted(
            p.rsplit("/", 1)[1] for h in helds for p in h.mine)
    finally:
        stop_kazoo(fresh)
    for h in helds:
        stop_kazoo(h.zk)
