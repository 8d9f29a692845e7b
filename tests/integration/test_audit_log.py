"""The audit log (audit.enable): the same client scenario against Apache ZooKeeper 3.8 (its
Slf4jAuditLogger routed to zookeeper_audit.log, as Apache's shipped logging config does) and zkd,
and the audit lines compared field by field, timestamps and session ids normalised."""
import os
import re
import shutil
import socket
import threading

import pytest
from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError
from kazoo.security import make_acl, make_digest_acl

from tests.lib.waiting import wait_until

# "%d{ISO8601} %p %c{2}: %m%n"
LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) (INFO|ERROR) audit\.Slf4jAuditLogger: (.*)$")


def read_lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [l.rstrip("\n") for l in f if l.strip()]


def parse(lines):
    """Each line as (level, [(key, value)...]); fields are TAB-separated key=value pairs."""
    out = []
    for l in lines:
        m = LINE.match(l)
        assert m, "not an audit line: %r" % l
        pairs = [tuple(f.split("=", 1)) for f in m.group(3).split("\t")]
        out.append((m.group(2), pairs))
    return out


def normalise(events):
    """Session ids become s0, s1... in order of appearance; the rest is compared as is."""
    ids = {}
    norm = []
    for level, pairs in events:
        fields = []
        for k, v in pairs:
            if k == "session":
                v = ids.setdefault(v, "s%d" % len(ids))
            fields.append((k, v))
        norm.append((level, tuple(fields)))
    return norm


def scenario(zk, other):
    """Every audited kind of write, each also failing; then the session closes."""
    zk.create("/a", b"1")
    zk.create("/a/s-", b"", sequence=True)
    zk.create("/e", b"", ephemeral=True)
    zk.create("/es-", b"", ephemeral=True, sequence=True)
    with pytest.raises(NodeExistsError):
        zk.create("/a", b"")
    zk.set("/a", b"2")
    with pytest.raises(BadVersionError):
        zk.set("/a", b"3", version=42)
    zk.set_acls("/a", [make_acl("world", "anyone", read=True, write=True, create=True, delete=True),
                       make_digest_acl("bob", "pw", all=True)])
    with pytest.raises(NoNodeError):
        zk.set_acls("/nope", [make_acl("world", "anyone", all=True)])
    zk.delete("/a/s-0000000000")
    with pytest.raises(NoNodeError):
        zk.delete("/nope")
    tx = zk.transaction()
    tx.create("/m1", b"x")
    tx.create("/m2-", b"", sequence=True)
    tx.set_data("/m1", b"y")
    tx.delete("/m1")
    tx.check("/a", 1)
    assert not any(isinstance(r, Exception) for r in tx.commit())
    tx = zk.transaction()
    tx.create("/m3", b"")
    tx.create("/a", b"")  # exists: the whole multi fails
    assert isinstance(tx.commit()[1], NodeExistsError)
    # A second session with a digest identity: user names both ids.
    other.add_auth("digest", "alice:secret")
    other.create("/b", b"", ephemeral=True)
    other.delete("/b")


def run(server_factory, kazoo_client, kind, cfg):
    srv = server_factory(kind, cfg=cfg)
    zk = kazoo_client(srv)
    other = kazoo_client(srv)
    scenario(zk, other)
    zk.stop()  # closes the session: its ephemerals are deleted
    other.stop()
    return srv


def test_audit_lines_match_apache(server_factory, kazoo_client, tmp_path):
    logs = {}
    for kind in ("apache", "zkd"):
        cfg = {"audit.enable": "true"}
        if kind == "zkd":
            cfg["audit.logFile"] = str(tmp_path / "zkd_audit.log")
        srv = run(server_factory, kazoo_client, kind, cfg)
        path = srv.audit_log_path if kind == "apache" else cfg["audit.logFile"]
        # Both write asynchronously: await the first session's two ephemeral deletions, then
        # serverStop after the server stops.
        wait_until(lambda: sum("ephemeralZNodeDeletion" in l for l in read_lines(path)) >= 2,
                   what="%s ephemeral deletions in the audit log" % kind)
        srv.stop()
        wait_until(lambda: "operation=serverStop" in "".join(read_lines(path)[-1:]),
                   what="%s serverStop in the audit log" % kind)
        logs[kind] = normalise(parse(read_lines(path)))

    def key(ev):
        # The ephemerals of one session are deleted in hash order in Apache: compare them as a set.
        return ev if "ephemeralZNodeDeletion" not in str(ev) else ("eph",)

    a, z = logs["apache"], logs["zkd"]
    assert [key(e) for e in z] == [key(e) for e in a], "\n".join(
        ["apache:"] + [str(e) for e in a] + ["zkd:"] + [str(e) for e in z])
    assert sorted(e for e in z if key(e) == ("eph",)) == sorted(e for e in a if key(e) == ("eph",))
    # The scenario did reach the log: a spot check of what the comparison covered.
    ops = [dict(p)["operation"] for _, p in z]
    assert ops[0] == "serverStart" and ops[-1] == "serverStop"
    for op in ("create", "delete", "setData", "setAcl", "multiOperation",
               "ephemeralZNodeDeletionOnSessionCloseOrExpire"):
        assert op in ops, op


def test_audit_enabled_by_jvm_flag_default_file_and_session_events(server_factory, kazoo_client):
    # -Dzookeeper.audit.enable in SERVER_JVMFLAGS, as zkServer.sh users set it; no audit.logFile:
    # the file is zookeeper_audit.log in dataDir ($ZOO_LOG_DIR unset).
    env = {"ZOO_LOG_DIR": "", "SERVER_JVMFLAGS": "-Xmx1g -Dzookeeper.audit.enable=true"}
    srv = server_factory("zkd", cfg={"audit.sessionEvents": "true"}, env=env)
    path = os.path.join(srv.data_dir, "zookeeper_audit.log")
    bad = kazoo_client(srv)
    with pytest.raises(Exception):
        bad.add_auth("digest", "")  # refused credentials: an addAuth failure
    bad.stop()
    zk = kazoo_client(srv)
    zk.add_auth("digest", "carol:pw")
    zk.create("/x", b"")
    sid = "0x%x" % zk.client_id[0]
    zk.stop()
    wait_until(lambda: "operation=closeSession" in "".join(read_lines(path)),
               what="closeSession in the audit log")
    events = [(lvl, dict(p)) for lvl, p in parse(read_lines(path))]
    mine = [(lvl, e["operation"], e.get("user"), e["result"]) for lvl, e in events
            if e.get("session") == sid]
    assert mine == [
        ("INFO", "createSession", "127.0.0.1", "success"),
        # Apache's order of a connection's ids (a hash set's), as in the create lines.
        ("INFO", "addAuth", "carol,127.0.0.1", "success"),
        ("INFO", "create", "carol,127.0.0.1", "success"),
        ("INFO", "closeSession", "carol,127.0.0.1", "success"),
    ]
    assert ("ERROR", "addAuth", "failure") in [(l, e["operation"], e["result"]) for l, e in events]


# zkd's syslog path (audit.logFile=syslog) writes through syslog(3) to /dev/log.  The server
# runs in a mount namespace whose /dev is a fresh tmpfs holding the usual device nodes (bound
# from the real /dev) and, as /dev/log, a datagram socket this test reads: no syslog daemon,
# and nothing changes outside the namespace.
NAMESPACED_DEV = r"""
set -e
old=$1/olddev; shift
mkdir -p "$old"
mount --rbind /dev "$old"
mount -t tmpfs -o mode=755 zkd-test-dev /dev
for n in null zero full random urandom tty; do
    touch /dev/$n
    mount --bind "$old/$n" /dev/$n
done
ln -s /proc/self/fd /dev/fd
touch /dev/log
mount --bind "$SYSLOG_SOCKET" /dev/log
exec "$@"
"""

# "<PRI>Mmm dd hh:mm:ss zkd-audit[PID]: MESSAGE" as glibc's syslog(3) sends it.
SYSLOG = re.compile(r"^<(\d+)>\w{3} [ \d]\d \d\d:\d\d:\d\d zkd-audit\[(\d+)\]: (.*)$", re.S)
LOG_AUTH, LOG_ERR, LOG_INFO = 4 << 3, 3, 6


def test_audit_to_syslog_sends_apaches_fields_with_auth_facility(server_factory, kazoo_client,
                                                                  tmp_path):
    if not shutil.which("unshare"):
        pytest.skip("unshare (util-linux) is not installed")
    sock_path = str(tmp_path / "log.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    got = []  # (priority, pid, message); read as they come, since a full socket blocks syslog(3)

    def receive():
        while True:
            data = sock.recv(65536)
            if not data:
                return
            m = SYSLOG.match(data.decode())
            got.append((int(m.group(1)), int(m.group(2)), m.group(3)) if m else (None, None, data))

    reader = threading.Thread(target=receive, daemon=True)
    reader.start()
    try:
        file_cfg = {"audit.enable": "true", "audit.logFile": str(tmp_path / "file_audit.log")}
        srv = run(server_factory, kazoo_client, "zkd", file_cfg)
        wait_until(lambda: sum("ephemeralZNodeDeletion" in l
                               for l in read_lines(file_cfg["audit.logFile"])) >= 2,
                   what="ephemeral deletions in the audit file")
        srv.stop()
        wait_until(lambda: "operation=serverStop" in
                   "".join(read_lines(file_cfg["audit.logFile"])[-1:]), what="serverStop")
        expected = normalise(parse(read_lines(file_cfg["audit.logFile"])))

        srv = server_factory("zkd", start=False, env={"SYSLOG_SOCKET": sock_path},
                             cfg={"audit.enable": "true", "audit.logFile": "syslog"})
        inner = srv.full_command
        srv.full_command = lambda: ["unshare", "--mount", "--propagation", "private", "--",
                                    "sh", "-c", NAMESPACED_DEV, "sh", str(tmp_path)] + inner()
        srv.start()
        pid = srv.pid
        zk = kazoo_client(srv)
        other = kazoo_client(srv)
        scenario(zk, other)
        zk.stop()
        other.stop()
        srv.stop()  # the writer sends everything before the process exits
        assert got and "operation=serverStop" in str(got[-1][2])
    finally:
        sock.shutdown(socket.SHUT_RDWR)
        sock.close()
        reader.join(10)
    assert all(p == pid for _, p, _ in got), got
    events = []
    for pri, _, msg in got:
        assert pri & ~7 == LOG_AUTH, pri
        level = "ERROR" if pri & 7 == LOG_ERR else "INFO"
        assert pri & 7 == (LOG_ERR if level == "ERROR" else LOG_INFO)
        events.append((level, [tuple(f.split("=", 1)) for f in msg.split("\t")]))

    def key(ev):
        return ev if "ephemeralZNodeDeletion" not in str(ev) else ("eph",)

    z = normalise(events)
    assert [key(e) for e in z] == [key(e) for e in expected], "\n".join(
        ["file:"] + [str(e) for e in expected] + ["syslog:"] + [str(e) for e in z])
    assert any(level == "ERROR" for level, _ in z)
