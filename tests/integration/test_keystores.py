"""Apache-style TLS and security settings: JKS and PKCS12 stores made by keytool, passwords,
protocol and certificate checks, reload, and the security keys that must never be dropped.

The PKI is made once per module with the installed JDK's keytool (as an operator's stores
are); kazoo connects with PEM copies of the client identity (openssl pkcs12 -nodes)."""
import base64
import hashlib
import os
import shutil
import socket
import ssl
import subprocess

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from kazoo.security import ACL, Id, make_digest_acl

from tests.conftest import stop_kazoo
from tests.lib.servers import BUILD_BIN, ServerError, free_port

PW = "storepass1"
KEYTOOL = shutil.which("keytool")
pytestmark = pytest.mark.skipif(KEYTOOL is None, reason="keytool (default-jre-headless) missing")


def keytool(*args, d, stdin=None):
    r = subprocess.run([KEYTOOL] + list(args), cwd=d, input=stdin, capture_output=True)
    assert r.returncode == 0, r.stderr.decode() + r.stdout.decode()
    return r.stdout


def openssl(*args, d):
    subprocess.run(["openssl"] + list(args), cwd=d, check=True, capture_output=True)


def signed_pem(d, name, subj, san=None):
    """name.key and name.crt signed by the test CA (openssl: fast, unlike a JVM per keytool run)."""
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out", name + ".csr",
            "-subj", subj, d=d)
    extra = []
    if san:
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write("subjectAltName=%s\n" % san)
        extra = ["-extfile", name + ".ext"]
    openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", name + ".crt", "-days", "2", *extra, d=d)
    with open(os.path.join(d, name + ".pem"), "w") as out:
        for part in (".crt", ".key"):
            out.write(open(os.path.join(d, name + part)).read())


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """The server's key stores and the trust stores as keytool writes them (JKS with Sun's key
    protector; PKCS12 with the JDK's default PBES2 and MAC), client identities as PEM."""
    d = str(tmp_path_factory.mktemp("stores"))
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=zk-test-ca", d=d)
    keytool("-genkeypair", "-alias", "server", "-keyalg", "RSA", "-keysize", "2048", "-validity",
            "2", "-dname", "CN=localhost", "-keystore", "server.jks", "-storetype", "JKS",
            "-storepass", PW, "-keypass", PW, d=d)
    csr = keytool("-certreq", "-alias", "server", "-keystore", "server.jks", "-storepass", PW, d=d)
    with open(os.path.join(d, "server.csr"), "wb") as f:
        f.write(csr)
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "server.ext", d=d)
    with open(os.path.join(d, "chain.pem"), "w") as f:  # -importcert takes the whole chain
        f.write(open(os.path.join(d, "server.crt")).read() + open(os.path.join(d, "ca.pem")).read())
    keytool("-importcert", "-alias", "server", "-file", "chain.pem", "-keystore", "server.jks",
            "-storepass", PW, "-noprompt", "-trustcacerts", d=d)
    keytool("-importkeystore", "-srckeystore", "server.jks", "-srcstorepass", PW, "-destkeystore",
            "server.p12", "-deststoretype", "PKCS12", "-deststorepass", PW, d=d)
    for store, kind in (("trust.jks", "JKS"), ("trust.p12", "PKCS12")):
        keytool("-importcert", "-alias", "ca", "-file", "ca.pem", "-keystore", store, "-storetype",
                kind, "-storepass", PW, "-noprompt", d=d)
    signed_pem(d, "client", "/O=zkfs/CN=client1")
    signed_pem(d, "admin", "/O=zkfs/CN=admin")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "rogue.pem", "-out",
            "rogue.crt", "-days", "2", "-subj", "/CN=rogue", d=d)
    with open(os.path.join(d, "rogue.pem"), "a") as f:
        f.write(open(os.path.join(d, "rogue.crt")).read())
    return d


def tls_cfg(stores, keystore, truststore, **extra):
    cfg = {"secureClientPort": free_port(),
           "ssl.keyStore.location": os.path.join(stores, keystore),
           "ssl.keyStore.password": PW,
           "ssl.trustStore.location": os.path.join(stores, truststore),
           "ssl.trustStore.password": PW}
    cfg.update(extra)
    return cfg


def tls_kazoo(stores, srv, who="client", port=None):
    kw = {"use_ssl": True, "ca": os.path.join(stores, "ca.pem"), "verify_certs": True}
    if who:
        pem = os.path.join(stores, who + ".pem")
        kw.update(certfile=pem, keyfile=pem)
    zk = KazooClient(hosts="127.0.0.1:%s" % (port or srv.cfg["secureClientPort"]), timeout=10.0,
                     connection_retry={"max_tries": 0}, **kw)
    zk.start(timeout=15)
    return zk


def tls_handshake(stores, srv, who="client", version=None):
    """One raw TLS handshake; returns (protocol version, server certificate) or raises ssl.SSLError."""
    ctx = ssl.create_default_context(cafile=os.path.join(stores, "ca.pem"))
    if who:
        pem = os.path.join(stores, who + ".pem")
        ctx.load_cert_chain(pem, pem)
    if version:
        ctx.minimum_version = ctx.maximum_version = version
    with socket.create_connection(("127.0.0.1", int(srv.cfg["secureClientPort"])), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            # TLS 1.3 reports a refused client certificate only on the first read.
            s.sendall(b"\0\0\0\0")
            s.settimeout(2)
            try:
                s.recv(1)
            except socket.timeout:
                pass
            return s.version(), s.getpeercert()


@pytest.mark.parametrize("keystore,truststore", [("server.jks", "trust.jks"),
                                                 ("server.p12", "trust.p12")])
def test_keytool_stores_serve_tls_and_check_clients(server_factory, stores, keystore, truststore):
    srv = server_factory("zkd", cfg=tls_cfg(stores, keystore, truststore))
    zk = tls_kazoo(stores, srv)
    try:
        zk.create("/x509", b"v", acl=[ACL(31, Id("x509", "CN=client1,O=zkfs"))])
        assert zk.get("/x509")[0] == b"v"
    finally:
        stop_kazoo(zk)
    # ssl.clientAuth is "need" by default: no certificate, or one from another CA, is refused.
    for who in (None, "rogue"):
        with pytest.raises((ssl.SSLError, ConnectionError)):
            tls_handshake(stores, srv, who=who)


def test_store_type_key_and_file_name(server_factory, stores, tmp_path):
    """ssl.*.type wins over the file name; without it .p12/.jks/.pem name the format."""
    shutil.copy(os.path.join(stores, "server.p12"), tmp_path / "server.store")
    shutil.copy(os.path.join(stores, "trust.jks"), tmp_path / "trust.store")
    cfg = tls_cfg(stores, "server.p12", "trust.jks")
    cfg.update({"ssl.keyStore.location": str(tmp_path / "server.store"), "ssl.keyStore.type": "PKCS12",
                "ssl.trustStore.location": str(tmp_path / "trust.store"), "ssl.trustStore.type": "jks"})
    srv = server_factory("zkd", cfg=cfg)
    assert tls_handshake(stores, srv)[1]["subject"] == ((("commonName", "localhost"),),)


def zkd_check(cfg_path, env=None):
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([os.path.join(BUILD_BIN, "zkd"), "--check", cfg_path], env=full_env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("store", ["server.jks", "server.p12"])
def test_wrong_store_password_is_a_clear_startup_error(server_factory, stores, store):
    """A clear error and exit status 1, and nothing half-written left behind: the first
    snapshot's walk (stretched here) must not run beside a failed start that frees the tree;
    it crashed the server with SIGSEGV in CI once, and left its .tmp in the dataDir."""
    srv = server_factory("zkd", start=False, env={"ZKD_TEST_SNAPSHOT_STEP_MS": "300"},
                         cfg=tls_cfg(stores, store, "trust.jks", **{"ssl.keyStore.password": "nope"}))
    with pytest.raises(ServerError, match="exited with status 1"):
        srv.start()
    assert "%s: wrong password" % os.path.join(stores, store) in srv.log_tail(50)
    left = [f for f in os.listdir(os.path.join(srv.data_dir, "version-2")) if f.endswith(".tmp")]
    assert left == []
    r = zkd_check(srv.cfg_path)
    assert r.returncode == 2 and "wrong password" in r.stderr, r.stderr


def test_check_prints_the_effective_tls_settings(server_factory, stores):
    srv = server_factory("zkd", start=False, cfg=tls_cfg(stores, "server.jks", "trust.p12", **{
        "ssl.enabledProtocols": "TLSv1.2", "ssl.crl": "false"}))
    srv.write_config()
    r = zkd_check(srv.cfg_path)
    assert r.returncode == 0, r.stderr
    assert "ssl.keyStore.type=JKS\n" in r.stdout
    assert "ssl.trustStore.type=PKCS12\n" in r.stdout
    assert "ssl.enabledProtocols=TLSv1.2..TLSv1.2\n" in r.stdout
    assert "ssl.hostnameVerification=true\n" in r.stdout
    assert PW not in r.stdout


def test_protocol_versions_are_enforced(server_factory, stores):
    srv = server_factory("zkd", cfg=tls_cfg(stores, "server.p12", "trust.p12",
                                            **{"ssl.protocol": "TLSv1.2"}))
    assert tls_handshake(stores, srv)[0] == "TLSv1.2"
    with pytest.raises(ssl.SSLError):
        tls_handshake(stores, srv, version=ssl.TLSVersion.TLSv1_3)
    srv13 = server_factory("zkd", cfg=tls_cfg(stores, "server.p12", "trust.p12",
                                              **{"ssl.enabledProtocols": "TLSv1.3"}))
    assert tls_handshake(stores, srv13)[0] == "TLSv1.3"
    with pytest.raises(ssl.SSLError):
        tls_handshake(stores, srv13, version=ssl.TLSVersion.TLSv1_2)


def test_cipher_suites_by_their_java_names(server_factory, stores):
    srv = server_factory("zkd", cfg=tls_cfg(stores, "server.p12", "trust.p12", **{
        "ssl.ciphersuites": "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"}))
    version, _ = tls_handshake(stores, srv)
    assert version == "TLSv1.2"  # no TLS 1.3 suite listed: TLS 1.3 is off, as in Java
    bad = server_factory("zkd", start=False, cfg=tls_cfg(stores, "server.p12", "trust.p12", **{
        "ssl.ciphersuites": "TLS_NO_SUCH_SUITE"}))
    with pytest.raises(ServerError):
        bad.start()
    assert "ssl.ciphersuites: OpenSSL has no cipher suite 'TLS_NO_SUCH_SUITE'" in bad.log_tail(50)


def test_x509_super_user(server_factory, stores):
    srv = server_factory("zkd", cfg=tls_cfg(stores, "server.jks", "trust.jks", **{
        "X509AuthenticationProvider.superUser": "CN=admin,O=zkfs"}))
    owner = tls_kazoo(stores, srv)
    admin = tls_kazoo(stores, srv, who="admin")
    try:
        owner.create("/private", b"mine", acl=[ACL(31, Id("x509", "CN=client1,O=zkfs"))])
        assert admin.get("/private")[0] == b"mine"
    finally:
        stop_kazoo(owner)
        stop_kazoo(admin)


def test_certificate_reload_under_live_connections(server_factory, stores, tmp_path):
    live = tmp_path / "server.p12"
    shutil.copy(os.path.join(stores, "server.p12"), live)
    cfg = tls_cfg(stores, "server.p12", "trust.p12", **{"client.certReload": "true"})
    cfg["ssl.keyStore.location"] = str(live)
    srv = server_factory("zkd", cfg=cfg)
    zk = tls_kazoo(stores, srv)
    try:
        zk.create("/before", b"1")
        first = tls_handshake(stores, srv)[1]["serialNumber"]
        # A renewed certificate: a new key store written beside the old one and renamed over it.
        d = str(tmp_path)
        for f in ("ca.pem", "ca.key"):
            shutil.copy(os.path.join(stores, f), d)
        signed_pem(d, "renewed", "/CN=localhost", san="IP:127.0.0.1,DNS:localhost")
        openssl("pkcs12", "-export", "-in", "renewed.pem", "-out", "renewed.p12", "-passout",
                "pass:" + PW, d=d)
        os.rename(os.path.join(d, "renewed.p12"), live)
        assert tls_handshake(stores, srv)[1]["serialNumber"] != first
        zk.create("/after", b"2")  # the connection made before the renewal still works
        assert zk.get("/before")[0] == b"1"
    finally:
        stop_kazoo(zk)


def test_super_digest_from_server_jvmflags(server_factory):
    """-Dzookeeper.DigestAuthenticationProvider.superDigest in SERVER_JVMFLAGS makes a super user."""
    digest = base64.b64encode(hashlib.sha1(b"super:s3cret").digest()).decode()
    srv = server_factory("zkd", env={
        "SERVER_JVMFLAGS": "-Xmx64m -Dzookeeper.DigestAuthenticationProvider.superDigest=super:" + digest})
    owner = KazooClient(hosts=srv.hosts, timeout=10.0, auth_data=[("digest", "alice:pw")])
    boss = KazooClient(hosts=srv.hosts, timeout=10.0, auth_data=[("digest", "super:s3cret")])
    anon = KazooClient(hosts=srv.hosts, timeout=10.0)
    try:
        for c in (owner, boss, anon):
            c.start(timeout=15)
        owner.create("/alice", b"a", acl=[make_digest_acl("alice", "pw", all=True)])
        assert boss.get("/alice")[0] == b"a"
        with pytest.raises(NoAuthError):
            anon.get("/alice")
    finally:
        for c in (owner, boss, anon):
            stop_kazoo(c)


def test_jaas_file_without_server_section_starts_without_sasl(server_factory, tmp_path):
    jaas = tmp_path / "jaas.conf"
    jaas.write_text("Client {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n"
                    "  username=\"bob\" password=\"x\";\n};\n")
    empty = tmp_path / "empty.conf"
    empty.write_text("")
    for f in (jaas, empty):
        srv = server_factory("zkd", env={"SERVER_JVMFLAGS": "-Djava.security.auth.login.config=%s" % f},
                             cfg={"authProvider.1": "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"})
        assert srv.log_tail(100).count("has no Server section: SASL is not offered") == 1
        srv.stop()


def test_client_port_unification_serves_tls_and_plain_on_one_port(server_factory, stores):
    cfg = tls_cfg(stores, "server.jks", "trust.jks", **{"client.portUnification": "true"})
    del cfg["secureClientPort"]
    srv = server_factory("zkd", cfg=cfg)
    secure = tls_kazoo(stores, srv, port=srv.port)
    plain = KazooClient(hosts=srv.hosts, timeout=10.0)
    try:
        plain.start(timeout=15)
        secure.create("/unified", b"tls", acl=[ACL(31, Id("x509", "CN=client1,O=zkfs"))])
        with pytest.raises(NoAuthError):  # the plain session has no certificate identity
            plain.get("/unified")
        plain.create("/plain", b"tcp")
        assert secure.get("/plain")[0] == b"tcp"
        assert srv.four_letter("ruok") == "imok"  # four-letter words still work on that port
    finally:
        stop_kazoo(secure)
        stop_kazoo(plain)


def test_crl_checks_refuse_a_revoked_client(server_factory, stores, tmp_path):
    """ssl.crl=true: CRLs in the (PEM) trust store are checked; a certificate whose CA has no CRL
    there is refused too (fail closed: zkd does not download distribution points)."""
    d = str(tmp_path)
    with open(os.path.join(d, "ca.cnf"), "w") as f:
        f.write("[ca]\ndefault_ca = test\n[test]\ndatabase = %s/index.txt\ndefault_md = sha256\n"
                "default_crl_days = 2\n" % d)
    open(os.path.join(d, "index.txt"), "w").close()
    ca = ["-config", "ca.cnf", "-keyfile", os.path.join(stores, "ca.key"), "-cert",
          os.path.join(stores, "ca.pem")]
    openssl("ca", *ca, "-revoke", os.path.join(stores, "client.crt"), d=d)
    openssl("ca", *ca, "-gencrl", "-out", "crl.pem", d=d)
    with open(os.path.join(d, "trust.pem"), "w") as f:
        f.write(open(os.path.join(stores, "ca.pem")).read() + open(os.path.join(d, "crl.pem")).read())
    srv = server_factory("zkd", cfg=tls_cfg(stores, "server.p12", "trust.pem", **{
        "ssl.trustStore.location": os.path.join(d, "trust.pem"), "ssl.crl": "true"}))
    tls_handshake(stores, srv, who="admin")  # not revoked
    with pytest.raises((ssl.SSLError, ConnectionError)):
        tls_handshake(stores, srv, who="client")
    no_crl = server_factory("zkd", cfg=tls_cfg(stores, "server.p12", "trust.p12", **{"ssl.crl": "true"}))
    with pytest.raises((ssl.SSLError, ConnectionError)):
        tls_handshake(stores, no_crl, who="admin")
