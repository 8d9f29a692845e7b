"""libzk (through zkcli) against servers that misbehave: garbage instead of a ConnectResponse, a
frame length over the limit or negative, a connection dropped in the middle of a frame, and a host
name that does not resolve.  Each must end in a clear error and exit status 1 within the
connect timeout, never a crash or a hang (the ASan build also checks for leaks at exit)."""
import os
import socket
import struct
import subprocess
import threading

import pytest

from tests.lib.paths import BUILD_BIN

ZKCLI = os.path.join(BUILD_BIN, "zkcli")

REPLIES = {
    "garbage": struct.pack(">i", 16) + b"\xff" * 16,
    "huge": struct.pack(">i", 0x7FFFFFF0) + b"\0" * 100,
    "negative": struct.pack(">i", -5),
    "half-frame": struct.pack(">i", 36) + b"\0" * 10,
}


class HostileServer:
    """Accepts connections, reads the ConnectRequest, answers `reply`, hangs up."""

    def __init__(self, reply):
        self.reply = reply
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            try:
                c.settimeout(5)
                c.recv(65536)
                c.sendall(self.reply)
            except OSError:
                pass
            finally:
                c.close()

    def close(self):
        self.sock.close()


def zkcli(hosts):
    return subprocess.run([ZKCLI, "-s", hosts, "-timeout", "2000", "ls", "/"],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("case", sorted(REPLIES))
def test_hostile_server_gives_a_clear_error(case):
    srv = HostileServer(REPLIES[case])
    try:
        p = zkcli("127.0.0.1:%d" % srv.port)
    finally:
        srv.close()
    assert p.returncode == 1, p.stdout + p.stderr
    assert "CONNECTIONLOSS" in p.stderr, p.stderr
    assert srv.accepted >= 1
    if case in ("huge", "negative"):
        assert "bad frame length" in p.stderr, p.stderr
    assert "ERROR: AddressSanitizer" not in p.stderr and "runtime error" not in p.stderr


def test_unresolvable_host_gives_a_clear_error():
    p = zkcli("host-that-does-not-exist.invalid:2181")
    assert p.returncode == 1, p.stdout + p.stderr
    assert "cannot resolve host-that-does-not-exist.invalid" in p.stderr, p.stderr
    assert "CONNECTIONLOSS" in p.stderr
