"""The AdminServer over HTTPS (admin.forceHttps) with the quorum key store, as Apache's
JettyAdminServer reads it (ssl.quorum.keyStore.*, falling back to ssl.keyStore.*), checked with
curl --cacert; HTTP and HTTPS on one port (admin.portUnification, Apache's
UnifiedConnectionFactory); client certificates (admin.needClientAuth) and the x509 admin
authentication of Apache 3.9 (Authorization: x509, the certificate's subject checked against the
ACL of "/", X509AuthenticationProvider.superUser); and start-up refused without the stores."""
import os
import subprocess

import pytest
from kazoo.security import make_acl, make_digest_acl

from tests.lib import servers as S
from tests.lib.paths import BUILD_BIN

PW = "storepass"


def openssl(*args, d):
    subprocess.run(["openssl"] + list(args), cwd=d, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA and a server identity for 127.0.0.1, as PEM and as a PKCS12 store."""
    d = str(tmp_path_factory.mktemp("pki"))
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=zkd test CA", d=d)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=127.0.0.1", d=d)
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "ext.cnf", d=d)
    openssl("pkcs12", "-export", "-in", "server.crt", "-inkey", "server.key", "-certfile", "ca.pem",
            "-out", "server.p12", "-passout", "pass:" + PW, d=d)
    # Admin clients: two signed by the CA, one by a CA the server does not trust.
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "rogue.key", "-out",
            "rogue.pem", "-days", "2", "-subj", "/CN=rogue CA", d=d)
    for name, ca in (("admin", "ca"), ("other", "ca"), ("stranger", "rogue")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out",
                name + ".csr", "-subj", "/CN=" + name, d=d)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
                "-CAcreateserial", "-out", name + ".crt", "-days", "2", d=d)
    with open(os.path.join(d, "server.pem"), "w") as out:
        for name in ("server.key", "server.crt"):
            with open(os.path.join(d, name)) as f:
                out.write(f.read())
    return d


def admin_cfg(**extra):
    cfg = {"admin.enableServer": "true", "admin.serverAddress": "127.0.0.1",
           "admin.serverPort": str(S.free_port())}
    cfg.update(extra)
    return cfg


def curl(url, *opts):
    """(exit code, HTTP status or 0) of a GET through the real curl binary."""
    p = subprocess.run(["curl", "-s", "--max-time", "20", "-o", os.devnull, "-w", "%{http_code}"]
                       + list(opts) + [url], capture_output=True, timeout=30)
    return p.returncode, int(p.stdout or b"0")


@pytest.mark.parametrize("store", ["p12", "pem"])
def test_force_https_serves_tls_only(server_factory, pki, store):
    keys = ({"ssl.quorum.keyStore.location": os.path.join(pki, "server.p12"),
             "ssl.quorum.keyStore.password": PW} if store == "p12" else
            {"ssl.keyStore.location": os.path.join(pki, "server.pem")})  # ssl.* as the fallback
    srv = server_factory("zkd", cfg=admin_cfg(**{"admin.forceHttps": "true"}, **keys))
    port = srv.cfg["admin.serverPort"]
    ca = os.path.join(pki, "ca.pem")
    assert curl("https://127.0.0.1:%s/commands/ruok" % port, "--cacert", ca) == (0, 200)
    # The certificate is checked: without the CA curl refuses it (exit 60).
    assert curl("https://127.0.0.1:%s/commands/ruok" % port)[0] == 60
    # No plain HTTP on the port.
    assert curl("http://127.0.0.1:%s/commands/ruok" % port)[1] != 200
    assert S.four_letter(srv.port, "ruok") == "imok"


def zkd_check(tmp_path, cfg):
    srv = S.Zkd(tmp_path / "chk", cfg=cfg)
    srv.write_config()
    p = subprocess.run([os.path.join(BUILD_BIN, "zkd"), "--check", srv.cfg_path],
                       capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout + p.stderr


def test_https_settings_without_their_stores_refuse_startup(tmp_path, pki):
    for key in ("admin.forceHttps", "admin.portUnification"):
        code, out = zkd_check(tmp_path, admin_cfg(**{key: "true"}))
        assert code == 2 and key + " needs ssl.quorum.keyStore.location" in out, out
    tls = {"ssl.quorum.keyStore.location": os.path.join(pki, "server.p12"),
           "ssl.quorum.keyStore.password": PW}
    code, out = zkd_check(tmp_path, admin_cfg(**{"admin.portUnification": "true",
                                                 "admin.needClientAuth": "true"}, **tls))
    assert code == 2 and "admin.needClientAuth needs ssl.quorum.trustStore.location" in out, out
    for key in ("admin.forceHttps", "admin.portUnification"):
        assert zkd_check(tmp_path, admin_cfg(**{key: "true"}, **tls))[0] == 0, key
    # As in Apache, needClientAuth means nothing without TLS on the admin port.
    assert zkd_check(tmp_path, admin_cfg(**{"admin.needClientAuth": "true"}))[0] == 0


def test_port_unification_serves_http_and_https_on_one_port(server_factory, pki):
    srv = server_factory("zkd", cfg=admin_cfg(**{
        "admin.portUnification": "true",
        "ssl.quorum.keyStore.location": os.path.join(pki, "server.p12"),
        "ssl.quorum.keyStore.password": PW}))
    port = srv.cfg["admin.serverPort"]
    ca = os.path.join(pki, "ca.pem")
    for _ in range(2):  # each protocol more than once, interleaved, on the one port
        assert curl("https://127.0.0.1:%s/commands/ruok" % port, "--cacert", ca) == (0, 200)
        assert curl("http://127.0.0.1:%s/commands/ruok" % port) == (0, 200)
    # No certificate asked for without needClientAuth: an x509 admin login has nothing to show.
    assert curl("https://127.0.0.1:%s/commands/snapshot?streaming=false" % port, "--cacert", ca,
                "-H", "Authorization: x509", "--cert", os.path.join(pki, "admin.crt"),
                "--key", os.path.join(pki, "admin.key")) == (0, 401)
    assert S.four_letter(srv.port, "ruok") == "imok"


def test_x509_admin_auth_with_client_certificates(server_factory, kazoo_client, pki):
    srv = server_factory("zkd", cfg=admin_cfg(**{
        "admin.portUnification": "true", "admin.needClientAuth": "true",
        "admin.rateLimiterIntervalInMS": "0",  # every snapshot call runs
        "ssl.quorum.keyStore.location": os.path.join(pki, "server.p12"),
        "ssl.quorum.keyStore.password": PW,
        "ssl.quorum.trustStore.location": os.path.join(pki, "ca.pem"),
        "X509AuthenticationProvider.superUser": "CN=other"}))
    port = srv.cfg["admin.serverPort"]

    def snap(who=None, auth="x509", scheme="https"):
        opts = ["--cacert", os.path.join(pki, "ca.pem")]
        if who:
            opts += ["--cert", os.path.join(pki, who + ".crt"),
                     "--key", os.path.join(pki, who + ".key")]
        if auth:
            opts += ["-H", "Authorization: " + auth]
        return curl("%s://127.0.0.1:%s/commands/snapshot?streaming=false" % (scheme, port), *opts)

    # "/" is open to every authenticated id (world:anyone:cdrwa): a trusted certificate passes.
    assert snap("admin") == (0, 200)
    assert snap("admin", auth=None) == (0, 401)  # auth info missing
    # A TLS client without a certificate, or with one no trusted CA signed, is not served
    # (Jetty refuses its handshake; zkd closes the connection unanswered: curl exits 52).
    assert snap(None)[1] == 0 and snap(None)[0] != 0
    assert snap("stranger")[1] == 0 and snap("stranger")[0] != 0
    # Plain HTTP on the unified port carries no certificate: x509 cannot log in there.
    assert snap(None, scheme="http") == (0, 401)
    assert curl("http://127.0.0.1:%s/commands/ruok" % port) == (0, 200)
    # Only CN=admin may do everything on "/" now; CN=other is superUser, which passes any ACL.
    zk = kazoo_client(srv, auth_data=[("digest", "root:pw")])
    zk.set_acls("/", [make_acl("x509", "CN=admin", all=True),
                      make_digest_acl("root", "pw", all=True)])
    assert snap("admin") == (0, 200)
    assert snap("other") == (0, 200)
    assert snap("admin", auth="ip", scheme="https") == (0, 403)
    zk.set_acls("/", [make_digest_acl("root", "pw", all=True)])
    assert snap("admin") == (0, 403)  # authenticated, not authorized
    assert snap("other") == (0, 200)
