"""zkd tells systemd when it serves and when it stops (Type=notify units, packaging/systemd/).

A unit of Type=notify counts zkd as started only after READY=1 arrives on $NOTIFY_SOCKET; zkd
sends it once clients can connect (standalone: listening), and STOPPING=1 when SIGTERM begins a
clean shutdown.  The test plays systemd: it binds the datagram socket and reads what zkd sends.
"""
import os
import signal
import socket
import subprocess

from tests.lib import servers as S
from tests.lib.paths import BUILD_BIN


def messages(sock, until, timeout=30.0):
    """Datagrams received until one contains `until` (each split into its KEY=VALUE lines)."""
    sock.settimeout(timeout)
    got = []
    while not any(until in m for m in got):
        got.append(sock.recv(4096).decode())
    return got


def test_ready_once_serving_and_stopping_on_sigterm(tmp_path):
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    port = S.free_port()
    cfg = tmp_path / "zoo.cfg"
    cfg.write_text("tickTime=2000\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"
                   % (tmp_path / "data", port))
    log = open(tmp_path / "zkd.log", "w")
    zkd = subprocess.Popen([os.path.join(BUILD_BIN, "zkd"), str(cfg)], stdout=log, stderr=log,
                           env=dict(os.environ, NOTIFY_SOCKET=path))
    try:
        ready = messages(sock, "READY=1")
        # READY only once clients are served: a connection works right away.
        assert "Mode: standalone" in S.four_letter(port, "srvr")
        assert any("STATUS=serving" in m for m in ready), ready
        zkd.send_signal(signal.SIGTERM)
        assert any("STOPPING=1" in m for m in messages(sock, "STOPPING=1")), "no STOPPING=1"
        assert zkd.wait(30) == 0
    finally:
        if zkd.poll() is None:
            zkd.kill()
            zkd.wait()
        log.close()
        sock.close()
