"""zkfs: `ls` of a directory far larger than one default reply (issue 20).

The listing is one getChildren reply held from opendir to releasedir and handed to the kernel
in pages, each readdir resuming at its offset.  Servers send the reply whatever their
jute.maxbuffer (test_wide_children.py), and zkfs accepts any frame (max_reply), so 50,000
names of 88 bytes -- a 4.6 MB reply, over libzk's default limit of 4 x 1 MiB + 64 KiB and
over the server's 64 KiB jute.maxbuffer here -- list whole.  The million-entry measurement is
by hand: bench/results/2026-12-06-million-children.md."""
import os
import subprocess
import sys
import uuid

import pytest

from tests.lib.paths import ROOT

sys.path.insert(0, os.path.join(ROOT, "bench"))
import loader  # noqa: E402  (bench/loader.py: the pipelined raw-protocol client)

WIDE = 50000
NAME = "%05d-" + "n" * 82  # 88 bytes


def create_children(port, parent):
    bodies = ((1, loader.create_body(("%s/%s" % (parent, NAME % i)).encode(), b""))
              for i in range(WIDE))
    s, _sid, _to = loader.connect("127.0.0.1", port, sock_timeout=120.0)
    try:
        res = loader.pipeline(s, bodies, 1000)
    finally:
        loader.close_session(s)
    assert res["ops"] == WIDE and not res["errors"], res


@pytest.mark.parametrize("kind", ["zkd", "apache"])
def test_ls_of_50k_entries(server_factory, kazoo_client, zkfs_mount, kind):
    if kind == "apache":
        srv = server_factory("apache", sysprops={"jute.maxbuffer": "65536"})
    else:
        srv = server_factory("zkd", cfg={"jute.maxbuffer": "65536"})
    zk = kazoo_client(srv)
    chroot = "/zkfs-" + uuid.uuid4().hex[:12]
    zk.ensure_path(chroot + "/big")
    create_children(srv.port, chroot + "/big")
    m = zkfs_mount(srv, chroot=chroot)
    names = os.listdir(m.p("big"))  # getdents in pages: readdir at increasing offsets
    assert len(names) == WIDE and set(names) == {NAME % i for i in range(WIDE)}
    # A second listing through a fresh handle, and a lookup inside it, still work.
    with os.scandir(m.p("big")) as it:
        assert sum(1 for _ in it) == WIDE
    assert os.path.exists(os.path.join(m.p("big"), NAME % (WIDE - 1)))
    assert "max_reply" not in m.log_text()


RM_WIDE = 3000


def test_rm_rf_of_a_wide_directory(server_factory, kazoo_client, zkfs_mount):
    """rm -rf through the mount of a directory with thousands of entries of every kind zkfs
    shows (files with data, empty znodes shown as directories, a directory with children):
    rm succeeds, every znode is gone on the server, and the server's count agrees."""
    srv = server_factory("zkd")
    zk = kazoo_client(srv)
    chroot = "/zkfs-" + uuid.uuid4().hex[:12]
    zk.ensure_path(chroot + "/big/sub")
    before = srv.mntr_int("zk_znode_count")
    parent = ("%s/big" % chroot).encode()
    bodies = ((1, loader.create_body(b"%s/c%05d" % (parent, i), b"x" if i % 2 else b""))
              for i in range(RM_WIDE))
    nested = ((1, loader.create_body(b"%s/sub/s%02d" % (parent, i), b"y")) for i in range(20))
    s, _sid, _to = loader.connect("127.0.0.1", srv.port, sock_timeout=120.0)
    try:
        res = loader.pipeline(s, (b for g in (bodies, nested) for b in g), 1000)
    finally:
        loader.close_session(s)
    assert res["ops"] == RM_WIDE + 20 and not res["errors"], res
    assert srv.mntr_int("zk_znode_count") == before + RM_WIDE + 20
    m = zkfs_mount(srv, chroot=chroot)
    assert len(os.listdir(m.p("big"))) == RM_WIDE + 1
    p = subprocess.run(["rm", "-rf", m.p("big")], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    assert not os.path.exists(m.p("big")) and os.listdir(m.p()) == []
    assert zk.exists(chroot + "/big") is None and zk.get_children(chroot) == []
    assert srv.mntr_int("zk_znode_count") == before - 2  # big and big/sub went too
