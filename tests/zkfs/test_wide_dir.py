"""zkfs: `ls` of a directory far larger than one default reply (issue 20).

The listing is one getChildren reply held from opendir to releasedir and handed to the kernel
in pages, each readdir resuming at its offset.  Servers send the reply whatever their
jute.maxbuffer (test_wide_children.py), and zkfs accepts any frame (max_reply), so 50,000
names of 88 bytes -- a 4.6 MB reply, over libzk's default limit of 4 x 1 MiB + 64 KiB and
over the server's 64 KiB jute.maxbuffer here -- list whole.  The million-entry measurement is
by hand: bench/results/2026-12-06-million-children.md."""
import os
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
