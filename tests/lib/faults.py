"""Fault injection between ensemble members: a TCP proxy per directed link.

Every member of a proxied ensemble (tests/lib/ensemble.py) gets its own zoo.cfg in which the
quorum and election addresses of the OTHER members point at proxy ports in the test process;
each proxy forwards to the real port.  The link "i -> j" is then the pair of proxies that member i
dials to reach member j (one for j's quorum port, one for its election port), and a test can

    link.cut()        close every connection on it now and reset new ones at once (a partition
                      that the peers notice quickly: connection refused / reset);
    link.blackhole()  keep connections open but deliver nothing either way: bytes wait in the
                      proxy and the kernel buffers (a partition noticed only by timeouts, as a
                      dead switch causes); on restore() they flow again, intact and in order, as
                      TCP retransmission delivers them after a short partition;
    link.delay(s)     forward everything, each chunk `s` seconds late;
    link.restore()    forward normally again.

A member that *accepts* a connection may talk back over it, so cutting "i -> j" alone does not stop
j from hearing i's answers on connections i opened; Partition cuts both directions of every pair
split by the partition.  Apache's election layer connects back to the address a lower-numbered
peer announces (its real address), which would bypass the proxies; such direct sockets are found
and destroyed with `ss -K` when a partition starts (see Partition.apply), and cannot re-form while
the proxies are cut because only a proxied connection makes the peer connect back.

Threads: one acceptor per proxy, two pumps per connection.  Everything is torn down by close().
"""
import socket
import subprocess
import threading
import time

HOST = "127.0.0.1"

UP, CUT, BLACKHOLE = "up", "cut", "blackhole"


def _rst_close(sock):
    """Closes with a TCP reset rather than an orderly FIN, as a failing network path looks."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


class Proxy:
    """Listens on `listen_port` (a free port chosen by the caller) and forwards to `target_port`."""

    def __init__(self, listen_port, target_port, name=""):
        self.listen_port = listen_port
        self.target_port = target_port
        self.name = name or "%d->%d" % (listen_port, target_port)
        self.mode = UP
        self.delay_s = 0.0
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._conns = set()  # sockets of live connections, both sides
        self.recorded = None  # bytearray of what the target sent, once record() is called
        self._closed = False
        self._lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._lsock.bind((HOST, listen_port))
        self._lsock.listen(64)
        self._thread = threading.Thread(target=self._accept_loop, name="proxy " + self.name,
                                        daemon=True)
        self._thread.start()

    # -- control ------------------------------------------------------------

    def set_mode(self, mode, delay=0.0):
        with self._lock:
            self.mode = mode
            self.delay_s = delay
            self._cond.notify_all()
            doomed = list(self._conns) if mode == CUT else []
            if mode == CUT:
                self._conns.clear()
        for s in doomed:
            _rst_close(s)

    def cut(self):
        self.set_mode(CUT)

    def blackhole(self):
        self.set_mode(BLACKHOLE)

    def delay(self, seconds):
        self.set_mode(UP, seconds)

    def restore(self):
        self.set_mode(UP)

    def record(self):
        """From now on, keeps every byte the target sends back (on any connection, in arrival
        order) in self.recorded: a test reads what a member sent over this link."""
        with self._lock:
            self.recorded = bytearray()

    def close(self):
        self._closed = True
        self.set_mode(CUT)
        try:
            # Wake the acceptor: shutdown() makes a blocked accept() return on Linux.
            self._lsock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._lsock.close()
        self._thread.join(5)

    # -- data path ----------------------------------------------------------

    def _accept_loop(self):
        while not self._closed:
            try:
                client, _ = self._lsock.accept()
            except OSError:
                return
            if self._closed or self.mode == CUT:
                _rst_close(client)
                continue
            try:
                upstream = socket.create_connection((HOST, self.target_port), timeout=2.0)
                upstream.settimeout(None)
            except OSError:
                _rst_close(client)  # the real peer is down: so is the link
                continue
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                if self.mode == CUT:
                    _rst_close(client)
                    _rst_close(upstream)
                    continue
                self._conns.update((client, upstream))
            for src, dst, back in ((client, upstream, False), (upstream, client, True)):
                threading.Thread(target=self._pump, args=(src, dst, back), daemon=True,
                                 name="pump " + self.name).start()

    def _pump(self, src, dst, back=False):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                with self._cond:
                    while self.mode == BLACKHOLE and not self._closed:
                        self._cond.wait(0.5)  # stall: hold the bytes until restore() or cut()
                    mode, delay = self.mode, self.delay_s
                    if back and self.recorded is not None:
                        self.recorded += data
                if mode == CUT:
                    break
                if delay:
                    time.sleep(delay)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                live = src in self._conns
                self._conns.discard(src)
                self._conns.discard(dst)
            if live:
                # Propagate the end of one side to the other, as a direct connection would.
                for s in (src, dst):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    s.close()


class Link:
    """The proxies member `src` dials to reach member `dst` (quorum and election ports)."""

    def __init__(self, src, dst, proxies):
        self.src, self.dst = src, dst
        self.proxies = proxies

    def _all(self, method, *args):
        for p in self.proxies:
            getattr(p, method)(*args)

    def cut(self):
        self._all("cut")

    def blackhole(self):
        self._all("blackhole")

    def delay(self, seconds):
        self._all("delay", seconds)

    def restore(self):
        self._all("restore")

    def close(self):
        self._all("close")

    def __repr__(self):
        return "<Link %d->%d %s>" % (self.src, self.dst, self.proxies[0].mode)


def kill_direct_sockets(owner_pid, real_port):
    """Destroys (`ss -K`, which resets the peer) the established TCP sockets that process
    `owner_pid` opened straight to `real_port`: connections that bypassed the proxies (see the
    module docstring).  The proxies' own upstream sockets belong to the test process and are
    left alone.  Returns how many were destroyed (0 if ss is unavailable)."""
    try:
        out = subprocess.run(["ss", "-tnpH", "state", "established",
                              "dport", "=", ":%d" % real_port],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return 0
    killed = 0
    for line in out.decode("utf-8", "replace").splitlines():
        if "pid=%d," % owner_pid not in line:
            continue
        fields = line.split()
        local, peer = fields[2], fields[3]  # Recv-Q Send-Q Local Peer Process
        try:
            subprocess.run(["ss", "-K", "-tn", "src", local, "dst", peer],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
            killed += 1
        except (OSError, subprocess.TimeoutExpired):
            pass
    return killed
