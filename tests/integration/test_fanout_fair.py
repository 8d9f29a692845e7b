"""Watch fan-out spread over loop turns (issue 20, server/flush.h): a change watched by many
connections is written a share of notifyWritesPerTurn connections per loop turn, requests of
other connections answered between shares, and without losing ZooKeeper's order on a connection
(an event before the reply to any request its client sent after the change).

Counts only, no clock: the server is paused (SIGSTOP) to queue requests at known points, and the
fairness test reads the number of connections still waiting for their notification from `mntr`,
answered in-band between two shares.  Cost: a few seconds (Apache's start for the order test).
"""
import os
import select
import signal
import socket
import time

import pytest

from tests.lib.rawzk import RawSession, Reader, i32, zbuf, zstr

GETDATA, SETDATA, CHANGED = 4, 5, 3


def _all_threads_stopped(pid):
    """Whether every thread of `pid` is stopped (SIGSTOP takes effect asynchronously)."""
    def state(tid):
        with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    return all(state(t) == "T" for t in os.listdir("/proc/%d/task" % pid))


def _stop(pid):
    os.kill(pid, signal.SIGSTOP)
    while not _all_threads_stopped(pid):
        time.sleep(0.001)  # a signal's delivery, no timing assumed


def _server_rx_queue(port, client_port):
    """Bytes waiting unread in the server's socket of the connection from 127.0.0.1:client_port
    (/proc/net/tcp, or tcp6 for a server on an IPv6 socket as Apache's; a connection not yet
    accepted is listed too), or None."""
    want = (":%04X" % port, ":%04X" % client_port)
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(name) as f:
            for line in f.readlines()[1:]:
                col = line.split()
                if col[1].endswith(want[0]) and col[2].endswith(want[1]) and \
                        col[2].split(":")[0].endswith("0100007F"):
                    return int(col[4].split(":")[1], 16)
    return None


def _send_while_stopped(port, sock, data):
    """Sends `data` on `sock` (the server is stopped) and waits until the server's socket holds
    it, so the server finds it ready the moment it runs."""
    sock.sendall(data)
    cport = sock.getsockname()[1]
    while _server_rx_queue(port, cport) != len(data):
        time.sleep(0.001)  # the loopback delivers it in a moment


def _request(xid, op, body):
    req = i32(xid) + i32(op) + body
    return i32(len(req)) + req


def _frame(sess):
    """(xid, zxid, err, Reader) of the next frame on a RawSession."""
    r = Reader(sess._recv())
    return r.int(), r.long(), r.int(), r


def _readable(socks, timeout_ms=0):
    """The sockets with bytes to read (waiting up to timeout_ms for one)."""
    p = select.poll()
    by_fd = {s.fileno(): s for s in socks}
    for fd in by_fd:
        p.register(fd, select.POLLIN)
    return [by_fd[fd] for fd, _ev in p.poll(timeout_ms)]


def _arm(watchers):
    for w in watchers:
        assert w.exists("/fan", watch=True) == 0


def _expect_one_event(watchers, rnd):
    """Every watcher got exactly one NodeDataChanged for /fan: one event read, then a round trip
    (exists, no watch) brings no second one (zkd and Apache queue an event before any reply that
    follows it)."""
    for w in watchers:
        w.events = []
        assert w.wait_event() == (CHANGED, 3, "/fan"), rnd
        assert w.exists("/fan") == 0
        assert w.events == [], (rnd, w.events)


@pytest.mark.parametrize("kind", ["zkd", "apache"])
def test_event_before_the_reply_to_a_later_read(kind, server_factory):
    """A watcher's read that shows the change is answered after the watcher's event, though zkd
    writes the other watchers' events a share per turn (notifyWritesPerTurn=1: the watcher's event
    would be far down the queue); a connection that is itself the writer sees its event, then its
    setData's reply, then its next read's (Apache: the same).  All watchers notified once."""
    cfg = {"notifyWritesPerTurn": "1"} if kind == "zkd" else {}
    cfg["maxClientCnxns"] = "0"
    srv = server_factory(kind, cfg=cfg)
    setter = RawSession(srv.port)
    assert setter.create("/fan", b"0")[0] == 0
    assert setter.create("/other", b"o")[0] == 0
    watchers = [RawSession(srv.port) for _ in range(40)]
    target = watchers[len(watchers) // 2]
    _arm(watchers)

    # 1. setData by another client, then the target's getData of the node, both found ready
    # at once.  A reply that shows the new data must come after the event; Apache may answer
    # the read before the write has gone through its pipeline (old data, then the event); zkd
    # takes them in the order they became ready, so its reply shows the new data.
    _stop(srv.pid)
    try:
        _send_while_stopped(srv.port, setter.sock,
                            _request(100, SETDATA, zstr("/fan") + zbuf(b"1") + i32(-1)))
        _send_while_stopped(srv.port, target.sock, _request(200, GETDATA, zstr("/fan") + b"\0"))
    finally:
        os.kill(srv.pid, signal.SIGCONT)
    xid, _z, err, _r = _frame(setter)
    assert (xid, err) == (100, 0)
    frames = []
    while len(frames) < 2:
        xid, _z, err, r = _frame(target)
        assert err == 0
        frames.append((xid, r.buf()) if xid == 200 else (xid, r.int(), r.int(), r.str()))
    assert sorted(f[0] for f in frames) == [-1, 200], frames
    assert (-1, CHANGED, 3, "/fan") in frames, frames
    data = [f[1] for f in frames if f[0] == 200][0]
    if data == b"1":
        assert frames[0][0] == -1, frames  # the new data only after the event
    assert data == b"1" or kind == "apache", frames
    _expect_one_event([w for w in watchers if w is not target], 1)

    # 2. The writer is a watcher too, and pipelines its next read behind the write.
    _arm(watchers)
    target.sock.sendall(_request(300, SETDATA, zstr("/fan") + zbuf(b"2") + i32(-1)) +
                        _request(301, GETDATA, zstr("/fan") + b"\0"))
    xid, _z, err, r = _frame(target)
    assert (xid, err) == (-1, 0)
    assert (r.int(), r.int(), r.str()) == (CHANGED, 3, "/fan")
    assert _frame(target)[0:3:2] == (300, 0)
    xid, _z, err, r = _frame(target)
    assert (xid, err, r.buf()) == (301, 0, b"2")
    _expect_one_event([w for w in watchers if w is not target], 2)
    for s in watchers + [setter]:
        s.close_session()


N = 400
SHARE = 2


def _mntr_while_stopped(srv):
    """Connects and sends `mntr` while the server is stopped; returns the socket."""
    m = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    _send_while_stopped(srv.port, m, b"mntr")
    return m


def _read_all(sock):
    out = b""
    while True:
        b = sock.recv(65536)
        if not b:
            return out.decode()
        out += b


def _fan_out_caught_midway(srv, setter, watchers, reader, rnd):
    """One setData; the server is stopped once the first event has arrived; a reader's getData and
    a `mntr` are queued; then it runs.  Returns (events written when stopped, connections still
    queued when mntr was answered, whether the reader's reply had arrived by then, events
    arrived by then)."""
    socks = [w.sock for w in watchers]
    setter.sock.sendall(_request(rnd, SETDATA, zstr("/fan") + zbuf(b"%d" % rnd) + i32(-1)))
    while not _readable(socks, 1000):
        pass  # the first event: the fan-out has begun
    _stop(srv.pid)
    try:
        written = len(_readable(socks))
        _send_while_stopped(srv.port, reader.sock, _request(rnd, GETDATA, zstr("/fan") + b"\0"))
        m = _mntr_while_stopped(srv)
    finally:
        os.kill(srv.pid, signal.SIGCONT)
    mntr = dict(line.split("\t", 1) for line in _read_all(m).splitlines() if "\t" in line)
    m.close()
    answered = bool(_readable([reader.sock]))
    after = len(_readable(socks))
    assert _frame(setter)[0:3:2] == (rnd, 0)
    assert _frame(reader)[0:3:2] == (rnd, 0)
    _expect_one_event(watchers, rnd)
    _arm(watchers)
    return written, int(mntr["zk_notify_queued_connections"]), answered, after


@pytest.mark.parametrize("share", [SHARE, 0], ids=["shares", "no-cap"])
def test_other_connections_are_answered_between_shares(share, server_factory):
    """N watchers; once the fan-out has begun the server is stopped and a reader's getData and a
    `mntr` are queued.  With shares of 2 connections per turn both are answered a few turns
    later: mntr, handled at most 3 shares (6 writes) after the stop, still counts the connections
    not yet written (N - written - 6 or more), and the reader's reply came before mntr's answer.
    With no cap (notifyWritesPerTurn=0, the behaviour before flush.h) every event is written in
    the turn that found them released, before either request is read: mntr counts 0 queued and
    all N events had arrived with its answer.  Every watcher notified exactly once, each round.
    (zkd before flush.h fails the first: it has no notifyWritesPerTurn nor the mntr key.)"""
    srv = server_factory("zkd", cfg={"notifyWritesPerTurn": str(share), "maxClientCnxns": "0"})
    setter, reader = RawSession(srv.port), RawSession(srv.port)
    assert setter.create("/fan", b"0")[0] == 0
    watchers = [RawSession(srv.port, timeout_ms=30000) for _ in range(N)]
    _arm(watchers)
    for rnd in range(1, 6):
        got = _fan_out_caught_midway(srv, setter, watchers, reader, rnd)
        if not share or got[0] < N - 4 * share:
            break  # (a stop that came too late, on a loaded machine, is tried again)
    written, queued, answered, after = got
    assert answered
    if share:
        assert queued >= N - written - 3 * share > 0, got
    else:
        assert (queued, after) == (0, N), got
    for s in watchers + [setter, reader]:
        s.close_session()


EXISTS = 3
BURST = 400


def _send_all_while_stopped(port, pairs):
    """Sends each (socket, bytes) while the server is stopped, then waits until the server's
    sockets hold them all (one scan of /proc/net/tcp per try), so it finds every one ready at
    once, in the order sent, the moment it runs."""
    for sock, data in pairs:
        sock.sendall(data)
    want = {":%04X" % sock.getsockname()[1]: len(data) for sock, data in pairs}
    local = ":%04X" % port
    while True:
        held = {}
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                col = line.split()
                if col[1].endswith(local) and col[2][-5:] in want:
                    held[col[2][-5:]] = int(col[4].split(":")[1], 16)
        if held == want:
            return
        time.sleep(0.001)  # the loopback delivers them in a moment


def _burst_then_a_write(srv, burst, prober, rnd):
    """Every burst connection's exists /fan is queued while the server is stopped; once the first
    reply has arrived the server is stopped again, the replies arrived so far counted (written),
    and the prober's setData of /fan queued.  Returns (written, how many exists replies show
    the new version: handled after the prober's write)."""
    socks = [b.sock for b in burst]
    _stop(srv.pid)
    try:
        _send_all_while_stopped(srv.port, [(s, _request(rnd, EXISTS, zstr("/fan") + b"\0"))
                                           for s in socks])
    finally:
        os.kill(srv.pid, signal.SIGCONT)
    while not _readable(socks, 1000):
        pass  # the burst is being answered
    _stop(srv.pid)
    try:
        written = len(_readable(socks))
        _send_while_stopped(srv.port, prober.sock,
                            _request(rnd, SETDATA, zstr("/fan") + zbuf(b"%d" % rnd) + i32(-1)))
    finally:
        os.kill(srv.pid, signal.SIGCONT)
    assert _frame(prober)[0:3:2] == (rnd, 0)
    later = 0
    for b in burst:
        xid, _z, err, r = _frame(b)
        assert (xid, err) == (rnd, 0)
        later += r.stat()["version"] == rnd  # (the prober's setData is the rnd-th)
    return written, later


@pytest.mark.parametrize("cap", [1, 0], ids=["cap", "no-cap"])
def test_a_request_after_a_burst_is_not_queued_behind_it(cap, server_factory):
    """BURST connections send one exists each at once (as 19,000 watchers re-arming after an
    event); once the server has begun answering them (first reply arrived), it is stopped and
    another connection's setData is queued.  With requestsPerLoopTurn=1 the server took one
    request of the burst per phase and left the rest in its backlog, so the setData, read by a
    later poll, is handled before the rest: all but the few exists handled by the stop (written,
    +1 handled but not yet written, +1 of the backlog's phase in the turn that reads the setData)
    show the new version.  With no cap (requestsPerLoopTurn=0, the behaviour before) the poll
    that read the burst handled all of it, and no reply shows the new version."""
    srv = server_factory("zkd", cfg={"requestsPerLoopTurn": str(cap), "maxClientCnxns": "0"})
    prober = RawSession(srv.port)
    assert prober.create("/fan", b"0")[0] == 0
    burst = [RawSession(srv.port, timeout_ms=30000) for _ in range(BURST)]
    for rnd in range(1, 6):
        written, later = _burst_then_a_write(srv, burst, prober, rnd)
        if not cap or written < BURST - 10:
            break  # (a stop that came too late, on a loaded machine, is tried again)
    if cap:
        assert later >= BURST - written - 2 > 0, (written, later)
    else:
        assert later == 0, (written, later)
    for s in burst + [prober]:
        s.close_session()


def _listen_backlog(port):
    """The listen() backlog of the socket listening on `port` (ss: Send-Q of a LISTEN socket)."""
    import subprocess
    out = subprocess.run(["ss", "-Hltn", "sport = :%d" % port], capture_output=True, text=True,
                         check=True).stdout.split()
    return int(out[2])


@pytest.mark.parametrize("cfg", [None, "50"], ids=["default", "set"])
def test_client_port_listen_backlog(cfg, server_factory):
    """clientPortListenBacklog (Apache's key) is the client port's listen() backlog; unset, zkd
    asks for 65,535 and gets net.core.somaxconn (zkd asked for 1,024 before: a burst of
    connections overflowed it while the loop was busy)."""
    srv = server_factory("zkd", cfg={"clientPortListenBacklog": cfg} if cfg else {})
    with open("/proc/sys/net/core/somaxconn") as f:
        somaxconn = int(f.read())
    assert _listen_backlog(srv.port) == (int(cfg) if cfg else min(65535, somaxconn))
