"""libzk against live servers, through the scenario driver build/bin/zk_client_test.

Each scenario (client/zk_client_test.c) checks its own outcomes and prints
"PASS <name>"; these tests run it against both servers (the `server`
fixture: Apache ZooKeeper as the reference, and zkd), and add what the
driver cannot do alone: restarting the server under a live session, a fake
server that refuses sessions as a lagging follower does, and TLS through a
TLS-terminating proxy with its own PKI.
"""
import os
import socket
import ssl
import struct
import subprocess
import threading
import time

import pytest

from tests.lib.paths import BUILD_BIN
from tests.lib.servers import free_port

DRIVER = os.path.join(BUILD_BIN, "zk_client_test")

pytestmark = pytest.mark.skipif(not os.access(DRIVER, os.X_OK),
                                reason="zk_client_test not built (cmake --build build --target zk_client_test)")


def run_driver(scenario, hosts, base, timeout=180, env=None):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([DRIVER, scenario, hosts, base], capture_output=True, text=True,
                       timeout=timeout, env=e)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out[-4000:]
    assert "PASS %s" % scenario in p.stdout, out[-4000:]
    return p.stdout


SCENARIOS = ["basic", "badargs", "modes", "pipeline", "watches", "multi", "chroot", "rearm",
             "loss", "expire", "blocking", "foreign"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_libzk_scenario(server, scenario):
    run_driver(scenario, server.hosts, "/libzk-" + scenario)


@pytest.mark.parametrize("kind", ["apache", "zkd"])
def test_libzk_survives_server_restart(server_factory, kazoo_client, kind):
    """The session is resumed after a restart and its watches re-armed (setWatches
    relative to the last zxid seen): changes made while the client was away fire."""
    srv = server_factory(kind)
    env = dict(os.environ, ZK_TEST_SESSION_TIMEOUT="30000")
    p = subprocess.Popen([DRIVER, "restart", srv.hosts, "/libzk-restart"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        lines = []
        for line in p.stdout:
            lines.append(line)
            if line.startswith("READY"):
                break
        assert lines and lines[-1].startswith("READY"), "".join(lines)
        path = lines[-1].split()[1]
        srv.restart()
        zk = kazoo_client(srv)
        zk.set(path, b"changed")
        zk.create(path + "/kid", b"")
        p.stdin.write("go\n")
        p.stdin.flush()
        rest, _ = p.communicate(timeout=90)
        out = "".join(lines) + rest
        assert p.returncode == 0, out
        assert "RESUMED" in out and "PASS restart" in out, out
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


class RefusingServer:
    """Accepts connections, records each ConnectRequest, and hangs up without
    answering: what a server whose zxid is behind the client's does."""

    def __init__(self):
        self.port = free_port()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(8)
        self.requests = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with c:
                c.settimeout(5)
                try:
                    data = b""
                    while len(data) < 4 + 28:
                        chunk = c.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                    if len(data) >= 4 + 28:
                        _, proto, zxid, timeout, sid = struct.unpack(">iiqiq", data[:28])
                        self.requests.append((proto, zxid, timeout, sid))
                except OSError:
                    pass

    def close(self):
        self.sock.close()


def test_libzk_moves_on_from_refusing_server(server):
    fake = RefusingServer()
    try:
        out = run_driver("failover", "%s,127.0.0.1:%d" % (server.hosts, fake.port), "/libzk-failover")
    finally:
        fake.close()
    words = [l for l in out.splitlines() if l.startswith("SID ")][0].split()
    sid, zxid = int(words[1]), int(words[3])
    assert fake.requests, out
    proto, last_zxid, timeout, req_sid = fake.requests[0]
    assert req_sid == sid  # it tried to resume our session...
    assert last_zxid >= zxid > 0  # ...announcing the last zxid it had seen
    assert timeout > 0


# --------------------------------------------------------------------------
# TLS
# --------------------------------------------------------------------------

def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("libzk-pki"))
    for ca in ("ca", "otherca"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca + ".key", "-out",
                ca + ".pem", "-days", "2", "-subj", "/CN=" + ca, cwd=d)
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, subj, ext in (("server", "/CN=localhost", True), ("client", "/O=zkfs/CN=client1", False)):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out", name + ".csr",
                "-subj", subj, cwd=d)
        extra = ["-extfile", "ext.cnf"] if ext else []
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", name + ".pem", "-days", "2", *extra, cwd=d)
    return d


class TlsProxy:
    """Terminates TLS (client certificate required) and relays to a plain server."""

    def __init__(self, pki, backend_port):
        self.backend = backend_port
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(os.path.join(pki, "server.pem"), os.path.join(pki, "server.key"))
        self.ctx.load_verify_locations(os.path.join(pki, "ca.pem"))
        self.ctx.verify_mode = ssl.CERT_REQUIRED
        self.port = free_port()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(8)
        self.peers = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                raw, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(raw,), daemon=True).start()

    def handle(self, raw):
        try:
            tls = self.ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()
            return
        self.peers.append(tls.getpeercert())
        back = socket.create_connection(("127.0.0.1", self.backend))

        def pump(a, b):
            try:
                while True:
                    d = a.recv(65536)
                    if not d:
                        break
                    b.sendall(d)
            except OSError:
                pass
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        t = threading.Thread(target=pump, args=(back, tls), daemon=True)
        t.start()
        pump(tls, back)
        t.join(5)
        tls.close()
        back.close()

    def close(self):
        self.sock.close()


@pytest.fixture
def tls_proxy(apache_zk, pki):
    proxy = TlsProxy(pki, apache_zk.port)
    yield proxy
    proxy.close()


def tls_env(pki, **kw):
    env = {"ZK_TEST_CA": os.path.join(pki, "ca.pem"),
           "ZK_TEST_CERT": os.path.join(pki, "client.pem"),
           "ZK_TEST_KEY": os.path.join(pki, "client.key")}
    env.update(kw)
    return {k: v for k, v in env.items() if v is not None}


def test_libzk_tls_with_client_cert(tls_proxy, pki):
    run_driver("tls", "127.0.0.1:%d" % tls_proxy.port, "/libzk-tls", env=tls_env(pki))
    assert tls_proxy.peers and ("commonName", "client1") in [x for r in tls_proxy.peers[0]["subject"] for x in r]


def test_libzk_tls_by_hostname(tls_proxy, pki):
    run_driver("tls", "localhost:%d" % tls_proxy.port, "/libzk-tls-name", env=tls_env(pki))


@pytest.mark.parametrize("case", ["wrong-ca", "wrong-name", "no-client-cert"])
def test_libzk_tls_refuses(tls_proxy, pki, case):
    kw = {"ZK_TEST_EXPECT_FAIL": "1"}
    if case == "wrong-ca":
        kw["ZK_TEST_CA"] = os.path.join(pki, "otherca.pem")
    elif case == "wrong-name":
        kw["ZK_TEST_SERVER_NAME"] = "zk.example.org"
    else:
        kw["ZK_TEST_CERT"] = None
        kw["ZK_TEST_KEY"] = None
    run_driver("tls", "127.0.0.1:%d" % tls_proxy.port, "/libzk-tls-bad", env=tls_env(pki, **kw))


def test_libzk_tls_zkd(server_factory, pki):
    """Against zkd's own TLS port (secureClientPort)."""
    port = free_port()
    srv = server_factory("zkd", cfg={
        "secureClientPort": port,
        "ssl.certFile": os.path.join(pki, "server.pem"),
        "ssl.keyFile": os.path.join(pki, "server.key"),
        "ssl.caFile": os.path.join(pki, "ca.pem"),
        "ssl.clientAuth": "want",
    })
    run_driver("tls", "127.0.0.1:%d" % port, "/libzk-tls-zkd", env=tls_env(pki))


@pytest.mark.parametrize("kind", ["apache", "zkd"])
def test_libzk_sasl_digest_md5(server_factory, tmp_path, kind):
    """SASL DIGEST-MD5 login (bob/bobsecret from the server's JAAS file): id
    sasl:bob, requests held until the login is done, login again after a
    reconnect, anonymous refused, a wrong password ends the session."""
    from tests.integration.test_tls_sasl import sasl_server
    srv = sasl_server(server_factory, kind, tmp_path)
    run_driver("sasl", srv.hosts, "/libzk-sasl")


def test_libzk_log_handler():
    """zk_set_log routes libzk's diagnostics: one line reaches the handler, none reaches stderr
    while a handler is installed; after zk_set_log(NULL) the default prints to stderr."""
    p = subprocess.run([DRIVER, "log", "127.0.0.1:1", "/unused"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0 and "PASS log" in p.stdout, p.stdout + p.stderr
    assert p.stderr.count("libzk: cannot load CA file /nonexistent/zk-ca.pem") == 1, p.stderr
