"""A getChildren reply larger than jute.maxbuffer (issue 20), side by side with Apache 3.8.

Apache's server serializes a reply of any size (ServerCnxn.sendResponse checks nothing): its
jute.maxbuffer bounds what it reads.  The limit on replies is the client's: Apache's Java client
drops the connection above its own jute.maxbuffer ("Packet len N is out of range"), the C client
and kazoo take any size.  zkd sends the same frames; libzk fails just that request with
MARSHALLINGERROR above its max_reply and keeps the session (docs/zkd.md, docs/libzk.md).
A small jute.maxbuffer (64 KiB) and a few thousand children keep this fast."""
import os
import subprocess

import pytest

from tests.lib.paths import BUILD_BIN

MAXBUF = 65536
WIDE = 3000
NAME = "child-with-a-name-long-enough-to-pass-the-limit-%05d"  # 3000 x 58 bytes: ~174 KB


def start(server_factory, kind):
    if kind == "apache":
        return server_factory("apache", sysprops={"jute.maxbuffer": str(MAXBUF)})
    return server_factory("zkd", cfg={"jute.maxbuffer": str(MAXBUF)})


def fill(zk):
    zk.create("/wide")
    for batch in range(0, WIDE, 500):
        for r in [zk.create_async("/wide/" + NAME % i) for i in range(batch, batch + 500)]:
            r.get(timeout=30)


@pytest.mark.parametrize("kind", ["zkd", "apache"])
def test_children_reply_above_maxbuffer_is_sent(server_factory, kazoo_client, kind):
    srv = start(server_factory, kind)
    zk = kazoo_client(srv)
    fill(zk)
    sid = zk.client_id[0]
    expect = sorted(NAME % i for i in range(WIDE))
    assert sum(len(n) + 4 for n in expect) > MAXBUF
    assert sorted(zk.get_children("/wide")) == expect  # getChildren
    names, stat = zk.get_children("/wide", include_data=True)  # getChildren2
    assert sorted(names) == expect and stat.numChildren == WIDE
    # Requests above jute.maxbuffer are still refused by both (the limit is on what they read),
    # and the session that received the large replies is the same one.
    assert zk.client_id[0] == sid and zk.exists("/wide").numChildren == WIDE


def zkcli(port, flags, script):
    env = dict(os.environ, CLIENT_JVMFLAGS=flags)
    env.pop("JVMFLAGS", None)
    return subprocess.run([os.path.join(BUILD_BIN, "zkcli"), "-s", "127.0.0.1:%d" % port,
                           "-timeout", "5000"], input=script, capture_output=True, text=True,
                          timeout=60, env=env)


@pytest.mark.parametrize("kind", ["zkd", "apache"])
def test_libzk_reply_over_its_limit_fails_one_request(server_factory, kazoo_client, kind):
    """zkcli (libzk) with -Djute.maxbuffer=8192 accepts replies up to 4 x 8192 + 64 KiB: the
    ~174 KB listing fails with MARSHALLINGERROR, and the same session then answers the next
    command; with the default limit the listing arrives whole."""
    srv = start(server_factory, kind)
    fill(kazoo_client(srv))
    p = zkcli(srv.port, "-Djute.maxbuffer=8192", "ls /wide\nstat /wide\n")
    assert "is over the 98304 accepted (max_reply)" in p.stderr, p.stderr
    assert "MARSHALLINGERROR: marshalling error: /wide" in p.stderr, p.stderr
    assert "numChildren = %d" % WIDE in p.stdout, p.stdout + p.stderr
    assert "reconnect" not in p.stderr.lower(), p.stderr
    p = zkcli(srv.port, "", "ls /wide\n")
    assert p.returncode == 0 and (NAME % (WIDE - 1)) in p.stdout, p.stderr
