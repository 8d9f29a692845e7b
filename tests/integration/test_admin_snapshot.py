"""The AdminServer's snapshot and restore commands (Apache 3.9's SnapshotCommand and
RestoreCommand) through curl: the streamed snapshot is a valid Apache snapshot file, restoring it
on another server serves its tree and survives a restart, and the gates (auth, the enable keys,
the rate limit, a bad upload) refuse as Apache's do."""
import json
import os
import subprocess

from tests.lib import servers as S
from tests.lib.paths import BUILD_BIN

SUPER_DIGEST = "super:D/InIHSb7yEEbrWz8b9l71RjZJU="  # super:test
AUTH = "Authorization: digest super:test"


def admin_cfg(**extra):
    cfg = {"admin.enableServer": "true", "admin.serverAddress": "127.0.0.1",
           "admin.serverPort": str(S.free_port()), "superDigest": SUPER_DIGEST}
    cfg.update(extra)
    return cfg


def url(srv, cmd):
    return "http://127.0.0.1:%s/commands/%s" % (srv.cfg["admin.serverPort"], cmd)


def curl(u, tmp_path, method="GET", headers=(AUTH,), upload=None):
    """(status, response headers as a dict, body bytes) through the real curl binary."""
    hfile = tmp_path / "headers.txt"
    cmd = ["curl", "-s", "-S", "--max-time", "60", "-X", method, "-D", str(hfile), "-o", "-"]
    for h in headers:
        cmd += ["-H", h]
    if upload is not None:
        cmd += ["-H", "Content-Type: application/octet-stream", "--data-binary", "@" + str(upload)]
    body = subprocess.run(cmd + [u], check=True, capture_output=True, timeout=90).stdout
    lines = hfile.read_text().splitlines()
    # The last response's head ("HTTP/1.1 100 Continue" may come first for an upload).
    first = max(i for i, l in enumerate(lines) if l.startswith("HTTP/"))
    lines = lines[first:]
    status = int(lines[0].split()[1])
    hdrs = {}
    for l in lines[1:]:
        if ":" in l:
            k, v = l.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    return status, hdrs, body


def snapshot_dump(path):
    out = subprocess.run([os.path.join(BUILD_BIN, "zkd"), "snapshot-dump", str(path), "--json"],
                         check=True, capture_output=True, timeout=60).stdout
    return json.loads(out)


def test_snapshot_streams_and_restore_replaces_the_tree_durably(server_factory, kazoo_client,
                                                                 tmp_path):
    a = server_factory("zkd", cfg=admin_cfg())
    zk = kazoo_client(a)
    zk.create("/app/config", b"v1", makepath=True)
    for i in range(50):
        zk.create("/app/items/i%03d" % i, b"x" * i, makepath=True)
    zk.set("/app/config", b"v2")
    code, hdrs, body = curl(url(a, "snapshot?streaming=true"), tmp_path)
    assert code == 200, body
    assert hdrs["content-type"] == "application/octet-stream"
    assert int(hdrs["snapshot_size"]) == len(body) > 0
    assert int(hdrs["last_zxid"], 16) == zk.exists("/app/config").mzxid
    snap = tmp_path / "snap.bin"
    snap.write_bytes(body)
    assert snapshot_dump(snap)  # zkd's own checker reads it as an Apache snapshot file

    # Another server with other data: the restore replaces it.
    b = server_factory("zkd", cfg=admin_cfg())
    zb = kazoo_client(b)
    zb.create("/other", b"gone soon")
    for _ in range(20):
        zb.set("/other", b"bump the zxid above the stream's")
    before = zb.exists("/other").mzxid
    code, _, out = curl(url(b, "restore"), tmp_path, method="POST", upload=snap)
    assert code == 200, out
    doc = json.loads(out)
    assert doc["command"] == "restore" and doc["error"] is None
    assert doc["last_zxid"] > before  # the state moves forward, never back

    def check(zkc):
        assert zkc.exists("/other") is None
        assert zkc.get("/app/config")[0] == b"v2"
        assert len(zkc.get_children("/app/items")) == 50
        assert zkc.get("/app/items/i042")[0] == b"x" * 42

    zc = kazoo_client(b)  # the restore closed every connection: a new client
    check(zc)
    zc.create("/after", b"written after the restore")
    b.restart()
    zd = kazoo_client(b)
    check(zd)
    assert zd.get("/after")[0] == b"written after the restore"
    assert zd.exists("/after").mzxid > doc["last_zxid"]


def test_bad_upload_changes_nothing(server_factory, kazoo_client, tmp_path):
    srv = server_factory("zkd", cfg=admin_cfg())
    zk = kazoo_client(srv)
    zk.create("/keep", b"1")
    code, _, body = curl(url(srv, "snapshot"), tmp_path)
    assert code == 200
    bad = tmp_path / "bad.bin"
    damaged = bytearray(body)
    damaged[len(damaged) // 2] ^= 0xFF  # breaks the Adler-32 seal
    bad.write_bytes(bytes(damaged))
    code, _, out = curl(url(srv, "restore"), tmp_path, method="POST", upload=bad)
    assert code == 500
    assert json.loads(out)["error"] == "the upload is not a valid snapshot stream"
    assert zk.get("/keep")[0] == b"1"  # the session and the tree are untouched


def test_gates_enable_keys_rate_limit_and_auth(server_factory, tmp_path):
    srv = server_factory("zkd", cfg=admin_cfg(**{"admin.restore.enabled": "false"}))
    assert curl(url(srv, "snapshot"), tmp_path, headers=())[0] == 401
    code, _, body = curl(url(srv, "snapshot?streaming=false"), tmp_path)
    assert code == 200 and json.loads(body) == {"command": "snapshot", "error": None}
    # Apache's RateLimiter: one per admin.rateLimiterIntervalInMS (default 5 minutes).
    assert curl(url(srv, "snapshot"), tmp_path)[0] == 429
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"x")
    assert curl(url(srv, "restore"), tmp_path, method="POST", upload=empty)[0] == 503
    off = server_factory("zkd", cfg=admin_cfg(**{"admin.snapshot.enabled": "false",
                                                 "admin.rateLimiterIntervalInMS": "0"}))
    assert curl(url(off, "snapshot"), tmp_path)[0] == 503
    # An upload without credentials is not even read: 401.
    assert curl(url(off, "restore"), tmp_path, method="POST", headers=(), upload=empty)[0] == 401


def test_upload_over_the_limit_is_refused(server_factory, tmp_path):
    # admin.restore.maxMB bounds the upload: a body over it is answered 413 unread.
    srv = server_factory("zkd", cfg=admin_cfg(**{"admin.restore.maxMB": "1"}))
    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * (2 << 20))
    assert curl(url(srv, "restore"), tmp_path, method="POST", upload=big)[0] == 413
