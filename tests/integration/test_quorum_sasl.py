"""SASL between ensemble members (quorum.auth.*, server/quorum_auth.c): DIGEST-MD5 with the JAAS
QuorumServer / QuorumLearner sections, as Apache ZooKeeper's operators configure it.

The JAAS file is named as for Apache, by -Djava.security.auth.login.config in SERVER_JVMFLAGS."""
import pytest
from kazoo.client import KazooClient

from tests.conftest import stop_kazoo
from tests.lib.ensemble import Ensemble, ensemble_missing_reason
from tests.lib.waiting import wait_until

pytestmark = pytest.mark.skipif(ensemble_missing_reason("zkd") is not None,
                                reason=str(ensemble_missing_reason("zkd")))

REQUIRE = {"quorum.auth.enableSasl": "true", "quorum.auth.learnerRequireSasl": "true",
           "quorum.auth.serverRequireSasl": "true"}


def jaas(path, learner_password="s3cret"):
    path.write_text(
        "QuorumServer {\n"
        "    org.apache.zookeeper.server.auth.DigestLoginModule required\n"
        "    user_zkpeer=\"s3cret\";\n"
        "};\n"
        "// what this member presents to the others\n"
        "QuorumLearner {\n"
        "    org.apache.zookeeper.server.auth.DigestLoginModule required\n"
        "    username=\"zkpeer\"\n"
        "    password=\"%s\";\n"
        "};\n" % learner_password)
    return str(path)


@pytest.fixture
def ensembles(tmp_path_factory):
    made = []

    def make(member_cfg, member_jaas):
        """member_cfg/member_jaas: {sid: zoo.cfg extras} and {sid: JAAS path or None}."""
        ens = Ensemble(tmp_path_factory.mktemp("ens"), "zkd", participants=len(member_cfg))
        made.append(ens)
        for sid in ens.sids:
            ens[sid].cfg.update(member_cfg[sid])
            if member_jaas.get(sid):
                ens[sid].extra_env["SERVER_JVMFLAGS"] = (
                    "-Xmx512m -Djava.security.auth.login.config=%s" % member_jaas[sid])
        for sid in ens.sids:
            ens[sid].start(wait=False)
        return ens

    yield make
    for ens in reversed(made):
        ens.close()


def write_and_read(hosts):
    c = KazooClient(hosts=hosts, timeout=10)
    c.start(timeout=30)
    try:
        c.create("/sasl-quorum", b"members authenticated")
        assert c.get("/sasl-quorum")[0] == b"members authenticated"
    finally:
        stop_kazoo(c)


def synced_followers(member):
    for line in member.four_letter("mntr").splitlines():
        k, _, v = line.partition("\t")
        if k == "zk_synced_followers":
            return int(v)
    return None


def test_ensemble_with_quorum_sasl_forms_and_serves(ensembles, tmp_path):
    path = jaas(tmp_path / "jaas.conf")
    ens = ensembles({sid: REQUIRE for sid in (1, 2, 3)}, {sid: path for sid in (1, 2, 3)})
    leader = ens.wait_serving(timeout=60)
    write_and_read(ens.hosts)
    assert synced_followers(ens[leader]) == 2
    log = ens[leader].log_tail(400)
    assert "quorum SASL (DIGEST-MD5) on" in log
    assert "authenticated as 'zkpeer'" in log


def test_member_with_a_wrong_secret_cannot_join(ensembles, tmp_path):
    good = jaas(tmp_path / "good.conf")
    bad = jaas(tmp_path / "bad.conf", learner_password="not-the-secret")
    ens = ensembles({sid: REQUIRE for sid in (1, 2, 3)}, {1: good, 2: good, 3: bad})
    leader = ens.wait_serving([1, 2], timeout=60)
    write_and_read(ens.hosts_of([1, 2]))
    # Member 3 is refused on every link it opens (election and quorum ports), and both sides
    # say why.
    wait_until(lambda: "the server refused our credentials" in ens[3].log_tail(400),
               what="member 3 logging its refusal")
    wait_until(lambda: "refusing learner" in ens[1].log_tail(400) + ens[2].log_tail(400),
               what="members 1 or 2 logging a refused learner")
    assert ens.mode(3) is None
    assert synced_followers(ens[leader]) == 1


@pytest.mark.parametrize("step", ["enableSasl", "learnerRequireSasl"])
def test_rolling_enable_admits_members_not_yet_authenticating(ensembles, tmp_path, step):
    """Apache's rolling upgrade: first every member gets enableSasl=true (learners and servers
    not requiring it), then learnerRequireSasl=true member by member, then
    serverRequireSasl=true.  In each intermediate state the ensemble keeps serving."""
    path = jaas(tmp_path / "jaas.conf")
    enabled = {"quorum.auth.enableSasl": "true", "quorum.auth.learnerRequireSasl": "false",
               "quorum.auth.serverRequireSasl": "false"}
    if step == "enableSasl":  # member 3 still runs without any quorum.auth setting
        cfgs, paths = {1: enabled, 2: enabled, 3: {}}, {1: path, 2: path, 3: None}
    else:  # member 1 already authenticates, the others still accept unauthenticated learners
        cfgs = {1: dict(enabled, **{"quorum.auth.learnerRequireSasl": "true"}), 2: enabled,
                3: enabled}
        paths = {1: path, 2: path, 3: path}
    ens = ensembles(cfgs, paths)
    leader = ens.wait_serving(timeout=60)
    write_and_read(ens.hosts)
    assert synced_followers(ens[leader]) == 2
    if step == "learnerRequireSasl":
        wait_until(lambda: any("authenticated as 'zkpeer'" in ens[s].log_tail(400)
                               for s in (2, 3)), what="member 1 authenticating")
