"""Session rules, run against Apache ZooKeeper and zkd with the outcomes compared.

Each scenario returns a transcript of (step, outcome) pairs with session ids
and zxids left out; zkd's must equal Apache's.  A short tickTime makes expiry
fast (sessions may last 2 ticks); waits are on events, never on sleeps.
"""
import struct
import time

import pytest

from tests.lib.rawzk import RawSession, i32, i64, strings, zbuf, zstr

FAST = {"tickTime": 250}


def expire_by_silence(srv, session, observer, path):
    """Stops pinging `session`; returns once `observer` sees `path` deleted."""
    assert observer.exists(path, watch=True) == 0
    ev = observer.wait_event()
    return ev


def scenario_expiry(srv):
    out = []
    a = RawSession(srv.port, timeout_ms=500)
    out.append(("negotiated timeout", a.timeout))
    out.append(("create ephemeral", a.create("/eph-exp", flags=1)))
    watcher = RawSession(srv.port, timeout_ms=20000)
    # `a` goes silent: no pings. The watcher learns of the expiry through its watch.
    out.append(("watch event", expire_by_silence(srv, a, watcher, "/eph-exp")))
    out.append(("ephemeral gone", watcher.exists("/eph-exp")))
    # Resuming the expired session is refused with timeout 0 and session 0.
    b = RawSession(srv.port, timeout_ms=500, session_id=a.session_id, passwd=a.passwd)
    out.append(("resume expired", (b.timeout, b.session_id)))
    watcher.close_session()
    return out


def scenario_resume(srv):
    out = []
    a = RawSession(srv.port, timeout_ms=10000)
    out.append(("create ephemeral", a.create("/eph-res", flags=1)))
    a.close_socket()  # connection lost, session alive
    # A wrong password is refused like an expired session.  (Apache also drops
    # the session's live connection on such an attempt; zkd deliberately does
    # not, so that knowing a session id is not enough to disturb it.)
    bad = RawSession(srv.port, timeout_ms=10000, session_id=a.session_id, passwd=b"x" * 16)
    out.append(("wrong password", (bad.timeout, bad.session_id)))
    b = RawSession(srv.port, timeout_ms=10000, session_id=a.session_id, passwd=a.passwd,
                   last_zxid=a.last_zxid)
    out.append(("same session", b.session_id == a.session_id))
    out.append(("same password", b.passwd == a.passwd))
    out.append(("ephemeral still there", b.exists("/eph-res")))
    out.append(("close session", b.close_session()))
    c = RawSession(srv.port)
    out.append(("ephemeral gone after close", c.exists("/eph-res")))
    c.close_session()
    return out


def scenario_timeouts(srv):
    out = []
    for asked in (1, 600, 4000, 10 ** 9):
        s = RawSession(srv.port, timeout_ms=asked)
        out.append(("asked %d" % asked, s.timeout))
        s.close_session()
    return out


def scenario_set_watches(srv):
    out = []
    a = RawSession(srv.port, timeout_ms=10000)
    a.create("/sw", b"v0")
    a.create("/sw-gone", b"")
    seen = a.last_zxid
    a.close_socket()
    b = RawSession(srv.port)
    b.set("/sw", b"v1")
    b.call("delete", zstr("/sw-gone") + i32(-1))
    b.create("/sw-new", b"")
    # Re-arm on a new connection with the old zxid: missed changes fire at once.
    a2 = RawSession(srv.port, timeout_ms=10000, session_id=a.session_id, passwd=a.passwd,
                    last_zxid=b.last_zxid)
    body = i64(seen) + strings(["/sw", "/sw-gone"]) + strings(["/sw-new", "/sw-absent"]) + strings(["/sw"])
    err, _ = a2.call("setWatches", body, xid=-8)
    out.append(("setWatches", err))
    a2.exists("/")  # a round trip: every event of setWatches is in before its reply
    out.append(("events", sorted(a2.events)))
    a2.events.clear()
    b.set("/sw-absent", b"x")  # not there: an exist watch stays armed
    b.create("/sw-absent", b"")
    out.append(("armed exist watch fires", a2.wait_event()))
    a2.close_session()
    b.close_session()
    return out


def scenario_ephemerals_and_counts(srv):
    out = []
    a = RawSession(srv.port)
    a.create("/ec", b"")
    a.create("/ec/x", b"")
    a.create("/ec/x/y", b"")
    a.create("/ec/e1", b"", flags=1)
    a.create("/ec/x/e2", b"", flags=1)
    err, r = a.call("getEphemerals", zstr("/ec/x"))
    out.append(("getEphemerals /ec/x", err, sorted(r.strings()) if err == 0 else None))
    err, r = a.call("getEphemerals", zstr("/"))
    out.append(("getEphemerals /", err, sorted(r.strings()) if err == 0 else None))
    err, r = a.call("getAllChildrenNumber", zstr("/ec"))
    out.append(("getAllChildrenNumber /ec", err, r.int() if err == 0 else None))
    err, r = a.call("getAllChildrenNumber", zstr("/nope"))
    out.append(("getAllChildrenNumber missing", err))
    a.close_session()
    return out


def scenario_super_digest(srv):
    out = []
    a = RawSession(srv.port)
    a.call("auth", i32(0) + zstr("digest") + zbuf(b"alice:pw"))
    out.append(("create private", a.create("/private", b"s", acl=[(31, "auth", "")])))
    b = RawSession(srv.port)
    out.append(("stranger read", b.get("/private")[0]))
    b.call("auth", i32(0) + zstr("digest") + zbuf(b"super:secret"))
    out.append(("super read", b.get("/private")))
    a.close_session()
    b.close_session()
    return out


SCENARIOS = {
    "expiry": (scenario_expiry, FAST),
    "resume": (scenario_resume, {}),
    "timeouts": (scenario_timeouts, {"tickTime": 300, "maxSessionTimeout": 9000}),
    "set_watches": (scenario_set_watches, {}),
    "ephemerals_and_counts": (scenario_ephemerals_and_counts, {}),
    # super:secret; the same line works for Apache, which turns unknown keys into
    # zookeeper.* system properties.
    "super_digest": (scenario_super_digest,
                     {"DigestAuthenticationProvider.superDigest": "super:lK75jTNcA+U9vtVEw5vB51mj/w4="}),
}

_apache_results = {}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_session_rules_match_apache(server_factory, name):
    fn, cfg = SCENARIOS[name]
    if name not in _apache_results:
        _apache_results[name] = fn(server_factory("apache", cfg=cfg))
    ours = fn(server_factory("zkd", cfg=cfg))
    assert ours == _apache_results[name]
