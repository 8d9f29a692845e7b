"""Revocation checks through OCSP (zk/ocsp.h), as Apache's ssl.ocsp / ssl.quorum.ocsp /
zookeeper.ssl.ocsp: a throw-away CA made with `openssl`, certificates whose Authority Information
Access names a real OCSP responder (`openssl ocsp -index ... -port ...` from the openssl package),
one of each pair revoked in the responder's index.

- zkd (ssl.clientAuth=need, ssl.ocsp=true) accepts a good client certificate and refuses a
  revoked one with a log line naming it and the responder's verdict;
- libzk (zkcli --ocsp, or -Dzookeeper.ssl.ocsp=true) refuses a server whose certificate is revoked;
- members (sslQuorum, ssl.quorum.ocsp=true): a member with a revoked certificate cannot join;
- responder down: a certificate whose status was never fetched is refused (Java's checker
  fails closed, falling back to CRLs first: none here); a fetched answer is used until its
  nextUpdate, so the same server keeps accepting a certificate it checked."""
import os
import signal
import subprocess

import pytest
from kazoo.client import KazooClient

from tests.conftest import stop_kazoo
from tests.lib.ensemble import Ensemble, ensemble_missing_reason
from tests.lib.paths import BUILD_BIN
from tests.lib.servers import free_port
from tests.lib.waiting import wait_until

ZKCLI = os.path.join(BUILD_BIN, "zkcli")
pytestmark = pytest.mark.skipif(not os.access(ZKCLI, os.X_OK), reason="zkcli not built")

LEAVES = {  # name: (subject, serial, revoked)
    "server-good": ("/CN=localhost", 0x1001, False),
    "server-revoked": ("/CN=localhost-revoked", 0x1002, True),
    "client-good": ("/O=zkfs/CN=client-good", 0x1003, False),
    "client-revoked": ("/O=zkfs/CN=client-revoked", 0x1004, True),
    "client-fresh": ("/O=zkfs/CN=client-fresh", 0x1005, False),
    "m1": ("/CN=m1", 0x1011, False),
    "m2": ("/CN=m2", 0x1012, False),
    "m3": ("/CN=m3", 0x1013, True),
}


EC = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1")  # fast to make


def openssl(d, *args):
    subprocess.run(["openssl"] + list(args), cwd=d, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("ocsp-pki"))
    port = free_port()
    openssl(d, "req", "-x509", *EC, "-nodes", "-keyout", "ca.key", "-out",
            "ca.pem", "-days", "2", "-subj", "/CN=zk-ocsp-test-ca")
    with open(os.path.join(d, "responder.ext"), "w") as f:
        f.write("extendedKeyUsage=OCSPSigning\n")
    with open(os.path.join(d, "leaf.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                "authorityInfoAccess=OCSP;URI:http://127.0.0.1:%d/\n" % port)
    index = []
    for name, (subj, serial, revoked) in [("responder", ("/CN=zk-ocsp-responder", 0x100, False))] \
            + list(LEAVES.items()):
        openssl(d, "req", *EC, "-nodes", "-keyout", name + ".key", "-out",
                name + ".csr", "-subj", subj)
        openssl(d, "x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-set_serial", str(serial), "-out", name + ".pem", "-days", "2", "-extfile",
                "responder.ext" if name == "responder" else "leaf.ext")
        with open(os.path.join(d, name + "-store.pem"), "w") as out:  # Apache's PEM key store
            for part in (".pem", ".key"):
                out.write(open(os.path.join(d, name + part)).read())
        # openssl ca's index: status, expiry, revocation time, serial, file, subject.
        index.append("%s\t301231000000Z\t%s\t%04X\tunknown\t%s\n" % (
            "R" if revoked else "V", "240101000000Z,keyCompromise" if revoked else "", serial,
            subj))
    with open(os.path.join(d, "index.txt"), "w") as f:
        f.writelines(index)
    with open(os.path.join(d, "index.txt.attr"), "w") as f:
        f.write("unique_subject = no\n")
    return {"dir": d, "port": port}


class Responder:
    """`openssl ocsp` serving the index on the port the certificates name."""

    def __init__(self, pki):
        self.pki = pki
        self.proc = None

    def start(self):
        d = self.pki["dir"]
        # -nmin: answers carry nextUpdate (10 minutes on), which zkd caches them until.
        self.proc = subprocess.Popen(
            ["openssl", "ocsp", "-index", "index.txt", "-port", str(self.pki["port"]),
             "-rsigner", "responder.pem", "-rkey", "responder.key", "-CA", "ca.pem", "-nmin",
             "10", "-ignore_err"],
            cwd=d, stdout=subprocess.PIPE, stderr=open(os.path.join(d, "responder.log"), "a"),
            text=True, start_new_session=True)
        # It prints "ACCEPT [::]:PORT PID=..." once listening.  (Not a probe connection:
        # openssl's responder then waits on the probe's socket and answers nobody.)
        line = self.proc.stdout.readline()
        assert line.startswith("ACCEPT"), "openssl ocsp did not start: %r" % line

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # its own session: only its processes
            self.proc.wait(timeout=10)
        if self.proc:
            self.proc.stdout.close()
        self.proc = None


@pytest.fixture
def responder(pki):
    r = Responder(pki)
    r.start()
    try:
        yield r
    finally:
        r.stop()


def path(pki, name):
    return os.path.join(pki["dir"], name)


def ocsp_zkd(server_factory, pki, cert="server-good", **extra):
    port = free_port()
    cfg = {"secureClientPort": port, "ssl.keyStore.location": path(pki, cert + "-store.pem"),
           "ssl.trustStore.location": path(pki, "ca.pem"), "ssl.clientAuth": "need"}
    cfg.update(extra)
    srv = server_factory("zkd", cfg=cfg)
    srv.tls_port = port
    return srv


def zkcli(pki, port, client, *args, ocsp=False, flags=""):
    env = dict(os.environ, CLIENT_JVMFLAGS=flags)
    env.pop("JVMFLAGS", None)
    argv = [ZKCLI, "-s", "127.0.0.1:%d" % port, "-timeout", "2000", "--tls", "--cafile",
            path(pki, "ca.pem"), "--certfile", path(pki, client + ".pem"), "--keyfile",
            path(pki, client + ".key")] + (["--ocsp"] if ocsp else []) + list(args)
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)


def test_zkd_checks_client_certificates(server_factory, pki, responder):
    srv = ocsp_zkd(server_factory, pki, **{"ssl.ocsp": "true"})
    ok = zkcli(pki, srv.tls_port, "client-good", "ls", "/")
    assert ok.returncode == 0, ok.stderr
    bad = zkcli(pki, srv.tls_port, "client-revoked", "ls", "/")
    assert bad.returncode == 1, bad.stdout
    wait_until(lambda: "refusing certificate /O=zkfs/CN=client-revoked: revoked: responder "
                       "http://127.0.0.1:%d/ says revoked (reason: keyCompromise)" % pki["port"]
               in srv.log_tail(400), what="the revocation logged")
    # The same revoked certificate is accepted where ssl.ocsp is off: the check refused it.
    plain = ocsp_zkd(server_factory, pki)
    assert zkcli(pki, plain.tls_port, "client-revoked", "ls", "/").returncode == 0


def test_responder_down_refuses_unknown_and_keeps_cached_answers(server_factory, pki, responder):
    srv = ocsp_zkd(server_factory, pki, **{"ssl.ocsp": "true"})
    assert zkcli(pki, srv.tls_port, "client-good", "ls", "/").returncode == 0
    responder.stop()
    # Answered before, valid until its nextUpdate: no new request needed.
    again = zkcli(pki, srv.tls_port, "client-good", "ls", "/")
    assert again.returncode == 0, again.stderr
    # Never answered: status undetermined, no CRL to fall back on -> refused, as Java.
    fresh = zkcli(pki, srv.tls_port, "client-fresh", "ls", "/")
    assert fresh.returncode == 1
    wait_until(lambda: "refusing certificate /O=zkfs/CN=client-fresh: revocation status "
                       "undetermined: responder http://127.0.0.1:%d/ unreachable" % pki["port"]
               in srv.log_tail(400), what="the undetermined status logged")
    # Failures are not cached: with the responder back, the certificate is accepted.
    responder.start()
    back = zkcli(pki, srv.tls_port, "client-fresh", "ls", "/")
    assert back.returncode == 0, back.stderr


@pytest.mark.parametrize("how", ["option", "jvmflags"])
def test_libzk_checks_the_server_certificate(server_factory, pki, responder, how):
    revoked = ocsp_zkd(server_factory, pki, "server-revoked", **{"ssl.clientAuth": "none"})
    good = ocsp_zkd(server_factory, pki, "server-good", **{"ssl.clientAuth": "none"})
    kw = {"ocsp": True} if how == "option" else {"flags": "-Dzookeeper.ssl.ocsp=true"}
    # The revoked server's certificate names localhost, not 127.0.0.1's DNS name: only its
    # IP SAN is checked, as for the good one.
    p = zkcli(pki, good.tls_port, "client-good", "ls", "/", **kw)
    assert p.returncode == 0, p.stderr
    p = zkcli(pki, revoked.tls_port, "client-good", "ls", "/", **kw)
    assert p.returncode == 1
    assert "refusing certificate /CN=localhost-revoked: revoked" in p.stderr, p.stderr
    # Without the check, libzk connects to it.
    assert zkcli(pki, revoked.tls_port, "client-good", "ls", "/").returncode == 0


def test_members_with_revoked_certificates_cannot_join(tmp_path, pki, responder):
    if ensemble_missing_reason("zkd"):
        pytest.skip(ensemble_missing_reason("zkd"))
    ens = Ensemble(tmp_path, "zkd", participants=3)
    try:
        for sid in ens.sids:
            ens[sid].cfg.update({
                "sslQuorum": "true", "ssl.quorum.ocsp": "true",
                "ssl.quorum.keyStore.location": path(pki, "m%d-store.pem" % sid),
                "ssl.quorum.trustStore.location": path(pki, "ca.pem")})
            ens[sid].start(wait=False)
        ens.wait_serving([1, 2], timeout=60)
        c = KazooClient(hosts=ens.hosts_of([1, 2]), timeout=10)
        c.start(timeout=30)
        try:
            c.create("/ocsp-quorum", b"ok")
        finally:
            stop_kazoo(c)
        wait_until(lambda: "refusing certificate /CN=m3: revoked" in
                   ens[1].log_tail(400) + ens[2].log_tail(400), what="m3's certificate refused")
        assert ens.mode(3) is None
    finally:
        ens.close()


def test_responder_down_falls_back_to_the_trust_stores_crls(server_factory, pki, tmp_path):
    """Java's checker falls back to CRLs when OCSP gives no answer: with no responder running,
    a CRL in the trust store decides (the good certificate in, the revoked one out)."""
    d = pki["dir"]
    cnf = tmp_path / "ca.cnf"
    cnf.write_text("[ca]\ndefault_ca = CA_default\n[CA_default]\ndatabase = %s/index.txt\n"
                   "default_md = sha256\ndefault_crl_days = 1\n" % d)
    crl = str(tmp_path / "crl.pem")
    openssl(d, "ca", "-gencrl", "-config", str(cnf), "-keyfile", "ca.key", "-cert", "ca.pem",
            "-out", crl)
    trust = tmp_path / "ca-and-crl.pem"
    trust.write_text(open(path(pki, "ca.pem")).read() + open(crl).read())
    srv = ocsp_zkd(server_factory, pki, **{"ssl.ocsp": "true",
                                           "ssl.trustStore.location": str(trust)})
    ok = zkcli(pki, srv.tls_port, "client-good", "ls", "/")
    assert ok.returncode == 0, ok.stderr
    assert zkcli(pki, srv.tls_port, "client-revoked", "ls", "/").returncode == 1
    wait_until(lambda: "refusing certificate /O=zkfs/CN=client-revoked: revoked: responder "
                       "http://127.0.0.1:%d/ unreachable" % pki["port"] in srv.log_tail(400)
               and "a CRL in the trust store lists it" in srv.log_tail(400),
               what="the CRL's verdict logged")
