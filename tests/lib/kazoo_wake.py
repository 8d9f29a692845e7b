"""A guard on kazoo 2.8's wake-up socket, so that the test clients cannot hang for ever.

kazoo wakes its connection thread through a socketpair: KazooClient._call queues a request and
writes one byte; the connection thread, woken by select, sends the request at the head of the
queue and reads one byte back with a *blocking* recv(1) (ConnectionHandler._send_request).  The
design holds only while the bytes in the socket match the queued requests.  When they fall one
short, the connection thread blocks in that recv(1) for good: it sends no more pings, the server
expires the session, and the test's thread waits in a kazoo call that has no timeout.  CI saw
exactly that (the connection thread's stack ended in `self._read_sock.recv(1)`, the session
expired 10 s later, the test ran into pytest-timeout); which interleaving loses the byte was not
found.  The guard makes the count not matter:

- the read end is read with MSG_DONTWAIT, so a byte that is missing is skipped, not waited for;
- after each send, if requests are still queued and no byte is left to wake the thread for
  them, one is written.  A spare byte costs one empty wake-up, which kazoo already handles.

install() patches kazoo's classes once; importing tests.lib calls it, so every KazooClient the
suite and the benches make (fixtures and direct constructions alike) is guarded.
"""
import socket

from kazoo.handlers import threading as kazoo_threading
from kazoo.protocol import connection as kazoo_connection


class WakeReader:
    """The read end of the wake-up socketpair; recv() never blocks."""

    def __init__(self, sock):
        self.sock = sock

    def fileno(self):
        return self.sock.fileno()

    def recv(self, n):
        try:
            return self.sock.recv(n, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return b""

    def has_byte(self):
        try:
            return bool(self.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
        except BlockingIOError:
            return False

    def close(self):
        self.sock.close()


def _guarded_socket_pair(create_socket_pair):
    def create(self):
        read_sock, write_sock = create_socket_pair(self)
        return WakeReader(read_sock), write_sock
    return create


def _guarded_send_request(send_request):
    def send(self, read_timeout, connect_timeout):
        try:
            return send_request(self, read_timeout, connect_timeout)
        finally:
            reader, writer = self._read_sock, self._write_sock
            if (self.client._queue and isinstance(reader, WakeReader) and writer is not None
                    and not reader.has_byte()):
                try:
                    writer.send(b"\0")
                except OSError:
                    pass  # closed meanwhile: the queue is failed by kazoo's close
    return send


def install():
    handler = kazoo_threading.SequentialThreadingHandler
    conn = kazoo_connection.ConnectionHandler
    if getattr(conn, "_wake_guard_installed", False):
        return
    handler.create_socket_pair = _guarded_socket_pair(handler.create_socket_pair)
    conn._send_request = _guarded_send_request(conn._send_request)
    conn._wake_guard_installed = True
