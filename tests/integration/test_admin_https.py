"""The AdminServer over HTTPS (admin.forceHttps) with the quorum key store, as Apache's
JettyAdminServer reads it (ssl.quorum.keyStore.*, falling back to ssl.keyStore.*), checked with
curl --cacert; and the TLS settings zkd's AdminServer cannot honour refuse start-up by name."""
import os
import subprocess

import pytest

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


def test_settings_zkd_cannot_honour_refuse_startup(tmp_path, pki):
    code, out = zkd_check(tmp_path, admin_cfg(**{"admin.forceHttps": "true"}))
    assert code == 2 and "admin.forceHttps needs ssl.quorum.keyStore.location" in out, out
    tls = {"ssl.quorum.keyStore.location": os.path.join(pki, "server.p12"),
           "ssl.quorum.keyStore.password": PW}
    for key in ("admin.portUnification", "admin.needClientAuth"):
        code, out = zkd_check(tmp_path, admin_cfg(**{key: "true"}, **tls))
        assert code == 2 and key in out, out
    assert zkd_check(tmp_path, admin_cfg(**{"admin.forceHttps": "true"}, **tls))[0] == 0
