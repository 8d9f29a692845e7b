"""Hostile and broken clients: zkd closes the offender and keeps serving everyone else."""
import os
import socket
import struct
import time

import pytest

from tests.lib.servers import four_letter


def frame(body):
    return struct.pack(">i", len(body)) + body


def connect_request():
    return frame(struct.pack(">iqiq", 0, 0, 30000, 0) + struct.pack(">i", 16) + b"\0" * 16 + b"\0")


def request(xid, op, body=b""):
    return frame(struct.pack(">ii", xid, op) + body)


def zk_string(s):
    b = s.encode()
    return struct.pack(">i", len(b)) + b


def read_frame(sock):
    hdr = recv_exact(sock, 4)
    (n,) = struct.unpack(">i", hdr)
    return recv_exact(sock, n)


def recv_exact(sock, n):
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise ConnectionError("closed after %d of %d bytes" % (len(out), n))
        out += chunk
    return out


def closed_by_server(sock, timeout=10.0):
    """True once the server closed the connection (EOF or reset), reading whatever it sent."""
    sock.settimeout(timeout)
    try:
        while sock.recv(65536):
            pass
        return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def handshake(srv):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(connect_request())
    resp = read_frame(s)
    assert len(resp) >= 4 + 4 + 8 + 4 + 16
    return s


def still_serving(srv, kazoo_client):
    zk = kazoo_client(srv)
    zk.ensure_path("/alive")
    assert zk.exists("/alive") is not None
    assert four_letter(srv.port, "ruok") == "imok"


@pytest.mark.parametrize("length", [0x7FFFFFFF, 0x100001, -1, -123456])
def test_bad_frame_length_closes_connection(zkd, kazoo_client, length):
    s = handshake(zkd)
    s.sendall(struct.pack(">i", length) + b"x" * 16)
    assert closed_by_server(s)
    still_serving(zkd, kazoo_client)


def test_bad_length_before_handshake(zkd, kazoo_client):
    s = socket.create_connection(("127.0.0.1", zkd.port), timeout=10)
    s.sendall(struct.pack(">i", 0x7FFFFFF0))
    assert closed_by_server(s)
    still_serving(zkd, kazoo_client)


def test_garbage_bytes(zkd, kazoo_client):
    rnd = bytes((i * 7919 + 13) % 251 for i in range(4096))
    s = handshake(zkd)
    s.sendall(frame(rnd[:200]) + rnd)
    assert closed_by_server(s)
    still_serving(zkd, kazoo_client)


def test_truncated_record_gets_error_and_close(zkd, kazoo_client):
    s = handshake(zkd)
    # getData whose path length claims more bytes than the frame holds.
    s.sendall(request(7, 4, struct.pack(">i", 1000) + b"/abc"))
    reply = read_frame(s)
    xid, zxid, err = struct.unpack(">iqi", reply[:16])
    assert xid == 7 and err == -5  # MARSHALLINGERROR
    assert closed_by_server(s)
    still_serving(zkd, kazoo_client)


def test_unknown_opcode_is_unimplemented(zkd, kazoo_client):
    s = handshake(zkd)
    s.sendall(request(9, 999))
    reply = read_frame(s)
    xid, zxid, err = struct.unpack(">iqi", reply[:16])
    assert xid == 9 and err == -6  # UNIMPLEMENTED, then the connection is closed
    assert closed_by_server(s)
    still_serving(zkd, kazoo_client)


def test_truncated_connect_request(zkd, kazoo_client):
    s = socket.create_connection(("127.0.0.1", zkd.port), timeout=10)
    s.sendall(frame(b"\0\0\0\0\0"))
    assert closed_by_server(s)
    still_serving(zkd, kazoo_client)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_client_that_never_reads_is_bounded(zkd, kazoo_client):
    zk = kazoo_client(zkd)
    zk.create("/big", b"x" * 500000)
    base = rss_kib(zkd.pid)
    s = handshake(zkd)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    body = zk_string("/big") + b"\0"
    burst = b"".join(request(i + 1, 4, body) for i in range(200))  # 100 MB of replies asked for
    s.settimeout(0.5)
    sent = 0
    for _ in range(20):
        try:
            s.sendall(burst)
            sent += 200
        except (socket.timeout, BrokenPipeError, ConnectionResetError):
            break
    # zkd stopped reading this client (backpressure) instead of queueing 100s of MB.
    grown_mib = (rss_kib(zkd.pid) - base) / 1024
    assert grown_mib < 64, "zkd grew by %.1f MiB for a client that never reads" % grown_mib
    still_serving(zkd, kazoo_client)
    s.close()
