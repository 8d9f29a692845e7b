"""getChildren of a wide parent answered in slices across loop turns (issue 20; server/listing.h).

A small getChildrenSlice (names per loop turn) stands in for the default 16,384 so that a few
thousand children give many slices; every test queues its requests while zkd is stopped
(SIGSTOP, as test_zkd_ops does), so what zkd finds at once and in which order is fixed, and the
checks are on zxids, counts and names, never on time."""
import socket

from tests.integration.test_zkd_ops import _queue_while_stopped
from tests.lib.rawzk import OPEN_ACL, RawSession, Reader, acls, i32, i64, zbuf, zstr

GET_CHILDREN2 = 12


def frame(xid, op, body):
    req = i32(xid) + i32(op) + body
    return i32(len(req)) + req


def create_req(xid, path):
    return frame(xid, 1, zstr(path) + zbuf(b"") + acls(OPEN_ACL) + i32(0))


def delete_req(xid, path):
    return frame(xid, 2, zstr(path) + i32(-1))


def children_req(xid, path, watch=False):
    return frame(xid, GET_CHILDREN2, zstr(path) + (b"\1" if watch else b"\0"))


def header(sess):
    r = Reader(sess._recv())
    return (r.int(), r.long(), r.int()), r


def fill(sess, parent, names):
    """Creates parent and its children, pipelined."""
    assert sess.create(parent)[0] == 0
    sess.sock.sendall(b"".join(create_req(i + 1000, parent + "/" + n) for i, n in enumerate(names)))
    for i in range(len(names)):
        (xid, _z, err), _ = header(sess)
        assert (xid, err) == (i + 1000, 0)


def test_another_connection_is_served_between_slices(server_factory):
    """A's getChildren2 of 2,000 names (40 slices of 50) and then a create under the same
    parent, B's get and create, all queued before zkd runs, A's first.  Sliced: B's create is
    applied while A's listing is in progress (B's zxid < A's create), and A's create waits for
    A's listing (FIFO: the list does not show it, and its reply comes after).  The control
    server (getChildrenSlice=0, one piece) applies A's create first: the test tells them apart."""
    base = ["n%04d" % i for i in range(2000)]
    for slice_, sliced in (("50", True), ("0", False)):
        srv = server_factory("zkd", cfg={"getChildrenSlice": slice_})
        setup = RawSession(srv.port)
        fill(setup, "/wide", base)
        assert setup.create("/b")[0] == 0
        a, b = RawSession(srv.port), RawSession(srv.port)
        _queue_while_stopped(srv, [
            (a, children_req(1, "/wide") + create_req(2, "/wide/after-a")),
            (b, frame(1, 4, zstr("/b") + b"\0") + create_req(2, "/b/marker"))])
        (xid, _z, err), r = header(a)
        assert (xid, err) == (1, 0)
        names = r.strings()
        stat = r.stat()
        assert sorted(names) == base and stat["numChildren"] == len(base)  # not "after-a"
        (xid, za, err), _ = header(a)
        assert (xid, err) == (2, 0)
        assert header(b)[0][::2] == (1, 0)
        (xid, zb, err), _ = header(b)
        assert (xid, err) == (2, 0)
        if sliced:
            assert zb < za, (zb, za)  # B's create ran between A's slices
        else:
            assert za < zb, (za, zb)  # one piece: A's whole batch ran first
        for s in (a, b, setup):
            s.close_session()


def markers_at(cversion, c0):
    """Writer's markers present when /wide's cversion is `cversion` (see the test below)."""
    k = cversion - c0
    assert k >= 0, (cversion, c0)
    i = (k + 1) // 2
    return {"m%04d" % i} if k % 2 == 0 else {"m%04d" % (i - 1), "m%04d" % i}


def test_a_sliced_list_is_one_state_while_children_change(server_factory):
    """A writer alternates create m(i) / delete m(i-1) under /wide, one write per loop turn
    (requestsPerTurn=1), while a reader's getChildren2 calls of 1,000 names are cut in slices
    of 50.  At cversion c0 + k the markers are exactly {m(k/2)} (k even) or {m(i-1), m(i)}
    (k odd, i = (k+1)/2): every reply must hold the base names plus exactly the markers of the
    cversion in its own Stat, each name once.  A torn list (slots read before and after a
    change) shows none, or two that never coexisted, or a stat from another moment."""
    base = ["n%04d" % i for i in range(1000)]
    srv = server_factory("zkd", cfg={"getChildrenSlice": "50", "requestsPerTurn": "1"})
    setup = RawSession(srv.port)
    fill(setup, "/wide", base)
    assert setup.create("/wide/m0000")[0] == 0
    w, rd = RawSession(srv.port), RawSession(srv.port)
    err, r = rd.call("exists", zstr("/wide") + b"\0")
    c0 = r.stat()["cversion"]
    k = 300
    writes = b""
    for i in range(1, k + 1):
        writes += create_req(2 * i, "/wide/m%04d" % i) + delete_req(2 * i + 1, "/wide/m%04d" % (i - 1))
    reads = b"".join(children_req(x, "/wide") for x in range(1, 21))
    _queue_while_stopped(srv, [(rd, reads), (w, writes)])
    seen = []
    for x in range(1, 21):
        (xid, _z, err), r = header(rd)
        assert (xid, err) == (x, 0)
        names = r.strings()
        stat = r.stat()
        assert len(names) == len(set(names)) == stat["numChildren"], (len(names), stat)
        want = set(base) | markers_at(stat["cversion"], c0)
        assert set(names) == want, (stat["cversion"], sorted(set(names) ^ want))
        seen.append(stat["cversion"])
    for i in range(2, 2 * k + 2):
        assert header(w)[0][::2] == (i, 0)
    assert seen[0] < seen[-1], seen  # the reads really ran among the writes
    for s in (w, rd, setup):
        s.close_session()


def test_parent_deleted_during_the_slices_answers_nonode(server_factory):
    """The reader's sliced getChildren2 starts; in the next turn another connection deletes
    every child and the parent (requestsPerTurn=0, requestsPerLoopTurn=0: all in one turn).  The listing starts over,
    finds no node, and answers NONODE; the server stays sound (ASan build: no report)."""
    base = ["n%03d" % i for i in range(300)]
    srv = server_factory("zkd", cfg={"getChildrenSlice": "50", "requestsPerTurn": "0",
                                     "requestsPerLoopTurn": "0"})
    setup = RawSession(srv.port)
    fill(setup, "/gone", base)
    rd, w = RawSession(srv.port), RawSession(srv.port)
    dels = b"".join(delete_req(i + 1, "/gone/" + n) for i, n in enumerate(base))
    dels += delete_req(len(base) + 1, "/gone")
    _queue_while_stopped(srv, [(rd, children_req(1, "/gone", watch=True)), (w, dels)])
    (xid, _z, err), _ = header(rd)
    assert (xid, err) == (1, -101)  # NONODE
    for i in range(len(base) + 1):
        assert header(w)[0][::2] == (i + 1, 0)
    assert rd.exists("/gone") == -101
    for s in (w, rd, setup):
        s.close_session()


def test_connection_closed_during_the_slices(server_factory):
    """A's sliced getChildren2 is in progress when B takes over A's session (a ConnectRequest
    with its id and password): zkd closes A mid-listing, frees the listing (ASan build: no
    use after free, no leak at exit) and serves B."""
    base = ["n%04d" % i for i in range(2000)]
    srv = server_factory("zkd", cfg={"getChildrenSlice": "50"})
    setup = RawSession(srv.port)
    fill(setup, "/wide", base)
    a = RawSession(srv.port)
    b = socket.create_connection(("127.0.0.1", srv.port), timeout=15)

    class Raw:  # _queue_while_stopped wants .sock
        sock = b
    connect = i32(0) + i64(0) + i32(10000) + i64(a.session_id) + zbuf(a.passwd) + b"\0"
    _queue_while_stopped(srv, [(a, children_req(1, "/wide")), (Raw, i32(len(connect)) + connect)])
    a.sock.settimeout(15)
    assert a.sock.recv(1) == b""  # closed, no reply
    resp = b""
    while len(resp) < 4:
        resp += b.recv(4 - len(resp))
    n = int.from_bytes(resp, "big")
    body = b""
    while len(body) < n:
        body += b.recv(n - len(body))
    r = Reader(body)
    r.int(), r.int()
    assert r.long() == a.session_id
    b.close()
    err, r = setup.call("getChildren", zstr("/wide") + b"\0")
    assert err == 0 and len(r.strings()) == len(base)
    setup.close_session()


def test_watch_events_around_a_sliced_list(server_factory):
    """The reader holds a child watch on /wide and asks a sliced getChildren2 with a new watch;
    a writer's create lands between the slices.  On the reader's socket the NodeChildrenChanged
    of the old watch comes before the reply, which shows the new child (the list restarted); the
    new watch is armed as of the last slice, so the writer's next create fires it (were it armed
    at the start, that first create would have used it up and the second fired nothing)."""
    base = ["n%04d" % i for i in range(1000)]
    srv = server_factory("zkd", cfg={"getChildrenSlice": "50"})
    setup = RawSession(srv.port)
    fill(setup, "/wide", base)
    rd, w = RawSession(srv.port), RawSession(srv.port)
    assert rd.call("getChildren", zstr("/wide") + b"\1")[0] == 0  # the old watch
    _queue_while_stopped(srv, [(rd, children_req(1, "/wide", watch=True)),
                               (w, create_req(1, "/wide/new"))])
    (xid, _z, err), r = header(rd)
    assert (xid, err) == (-1, 0)
    assert (r.int(), r.int(), r.str()) == (4, 3, "/wide")  # NodeChildrenChanged, first
    (xid, _z, err), r = header(rd)
    assert (xid, err) == (1, 0)
    assert sorted(r.strings()) == sorted(base + ["new"])
    assert header(w)[0][::2] == (1, 0)
    assert w.create("/wide/new2")[0] == 0
    rd.sock.sendall(frame(2, 3, zstr("/wide") + b"\0"))  # exists: a barrier after the event
    (xid, _z, err), r = header(rd)
    assert (xid, err) == (-1, 0)
    assert (r.int(), r.int(), r.str()) == (4, 3, "/wide")  # the watch the sliced read armed
    assert header(rd)[0][::2] == (2, 0)
    for s in (w, rd, setup):
        s.close_session()
