"""Kerberos (GSSAPI) clients against zkd, with a throw-away realm (tests/lib/kdc.py: MIT's KDC on
127.0.0.1).  zkd is configured as Apache's documentation shows: a JAAS Server section using
com.sun.security.auth.module.Krb5LoginModule with the service's keytab, named by
-Djava.security.auth.login.config in SERVER_JVMFLAGS.  The client is kazoo with
python3-pure-sasl + python3-kerberos, holding a TGT from kinit."""
import os
import shutil
import subprocess

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import AuthFailedError, NoAuthError
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.security import ACL, Id

from tests.conftest import stop_kazoo
from tests.lib import kdc as K
from tests.lib.ensemble import Ensemble, ensemble_missing_reason
from tests.lib.paths import BUILD_BIN
from tests.lib.waiting import wait_until

pytestmark = pytest.mark.skipif(K.missing_reason() is not None, reason=str(K.missing_reason()))

ZKCLI = os.path.join(BUILD_BIN, "zkcli")
SERVICE = "zookeeper/127.0.0.1"  # kazoo asks GSSAPI for zookeeper@<the host it dials>


@pytest.fixture(scope="module")
def kdc(tmp_path_factory):
    k = K.Kdc(tmp_path_factory.mktemp("kdc"))
    try:
        yield k
    finally:
        k.stop()


def kerberos_zkd(server_factory, kdc, tmp_path, flags=""):
    keytab = kdc.add_principal(SERVICE, str(tmp_path / "zk.keytab"))
    jaas = tmp_path / "jaas.conf"
    jaas.write_text(
        "Server {\n"
        "    com.sun.security.auth.module.Krb5LoginModule required\n"
        "    useKeyTab=true\n"
        "    keyTab=\"%s\"\n"
        "    storeKey=true\n"
        "    useTicketCache=false\n"
        "    principal=\"%s\";\n"
        "};\n" % (keytab, kdc.principal(SERVICE)))
    env = {"KRB5_CONFIG": kdc.krb5_conf,
           "SERVER_JVMFLAGS": "-Djava.security.auth.login.config=%s %s" % (jaas, flags)}
    return server_factory("zkd", env=env, cfg={
        "authProvider.1": "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"})


def kerberos_client(srv, kdc, monkeypatch, user):
    env = kdc.client_env(user)
    for k in ("KRB5_CONFIG", "KRB5CCNAME"):
        monkeypatch.setenv(k, env[k])
    c = KazooClient(hosts=srv.hosts, timeout=10,
                    sasl_options={"mechanism": "GSSAPI", "service": "zookeeper"})
    c.start(timeout=30)
    return c


@pytest.mark.parametrize("flags,identity", [
    ("", "alice@ZKFS.TEST"),
    ("-Dzookeeper.kerberos.removeHostFromPrincipal=true "
     "-Dzookeeper.kerberos.removeRealmFromPrincipal=true", "alice"),
])
def test_kerberos_client_owns_a_sasl_acl(server_factory, kdc, tmp_path, monkeypatch, flags,
                                         identity):
    srv = kerberos_zkd(server_factory, kdc, tmp_path, flags)
    assert "SASL GSSAPI (Kerberos) enabled" in srv.log_tail(100)
    alice = kerberos_client(srv, kdc, monkeypatch, "alice")
    anon = KazooClient(hosts=srv.hosts, timeout=10)
    anon.start(timeout=30)
    try:
        alice.create("/krb", b"kerberos only", acl=[ACL(31, Id("sasl", identity))])
        assert alice.get("/krb")[0] == b"kerberos only"
        assert [(a.id.scheme, a.id.id) for a in alice.get_acls("/krb")[0]] == [("sasl", identity)]
        with pytest.raises(NoAuthError):
            anon.get("/krb")
    finally:
        stop_kazoo(alice)
        stop_kazoo(anon)
    assert "SASL user %s authenticated" % identity in srv.log_tail(100)


def test_identities_stay_apart(server_factory, kdc, tmp_path, monkeypatch):
    """Authenticated as bob, a client is not alice: her node stays closed to him."""
    srv = kerberos_zkd(server_factory, kdc, tmp_path)
    bob = kerberos_client(srv, kdc, monkeypatch, "bob")
    try:
        bob.create("/alice-only", b"", acl=[ACL(31, Id("sasl", "alice@ZKFS.TEST"))])
        with pytest.raises(NoAuthError):
            bob.get("/alice-only")
    finally:
        stop_kazoo(bob)


def test_ticket_the_server_cannot_decrypt_is_refused(server_factory, kdc, tmp_path, monkeypatch):
    """The service's key changed after its keytab was written: the client's service ticket is
    sealed with a key zkd does not hold, so authentication fails (AUTH_FAILED, as Apache)."""
    srv = kerberos_zkd(server_factory, kdc, tmp_path)
    kdc.rekey(SERVICE)
    env = kdc.client_env("carol")
    for k in ("KRB5_CONFIG", "KRB5CCNAME"):
        monkeypatch.setenv(k, env[k])
    carol = KazooClient(hosts=srv.hosts, timeout=10,
                        sasl_options={"mechanism": "GSSAPI", "service": "zookeeper"})
    try:
        # kazoo reports the refusal as either, depending on which of its threads notices first
        # (as with DIGEST-MD5 in test_tls_sasl.py); both mean refused.
        with pytest.raises((AuthFailedError, KazooTimeoutError)):
            carol.start(timeout=5)
            carol.exists("/")
    finally:
        stop_kazoo(carol)
    assert "GSSAPI Failure" in srv.log_tail(50)


def test_ensemble_members_authenticate_with_kerberos(kdc, tmp_path_factory):
    """quorum.auth.* with GSSAPI, as Apache's documentation configures it: QuorumServer and
    QuorumLearner sections with Krb5LoginModule, quorum.auth.kerberos.servicePrincipal
    zkquorum/_HOST.  Every member link (election and quorum ports) authenticates; a member
    whose keytab holds a stale key cannot join."""
    if ensemble_missing_reason("zkd"):
        pytest.skip(ensemble_missing_reason("zkd"))
    d = tmp_path_factory.mktemp("krbq")
    principal = kdc.principal("zkquorum/127.0.0.1")
    good = kdc.add_principal("zkquorum/127.0.0.1", str(d / "good.keytab"))
    # A keytab written before the key changed, then one with the new key.
    stale = str(d / "stale.keytab")
    shutil.copy(good, stale)
    kdc.rekey("zkquorum/127.0.0.1")
    kdc._run(K._tool("kadmin.local"), "-r", K.REALM, "-q", "ktadd -k %s %s" % (
        str(d / "fresh.keytab"), principal))
    fresh = str(d / "fresh.keytab")

    def jaas(keytab):
        path = d / ("jaas-%s.conf" % keytab.rsplit("/", 1)[1])
        entry = ("    com.sun.security.auth.module.Krb5LoginModule required\n"
                 "    useKeyTab=true keyTab=\"%s\" storeKey=true useTicketCache=false\n"
                 "    principal=\"%s\";\n" % (keytab, principal))
        path.write_text("QuorumServer {\n%s};\nQuorumLearner {\n%s};\n" % (entry, entry))
        return str(path)

    ens = Ensemble(d, "zkd", participants=3)
    try:
        for sid in ens.sids:
            ens[sid].cfg.update({
                "quorum.auth.enableSasl": "true", "quorum.auth.learnerRequireSasl": "true",
                "quorum.auth.serverRequireSasl": "true",
                "quorum.auth.kerberos.servicePrincipal": "zkquorum/_HOST"})
            ens[sid].extra_env.update({
                "KRB5_CONFIG": kdc.krb5_conf,
                "SERVER_JVMFLAGS": "-Djava.security.auth.login.config=%s"
                                   % jaas(stale if sid == 3 else fresh)})
            ens[sid].start(wait=False)
        leader = ens.wait_serving([1, 2], timeout=60)
        assert "quorum SASL (GSSAPI) on" in ens[leader].log_tail(400)
        assert "authenticated as 'zkquorum/127.0.0.1" in ens[leader].log_tail(400)
        c = KazooClient(hosts=ens.hosts_of([1, 2]), timeout=10)
        c.start(timeout=30)
        try:
            c.create("/krb-quorum", b"ok")
        finally:
            stop_kazoo(c)
        # Member 3 can neither log in from its stale keytab nor accept the others' tickets.
        wait_until(lambda: "quorum SASL: cannot authenticate to" in ens[3].log_tail(400),
                   what="member 3 failing to authenticate")
        wait_until(lambda: "quorum SASL: refusing learner" in ens[3].log_tail(400),
                   what="member 3 refusing tickets sealed with the new key")
        assert ens.mode(3) is None
    finally:
        ens.close()


# ---- libzk's client side, through zkcli (client/sasl.c) ----

def zkcli_krb(srv, kdc, *args, flags="", extra_env=None):
    env = dict(kdc.env)
    env.pop("JVMFLAGS", None)
    env["CLIENT_JVMFLAGS"] = flags
    env.update(extra_env or {})
    return subprocess.run([ZKCLI, "-s", srv.hosts, "-timeout", "10000"] + list(args),
                          capture_output=True, text=True, timeout=60, env=env)


def client_jaas(path, keytab, principal, section="Client"):
    path.write_text(
        "%s {\n"
        "    com.sun.security.auth.module.Krb5LoginModule required\n"
        "    useKeyTab=true keyTab=\"%s\" storeKey=true useTicketCache=false\n"
        "    principal=\"%s\";\n"
        "};\n" % (section, keytab, principal))
    return str(path)


@pytest.mark.skipif(not os.access(ZKCLI, os.X_OK), reason="zkcli not built")
def test_zkcli_logs_in_from_a_keytab(server_factory, kdc, tmp_path):
    """zkcli --sasl-keytab, and the same login from a JAAS Client section in CLIENT_JVMFLAGS
    as zkCli.sh takes it: the session is sasl:dave@ZKFS.TEST, which a sasl ACL lets in and
    an anonymous client is refused."""
    srv = kerberos_zkd(server_factory, kdc, tmp_path)
    keytab = kdc.add_principal("dave", str(tmp_path / "dave.keytab"))
    p = zkcli_krb(srv, kdc, "--sasl-keytab", keytab, "--sasl-principal", kdc.principal("dave"),
                  "create", "/dave", "secret", "sasl:dave@ZKFS.TEST:cdrwa")
    assert p.returncode == 0, p.stderr
    p = zkcli_krb(srv, kdc, "--sasl-keytab", keytab, "whoami")
    assert p.returncode == 0, p.stderr
    assert "dave@ZKFS.TEST" in p.stdout and "sasl" in p.stdout, p.stdout
    jaas = client_jaas(tmp_path / "client.jaas", keytab, kdc.principal("dave"), "ZkCli")
    p = zkcli_krb(srv, kdc, "get", "/dave",
                  flags="-Djava.security.auth.login.config=%s "
                        "-Dzookeeper.sasl.clientconfig=ZkCli "
                        "-Dzookeeper.sasl.client.username=zookeeper" % jaas)
    assert p.returncode == 0, p.stderr
    assert "secret" in p.stdout
    anon = zkcli_krb(srv, kdc, "get", "/dave")
    assert anon.returncode == 1
    assert "NOAUTH" in anon.stderr.upper(), anon.stderr
    assert "SASL user dave@ZKFS.TEST authenticated" in srv.log_tail(100)


@pytest.mark.skipif(not os.access(ZKCLI, os.X_OK), reason="zkcli not built")
def test_zkcli_with_a_stale_keytab_fails_clearly(server_factory, kdc, tmp_path):
    """A keytab holding an old key cannot log in: zkcli fails, naming the keytab and the KDC's
    reason, and no request reaches the server."""
    srv = kerberos_zkd(server_factory, kdc, tmp_path)
    keytab = kdc.add_principal("erin", str(tmp_path / "erin.keytab"))
    kdc.rekey("erin")
    p = zkcli_krb(srv, kdc, "--sasl-keytab", keytab, "--sasl-principal", kdc.principal("erin"),
                  "create", "/erin", "x")
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert "cannot log in as erin@ZKFS.TEST from keytab %s" % keytab in p.stderr, p.stderr
    assert "AUTH" in p.stderr.upper()
    probe = zkcli_krb(srv, kdc, "stat", "/erin")
    assert probe.returncode == 1 and "NONODE" in probe.stderr.upper(), probe.stderr


@pytest.mark.skipif(not os.access(ZKCLI, os.X_OK), reason="zkcli not built")
def test_zkcli_jaas_without_the_client_section_refuses(tmp_path):
    jaas = tmp_path / "other.jaas"
    jaas.write_text("Server {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n"
                    "  user_bob=\"x\";\n};\n")
    env = dict(os.environ, CLIENT_JVMFLAGS="-Djava.security.auth.login.config=%s" % jaas)
    env.pop("JVMFLAGS", None)
    p = subprocess.run([ZKCLI, "-s", "127.0.0.1:1", "ls", "/"], capture_output=True, text=True,
                       timeout=60, env=env)
    assert p.returncode == 2
    assert "has no 'Client' section" in p.stderr, p.stderr
