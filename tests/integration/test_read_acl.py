"""Which reads need READ: zkd follows current Apache (3.8.4+/3.9.2+), run here against zkd
and against Debian's Apache 3.8.0, whose one difference is written down per case.

  exists           READ on an existing node (ZOOKEEPER-2590); a refused exists sets no
                   watch; on a missing node NONODE and the watch is set.  Apache 3.8.0
                   answers the stat to anyone and sets the watch (docs/zkd.md, "Limits and
                   deliberate differences").
  getData, getChildren, getChildren2, getAllChildrenNumber   READ
  getACL           READ or ADMIN; without ADMIN digest ids are shown as "user:x"
  getEphemerals    no ACL check: a session's own ephemerals, wherever they are
"""
import pytest

from tests.lib import zkwire as W
from tests.lib.zkwire import WireSession, ZkError

R, WR, C, D, A = 1, 2, 4, 8, 16
NOAUTH, NONODE = -102, -101


def digest(user, pw):
    import base64
    import hashlib
    return "%s:%s" % (user, base64.b64encode(hashlib.sha1(("%s:%s" % (user, pw)).encode())
                                             .digest()).decode())


def code(fn, *args):
    try:
        fn(*args)
        return 0
    except ZkError as e:
        return e.code


@pytest.mark.parametrize("kind", ["zkd", "apache"])
def test_reads_and_read_permission(server_factory, kind):
    srv = server_factory(kind)
    owner = WireSession(srv.port)
    owner.add_auth("digest", b"u1:pw1")
    anon = WireSession(srv.port)
    u1 = digest("u1", "pw1")
    base = "/acl-reads"
    owner.create(base, b"", [(31, "world", "anyone")], W.PERSISTENT)
    secret = base + "/secret"  # u1 has everything, the world may only create/write/delete
    owner.create(secret, b"s", [(31, "digest", u1), (WR | C | D, "world", "anyone")],
                 W.PERSISTENT)
    owner.create(secret + "/kid", b"", [(31, "world", "anyone")], W.PERSISTENT)
    readable = base + "/readable"  # read-only for the world: getACL redacts digests
    owner.create(readable, b"", [(31, "digest", u1), (R, "world", "anyone")], W.PERSISTENT)
    nothing = base + "/nothing"  # no READ and no ADMIN for the world
    owner.create(nothing, b"", [(31, "digest", u1)], W.PERSISTENT)

    # exists: the one difference between Apache 3.8.0 and current Apache / zkd.
    # Whether a watch was set shows once the node is readable (an event for a node the
    # watcher may not read is withheld by every Apache 3.8 Debian ships, CVE-2024-23944).
    hidden = base + "/hidden"
    owner.create(hidden, b"", [(31, "digest", u1)], W.PERSISTENT)
    assert code(anon.exists, hidden, True) == (NOAUTH if kind == "zkd" else 0)
    owner.set_acl(hidden, [(31, "world", "anyone")], -1)
    owner.set_data(hidden, b"t", -1)
    anon.ping()  # a round trip: an event caused before it has arrived
    changed = anon.take_events()
    assert changed == ([] if kind == "zkd" else [(W.EV_CHANGED, 3, hidden)])
    # A missing node: NONODE everywhere, and the watch is set.
    assert code(anon.exists, base + "/later", True) == NONODE
    owner.create(base + "/later", b"", [(31, "world", "anyone")], W.PERSISTENT)
    anon.ping()
    assert anon.take_events() == [(W.EV_CREATED, 3, base + "/later")]

    # The other reads agree with every Apache.
    assert code(anon.get_data, secret) == NOAUTH
    assert code(anon.get_children, secret) == NOAUTH
    assert code(anon.get_children, secret, False, True) == NOAUTH
    assert code(anon.call, "getAllChildrenNumber", W.w_str(secret)) == NOAUTH
    assert owner.call("getAllChildrenNumber", W.w_str(secret)).int() == 1
    assert code(anon.get_acl, secret) == NOAUTH
    assert code(anon.get_acl, nothing) == NOAUTH
    acl, _ = anon.get_acl(readable)
    assert sorted(acl) == sorted([(31, "digest", "u1:x"), (R, "world", "anyone")])
    acl, _ = owner.get_acl(readable)
    assert (31, "digest", u1) in acl
    # getEphemerals: the session's own, even under a node it may not read.
    anon.create(secret + "/eph", b"", [(31, "world", "anyone")], W.EPHEMERAL)
    assert anon.call("getEphemerals", W.w_str(base)).strings() == [secret + "/eph"]
    anon.close_session()
    owner.close_session()
