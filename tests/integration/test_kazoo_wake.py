"""The guard on kazoo's wake-up socket (tests/lib/kazoo_wake.py), installed on importing tests.lib.

Both tests hang a client without the guard; they wait with timeouts, so they fail instead."""
import threading

from kazoo.protocol.serialization import Exists


def test_a_request_queued_without_its_wake_byte_is_still_sent(zkd_module, kazoo_client):
    zk = kazoo_client(zkd_module)
    orphan = zk.handler.async_result()
    zk._queue.append((Exists("/", None), orphan))  # queued with no byte: the count is one short
    # This call's byte wakes the thread for the orphan, the head of the queue; unguarded, the
    # call itself then stays queued with nothing left to wake the thread (pings do not).
    assert zk.exists_async("/").get(timeout=30) is not None
    assert orphan.get(timeout=30) is not None


def test_the_wake_socket_is_read_without_blocking(zkd_module, kazoo_client):
    zk = kazoo_client(zkd_module)
    assert zk.exists("/") is not None  # connected and idle: no wake byte is pending
    got = []
    reader = threading.Thread(target=lambda: got.append(zk._connection._read_sock.recv(1)),
                              daemon=True)
    reader.start()
    reader.join(10)
    assert got == [b""], "recv(1) on the empty wake-up socket blocked"
    assert zk.exists("/") is not None
