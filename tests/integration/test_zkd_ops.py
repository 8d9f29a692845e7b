"""Operational behaviour of zkd: connection limits, four-letter-word whitelist, clean shutdown."""
import os
import signal
import socket
import time

from kazoo.client import KazooClient

from tests.conftest import stop_kazoo
from tests.lib.rawzk import RawSession
from tests.lib.servers import four_letter


def test_max_client_cnxns_per_ip(server_factory):
    srv = server_factory("zkd", cfg={"maxClientCnxns": 3})
    sessions = [RawSession(srv.port) for _ in range(3)]
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.settimeout(10)
    assert s.recv(1) == b""  # the fourth connection from this address is closed at once
    sessions[0].close_session()
    again = RawSession(srv.port)  # a slot is free again
    assert again.session_id != 0
    for x in sessions[1:] + [again]:
        x.close_session()


def test_four_letter_whitelist(server_factory):
    srv = server_factory("zkd", cfg={"4lw.commands.whitelist": "ruok, mntr"})
    assert four_letter(srv.port, "ruok") == "imok"
    assert "zk_znode_count" in four_letter(srv.port, "mntr")
    assert four_letter(srv.port, "dump") == "dump is not executed because it is not in the whitelist.\n"
    # srvr is always allowed, as in Apache.
    assert "Zookeeper version: 3.8" in four_letter(srv.port, "srvr")


def test_sigterm_answers_and_persists_everything(server_factory):
    srv = server_factory("zkd")
    zk = KazooClient(hosts=srv.hosts, timeout=10.0)
    zk.start(timeout=15)
    pending = [zk.create_async("/t%04d" % i, b"x") for i in range(2000)]
    srv.kill(signal.SIGTERM)
    acked = 0
    for a in pending:
        try:
            a.get(timeout=30)
            acked += 1
        except Exception:
            pass
    stop_kazoo(zk)
    assert srv.returncodes[-1] == 0, srv.log_tail()
    srv.start()
    zk = KazooClient(hosts=srv.hosts, timeout=10.0)
    zk.start(timeout=15)
    present = len([c for c in zk.get_children("/") if c.startswith("t")])
    stop_kazoo(zk)
    assert present >= acked > 0


def test_config_errors_name_the_line(tmp_path):
    from tests.lib.paths import BUILD_BIN
    import subprocess
    cfg = tmp_path / "zoo.cfg"
    cfg.write_text("tickTime=2000\ndataDir=%s\nclientPort=2181\ntickTyme=5\n" % tmp_path)
    p = subprocess.run([BUILD_BIN + "/zkd", str(cfg)], capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert "%s:4: unknown key 'tickTyme'" % cfg in p.stderr
    cfg.write_text("tickTime=abc\ndataDir=%s\nclientPort=2181\n" % tmp_path)
    p = subprocess.run([BUILD_BIN + "/zkd", str(cfg)], capture_output=True, text=True, timeout=30)
    assert p.returncode != 0 and "%s:1:" % cfg in p.stderr and "tickTime" in p.stderr
    p = subprocess.run([BUILD_BIN + "/zkd", "--help"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and "usage: zkd CONFIG" in p.stdout


def _flood_creates(srv, n):
    """Sends n create requests in one write, then reads the n replies: the
    server gets far more requests at once than it may have in flight."""
    from tests.lib.rawzk import OPEN_ACL, Reader, acls, i32, zbuf, zstr
    s = RawSession(srv.port, timeout_ms=30000)
    body = b""
    for i in range(1, n + 1):
        req = i32(i) + i32(1) + zstr("/flood-%d" % i) + zbuf(b"x" * 20) + acls(OPEN_ACL) + i32(0)
        body += i32(len(req)) + req
    s.sock.sendall(body)
    for i in range(1, n + 1):
        r = Reader(s._recv())
        assert (r.int(), r.long() > 0, r.int()) == (i, True, 0)
    s.close_session()


def test_global_outstanding_limit_stops_reading_until_the_log_catches_up(server_factory):
    """globalOutstandingLimit is Apache's throttle: with that many writes waiting
    for the disk, zkd reads no more requests until they are durable, so replies
    (and pings) keep flowing under a flood instead of waiting for the whole
    flood to be taken in; FIFO order and every reply are kept."""
    srv = server_factory("zkd", cfg={"globalOutstandingLimit": "10"})
    _flood_creates(srv, 3000)
    assert srv.mntr_int("zk_throttled_connections") > 0
    assert srv.mntr_int("zk_znode_count") == 4 + 3000

    roomy = server_factory("zkd")  # default 1000: 500 in flight never reach it
    _flood_creates(roomy, 500)
    assert roomy.mntr_int("zk_throttled_connections") == 0


def _server_rx_queue(port, client_port):
    """Bytes waiting unread in the server's socket of the connection from
    127.0.0.1:client_port (/proc/net/tcp), or None if it is not listed."""
    want = ("0100007F:%04X" % port, "0100007F:%04X" % client_port)
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            col = line.split()
            if (col[1], col[2]) == want:
                return int(col[4].split(":")[1], 16)
    return None


def _queue_while_stopped(srv, sends):
    """Stops zkd, sends each (RawSession, bytes) in order and waits until the
    server's socket holds them all, then lets zkd run: it finds every byte
    ready at once, its sockets ready in the order they were sent to."""
    os.kill(srv.pid, signal.SIGSTOP)
    try:
        for sess, data in sends:
            sess.sock.sendall(data)
            cport = sess.sock.getsockname()[1]
            while _server_rx_queue(srv.port, cport) != len(data):
                time.sleep(0.001)  # the loopback delivers it in a moment
    finally:
        os.kill(srv.pid, signal.SIGCONT)


def _writer_and_reader(srv, n):
    """n pipelined creates on one connection, then one getData on another, all
    queued before zkd looks at either.  Returns (the zxid the getData saw,
    the zxid of the writer's last create)."""
    from tests.lib.rawzk import OPEN_ACL, Reader, acls, i32, zbuf, zstr
    w, r = RawSession(srv.port), RawSession(srv.port)
    body = b""
    for i in range(1, n + 1):
        req = i32(i) + i32(1) + zstr("/fair-%d" % i) + zbuf(b"") + acls(OPEN_ACL) + i32(0)
        body += i32(len(req)) + req
    get = i32(1) + i32(4) + zstr("/") + b"\0"
    _queue_while_stopped(srv, [(w, body), (r, i32(len(get)) + get)])
    rep = Reader(r._recv())
    xid, seen, err = rep.int(), rep.long(), rep.int()
    assert (xid, err) == (1, 0)
    for i in range(1, n + 1):
        rep = Reader(w._recv())
        xid, last, err = rep.int(), rep.long(), rep.int()
        assert (xid, err) == (i, 0)  # every create answered, in order
    w.close_session()
    r.close_session()
    return seen, last


def test_a_pipelined_writer_does_not_starve_another_connection(server_factory):
    """requestsPerTurn: one connection's pipelined requests are taken a share
    per loop turn, so another connection's request, ready at the same moment,
    is answered after at most a share of them, not after the whole batch.
    The reply's zxid says how many of the writer's creates were applied
    before the read: count-based, no clock.  The control server
    (requestsPerTurn=0 and requestsPerLoopTurn=0, the old behaviour) shows
    the scenario does starve."""
    n = 400
    for per_turn, fair in (("10", True), ("0", False)):
        srv = server_factory("zkd", cfg={"requestsPerTurn": per_turn, "requestsPerLoopTurn": per_turn,
                                         "globalOutstandingLimit": "100000"})
        seen, last = _writer_and_reader(srv, n)
        if fair:
            assert seen <= last - n + 2 * int(per_turn), (seen, last)
        else:
            assert seen == last, (seen, last)


def test_a_read_waits_only_for_the_writes_it_shows(server_factory):
    """A read's reply is tagged (server.h, the durability gate) with the last transaction
    that changed what it shows, not with the last one applied: a read of a node nobody is
    writing is not held for the fsync of another client's writes.  The reply header says
    the last zxid applied, lowered to the durable zxid when the reply leaves (conn.h
    conn_reply_begin): a header naming one of the creates the reply went out before would
    name a zxid a crash could lose, and a client presenting it on reconnect would be
    refused.  So the headers show when each reply left: the writer's creates under /w,
    queued before the reads, hold only the read that shows them (getChildren of /w);
    getACL is tagged as getData is."""
    from tests.lib.rawzk import OPEN_ACL, Reader, acls, i32, zbuf, zstr
    srv = server_factory("zkd", cfg={"requestsPerTurn": "10"})
    setup = RawSession(srv.port)
    assert setup.create("/w")[0] == 0 and setup.create("/r")[0] == 0
    setup.close_session()
    w, r = RawSession(srv.port), RawSession(srv.port)
    n = 50
    body = b""
    for i in range(1, n + 1):
        req = i32(i) + i32(1) + zstr("/w/c%d" % i) + zbuf(b"") + acls(OPEN_ACL) + i32(0)
        body += i32(len(req)) + req
    reads = b""
    for xid, op, path in ((1, 4, "/r"), (2, 3, "/r/missing"), (3, 6, "/r"), (4, 8, "/w")):
        req = i32(xid) + i32(op) + zstr(path) + (b"" if op == 6 else b"\0")  # getACL: no watch
        reads += i32(len(req)) + req
    _queue_while_stopped(srv, [(w, body), (r, reads)])
    zx = []
    for xid in (1, 2, 3, 4):
        rep = Reader(r._recv())
        zx.append((rep.int(), rep.long(), rep.int()))
    first = None
    for i in range(1, n + 1):
        rep = Reader(w._recv())
        x, z, err = rep.int(), rep.long(), rep.int()
        assert (x, err) == (i, 0)
        first = z if first is None else first
    assert [(x, e) for x, _z, e in zx] == [(1, 0), (2, -101), (3, 0), (4, 0)]
    assert max(z for _x, z, _e in zx[:3]) < first, (zx, first)  # untouched: no wait
    assert first <= zx[3][1] < first + n - 1, (zx, first)  # shows some creates: waits
    assert [z for _x, z, _e in zx] == sorted(z for _x, z, _e in zx), zx  # never go back
    w.close_session()
    r.close_session()


def test_watch_notification_carries_the_zxid_that_fired_it(server_factory):
    """As Apache 3.9 (ZOOKEEPER-4655): the notification's ReplyHeader holds the
    zxid of the transaction that fired it (3.8 sent -1, which clients ignore)."""
    from tests.lib.rawzk import Reader
    srv = server_factory("zkd")
    w = RawSession(srv.port)
    c = RawSession(srv.port)
    assert w.exists("/fired", watch=True) != 0
    assert c.create("/fired")[0] == 0
    created = c.last_zxid
    assert c.set("/fired", b"v") == 0
    r = Reader(w._recv())
    assert (r.int(), r.long(), r.int()) == (-1, created, 0)
    assert (r.int(), r.int(), r.str()) == (1, 3, "/fired")  # NodeCreated, SyncConnected
    w.get("/fired", watch=True)
    assert c.set("/fired", b"w") == 0
    r = Reader(w._recv())
    assert (r.int(), r.long(), r.int()) == (-1, c.last_zxid, 0)
    assert r.int() == 3  # NodeDataChanged
