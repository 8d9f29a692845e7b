"""A scripted Apache ZooKeeper learner on a leader's quorum port, for tests that must send the
leader exactly what an Apache follower or observer could send (Learner.java, 3.5-3.9 wire).

    ln = ScriptedLearner(host, quorum_port, sid=4, observer=True)
    ln.join(last_zxid)        # OBSERVERINFO, LEADERINFO, ACKEPOCH, DIFF/TRUNC ... NEWLEADER, ACK,
                              # UPTODATE (a SNAP fails the join: this learner keeps no database);
                              # or ln.sync(last_zxid) up to NEWLEADER, then ln.ack_newleader()
    ln.request(session, cxid, op, body)   # a forwarded REQUEST
    ln.next_txn()             # the next INFORM (observer) or PROPOSAL, as (zxid, TxnHeader, rest)
    ln.close()

QuorumPackets are jute records back to back on the stream, no length prefix: int type, long zxid,
buffer data (int length, -1 for null), vector<Id> authinfo (int count, -1 for null; each Id two
strings).  The leader's PINGs are answered, so the link stays up while a test waits; the answer
touches the sessions in `touch` (session id -> timeout), as a learner reports its clients'
activity, so they do not expire.
"""
import socket
import struct

REQUEST, PROPOSAL, ACK, COMMIT, PING, REVALIDATE, SYNC, INFORM = 1, 2, 3, 4, 5, 6, 7, 8
COMMITANDACTIVATE, NEWLEADER, FOLLOWERINFO, UPTODATE, DIFF, TRUNC, SNAP = 9, 10, 11, 12, 13, 14, 15
OBSERVERINFO, LEADERINFO, ACKEPOCH, INFORMANDACTIVATE = 16, 17, 18, 19

LEARNER_PROTOCOL = 0x10000
TXN_HEADER = struct.Struct(">qiqqi")  # clientId, cxid, zxid, time, type


class LearnerError(Exception):
    pass


def _buf(b):
    return struct.pack(">i", -1) if b is None else struct.pack(">i", len(b)) + b


def _string(s):
    return _buf(s.encode())


def packet(typ, zxid, data=None, auth=None):
    out = struct.pack(">iq", typ, zxid) + _buf(data)
    if auth is None:
        return out + struct.pack(">i", -1)
    out += struct.pack(">i", len(auth))
    for scheme, ident in auth:
        out += _string(scheme) + _string(ident)
    return out


class ScriptedLearner:
    def __init__(self, host, port, sid, observer=True, timeout=10.0):
        self.sid, self.observer = sid, observer
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.epoch = None
        self.touch = {}

    def close(self):
        self.sock.close()

    def send(self, typ, zxid, data=None, auth=None):
        self.sock.sendall(packet(typ, zxid, data, auth))

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise LearnerError("the leader closed the link")
            self.buf += chunk

    def _take(self, n):
        self._need(n)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _read_buf(self):
        (n,) = struct.unpack(">i", self._take(4))
        return None if n < 0 else self._take(n)

    def read(self):
        """The next packet but PINGs (answered here): (type, zxid, data)."""
        while True:
            typ, zxid = struct.unpack(">iq", self._take(12))
            data = self._read_buf()
            (count,) = struct.unpack(">i", self._take(4))
            for _ in range(max(count, 0) * 2):
                self._read_buf()
            if typ == PING:
                self.send(PING, zxid, b"".join(struct.pack(">qi", s, t)
                                               for s, t in self.touch.items()))
                continue
            return typ, zxid, data

    def join(self, last_zxid, accepted_epoch=0, current_epoch=0):
        synced = self.sync(last_zxid, accepted_epoch, current_epoch)
        self.ack_newleader()
        return synced

    def sync(self, last_zxid, accepted_epoch=0, current_epoch=0):
        """The join up to NEWLEADER (not acknowledged): what the leader sent before it, as
        [(type, zxid, data)]."""
        info = struct.pack(">qiq", self.sid, LEARNER_PROTOCOL, 0)
        self.send(OBSERVERINFO if self.observer else FOLLOWERINFO, accepted_epoch << 32, info)
        typ, zxid, _ = self.read()
        if typ != LEADERINFO:
            raise LearnerError("expected LEADERINFO, got type %d" % typ)
        self.epoch = zxid >> 32
        self.send(ACKEPOCH, last_zxid, struct.pack(">i", current_epoch))
        synced = []
        while True:
            typ, zxid, data = self.read()
            if typ == SNAP:
                raise LearnerError("the leader sent a SNAP")
            if typ == NEWLEADER:
                break
            synced.append((typ, zxid, data))
        self.newleader_zxid = zxid
        return synced

    def ack_newleader(self):
        """ACKs NEWLEADER; the leader's next packet must be UPTODATE, which is ACKed."""
        self.send(ACK, self.newleader_zxid)
        typ, zxid, _ = self.read()
        if typ != UPTODATE:
            raise LearnerError("expected UPTODATE, got type %d (zxid 0x%x)" % (typ, zxid))
        self.send(ACK, self.epoch << 32)  # as Learner.syncWithLeader after UPTODATE

    def request(self, session, cxid, op, body, auth=(("ip", "127.0.0.1"),)):
        self.send(REQUEST, -1, struct.pack(">qii", session, cxid, op) + body, list(auth))

    def next_txn(self):
        """The next transaction the leader sends this learner: (zxid, TxnHeader tuple, the bytes
        after the header).  COMMITs (a follower's) are skipped."""
        want = INFORM if self.observer else PROPOSAL
        while True:
            typ, zxid, data = self.read()
            if typ == want:
                return zxid, TXN_HEADER.unpack_from(data), data[TXN_HEADER.size:]
            if typ != COMMIT:
                raise LearnerError("unexpected packet type %d" % typ)
