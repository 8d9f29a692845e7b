"""Security across a mixed ensemble (issue 16): quorum TLS (sslQuorum) and quorum SASL (DIGEST-MD5,
Kerberos) between Apache ZooKeeper 3.8 and zkd members (memberProtocol=apache), with the same
zoo.cfg keys and the same JAAS file, named by -Djava.security.auth.login.config in
SERVER_JVMFLAGS, for both kinds.

Each case runs four participants: three good members and an intruder, sid 4, whose certificate is
not from the ensemble's CA (TLS), whose password is wrong (DIGEST-MD5) or whose keytab holds a
stale key (Kerberos).  The quorum is 3 of 4, so the three good members form it only if every link
between them authenticates: sid 3 leads (the largest sid of a quorum with equal, empty histories),
a zkd in layout "zkd-leads" (the intruder is Apache) and an Apache member in "apache-leads" (the
intruder is zkd).  Writes made through each good member are read on every other; the intruder
never serves and the leader syncs exactly two followers.

The stores are made once per module: an openssl CA, the members' key (one certificate for all,
naming 127.0.0.1: every member runs there) in a JKS key store and the CA in a PKCS12 trust store,
both written by the JDK's keytool, as an operator's are.
"""
import os
import shutil
import subprocess

import pytest
from kazoo.retry import KazooRetry

from tests.lib import kdc as K
from tests.lib.ensemble import MixedEnsemble, kazoo_client, require_kinds, wait_for
from tests.lib.faults import kill_direct_sockets

PW = "storepass1"
LAYOUTS = {
    # good: 1 Apache, 2 Apache, 3 zkd (leads); intruder 4 Apache
    "zkd-leads": [3],
    # good: 1 zkd, 2 zkd, 3 Apache (leads); intruder 4 zkd
    "apache-leads": [1, 2, 4],
}
GOOD, INTRUDER = [1, 2, 3], 4
REQUIRE_SASL = {"quorum.auth.enableSasl": "true", "quorum.auth.learnerRequireSasl": "true",
                "quorum.auth.serverRequireSasl": "true"}


def run(*argv, d):
    r = subprocess.run(list(argv), cwd=d, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, " ".join(argv) + "\n" + r.stdout + r.stderr


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    if not shutil.which("keytool"):
        pytest.skip("keytool (default-jre-headless) missing")
    d = str(tmp_path_factory.mktemp("stores"))
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
        "ca.pem", "-days", "2", "-subj", "/CN=zkfs mixed CA", d=d)
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "member.key", "-out",
        "member.csr", "-subj", "/CN=member", d=d)
    run("openssl", "x509", "-req", "-in", "member.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "member.crt", "-days", "2", "-extfile", "san.ext", d=d)
    # The intruder's certificate names the right address but no CA of the ensemble signed it.
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "rogue.key", "-out",
        "rogue.crt", "-days", "2", "-subj", "/CN=member", "-addext",
        "subjectAltName=IP:127.0.0.1,DNS:localhost", d=d)
    for name in ("member", "rogue"):
        run("openssl", "pkcs12", "-export", "-in", name + ".crt", "-inkey", name + ".key", "-name",
            "member", "-out", name + ".p12", "-passout", "pass:" + PW, d=d)
        run("keytool", "-importkeystore", "-srckeystore", name + ".p12", "-srcstoretype", "PKCS12",
            "-srcstorepass", PW, "-destkeystore", name + ".jks", "-deststoretype", "JKS",
            "-deststorepass", PW, "-noprompt", d=d)
    run("keytool", "-importcert", "-alias", "ca", "-file", "ca.pem", "-keystore", "trust.p12",
        "-storetype", "PKCS12", "-storepass", PW, "-noprompt", d=d)
    return d


@pytest.fixture(scope="module")
def kdc(tmp_path_factory):
    if K.missing_reason():
        pytest.skip(K.missing_reason())
    k = K.Kdc(tmp_path_factory.mktemp("kdc"))
    try:
        yield k
    finally:
        k.stop()


def tls_setup(request, d):
    """sslQuorum with JKS key stores and a PKCS12 trust store; the intruder's key is rogue."""
    stores = request.getfixturevalue("stores")

    def member(good):
        return {"sslQuorum": "true",
                "ssl.quorum.keyStore.location": os.path.join(
                    stores, "member.jks" if good else "rogue.jks"),
                "ssl.quorum.keyStore.password": PW,
                "ssl.quorum.trustStore.location": os.path.join(stores, "trust.p12"),
                "ssl.quorum.trustStore.password": PW}, {}
    return member


def jaas_flags(path, text, extra=""):
    with open(path, "w") as f:
        f.write(text)
    return {"SERVER_JVMFLAGS": "-Djava.security.auth.login.config=%s%s" % (path, extra)}


def digest_setup(request, d):
    """DIGEST-MD5: QuorumServer accepts zkpeer/s3cret; the intruder presents another password."""
    def member(good):
        text = ("QuorumServer {\n"
                "    org.apache.zookeeper.server.auth.DigestLoginModule required\n"
                "    user_zkpeer=\"s3cret\";\n"
                "};\n"
                "QuorumLearner {\n"
                "    org.apache.zookeeper.server.auth.DigestLoginModule required\n"
                "    username=\"zkpeer\"\n"
                "    password=\"%s\";\n"
                "};\n" % ("s3cret" if good else "not-the-secret"))
        return REQUIRE_SASL, jaas_flags(os.path.join(d, "jaas-%s.conf" % good), text)
    return member


def kerberos_setup(request, d):
    """GSSAPI: every member logs in as zkquorum/127.0.0.1 from a keytab; the intruder's keytab
    was written before the principal's key changed."""
    kdc = request.getfixturevalue("kdc")
    principal = kdc.principal("zkquorum/127.0.0.1")
    stale = kdc.add_principal("zkquorum/127.0.0.1", os.path.join(d, "stale.keytab"))
    kdc.rekey("zkquorum/127.0.0.1")
    fresh = os.path.join(d, "fresh.keytab")
    kdc._run(K._tool("kadmin.local"), "-r", K.REALM, "-q", "ktadd -k %s %s" % (fresh, principal))

    def member(good):
        entry = ("    com.sun.security.auth.module.Krb5LoginModule required\n"
                 "    useKeyTab=true keyTab=\"%s\" storeKey=true useTicketCache=false\n"
                 "    principal=\"%s\";\n" % (fresh if good else stale, principal))
        env = jaas_flags(os.path.join(d, "jaas-%s.conf" % good),
                         "QuorumServer {\n%s};\nQuorumLearner {\n%s};\n" % (entry, entry),
                         # zkd reads KRB5_CONFIG; Java only its own property
                         " -Djava.security.krb5.conf=%s" % kdc.krb5_conf)
        env["KRB5_CONFIG"] = kdc.krb5_conf
        return dict(REQUIRE_SASL, **{
            "quorum.auth.kerberos.servicePrincipal": "zkquorum/_HOST"}), env
    return member


SETUPS = {"tls": tls_setup, "digest": digest_setup, "kerberos": kerberos_setup}


def synced_followers(ens, sid):
    for line in ens[sid].four_letter("mntr").splitlines():
        k, _, v = line.partition("\t")
        if k == "zk_synced_followers":
            return int(v)
    return None


@pytest.fixture
def secured(request, tmp_path):
    """make(security, layout) -> a started MixedEnsemble of LAYOUTS[layout], every member given
    SETUPS[security]'s keys and environment (the intruder its bad credentials), the three good
    members serving with sid 3 leading."""
    require_kinds("apache", "zkd")
    made = []

    def make(security, layout):
        member = SETUPS[security](request, str(tmp_path))
        ens = MixedEnsemble(tmp_path / "ens", LAYOUTS[layout], participants=4)
        made.append(ens)
        # Every member's files are written before any member starts: a member started while
        # the next one's JAAS file (the same file for all good members) was being rewritten
        # read it empty and exited ("no 'QuorumServer' section"), once in CI.
        setups = {sid: member(sid != INTRUDER) for sid in ens.sids}
        for sid in ens.sids:
            cfg, env = setups[sid]
            ens[sid].cfg.update(cfg)
            ens[sid].extra_env.update(env)
            ens[sid].start(wait=False)
        assert ens.wait_serving(sids=GOOD, timeout=90) == 3, ens.describe()
        return ens

    try:
        yield make
    finally:
        for ens in made:
            ens.close()


def zkd_log(ens):
    return "".join(ens[sid].log_tail(600) for sid in ens.zkd_sids)


# What zkd logs when it refuses the intruder (or the intruder, a zkd, is refused).  An Apache
# intruder with a stale keytab does not get that far: its JAAS login fails and it exits.
REFUSED = {"tls": ("TLS failed",),
           "digest": ("refusing learner", "the server refused our credentials"),
           "kerberos": ("refusing learner", "cannot authenticate to")}
APACHE_LOGIN_FAILED = "LoginException: Checksum failed"


def intruder_refused(ens, security):
    if any(w in zkd_log(ens) for w in REFUSED[security]):
        return True
    return (security == "kerberos" and not ens[INTRUDER].running and
            APACHE_LOGIN_FAILED in ens[INTRUDER].log_tail(200))


def retry():
    """Retries a call through connection losses (a member rejoining), for up to 60 s."""
    return KazooRetry(max_tries=-1, delay=0.05, max_delay=0.5, deadline=60)


def write_through_each(ens, kinds, tag):
    """Each good member takes a write (retried while it rejoins) and reads everyone's."""
    clients = {sid: kazoo_client(ens, [sid]) for sid in GOOD}
    try:
        for sid, c in clients.items():
            retry()(c.create, "/%s-%d" % (tag, sid), kinds[sid].encode())
        for c in clients.values():
            retry()(c.sync, "/")
            assert {s: retry()(c.get, "/%s-%d" % (tag, s))[0] for s in GOOD} == {
                s: kinds[s].encode() for s in GOOD}
    finally:
        for c in clients.values():
            c.stop()
            c.close()


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("security", sorted(SETUPS))
def test_mixed_quorum_authenticates_and_shuts_out_an_intruder(secured, security, layout):
    ens = secured(security, layout)
    kinds = {sid: ens.member_kind(sid) for sid in ens.sids}
    assert kinds[3] == ("zkd" if layout == "zkd-leads" else "apache")
    write_through_each(ens, kinds, "via")
    if security == "tls":
        # JSSE resumes its last session with a peer: every link an Apache member opened to a
        # zkd member is reset, and the members reconnect (resuming) and serve again.
        # (A link being re-formed at that moment is not there to cut: try until one was.)
        wait_for(lambda: sum(kill_direct_sockets(ens[a].pid, port)
                             for a in GOOD if kinds[a] == "apache"
                             for z in GOOD if kinds[z] == "zkd"
                             for port in (ens.quorum_ports[z], ens.election_ports[z])), 30,
                 "a link of an Apache member to a zkd member to cut", ens)
        write_through_each(ens, kinds, "after-cut")
    # The intruder was refused (a zkd on either side of its links says so) and never serves.
    wait_for(lambda: intruder_refused(ens, security), 30, "the intruder refused", ens)
    assert ens.mode(INTRUDER) is None
    assert synced_followers(ens, 3) == 2
    if security != "tls":
        assert "authenticated as" in zkd_log(ens)
