"""A minimal raw ZooKeeper protocol client for tests that need control kazoo hides:
exact session ids and passwords, reconnects on a new socket, setWatches, missing pings."""
import socket
import struct

OPS = {"create": 1, "delete": 2, "exists": 3, "getData": 4, "setData": 5, "getACL": 6,
       "getChildren": 8, "sync": 9, "ping": 11, "getChildren2": 12, "createContainer": 19, "closeSession": -11, "auth": 100, "setWatches": 101, "getEphemerals": 103,
       "getAllChildrenNumber": 104, "whoAmI": 107}
OPEN_ACL = [(31, "world", "anyone")]
STAT = struct.Struct(">qqqqiiiqiiq")  # data.Stat on the wire
STAT_FIELDS = ("czxid", "mzxid", "ctime", "mtime", "version", "cversion", "aversion",
               "ephemeralOwner", "dataLength", "numChildren", "pzxid")


def i32(v):
    return struct.pack(">i", v)


def i64(v):
    return struct.pack(">q", v)


def zbuf(b):
    return i32(-1) if b is None else i32(len(b)) + b


def zstr(s):
    return zbuf(None if s is None else s.encode())


def zbool(v):
    return b"\1" if v else b"\0"


def acls(lst):
    return i32(len(lst)) + b"".join(i32(p) + zstr(sc) + zstr(i) for p, sc, i in lst)


def strings(lst):
    return i32(len(lst)) + b"".join(zstr(s) for s in lst)


class Reader:
    def __init__(self, b):
        self.b, self.o = b, 0

    def int(self):
        (v,) = struct.unpack_from(">i", self.b, self.o)
        self.o += 4
        return v

    def long(self):
        (v,) = struct.unpack_from(">q", self.b, self.o)
        self.o += 8
        return v

    def bool(self):
        v = self.b[self.o]
        self.o += 1
        return bool(v)

    def buf(self):
        n = self.int()
        if n < 0:
            return None
        v = bytes(self.b[self.o:self.o + n])
        self.o += n
        return v

    def str(self):
        v = self.buf()
        return None if v is None else v.decode("utf-8", "replace")

    def strings(self):
        n = self.int()
        return [self.str() for _ in range(max(n, 0))]

    def stat(self):
        v = dict(zip(STAT_FIELDS, STAT.unpack_from(self.b, self.o)))
        self.o += STAT.size
        return v

    def acls(self):
        n = self.int()
        return [(self.int(), self.str(), self.str()) for _ in range(max(n, 0))]


class RawSession:
    """One TCP connection speaking the client protocol; events are collected in order."""

    def __init__(self, port, timeout_ms=10000, session_id=0, passwd=b"\0" * 16, last_zxid=0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=15)
        self.xid = 0
        self.events = []
        self.last_zxid = last_zxid
        self.reply_zxid = None  # the ReplyHeader zxid of the last reply `call` returned
        self._send(i32(0) + i64(last_zxid) + i32(timeout_ms) + i64(session_id) + zbuf(passwd) + b"\0")
        r = Reader(self._recv())
        r.int()
        self.timeout = r.int()
        self.session_id = r.long()
        self.passwd = r.buf()

    def _send(self, body):
        self.sock.sendall(i32(len(body)) + body)

    def _recv_exact(self, n):
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise ConnectionError("server closed the connection")
            out += chunk
        return out

    def _recv(self):
        (n,) = struct.unpack(">i", self._recv_exact(4))
        return self._recv_exact(n)

    def call(self, op, body=b"", xid=None):
        """Sends a request and returns (err, Reader over the reply body); events are queued."""
        if xid is None and op == "auth":
            xid = -4
        if xid is None:
            self.xid += 1
            xid = self.xid
        self._send(i32(xid) + i32(OPS[op]) + body)
        while True:
            r = Reader(self._recv())
            rxid, zxid, err = r.int(), r.long(), r.int()
            if rxid == -1:
                self.events.append((r.int(), r.int(), r.str()))
                continue
            if zxid > 0:
                self.last_zxid = max(self.last_zxid, zxid)
            self.reply_zxid = zxid
            assert rxid == xid, "reply xid %d, expected %d" % (rxid, xid)
            return err, r

    def wait_event(self):
        """Blocks until one notification arrives and returns it."""
        while not self.events:
            r = Reader(self._recv())
            rxid, _, _ = r.int(), r.long(), r.int()
            if rxid == -1:
                self.events.append((r.int(), r.int(), r.str()))
        return self.events.pop(0)

    def create(self, path, data=b"", flags=0, acl=OPEN_ACL):
        err, r = self.call("create", zstr(path) + zbuf(data) + acls(acl) + i32(flags))
        return err, (r.str() if err == 0 else None)

    def exists(self, path, watch=False):
        err, r = self.call("exists", zstr(path) + (b"\1" if watch else b"\0"))
        return err

    def get(self, path, watch=False):
        err, r = self.call("getData", zstr(path) + (b"\1" if watch else b"\0"))
        return err, (r.buf() if err == 0 else None)

    def set(self, path, data, version=-1):
        return self.call("setData", zstr(path) + zbuf(data) + i32(version))[0]

    def close_socket(self):
        self.sock.close()

    def close_session(self):
        err, _ = self.call("closeSession")
        self.sock.close()
        return err
