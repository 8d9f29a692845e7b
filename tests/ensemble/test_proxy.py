"""The link proxy of tests/lib/faults.py on its own, against an echo server: a fault injector
that silently forwarded (or silently failed to cut) would make the partition tests vacuous."""
import socket
import threading

import pytest

from tests.lib import servers as S
from tests.lib.faults import Proxy


@pytest.fixture
def echo():
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    conns = []

    def serve():
        while True:
            try:
                c, _ = lsock.accept()
            except OSError:
                return
            conns.append(c)
            threading.Thread(target=pump, args=(c,), daemon=True).start()

    def pump(c):
        try:
            while True:
                b = c.recv(4096)
                if not b:
                    break
                c.sendall(b)
        except OSError:
            pass

    threading.Thread(target=serve, daemon=True).start()
    yield lsock.getsockname()[1]
    lsock.shutdown(socket.SHUT_RDWR)
    lsock.close()
    for c in conns:
        c.close()


@pytest.fixture
def proxy(echo):
    p = Proxy(S.free_port(), echo, "test")
    yield p
    p.close()


def roundtrip(port, data=b"ping", timeout=5.0):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        got = b""
        while len(got) < len(data):
            b = s.recv(4096)
            if not b:
                break
            got += b
        return got


def test_forwards_both_ways(proxy):
    assert roundtrip(proxy.listen_port, b"hello") == b"hello"


def test_cut_resets_live_connections_and_refuses_new_ones(proxy):
    s = socket.create_connection(("127.0.0.1", proxy.listen_port), timeout=5)
    s.sendall(b"a")
    assert s.recv(1) == b"a"
    proxy.cut()
    with pytest.raises(OSError):  # reset, or EOF turned into an error below
        s.sendall(b"b")
        if not s.recv(1):
            raise ConnectionResetError("EOF")
    s.close()
    with pytest.raises(OSError):
        if not roundtrip(proxy.listen_port, timeout=2):
            raise ConnectionResetError("EOF")
    proxy.restore()
    assert roundtrip(proxy.listen_port) == b"ping"


def test_blackhole_stalls_the_connection_until_restored(proxy):
    s = socket.create_connection(("127.0.0.1", proxy.listen_port), timeout=5)
    proxy.blackhole()
    s.sendall(b"held")
    s.settimeout(0.5)
    with pytest.raises(socket.timeout):
        s.recv(4)
    proxy.restore()
    s.settimeout(5)
    got = b""
    while len(got) < 4:
        got += s.recv(4 - len(got))
    assert got == b"held"  # delivered late, intact, as after a short partition
    s.close()


def test_cut_during_blackhole_drops_held_data(proxy):
    s = socket.create_connection(("127.0.0.1", proxy.listen_port), timeout=5)
    proxy.blackhole()
    s.sendall(b"held")
    proxy.cut()
    with pytest.raises(OSError):
        if not s.recv(4):
            raise ConnectionResetError("EOF")
    s.close()


def test_delay_still_delivers_in_order(proxy):
    proxy.delay(0.05)
    assert roundtrip(proxy.listen_port, b"slow but sure") == b"slow but sure"
