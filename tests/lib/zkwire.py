"""A synchronous ZooKeeper client on a raw socket, for the randomized differential tester
(tests/integration/test_diff_random.py).

Why not kazoo: the tester must decide exactly when a session talks (a session
that stops talking expires; a dropped socket is reopened with setWatches), must
see every notification in arrival order, and must send every request exactly
as generated (TTL and container creates, addWatch, removeWatches, multis with
failing members).  One WireSession is one TCP connection; `call` sends one
request and reads frames until its reply, queueing the notifications that
arrive before it in `events`.  Nothing runs in the background: a session only
pings when the test calls it, so the caller keeps sessions busy (the tester
does a round trip on every session after every step).

The client also keeps the Java client's view of its own watches
(ZKWatchManager): which paths have data, exist, child, persistent and
persistent-recursive watches, with one-time watches dropped when their event
arrives or removeWatches succeeds.  `reconnect` sends that view back in a
setWatches2 request, as the Java client does after a connection loss.
"""
import socket
import struct

from tests.lib import rawzk

OP = dict(create=1, delete=2, exists=3, getData=4, setData=5, getACL=6, setACL=7,
          getChildren=8, sync=9, ping=11, getChildren2=12, check=13, multi=14, create2=15,
          removeWatches=18, createContainer=19, createTTL=21, auth=100, setWatches=101,
          setWatches2=105, addWatch=106, closeSession=-11, getEphemerals=103,
          getAllChildrenNumber=104)

PERSISTENT, EPHEMERAL, SEQUENTIAL, EPHEMERAL_SEQUENTIAL = 0, 1, 2, 3
CONTAINER, TTL, TTL_SEQUENTIAL = 4, 5, 6
ADD_WATCH_PERSISTENT, ADD_WATCH_RECURSIVE = 0, 1
WATCHER_CHILDREN, WATCHER_DATA, WATCHER_ANY = 1, 2, 3
EV_CREATED, EV_DELETED, EV_CHANGED, EV_CHILD = 1, 2, 3, 4

XID_NOTIFICATION, XID_PING, XID_AUTH, XID_SETWATCHES = -1, -2, -4, -8

STAT, STAT_FIELDS = rawzk.STAT, rawzk.STAT_FIELDS

ERRORS = {0: "OK", -1: "SystemError", -2: "RuntimeInconsistency", -3: "DataInconsistency",
          -4: "ConnectionLoss", -5: "MarshallingError", -6: "Unimplemented",
          -7: "OperationTimeout", -8: "BadArguments", -13: "NewConfigNoQuorum",
          -14: "ReconfigInProgress", -100: "APIError", -101: "NoNode", -102: "NoAuth",
          -103: "BadVersion", -108: "NoChildrenForEphemerals", -110: "NodeExists",
          -111: "NotEmpty", -112: "SessionExpired", -113: "InvalidCallback", -114: "InvalidACL",
          -115: "AuthFailed", -118: "SessionMoved", -119: "NotReadOnly",
          -120: "EphemeralOnLocalSession", -121: "NoWatcher", -122: "ReconfigDisabled",
          -123: "SessionClosedRequireSasl", -124: "QuotaExceeded", -125: "Throttled"}


class ZkError(Exception):
    """A request answered with a non-zero error code."""

    def __init__(self, code):
        super().__init__(code)
        self.code = code

    @property
    def name(self):
        return ERRORS.get(self.code, "Error%d" % self.code)


class Lost(Exception):
    """The server closed the connection (or did not answer in time)."""


# -- encoding: rawzk's codec, under this module's names ------------------------

w_int, w_long, w_bool, w_buf, w_str, w_strings, w_acls = (
    rawzk.i32, rawzk.i64, rawzk.zbool, rawzk.zbuf, rawzk.zstr, rawzk.strings, rawzk.acls)
Reader = rawzk.Reader


# -- request bodies ----------------------------------------------------------

def create_body(path, data, acl, flags, ttl=None):
    body = w_str(path) + w_buf(data) + w_acls(acl) + w_int(flags)
    if ttl is not None:
        body += w_long(ttl)
    return body


def create_op(flags, ttl):
    if ttl is not None:
        return "createTTL"
    return "createContainer" if flags == CONTAINER else "create2"


def multi_body(ops):
    """ops: ("create", path, data, acl, flags, ttl) | ("delete", path, version) |
    ("setData", path, data, version) | ("check", path, version)."""
    body = b""
    for op in ops:
        kind, path = op[0], op[1]
        if kind == "create":
            _, _, data, acl, flags, ttl = op
            name = create_op(flags, ttl)
            body += w_int(OP[name]) + w_bool(False) + w_int(-1) + create_body(path, data, acl, flags, ttl)
        elif kind in ("delete", "check"):
            body += w_int(OP[kind]) + w_bool(False) + w_int(-1) + w_str(path) + w_int(op[2])
        elif kind == "setData":
            body += w_int(OP[kind]) + w_bool(False) + w_int(-1) + w_str(path) + w_buf(op[2]) + w_int(op[3])
        else:
            raise ValueError(kind)
    return body + w_int(-1) + w_bool(True) + w_int(-1)


def read_multi(r):
    out = []
    while True:
        t, done, _err = r.int(), r.bool(), r.int()
        if done:
            return out
        if t == -1:
            out.append(("err", ERRORS.get(r.int(), "?")))
        elif t == OP["create"]:
            out.append(("create", r.str()))
        elif t in (OP["create2"], OP["createContainer"], OP["createTTL"]):
            out.append(("create", r.str(), r.stat()))
        elif t in (OP["delete"], OP["check"]):
            out.append((["delete", "check"][t == OP["check"]],))
        elif t == OP["setData"]:
            out.append(("setData", r.stat()))
        else:
            out.append(("type%d" % t,))
            return out  # its length is unknown


# -- the session -------------------------------------------------------------

class WireSession:
    """One connection of one session.  `timeout_ms` is the requested session timeout."""

    def __init__(self, port, timeout_ms=10000, session_id=0, passwd=b"\0" * 16, last_zxid=0,
                 io_timeout=20.0):
        self.port = port
        self.io_timeout = io_timeout
        self.sock = None
        self.xid = 0
        self.events = []  # (type, state, path) in arrival order
        self.last_zxid = last_zxid
        self.auths = []  # (scheme, credential) sent, re-sent on reconnect
        # The client's view of its watches (Java's ZKWatchManager).
        self.w_data, self.w_exist, self.w_child = set(), set(), set()
        self.w_persistent, self.w_recursive = set(), set()
        self._connect(timeout_ms, session_id, passwd)

    def _connect(self, timeout_ms, session_id, passwd):
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=self.io_timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._send(w_int(0) + w_long(self.last_zxid) + w_int(timeout_ms) + w_long(session_id)
                   + w_buf(passwd) + w_bool(False))
        try:
            r = Reader(self._recv())
        except Lost:
            self.timeout = 0
        else:
            r.int()
            self.timeout = r.int()
            if self.timeout > 0:
                self.session_id = r.long()
                self.passwd = r.buf()
        if self.timeout <= 0:
            self.close_socket()  # the server closes it after refusing the session

    @property
    def expired(self):
        """A (re)connect the server refused: Apache answers timeout 0 for an unknown session."""
        return self.timeout <= 0

    def _send(self, body):
        try:
            self.sock.sendall(w_int(len(body)) + body)
        except OSError as e:
            raise Lost(str(e))

    def _recv_exact(self, n):
        out = b""
        while len(out) < n:
            try:
                chunk = self.sock.recv(n - len(out))
            except OSError as e:
                raise Lost(str(e))
            if not chunk:
                raise Lost("server closed the connection")
            out += chunk
        return out

    def _recv(self):
        (n,) = struct.unpack(">i", self._recv_exact(4))
        return self._recv_exact(n)

    def _event(self, r):
        ev = (r.int(), r.int(), r.str())
        self.events.append(ev)
        etype, _, path = ev
        # Java's ZKWatchManager.materialize: which one-time watches an event uses up.
        if etype in (EV_CREATED, EV_CHANGED):
            self.w_data.discard(path)
            self.w_exist.discard(path)
        elif etype == EV_DELETED:
            self.w_data.discard(path)
            self.w_exist.discard(path)
            self.w_child.discard(path)
        elif etype == EV_CHILD:
            self.w_child.discard(path)

    def call(self, op, body=b"", xid=None):
        """Sends one request; returns a Reader over the reply body or raises ZkError / Lost."""
        if xid is None:
            self.xid += 1
            xid = self.xid
        self._send(w_int(xid) + w_int(OP[op]) + body)
        while True:
            r = Reader(self._recv())
            rxid, zxid, err = r.int(), r.long(), r.int()
            if rxid == XID_NOTIFICATION:
                self._event(r)
                continue
            if zxid > 0:
                self.last_zxid = max(self.last_zxid, zxid)
            if rxid != xid:
                raise Lost("reply xid %d, expected %d" % (rxid, xid))
            if err:
                raise ZkError(err)
            return r

    def take_events(self):
        evs, self.events = self.events, []
        return evs

    def close_socket(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    # -- requests ------------------------------------------------------

    def add_auth(self, scheme, cred):
        self.call("auth", w_int(0) + w_str(scheme) + w_buf(cred), xid=XID_AUTH)
        self.auths.append((scheme, cred))

    def ping(self):
        self.call("ping", xid=XID_PING)

    def create(self, path, data, acl, flags, ttl=None):
        r = self.call(create_op(flags, ttl), create_body(path, data, acl, flags, ttl))
        return r.str(), r.stat()

    def delete(self, path, version):
        self.call("delete", w_str(path) + w_int(version))

    def exists(self, path, watch=False):
        try:
            st = self.call("exists", w_str(path) + w_bool(watch)).stat()
        except ZkError as e:
            if e.code == -101 and watch:
                self.w_exist.add(path)
            raise
        if watch:
            self.w_data.add(path)
        return st

    def get_data(self, path, watch=False):
        r = self.call("getData", w_str(path) + w_bool(watch))
        if watch:
            self.w_data.add(path)
        return r.buf(), r.stat()

    def set_data(self, path, data, version):
        return self.call("setData", w_str(path) + w_buf(data) + w_int(version)).stat()

    def get_children(self, path, watch=False, with_stat=False):
        r = self.call("getChildren2" if with_stat else "getChildren", w_str(path) + w_bool(watch))
        if watch:
            self.w_child.add(path)
        kids = sorted(r.strings())
        return (kids, r.stat()) if with_stat else kids

    def get_acl(self, path):
        r = self.call("getACL", w_str(path))
        return r.acls(), r.stat()

    def set_acl(self, path, acl, version):
        return self.call("setACL", w_str(path) + w_acls(acl) + w_int(version)).stat()

    def sync(self, path):
        return self.call("sync", w_str(path)).str()

    def multi(self, ops):
        return read_multi(self.call("multi", multi_body(ops)))

    def add_watch(self, path, mode):
        self.call("addWatch", w_str(path) + w_int(mode))
        (self.w_recursive if mode == ADD_WATCH_RECURSIVE else self.w_persistent).add(path)

    def remove_watches(self, path, wtype):
        self.call("removeWatches", w_str(path) + w_int(wtype))
        if wtype in (WATCHER_DATA, WATCHER_ANY):
            self.w_data.discard(path)
            self.w_exist.discard(path)
        if wtype in (WATCHER_CHILDREN, WATCHER_ANY):
            self.w_child.discard(path)
        self.w_persistent.discard(path)
        self.w_recursive.discard(path)

    def close_session(self):
        try:
            self.call("closeSession")
        finally:
            self.close_socket()

    def reconnect(self):
        """Drops this connection and resumes the session on a new one, as the Java client
        does after a connection loss: connect with the session id and password, re-send
        the auth packets, then setWatches2 with every watch it still holds.  Afterwards
        `expired` tells whether the server still knew the session."""
        self.close_socket()
        self._connect(self.timeout, self.session_id, self.passwd)
        if self.expired:
            return
        for scheme, cred in self.auths:
            self.call("auth", w_int(0) + w_str(scheme) + w_buf(cred), xid=XID_AUTH)
        lists = [self.w_data, self.w_exist, self.w_child, self.w_persistent, self.w_recursive]
        if any(lists):
            body = w_long(self.last_zxid) + b"".join(w_strings(sorted(x)) for x in lists)
            self.call("setWatches2", body, xid=XID_SETWATCHES)
