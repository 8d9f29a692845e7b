"""zkcli (client/zkcli.c) against both servers: one-shot commands, exit codes,
--json output, binary-safe printing, and the interactive shell printing watch
events as they arrive."""
import base64
import json
import os
import queue
import subprocess
import threading
import time

import pytest

from tests.lib.paths import BUILD_BIN

ZKCLI = os.path.join(BUILD_BIN, "zkcli")

pytestmark = pytest.mark.skipif(not os.access(ZKCLI, os.X_OK), reason="zkcli not built")


def cli(server, *args, json_out=False, check=True, timeout=60):
    cmd = [ZKCLI, "-s", server.hosts] + (["--json"] if json_out else []) + list(args)
    p = subprocess.run(cmd, capture_output=True, timeout=timeout)
    if check:
        assert p.returncode == 0, (args, p.returncode, p.stdout, p.stderr)
    return p


def out(server, *args):
    return cli(server, *args).stdout.decode()


def jout(server, *args):
    return json.loads(cli(server, *args, json_out=True).stdout.decode())


def test_zkcli_one_shot_basics(server):
    b = "/zkcli-basic"
    cli(server, "deleteall", b, check=False)
    assert out(server, "create", b, "v1") == "Created %s\n" % b
    assert out(server, "get", b) == "v1\n"
    stat = out(server, "get", "-s", b)
    assert "dataVersion = 0" in stat and "cZxid = 0x" in stat and "numChildren = 0" in stat
    cli(server, "set", b, "v2")
    assert out(server, "get", b) == "v2\n"
    cli(server, "set", "-v", "1", b, "v3")
    j = jout(server, "get", b)
    assert j["data"] == "v3" and j["stat"]["version"] == 2
    cli(server, "create", b + "/a")
    cli(server, "create", b + "/b", "x")
    assert out(server, "ls", b) == "[a, b]\n"
    assert jout(server, "ls", b)["children"] == ["a", "b"]
    assert "numChildren = 2" in out(server, "ls", "-s", b)
    assert out(server, "ls", "-R", b).split() == [b, b + "/a", b + "/b"]
    assert jout(server, "stat", b)["numChildren"] == 2
    assert out(server, "getAllChildrenNumber", b) == "2\n"
    assert out(server, "sync", b) == "Sync is OK\n"
    assert "ip: 127.0.0.1" in out(server, "whoami")
    cli(server, "delete", b + "/a")
    cli(server, "deleteall", b)
    p = cli(server, "stat", b, check=False)
    assert p.returncode == 1 and b"NONODE" in p.stderr


def test_zkcli_create_modes(server):
    b = "/zkcli-modes"
    cli(server, "deleteall", b, check=False)
    cli(server, "create", b)
    created = out(server, "create", "-s", b + "/s-", "x")
    assert created.startswith("Created %s/s-00000000" % b)
    assert out(server, "create", "-c", b + "/cont") == "Created %s/cont\n" % b
    assert out(server, "create", "-t", "60000", b + "/ttl") == "Created %s/ttl\n" % b
    # An ephemeral node lives as long as the one-shot session: gone afterwards.
    assert out(server, "create", "-e", b + "/eph") == "Created %s/eph\n" % b
    deadline = time.time() + 10
    while cli(server, "stat", b + "/eph", check=False).returncode == 0 and time.time() < deadline:
        time.sleep(0.2)
    assert cli(server, "stat", b + "/eph", check=False).returncode == 1
    p = cli(server, "create", b + "/cont", check=False)
    assert p.returncode == 1 and b"NODEEXISTS" in p.stderr
    cli(server, "deleteall", b)


def test_zkcli_errors_and_usage(server):
    p = cli(server, "get", "/zkcli-no-such-node", check=False)
    assert p.returncode == 1
    assert p.stderr.decode().startswith("NONODE:")
    p = cli(server, "get", "/zkcli-no-such-node", json_out=True, check=False)
    assert p.returncode == 1 and json.loads(p.stdout)["error"] == "NONODE"
    p = cli(server, "get", check=False)  # missing path
    assert p.returncode == 2 and b"usage" in p.stderr
    p = cli(server, "frobnicate", check=False)
    assert p.returncode == 2
    p = cli(server, "create", "bad-path", check=False)
    assert p.returncode == 1 and b"BADARGUMENTS" in p.stderr
    p = subprocess.run([ZKCLI, "-s", "127.0.0.1:1", "-timeout", "1500", "ls", "/"],
                       capture_output=True, timeout=30)
    assert p.returncode == 1 and b"CONNECTIONLOSS" in p.stderr


def test_zkcli_acl_and_auth(server):
    b = "/zkcli-acl"
    cli(server, "deleteall", b, check=False)
    cli(server, "create", b, "x")
    assert out(server, "getAcl", b) == "'world,'anyone\n: cdrwa\n"
    cli(server, "setAcl", b, "world:anyone:r")
    assert out(server, "getAcl", b) == "'world,'anyone\n: r\n"
    p = cli(server, "set", b, "y", check=False)
    assert p.returncode == 1 and b"NOAUTH" in p.stderr
    acl = jout(server, "getAcl", b)["acl"]
    assert acl == [{"scheme": "world", "id": "anyone", "perms": "r"}]
    cli(server, "delete", b)


def test_zkcli_binary_data_is_escaped(server, kazoo_client):
    zk = kazoo_client(server)
    raw = b"a\x01\xff\x1b[31mred\x00z"
    zk.create("/zkcli-bin", raw)
    try:
        text = cli(server, "get", "/zkcli-bin").stdout
        assert b"\x1b" not in text and b"\x00" not in text
        assert text == b"a\\x01\\xff\\x1b[31mred\\x00z\n"
        j = jout(server, "get", "/zkcli-bin")
        assert j["data"] is None and base64.b64decode(j["dataBase64"]) == raw
        zk.set("/zkcli-bin", "héllo\n".encode())
        assert cli(server, "get", "/zkcli-bin").stdout == "héllo\n\n".encode()
        assert jout(server, "get", "/zkcli-bin")["data"] == "héllo\n"
    finally:
        zk.delete("/zkcli-bin")


class Shell:
    """zkcli reading commands from a pipe; output lines collected by a thread."""

    def __init__(self, server, *args):
        self.p = subprocess.Popen([ZKCLI, "-s", server.hosts] + list(args), stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            self.lines.put(line.rstrip("\n"))

    def send(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()

    def expect(self, pred, timeout=15):
        seen = []
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                continue
            seen.append(line)
            if pred(line):
                return seen
        raise AssertionError("not seen; got %r" % seen)

    def close(self):
        try:
            self.send("quit")
            self.p.wait(timeout=15)
        except Exception:
            self.p.kill()
            self.p.wait()


def test_zkcli_shell_prints_watch_events(server, kazoo_client):
    zk = kazoo_client(server)
    b = "/zkcli-watch"
    zk.delete(b, recursive=True) if zk.exists(b) else None
    zk.create(b, b"0")
    sh = Shell(server)
    try:
        sh.send("get -w %s" % b)
        sh.expect(lambda l: l == "0")
        zk.set(b, b"1")
        sh.expect(lambda l: l == "WatchedEvent state:SyncConnected type:NodeDataChanged path:%s" % b)
        sh.send("ls -w %s" % b)
        sh.expect(lambda l: l == "[]")
        zk.create(b + "/kid")
        sh.expect(lambda l: "type:NodeChildrenChanged path:%s" % b in l)
        sh.send("addWatch -m PERSISTENT_RECURSIVE %s" % b)
        sh.send("sync %s" % b)
        sh.expect(lambda l: l == "Sync is OK")
        zk.set(b + "/kid", b"x")
        zk.set(b + "/kid", b"y")
        sh.expect(lambda l: "type:NodeDataChanged path:%s/kid" % b in l)
        sh.expect(lambda l: "type:NodeDataChanged path:%s/kid" % b in l)
        sh.send("removewatches %s -a" % b)
        sh.send("sync %s" % b)
        sh.expect(lambda l: l == "Sync is OK")
        sh.send('set %s "two words"' % b)
        sh.send("get %s" % b)
        sh.expect(lambda l: l == "two words")
        sh.send("stat -w /zkcli-watch-absent")
        sh.expect(lambda l: l.startswith("NONODE"))
        zk.create("/zkcli-watch-absent")
        sh.expect(lambda l: "type:NodeCreated path:/zkcli-watch-absent" in l)
        zk.delete("/zkcli-watch-absent")
        sh.send("close")
        sh.send("connect %s" % server.hosts)
        sh.send("get %s" % b)
        sh.expect(lambda l: l == "two words")
    finally:
        sh.close()
        zk.delete(b, recursive=True)
    assert sh.p.returncode == 0


def test_zkcli_shell_json_events(server, kazoo_client):
    zk = kazoo_client(server)
    zk.ensure_path("/zkcli-jw")
    sh = Shell(server, "--json")
    try:
        sh.send("stat -w /zkcli-jw")
        sh.expect(lambda l: '"numChildren"' in l)
        zk.set("/zkcli-jw", b"z")
        seen = sh.expect(lambda l: '"NodeDataChanged"' in l)
        ev = json.loads(seen[-1])
        assert ev == {"event": "NodeDataChanged", "state": "SyncConnected", "path": "/zkcli-jw"}
    finally:
        sh.close()
        zk.delete("/zkcli-jw")


def test_zkcli_chroot_and_ephemerals(server):
    cli(server, "deleteall", "/zkcli-chroot", check=False)
    cli(server, "create", "/zkcli-chroot")
    p = subprocess.run([ZKCLI, "-s", server.hosts + "/zkcli-chroot", "create", "/inside", "v"],
                       capture_output=True, timeout=30)
    assert p.returncode == 0 and p.stdout == b"Created /inside\n"
    assert out(server, "get", "/zkcli-chroot/inside") == "v\n"
    sh = Shell(server)
    try:
        sh.send("create -e /zkcli-chroot/eph")
        sh.expect(lambda l: l == "Created /zkcli-chroot/eph")
        sh.send("getEphemerals /zkcli-chroot")
        sh.expect(lambda l: l == "[/zkcli-chroot/eph]")
    finally:
        sh.close()
    cli(server, "deleteall", "/zkcli-chroot")


@pytest.mark.parametrize("kind", ["zkd", "apache"])
def test_zkcli_sasl_login(server_factory, tmp_path, kind):
    """--sasl-user with the password on the command line or in the environment
    logs in as sasl:<user>; a wrong password fails with AUTHFAILED."""
    from tests.integration.test_tls_sasl import sasl_server
    srv = sasl_server(server_factory, kind, tmp_path)
    who = out(srv, "--sasl-user", "bob", "--sasl-password", "bobsecret", "whoami")
    assert "sasl: bob" in who, who
    cli(srv, "--sasl-user", "bob", "--sasl-password", "bobsecret",
        "create", "/zkcli-sasl", "x", "sasl:bob:cdrwa")
    env = dict(os.environ, ZKCLI_SASL_PASSWORD="bobsecret")
    p = subprocess.run([ZKCLI, "-s", srv.hosts, "--sasl-user", "bob", "get", "/zkcli-sasl"],
                       capture_output=True, timeout=60, env=env)
    assert p.returncode == 0 and p.stdout.decode().strip() == "x", p
    anon = cli(srv, "get", "/zkcli-sasl", check=False)
    assert anon.returncode == 1 and b"NOAUTH" in anon.stderr, anon
    bad = cli(srv, "--sasl-user", "bob", "--sasl-password", "wrong", "get", "/zkcli-sasl",
              check=False)
    assert bad.returncode == 1 and b"AUTHFAILED" in bad.stderr, bad
