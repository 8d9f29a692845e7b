"""zkd ensemble features beyond fault tolerance (tests/ensemble covers faults and histories):
dynamic reconfiguration, TLS between members, read-only mode, observers, and moving to a new
epoch when the zxid counter runs out, without an election."""
import base64
import hashlib
import os
import subprocess
import time

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import BadArgumentsError, NoAuthError, NotReadOnlyCallError

from tests.conftest import stop_kazoo
from tests.lib import servers as S
from tests.lib.ensemble import Ensemble, ensemble_missing_reason
from tests.lib.waiting import wait_until

pytestmark = pytest.mark.skipif(ensemble_missing_reason("zkd") is not None,
                                reason=str(ensemble_missing_reason("zkd")))

SUPER_DIGEST = "super:" + base64.b64encode(hashlib.sha1(b"super:test").digest()).decode()


@pytest.fixture
def ensembles(tmp_path_factory):
    made = []

    def make(start=True, **kw):
        ens = Ensemble(tmp_path_factory.mktemp("ens"), "zkd", **kw)
        made.append(ens)
        if start:
            ens.start()
        return ens

    yield make
    for ens in reversed(made):
        ens.close()


@pytest.fixture
def kz():
    clients = []

    def make(hosts, **kw):
        c = KazooClient(hosts=hosts, timeout=10, **kw)
        c.start(timeout=30)
        clients.append(c)
        return c

    yield make
    for c in clients:
        stop_kazoo(c)


def mntr(member):
    out = {}
    for line in member.four_letter("mntr").splitlines():
        k, _, v = line.partition("\t")
        out.setdefault(k, []).append(v)
    return out


def wait_for(pred, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.05)


def config_of(c):
    c.sync("/zookeeper/config")
    return c.get("/zookeeper/config")[0].decode()


def test_reconfig_adds_a_joined_server_and_removes_one(ensembles, kz):
    cfg = {"reconfigEnabled": "true", "DigestAuthenticationProvider.superDigest": SUPER_DIGEST}
    ens = ensembles(participants=4, cfg=cfg, start=False)
    for sid in (1, 2, 3):  # the first three do not know server 4 yet
        ens[sid].cfg.pop("server.4")
    ens.start()
    admin = kz(ens.hosts_of([1, 2, 3]), auth_data=[("digest", "super:test")])
    before = config_of(admin)
    assert "server.4=" not in before and before.endswith("version=0")
    leader = ens.leader()
    # Server 4 follows as a non-voter until it is added.
    wait_for(lambda: mntr(ens[leader]).get("zk_synced_observers") == ["1"], what="4 in sync")

    data, stat = admin.reconfig(joining="server.4=" + ens.server_line(1, 4), leaving=None,
                                new_members=None)
    text = data.decode()
    assert "server.4=127.0.0.1:%d:%d:participant" % (ens.quorum_ports[4], ens.election_ports[4]) in text
    version = text.rsplit("version=", 1)[1]
    assert int(version, 16) == stat.mzxid
    for sid in ens.sids:
        c = kz(ens.hosts_of([sid]))
        assert config_of(c) == text
    wait_for(lambda: mntr(ens[leader]).get("zk_synced_followers") == ["3"], what="4 voting")

    # Only the super user may reconfigure; a stale curConfigId is refused.
    with pytest.raises(NoAuthError):
        kz(ens.hosts).reconfig(joining=None, leaving="4", new_members=None)
    # As Apache: a malformed request is BADARGUMENTS before any permission check.
    with pytest.raises(BadArgumentsError):
        kz(ens.hosts).reconfig(joining="server.5=nonsense", leaving=None, new_members=None)
    with pytest.raises(Exception) as e:
        admin.reconfig(joining=None, leaving="4", new_members=None, from_config=1)
    assert "BadVersion" in type(e.value).__name__

    # Bulk form, changing a role: server 4 becomes an observer without a restart.
    members = ["server.%d=%s" % (sid, ens.server_line(1, sid)) for sid in (1, 2, 3)]
    members.append("server.4=" + ens.server_line(1, 4).replace(":participant;", ":observer;"))
    data, _ = admin.reconfig(joining=None, leaving=None, new_members=",".join(members))
    assert ":observer;" in data.decode()
    wait_for(lambda: mntr(ens[leader]).get("zk_synced_observers") == ["1"] and
             mntr(ens[leader]).get("zk_synced_followers") == ["2"], what="4 as an observer")
    wait_for(lambda: ens.mode(4) == "observer", what="4 to report observer")
    members[3] = "server.4=" + ens.server_line(1, 4)  # and back to a voter
    admin.reconfig(joining=None, leaving=None, new_members=",".join(members))
    wait_for(lambda: mntr(ens[leader]).get("zk_synced_followers") == ["3"], what="4 voting again")

    # Remove a follower, then kill the leader: the two voters left elect among themselves.
    gone = [sid for sid in (1, 2, 3) if sid != leader][0]
    data, _ = admin.reconfig(joining=None, leaving=str(gone), new_members=None)
    assert "server.%d=" % gone not in data.decode()
    # The removed member stops serving as a voter: its clients move elsewhere.
    admin.retry(admin.ensure_path, "/after-remove")
    ens.kill(gone)
    ens.kill(leader)
    rest = [sid for sid in ens.sids if sid not in (gone, leader)]
    ens.wait_serving(rest, timeout=60)
    c = kz(ens.hosts_of(rest))
    c.create("/after-failover", b"y")
    assert c.exists("/after-remove")
    assert "server.%d=" % gone not in config_of(c)


def make_certs(d, san="IP:127.0.0.1"):
    def run(*args):
        subprocess.run(args, check=True, cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
        "ca.pem", "-days", "2", "-subj", "/CN=zkfs test CA")
    # Members' certificates name their address: ssl.quorum.hostnameVerification is on by
    # default, as in Apache.
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=%s\n" % san)
    for name in ("m1", "m2", "m3"):
        run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out",
            name + ".csr", "-subj", "/CN=" + name)
        run("openssl", "x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", name + ".crt", "-days", "2", "-extfile", "san.ext")
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "rogue.key", "-out",
        "rogue.crt", "-days", "2", "-subj", "/CN=rogue")
    for name in ("m1", "m2", "m3", "rogue"):
        with open(os.path.join(d, name + ".pem"), "w") as out:
            for part in (".crt", ".key"):
                out.write(open(os.path.join(d, name + part)).read())


def test_quorum_tls_admits_only_members_with_the_ca_certificate(ensembles, kz, tmp_path):
    make_certs(str(tmp_path))
    ens = ensembles(participants=3, start=False, cfg={"sslQuorum": "true"})
    for sid in ens.sids:
        cert = "rogue" if sid == 3 else "m%d" % sid
        ens[sid].cfg["ssl.quorum.keyStore.location"] = str(tmp_path / (cert + ".pem"))
        ens[sid].cfg["ssl.quorum.trustStore.location"] = str(tmp_path / "ca.pem")
    for sid in ens.sids:
        ens[sid].start(wait=False)
    leader = ens.wait_serving([1, 2], timeout=60)
    c = kz(ens.hosts_of([1, 2]))
    c.create("/tls", b"quorum")
    assert ens.mode(3) is None  # its certificate is not from the ensemble's CA
    # Member 3 logs the refusal when its own link fails, which may come after 1 and 2 serve.
    wait_until(lambda: "TLS failed" in ens[3].log_tail(400), what="member 3's refused link")
    assert mntr(ens[leader]).get("zk_synced_followers") == ["1"]


def test_quorum_tls_checks_the_members_addresses(ensembles, tmp_path):
    """ssl.quorum.hostnameVerification is on by default (as Apache's): certificates from the
    ensemble's CA that do not name the member's address are refused, unless it is turned off."""
    make_certs(str(tmp_path), san="DNS:elsewhere.example")
    for verify in ("true", "false"):
        cfg = {"sslQuorum": "true", "ssl.quorum.hostnameVerification": verify}
        ens = ensembles(participants=2, start=False, cfg=cfg)
        for sid in ens.sids:
            ens[sid].cfg["ssl.quorum.keyStore.location"] = str(tmp_path / ("m%d.pem" % sid))
            ens[sid].cfg["ssl.quorum.trustStore.location"] = str(tmp_path / "ca.pem")
            ens[sid].start(wait=False)
        if verify == "true":
            wait_until(lambda: "TLS failed" in ens[1].log_tail(400) + ens[2].log_tail(400),
                       what="a refused member link")
            assert ens.mode(1) is None and ens.mode(2) is None
        else:
            ens.wait_serving(timeout=60)
        ens.close()


def test_read_only_mode_serves_reads_without_quorum(ensembles, kz):
    ens = ensembles(participants=3, cfg={"readonlymode.enabled": "true"})
    c = kz(ens.hosts)
    c.create("/ro", b"before")
    survivor = ens.followers()[0]
    lost_quorum = time.monotonic()
    for sid in ens.sids:
        if sid != survivor:
            ens.kill(sid)
    wait_for(lambda: ens[survivor].four_letter("isro") == "ro", what="read-only")
    # As Apache: read-only service starts only after max(2 s, tickTime) of
    # looking, so a vote for a member that just died (an election that ends
    # at once, then fails) does not hand out sessions it would close again.
    assert time.monotonic() - lost_quorum >= 2.0
    ro = kz(ens.hosts_of([survivor]), read_only=True)
    assert ro.get("/ro")[0] == b"before"
    with pytest.raises(NotReadOnlyCallError):
        ro.create("/nope")
    for sid in ens.sids:
        if sid != survivor:
            ens.start_member(sid, wait=False)
    ens.wait_serving(timeout=60)
    assert ens[survivor].four_letter("isro") == "rw"
    rw = kz(ens.hosts)
    rw.create("/rw", b"after")


def test_observer_serves_and_does_not_vote(ensembles, kz):
    ens = ensembles(participants=3, observers=1)
    leader = ens.leader()
    wait_for(lambda: mntr(ens[leader]).get("zk_synced_observers") == ["1"], what="observer")
    obs = kz(ens.hosts_of([4]))
    obs.create("/from-observer", b"o")
    c = kz(ens.hosts_of([leader]))
    c.set("/from-observer", b"p")
    obs.sync("/from-observer")
    assert obs.get("/from-observer")[0] == b"p"
    # Killing two voters leaves no quorum even though the observer is up.
    f1, f2 = [sid for sid in ens.participants if sid != leader]
    ens.kill(f1)
    ens.kill(f2)
    wait_for(lambda: ens.mode(4) is None, timeout=30, what="observer to stop serving")


def test_zxid_counter_limit_moves_to_a_new_epoch_without_election(ensembles, kz):
    ens = ensembles(participants=3, start=False)
    for m in ens.members.values():
        m.extra_env["ZKD_TEST_ZXID_COUNTER_LIMIT"] = "300"
    ens.start()
    leader = ens.leader()
    elections = ens[leader].log_tail(5000).count("election round")
    c = kz(ens.hosts)
    epochs = set()
    for i in range(800):
        c.create("/e%d" % i, b"v")
        epochs.add(c.exists("/e%d" % i).czxid >> 32)
    assert len(epochs) >= 3, epochs  # the counter ran out at least twice
    assert ens.leader() == leader
    log = ens[leader].log_tail(5000)
    assert "moving from epoch" in log
    assert log.count("election round") == elections  # no election on the way
    # Every member holds the same history.
    views = []
    for sid in ens.sids:
        m = kz(ens.hosts_of([sid]))
        m.sync("/")
        views.append([(m.exists("/e%d" % i).czxid, m.exists("/e%d" % i).mzxid) for i in range(0, 800, 37)])
    assert views[0] == views[1] == views[2]
