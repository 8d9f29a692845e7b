"""A client's session moves between Apache ZooKeeper 3.8 and zkd members of one ensemble (issue 16).

Three participants: member 1 Apache, member 2 zkd (memberProtocol=apache), member 3 leads and is
Apache ("apache-leads") or zkd ("zkd-leads").  A kazoo session starts on member 1 with an
ephemeral node, a data watch and a child watch; member 1 is stopped and kazoo reconnects to
member 2 with the same session id and password: the ephemeral is still the session's, both
watches fire, and the session writes through its new member.  Member 1 comes back, member 2 is
stopped, and the same holds moving from zkd to Apache.

A session the ensemble does not know, or a known one with a wrong password, is refused by a zkd
follower exactly as by an Apache follower (the same ConnectResponse bytes, then the connection
closes).
"""
import re
import socket
import struct
import threading

import pytest
from kazoo.client import KazooClient
from kazoo.protocol.states import KazooState
from kazoo.retry import KazooRetry

from tests.lib import rawzk
from tests.lib.ensemble import MixedEnsemble, kazoo_client, require_kinds, wait_for

APACHE, ZKD, LEADER = 1, 2, 3
LAYOUTS = {"apache-leads": [ZKD], "zkd-leads": [ZKD, LEADER]}
# Sessions outlive a member's restart on a loaded machine (tickTime=200 caps them at 4 s).
CFG = {"maxSessionTimeout": "30000"}


@pytest.fixture(params=sorted(LAYOUTS))
def ens(request, tmp_path):
    require_kinds("apache", "zkd")
    e = MixedEnsemble(tmp_path, LAYOUTS[request.param], leader=LEADER, participants=3, cfg=CFG)
    try:
        assert e.start() == LEADER
        yield e
    finally:
        e.close()


def connect_response(ens, sid, session_id, passwd):
    """The ConnectResponse member `sid` sends a client reconnecting as (session_id, passwd),
    and whether it then closed the connection."""
    with socket.create_connection(("127.0.0.1", ens.client_ports[sid]), timeout=15) as s:
        body = (rawzk.i32(0) + rawzk.i64(0) + rawzk.i32(10000) + rawzk.i64(session_id) +
                rawzk.zbuf(passwd) + b"\0")
        s.sendall(rawzk.i32(len(body)) + body)
        r = rawzk.RawSession.__new__(rawzk.RawSession)
        r.sock = s
        (n,) = struct.unpack(">i", r._recv_exact(4))
        reply = r._recv_exact(n)
        try:
            closed = s.recv(1) == b""
        except ConnectionError:
            closed = True
    return reply, closed


def test_unknown_session_or_wrong_password_refused_as_by_apache(ens):
    kz = kazoo_client(ens, [LEADER])
    try:
        session_id, passwd = kz.client_id
        bad = bytes(b ^ 0xff for b in passwd)
        for who, pw in (("an unknown session", passwd), ("a wrong password", bad)):
            sid = session_id + 1 if who == "an unknown session" else session_id
            want = connect_response(ens, APACHE, sid, pw)
            assert want[1], "Apache kept the connection of %s" % who
            assert connect_response(ens, ZKD, sid, pw) == want, who
    finally:
        kz.stop()
        kz.close()


class Mover:
    """A kazoo session that starts on the first of `sids` and follows kazoo's reconnects."""

    def __init__(self, ens, sids):
        self.ens = ens
        self.lost = threading.Event()
        self.kz = KazooClient(hosts=ens.hosts_of(sids), randomize_hosts=False, timeout=20,
                              connection_retry=KazooRetry(max_tries=-1, delay=0.05,
                                                          max_delay=0.5))
        self.kz.add_listener(lambda st: st == KazooState.LOST and self.lost.set())
        self.kz.start(timeout=30)

    def member(self):
        """The sid whose client port the session's connection is on, or None."""
        conn = self.kz._connection
        sock = getattr(conn, "_socket", None)
        try:
            port = sock.getpeername()[1] if sock else None
        except OSError:
            return None
        return next((s for s, p in self.ens.client_ports.items() if p == port), None)

    def wait_on(self, sid):
        wait_for(lambda: self.kz.connected and self.member() == sid, 60,
                 "the session to reconnect to member %d" % sid, self.ens)
        assert not self.lost.is_set(), "the session expired"


class RawMover:
    """A session of tests/lib/rawzk.py whose watches move as the Java and C clients move them:
    on reconnecting it names them in a setWatches with the last zxid it saw, and the new member
    fires those whose node changed after that zxid, then the later ones."""

    def __init__(self, ens, sid):
        self.ens = ens
        self.s = rawzk.RawSession(ens.client_ports[sid], timeout_ms=30000)
        self.data, self.child = [], []

    def watch(self, data_path, child_path):
        assert self.s.get(data_path, watch=True)[0] == 0
        err, _ = self.s.call("getChildren", rawzk.zstr(child_path) + b"\1")
        assert err == 0
        self.data, self.child = [data_path], [child_path]

    def move_to(self, sid):
        old = self.s
        old.close_socket()
        self.s = rawzk.RawSession(self.ens.client_ports[sid], timeout_ms=30000,
                                  session_id=old.session_id, passwd=old.passwd,
                                  last_zxid=old.last_zxid)
        assert (self.s.session_id, self.s.passwd) == (old.session_id, old.passwd), \
            "member %d did not take the session back" % sid
        body = (rawzk.i64(old.last_zxid) + rawzk.strings(self.data) + rawzk.strings([]) +
                rawzk.strings(self.child))
        assert self.s.call("setWatches", body, xid=-8)[0] == 0

    def events(self, n):
        """The next n notifications as (type, path): 3 changed data, 4 children."""
        return sorted((typ, path) for typ, _, path in (self.s.wait_event() for _ in range(n)))


def test_session_moves_apache_to_zkd_and_back(ens):
    mover = Mover(ens, [APACHE, ZKD])
    raw = RawMover(ens, APACHE)
    other = kazoo_client(ens, [LEADER])
    try:
        kz = mover.kz
        assert mover.member() == APACHE
        session = kz.client_id
        for move, (gone, to) in enumerate(((APACHE, ZKD), (ZKD, APACHE))):
            kz.create("/eph-%d" % gone, b"", ephemeral=True)
            watched, kids = "/watched-%d" % move, "/kids-%d" % move
            kz.ensure_path(watched)
            kz.ensure_path(kids)
            if move:  # the member stopped first is back before the second move
                ens.start_member(APACHE, wait=False)
                ens.wait_serving(timeout=90)
                assert raw.s.call("ping", xid=-2)[0] == 0  # kept alive meanwhile
            raw.watch(watched, kids)
            ens.stop(gone)
            mover.wait_on(to)
            assert kz.client_id == session
            # Its ephemerals are still the session's, as every member sees them.
            other.sync("/")
            for path in ["/eph-%d" % s for s in (APACHE, ZKD)[:move + 1]]:
                assert other.exists(path).ephemeralOwner == session[0], (move, path)
            # The watches set on the old member: one node changes before the raw session is
            # back (fired at its setWatches), the other after.
            other.set(watched, b"changed")
            raw.move_to(to)
            other.create(kids + "/k", b"")
            assert raw.events(2) == [(3, watched), (4, kids)]
            # The moved sessions write (their requests now come from the new member).
            kz.create("/written-on-%d" % to, b"w")
            kz.set(watched, b"by the moved session")
            assert raw.s.set(watched, b"raw") == 0
            assert other.get("/written-on-%d" % to)[0] == b"w"
    finally:
        mover.kz.stop()
        mover.kz.close()
        raw.s.close_socket()
    other.sync("/")
    assert other.exists("/eph-%d" % APACHE) is None and other.exists("/eph-%d" % ZKD) is None
    other.stop()
    other.close()


def cons_lists(ens, sid, session_id, ready, packets):
    """Whether member `sid`'s `cons` lists a connection of `session_id`, handshake done or not
    (`ready`), that has read `packets` packets."""
    return re.search(r"\[%d\]\(queued=\d+,recved=%d,.*sid=0x%x," % (ready, packets, session_id),
                     ens[sid].four_letter("cons")) is not None


def test_reconnect_to_the_same_member_gets_no_reply_of_the_old_connection(ens):
    """A client whose writes wait at the leader reconnects its session to the same zkd member
    (Apache's wire names only the session in a forwarded request, so the member routes the
    leader's answers by session): the old connection's replies must not reach the new one.
    They did: kazoo read a reply to an xid the new connection never sent ("xids do not match,
    expected 2 received 20") in a mixed fault run where a client timed out and came back."""
    a = rawzk.RawSession(ens.client_ports[ZKD], timeout_ms=30000)
    b = None
    try:
        assert a.create("/routed", b"0")[0] == 0
        ens.pause(LEADER)  # the writes below wait for the leader
        for xid in (100, 101, 102):
            a._send(rawzk.i32(xid) + rawzk.i32(rawzk.OPS["setData"]) + rawzk.zstr("/routed") +
                    rawzk.zbuf(b"%d" % xid) + rawzk.i32(-1))
        # connect + create + three sets read, so forwarded (in the same loop turn)
        wait_for(lambda: cons_lists(ens, ZKD, a.session_id, 1, 5), 30, "the sets forwarded")
        b = socket.create_connection(("127.0.0.1", ens.client_ports[ZKD]), timeout=30)
        body = (rawzk.i32(0) + rawzk.i64(a.last_zxid) + rawzk.i32(30000) + rawzk.i64(a.session_id)
                + rawzk.zbuf(a.passwd) + b"\0")
        b.sendall(rawzk.i32(len(body)) + body)
        # read, and its session's REVALIDATE sent to the (stopped) leader
        wait_for(lambda: cons_lists(ens, ZKD, a.session_id, 0, 1), 30, "the reconnect read")
        ens.resume(LEADER)
        r = rawzk.RawSession.__new__(rawzk.RawSession)
        r.sock = b
        first = rawzk.Reader(r._recv())
        assert (first.int(), first.int(), first.long()) == (0, 30000, a.session_id)
        r.xid, r.events, r.last_zxid = 0, [], 0
        assert r.call("sync", rawzk.zstr("/routed"))[0] == 0  # (call asserts each reply's xid)
        err, reader = r.call("getData", rawzk.zstr("/routed") + b"\0")
        assert err == 0 and reader.buf() == b"102"  # the old connection's writes committed
    finally:
        if LEADER in ens.paused:
            ens.resume(LEADER)
        a.close_socket()
        if b:
            b.close()
