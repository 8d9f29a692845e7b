"""What on-call reads in zkd's log: the fsync warning (fsync.warningthresholdms), the slow-request
line (slowRequestThresholdMs), mntr's latency summaries, the JSON log format, and the log level
changed at run time (SIGHUP, the AdminServer's log_level)."""
import json
import os
import signal
import urllib.error
import urllib.request

from tests.lib import servers as S
from tests.lib.waiting import wait_until


def log_text(srv):
    with open(srv.log_path) as f:
        return f.read()


def mntr(srv):
    return dict(l.split("\t", 1) for l in S.four_letter(srv.port, "mntr").splitlines())


def test_fsync_warning_names_time_and_log(server_factory, kazoo_client):
    # Threshold 0: every log batch is over it, whatever the disk.
    srv = server_factory("zkd", cfg={"fsync.warningthresholdms": "0"})
    zk = kazoo_client(srv)
    zk.create("/f", b"x")
    log_dir = os.path.join(srv.data_dir, "version-2")  # where the log files are
    wait_until(lambda: "fsync-ing the write ahead log in %s took" % log_dir in log_text(srv),
               what="fsync warning")
    m = mntr(srv)
    assert int(m["zk_cnt_fsynctime"]) >= 1
    assert float(m["zk_avg_fsynctime"]) >= 0.0


def test_no_fsync_warning_below_the_threshold(server_factory, kazoo_client):
    srv = server_factory("zkd", cfg={"fsync.warningthresholdms": "100000"})
    zk = kazoo_client(srv)
    zk.create("/f", b"x")
    assert int(mntr(srv)["zk_cnt_fsynctime"]) >= 1
    assert "fsync-ing the write ahead log" not in log_text(srv)


def test_slow_request_logged_with_session_client_and_path(server_factory, kazoo_client):
    srv = server_factory("zkd", cfg={"slowRequestThresholdMs": "1"})
    zk = kazoo_client(srv)
    zk.create("/wide", b"")
    tx = zk.transaction()
    for i in range(1000):
        tx.create("/wide/c%05d" % i, b"")
    tx.commit()
    for i in range(1000, 30000, 1000):
        tx = zk.transaction()
        for k in range(i, i + 1000):
            tx.create("/wide/c%05d" % k, b"")
        tx.commit()
    # Listing 30,000 children takes well over 1 ms on any machine.
    assert len(zk.get_children("/wide")) == 30000
    sid = zk.client_id[0]
    wait_until(lambda: "slow request: GETC" in log_text(srv), what="slow request line")
    line = [l for l in log_text(srv).splitlines() if "slow request: GETC" in l][-1]
    assert "/wide took" in line and "session 0x%x" % sid in line and "client 127.0.0.1:" in line


def test_mntr_latency_summaries(server_factory, kazoo_client):
    srv = server_factory("zkd")
    zk = kazoo_client(srv)
    for i in range(10):
        zk.create("/l%d" % i, b"x")
        zk.get("/l%d" % i)
    m = mntr(srv)
    for name in ("readlatency", "updatelatency"):
        assert int(m["zk_cnt_%s" % name]) >= 10
        for p in ("p50", "p95", "p99", "p999"):
            assert int(m["zk_%s_%s" % (p, name)]) >= 0
        assert int(m["zk_p50_%s" % name]) <= int(m["zk_p999_%s" % name]) <= int(m["zk_max_%s" % name])


def test_json_log_format_one_object_a_line(server_factory, kazoo_client):
    srv = server_factory("zkd", cfg={"logFormat": "json", "slowRequestThresholdMs": "1"})
    zk = kazoo_client(srv)
    zk.create("/quote\"d", b"x")
    srv.stop()
    lines = [l for l in log_text(srv).splitlines() if l and not l.startswith("=====")]
    assert lines
    for l in lines:
        obj = json.loads(l)
        assert set(obj) == {"ts", "level", "msg"}, l
        assert obj["level"] in ("ERROR", "WARN", "INFO", "DEBUG")
    assert any(json.loads(l)["msg"].startswith("zkd ") for l in lines)


def _reset_connection(port):
    """Connects and closes with a TCP reset: zkd logs that at debug level only."""
    import socket
    import struct
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_sighup_rereads_log_level(server_factory):
    srv = server_factory("zkd", cfg={"logLevel": "info"})
    srv.cfg["logLevel"] = "debug"
    srv.write_config()
    os.kill(srv.pid, signal.SIGHUP)
    wait_until(lambda: "SIGHUP: re-read %s: log level debug" % srv.cfg_path in log_text(srv),
               what="first SIGHUP applied")
    _reset_connection(srv.port)
    wait_until(lambda: "DEBUG" in log_text(srv) and "connection reset by peer" in log_text(srv),
               what="debug lines after SIGHUP")
    srv.cfg["logLevel"] = "loud"
    srv.write_config()
    os.kill(srv.pid, signal.SIGHUP)
    wait_until(lambda: "SIGHUP: " in log_text(srv) and "log settings unchanged" in log_text(srv),
               what="bad logLevel refused")
    assert S.four_letter(srv.port, "ruok") == "imok"


def test_admin_log_level_command(server_factory):
    port = S.free_port()
    srv = server_factory("zkd", cfg={"admin.enableServer": "true", "admin.serverPort": str(port),
                                     "admin.serverAddress": "127.0.0.1"})
    url = "http://127.0.0.1:%d/commands/log_level" % port

    def get(q=""):
        try:
            with urllib.request.urlopen(url + q, timeout=20) as r:
                return r.status, json.load(r)
        except urllib.error.HTTPError as e:
            return e.code, json.load(e)

    assert get() == (200, {"level": "info", "command": "log_level", "error": None})
    assert get("?level=debug")[1]["level"] == "debug"
    assert get("?level=bogus")[0] == 400
    assert get()[1]["level"] == "debug"
    assert "AdminServer: log level info -> debug (from 127.0.0.1)" in log_text(srv)
