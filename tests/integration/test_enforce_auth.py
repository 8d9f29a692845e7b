"""Authentication enforcement, differential against Apache ZooKeeper 3.8.

Apache's AuthenticationHelper (3.7+): with enforce.auth.enabled=true and
enforce.auth.schemes=<list>, or sessionRequireClientSASLAuth=true (the list
"sasl"), every request but auth and sasl -- pings and closeSession included --
from a connection holding no identity of a listed scheme is answered
SESSIONCLOSEDREQUIRESASLAUTH (-124, zxid 0) and the connection is closed; the
session itself survives (a client may come back and authenticate).  A failed
SASL exchange is answered -124 instead of AUTHFAILED when SASL is required.
Enforcement with no schemes, or with a scheme that has no provider, stops the
server from starting.

Each scenario runs on Apache and on zkd over raw sockets (the exact codes and
the connection's fate) and through kazoo; the transcripts must be equal, and
the lines that make the feature are asserted too, so a server that enforces
nothing fails.
"""
import os
import subprocess

import pytest

kazoo = pytest.importorskip("kazoo")

import kazoo.exceptions as KE  # noqa: E402
from kazoo.client import KazooClient  # noqa: E402

from tests.conftest import stop_kazoo  # noqa: E402
from tests.integration.test_tls_sasl import JAAS, SASL_PROVIDER  # noqa: E402
from tests.lib import zkwire  # noqa: E402
from tests.lib.zkwire import WireSession, w_buf, w_int, w_str  # noqa: E402

REQUIRE_SASL = -124
AUTHFAILED = -115
OP_EXISTS, OP_PING, OP_CLOSE, OP_SASL, OP_AUTH = 3, 11, -11, 102, 100

# kazoo 2.8 has no class for -124; without one its reader thread dies on the reply.
if REQUIRE_SASL not in KE.EXCEPTIONS:
    KE._zookeeper_exception(REQUIRE_SASL)(
        type("SessionClosedRequireSaslError", (KE.ZookeeperError,), {}))


def request(ws, xid, op, body=b""):
    """Sends one raw request; returns (xid, whether its zxid is 0, err) of its reply and
    whether the server then closed the connection.  That is awaited, not timed: a
    ping follows, which both servers stop reading once they decided to close, so
    what comes back is either EOF (closed) or the ping's reply (open)."""
    ws._send(w_int(xid) + w_int(op) + body)
    r = zkwire.Reader(ws._recv())
    head = (r.int(), r.long() == 0, r.int())
    try:
        ws._send(w_int(-2) + w_int(OP_PING))
        ws.sock.settimeout(30)
        data = ws.sock.recv(4)
    except (zkwire.Lost, ConnectionResetError):
        data = b""
    ws.close_socket()
    return head, "closed" if not data else "open"


def exists_root(ws, xid=1):
    return request(ws, xid, OP_EXISTS, w_str("/") + b"\0")


def kazoo_exists(port, auth=None):
    zk = KazooClient(hosts="127.0.0.1:%d" % port, timeout=10.0, auth_data=auth,
                     connection_retry={"max_tries": 0})
    zk.start(timeout=30)
    try:
        zk.exists("/")
        return "ok"
    except KE.ZookeeperError as e:
        return "error %d" % e.code
    finally:
        stop_kazoo(zk)


def digest_transcript(port):
    out = []
    a = WireSession(port)
    out.append(("unauthenticated exists", exists_root(a)))
    b = WireSession(port, timeout_ms=a.timeout, session_id=a.session_id, passwd=a.passwd)
    out.append(("same session resumes", not b.expired))
    b.add_auth("digest", b"u:p")
    out.append(("after addAuth digest", exists_root(b, 2)))
    c = WireSession(port)
    out.append(("unauthenticated ping", request(c, -2, OP_PING)))
    c = WireSession(port)
    out.append(("unauthenticated closeSession", request(c, 1, OP_CLOSE)))
    c = WireSession(port)
    out.append(("addAuth of an unknown scheme",
                request(c, -4, OP_AUTH, w_int(0) + w_str("nosuch") + w_buf(b"x"))))
    out.append(("kazoo without auth", kazoo_exists(port)))
    out.append(("kazoo with digest", kazoo_exists(port, [("digest", "u:p")])))
    return out


def test_enforce_auth_digest_matches_apache(server_factory):
    cfg = {"enforce.auth.enabled": "true", "enforce.auth.schemes": " digest , sasl",
           "authProvider.1": SASL_PROVIDER}
    transcripts = {}
    for kind in ("apache", "zkd"):
        srv = server_factory(kind, cfg=cfg)
        transcripts[kind] = digest_transcript(srv.port)
        srv.stop()
    assert transcripts["zkd"] == transcripts["apache"]
    t = dict(transcripts["zkd"])
    assert t["unauthenticated exists"] == ((1, True, REQUIRE_SASL), "closed")
    assert t["after addAuth digest"] == ((2, False, 0), "open")
    assert t["unauthenticated ping"] == ((-2, True, REQUIRE_SASL), "closed")
    assert t["unauthenticated closeSession"] == ((1, True, REQUIRE_SASL), "closed")
    assert t["addAuth of an unknown scheme"] == ((-4, True, AUTHFAILED), "closed")
    assert t["same session resumes"] is True
    assert t["kazoo without auth"] == "error %d" % REQUIRE_SASL
    assert t["kazoo with digest"] == "ok"


def test_enforce_auth_ip_lets_everyone_in(server_factory):
    """Every connection has its ip identity, so enforcing "ip" refuses nobody."""
    srv = server_factory("zkd", cfg={"enforce.auth.enabled": "true",
                                     "enforce.auth.schemes": "ip"})
    ws = WireSession(srv.port)
    assert exists_root(ws)[0][2] == 0
    assert kazoo_exists(srv.port) == "ok"


def sasl_required_server(server_factory, kind, tmp_path):
    jaas = tmp_path / ("jaas-%s.conf" % kind)
    jaas.write_text(JAAS)
    flag = "-Djava.security.auth.login.config=%s" % jaas
    srv = server_factory(kind, start=False, cfg={"authProvider.1": SASL_PROVIDER,
                                                 "sessionRequireClientSASLAuth": "true"},
                         env={"SERVER_JVMFLAGS": flag})
    return srv.start()


def sasl_transcript(port):
    out = []
    out.append(("unauthenticated exists", exists_root(WireSession(port))))
    ws = WireSession(port)
    ws._send(w_int(1) + w_int(OP_SASL) + w_buf(b""))  # DIGEST-MD5: the server speaks first
    r = zkwire.Reader(ws._recv())
    out.append(("sasl challenge", (r.int(), r.long() >= 0, r.int())))
    out.append(("sasl garbage response", request(ws, 2, OP_SASL, w_buf(b"not a digest response"))))
    out.append(("digest does not count", request(
        WireSession(port), -4, OP_AUTH, w_int(0) + w_str("digest") + w_buf(b"u:p"))[0]))
    zk = KazooClient(hosts="127.0.0.1:%d" % port, timeout=10.0,
                     sasl_options={"mechanism": "DIGEST-MD5", "username": "bob",
                                   "password": "bobsecret"})
    zk.start(timeout=30)
    try:
        out.append(("kazoo with SASL", zk.exists("/") is not None))
    finally:
        stop_kazoo(zk)
    return out


def test_session_require_sasl_matches_apache(server_factory, tmp_path):
    transcripts = {}
    for kind in ("apache", "zkd"):
        srv = sasl_required_server(server_factory, kind, tmp_path)
        transcripts[kind] = sasl_transcript(srv.port)
        srv.stop()
    assert transcripts["zkd"] == transcripts["apache"]
    t = dict(transcripts["zkd"])
    assert t["unauthenticated exists"] == ((1, True, REQUIRE_SASL), "closed")
    assert t["sasl garbage response"] == ((2, True, REQUIRE_SASL), "closed")
    assert t["digest does not count"] == (-4, True, 0)
    assert t["kazoo with SASL"] is True


# -- start-up refusals ---------------------------------------------------------

BUILD_BIN = os.path.join(os.environ.get("ZK_BUILD_DIR", "build"), "bin")


def zkd_check(tmp_path, extra):
    cfg = tmp_path / "zoo.cfg"
    cfg.write_text("dataDir=%s\nclientPort=2181\n%s" % (tmp_path, extra))
    return subprocess.run([os.path.join(BUILD_BIN, "zkd"), "--check", str(cfg)],
                          capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("extra, words", [
    ("enforce.auth.enabled=true\n", "enforce.auth.schemes must name"),
    ("enforce.auth.enabled=true\nenforce.auth.schemes=digest,kerberos\n", "'kerberos'"),
    ("enforce.auth.enabled=true\nenforce.auth.schemes=sasl\n", "'sasl' is not available"),
    ("enforce.auth.enabled=true\nenforce.auth.schemes=digest\n"
     "DigestAuthenticationProvider.enabled=false\n", "'digest' is not available"),
    ("sessionRequireClientSASLAuth=true\n", "sessionRequireClientSASLAuth"),
])
def test_enforcement_without_a_provider_refuses_start(tmp_path, extra, words):
    res = zkd_check(tmp_path, extra)
    assert res.returncode != 0
    assert words in res.stderr + res.stdout


def test_enforcement_settings_are_reported(tmp_path):
    res = zkd_check(tmp_path, "enforce.auth.enabled=true\nenforce.auth.schemes=digest, x509\n")
    assert res.returncode == 0, res.stderr
    assert "enforce.auth.enabled=true\nenforce.auth.schemes=digest,x509\n" in res.stdout
    flags = zkd_check(tmp_path, "")
    assert "enforce.auth.enabled=false\n" in flags.stdout


def test_apache_too_refuses_sasl_enforcement_without_provider(server_factory):
    srv = server_factory("apache", start=False, cfg={"sessionRequireClientSASLAuth": "true"})
    with pytest.raises(Exception):
        srv.start(timeout=60)
    assert not srv.running
    assert "sasl is not available" in srv.log_tail(200)
