"""Quotas (/zookeeper/quota/<path>/zookeeper_limits and zookeeper_stats), zkd against Apache 3.8.

Each scenario below runs the same steps through kazoo on Apache ZooKeeper 3.8 (Debian's
package) and on zkd, both started with `enforceQuota=true` in zoo.cfg, and records a
transcript: one line per step with the reply, the error code, or the data of a quota node.
Apache's transcript is the reference; zkd's must be identical.  Quotas are set the way
zkCli.sh's setquota does it (parents, then zookeeper_limits, then zookeeper_stats), so the
server sees the same requests as from zkCli.

Where zkd differs on purpose (server/quota.h: a multi is checked against the tree its own
earlier ops left, Apache checks every op against the committed tree), the test says so and
checks both sides' answers explicitly.
"""
import os
import subprocess

import pytest

kazoo = pytest.importorskip("kazoo")

import kazoo.exceptions as KE  # noqa: E402

from tests.lib.paths import BUILD_BIN  # noqa: E402
from tests.lib.waiting import wait_until  # noqa: E402

# kazoo 2.8 has no class for QUOTAEXCEEDED (-125): an unknown code would kill its reader
# thread instead of failing the one request.
if -125 not in KE.EXCEPTIONS:
    KE._zookeeper_exception(-125)(type("QuotaExceededError", (KE.ZookeeperError,), {}))

pytestmark = pytest.mark.timeout(300)

QUOTA = "/zookeeper/quota"
ENFORCE = {"enforceQuota": "true"}


def err_code(e):
    for code, cls in KE.EXCEPTIONS.items():
        if type(e) is cls:
            return code
    return type(e).__name__


def step(t, label, fn):
    """Runs fn() and appends 'label -> result' (or the error code) to transcript t."""
    try:
        r = fn()
        if isinstance(r, tuple) and len(r) == 2 and hasattr(r[1], "version"):
            r = r[0]  # (data, ZnodeStat): the data
        if isinstance(r, list):  # multi results
            r = [("ERR %s" % err_code(x)) if isinstance(x, Exception) else
                 (x if not hasattr(x, "version") else "stat") for x in r]
    except KE.ZookeeperError as e:
        r = "ERR %s" % err_code(e)
    t.append("%s -> %r" % (label, r))


def set_quota(c, path, limits):
    """zkCli.sh's setquota on a path without a quota: parents, limits, then stats."""
    c.ensure_path(QUOTA + path)
    c.create(QUOTA + path + "/zookeeper_limits", limits.encode())
    c.create(QUOTA + path + "/zookeeper_stats", b"count=0,bytes=0")


def stats(c, path):
    return c.get(QUOTA + path + "/zookeeper_stats")[0].decode()


def hard(count=-1, nbytes=-1, soft_count=-1, soft_bytes=-1):
    """Limits as zkCli 3.8 writes them (StatsTrack.toString with all four keys)."""
    return "count=%d,bytes=%d=;byteHardLimit=%d;countHardLimit=%d" % (
        soft_count, soft_bytes, nbytes, count)


# ---- scenarios: fn(client, transcript) ----

def sc_count_hard(c, t):
    c.create("/qc", b"ab")
    c.create("/qc/pre", b"x")
    set_quota(c, "/qc", hard(count=4))
    step(t, "stats after setquota", lambda: stats(c, "/qc"))
    step(t, "limits", lambda: c.get(QUOTA + "/qc/zookeeper_limits"))
    for i in range(3):
        step(t, "create %d" % i, lambda i=i: c.create("/qc/n%d" % i, b"12345"))
    step(t, "stats", lambda: stats(c, "/qc"))
    step(t, "sequential over", lambda: c.create("/qc/s-", b"", sequence=True))
    step(t, "delete n0", lambda: c.delete("/qc/n0"))
    step(t, "stats", lambda: stats(c, "/qc"))
    step(t, "create deeper", lambda: c.create("/qc/pre/deep", b"zz"))
    step(t, "stats", lambda: stats(c, "/qc"))
    step(t, "create over", lambda: c.create("/qc/n9"))
    step(t, "setData is no count", lambda: c.set("/qc/pre", b"yyyy") and None)
    step(t, "stats", lambda: stats(c, "/qc"))
    step(t, "outside quota", lambda: c.create("/qc-outside"))


def sc_bytes_hard(c, t):
    c.create("/qb", b"")
    set_quota(c, "/qb", hard(nbytes=10))
    step(t, "create 6", lambda: c.create("/qb/a", b"123456"))
    step(t, "create 5 over", lambda: c.create("/qb/b", b"12345"))
    step(t, "create 4", lambda: c.create("/qb/b", b"1234"))
    step(t, "stats", lambda: stats(c, "/qb"))
    step(t, "grow a over", lambda: c.set("/qb/a", b"1234567") and None)
    step(t, "shrink a", lambda: c.set("/qb/a", b"1") and None)
    step(t, "stats", lambda: stats(c, "/qb"))
    step(t, "empty node", lambda: c.create("/qb/e"))
    step(t, "set same size", lambda: c.set("/qb/b", b"abcd") and None)
    step(t, "bad version checked after quota", lambda: c.set("/qb/b", b"x" * 20, version=99))
    step(t, "stats", lambda: stats(c, "/qb"))


def sc_soft_limits(c, t):
    c.create("/qs")
    set_quota(c, "/qs", hard(soft_count=2, soft_bytes=3))
    for i in range(3):
        step(t, "create %d" % i, lambda i=i: c.create("/qs/n%d" % i, b"abcd"))
    step(t, "stats", lambda: stats(c, "/qs"))
    step(t, "limits", lambda: c.get(QUOTA + "/qs/zookeeper_limits"))


def sc_nested(c, t):
    c.ensure_path("/qn/sub/x")
    set_quota(c, "/qn", hard(count=100))
    step(t, "outer stats", lambda: stats(c, "/qn"))
    # zkCli refuses this (a parent has a quota); the server does not.
    set_quota(c, "/qn/sub", hard(count=3))
    step(t, "inner stats", lambda: stats(c, "/qn/sub"))
    step(t, "create in inner", lambda: c.create("/qn/sub/y", b"1"))
    step(t, "create in inner over", lambda: c.create("/qn/sub/z"))
    step(t, "create in outer", lambda: c.create("/qn/o", b"22"))
    step(t, "outer stats", lambda: stats(c, "/qn"))
    step(t, "inner stats", lambda: stats(c, "/qn/sub"))
    step(t, "drop inner limits", lambda: c.delete(QUOTA + "/qn/sub/zookeeper_limits"))
    step(t, "create in former inner", lambda: c.create("/qn/sub/z", b"333"))
    step(t, "outer stats", lambda: stats(c, "/qn"))
    step(t, "inner stats frozen", lambda: stats(c, "/qn/sub"))


def sc_quota_on_missing_and_recreated_node(c, t):
    c.create("/qm")
    set_quota(c, "/qm", hard(count=2))
    step(t, "delete quota root", lambda: c.delete("/qm"))
    step(t, "stats", lambda: stats(c, "/qm"))
    step(t, "recreate", lambda: c.create("/qm", b"abc"))
    step(t, "stats", lambda: stats(c, "/qm"))
    step(t, "stats node recreated recounts", lambda: c.delete(QUOTA + "/qm/zookeeper_stats"))
    step(t, "recreate stats", lambda: c.create(QUOTA + "/qm/zookeeper_stats", b"count=77"))
    step(t, "stats", lambda: stats(c, "/qm"))


def sc_stats_extra_keys(c, t):
    c.create("/qx")
    set_quota(c, "/qx", hard(count=10))
    step(t, "odd stats data", lambda: c.set(QUOTA + "/qx/zookeeper_stats",
                                             b"bytes=5;count=2,zeta=1,alpha=-3") and None)
    step(t, "create", lambda: c.create("/qx/a", b"xy"))
    step(t, "stats rewritten", lambda: stats(c, "/qx"))


def sc_ephemerals_on_close(c, t, c2):
    c.create("/qe")
    set_quota(c, "/qe", hard(count=3))
    step(t, "ephemeral 1", lambda: c2.create("/qe/e1", b"abc", ephemeral=True))
    step(t, "ephemeral 2", lambda: c2.create("/qe/e2", b"abc", ephemeral=True))
    step(t, "stats", lambda: stats(c, "/qe"))
    c2.stop()
    c2.close()
    step(t, "stats after close", lambda: stats(c, "/qe"))
    step(t, "create after close", lambda: c.create("/qe/p", b"1"))


def sc_multi(c, t):
    c.create("/qmu")
    set_quota(c, "/qmu", hard(count=3, nbytes=100))
    tx = c.transaction()
    tx.create("/qmu/a", b"1")
    tx.create("/qmu/b", b"x" * 150)
    tx.create("/qmu/c")
    step(t, "multi with one op over the byte limit", tx.commit)
    step(t, "stats", lambda: stats(c, "/qmu"))
    tx = c.transaction()
    tx.create("/qmu/a", b"1")
    tx.set_data("/qmu/a", b"x" * 120)
    step(t, "multi: a create, then a setData over", tx.commit)
    tx = c.transaction()
    tx.create("/qmu/a", b"1")
    tx.delete("/qmu/a")
    tx.create("/qmu/b", b"22")
    step(t, "multi within limits", tx.commit)
    step(t, "stats", lambda: stats(c, "/qmu"))


def sc_multi_cumulative(c, t):
    c.create("/qmc")
    set_quota(c, "/qmc", hard(count=3))
    tx = c.transaction()
    for name in "abc":
        tx.create("/qmc/" + name)
    step(t, "multi of 3 creates, room for 2", tx.commit)
    step(t, "stats", lambda: stats(c, "/qmc"))


def sc_malformed_limits(c, t):
    c.create("/qbad")
    for data in [b"garbage", b"count=", b",count=1", b"count=x", b"count=1,,bytes=2;;", b"count==5",
                 b"countHardLimit=1", b"", b"count=99999999999999999999"]:
        c.ensure_path(QUOTA + "/qbad")
        c.create(QUOTA + "/qbad/zookeeper_limits", data)
        c.create(QUOTA + "/qbad/zookeeper_stats", b"count=0,bytes=0")
        step(t, "limits %r: create" % data, lambda: c.create("/qbad/n", b"abc"))
        step(t, "limits %r: stats" % data, lambda: stats(c, "/qbad"))
        c.delete(QUOTA + "/qbad", recursive=True)
        if c.exists("/qbad/n"):
            c.delete("/qbad/n")
    c.ensure_path(QUOTA + "/qbad")
    c.create(QUOTA + "/qbad/zookeeper_limits", b"countHardLimit=5")
    c.create(QUOTA + "/qbad/zookeeper_stats", b"count=0,bytes=0")
    step(t, "stats garbage", lambda: c.set(QUOTA + "/qbad/zookeeper_stats", b"junk") and None)
    step(t, "create with stats garbage", lambda: c.create("/qbad/m", b"abc"))
    step(t, "server still answers", lambda: c.get_children("/qbad"))


SCENARIOS = {
    "count_hard": sc_count_hard,
    "bytes_hard": sc_bytes_hard,
    "soft_limits": sc_soft_limits,
    "nested": sc_nested,
    "missing_root": sc_quota_on_missing_and_recreated_node,
    "stats_extra_keys": sc_stats_extra_keys,
    "multi": sc_multi,
    "malformed_limits": sc_malformed_limits,
}


@pytest.fixture(scope="module")
def pair(module_server_factory):
    return {kind: module_server_factory(kind, cfg=ENFORCE) for kind in ("apache", "zkd")}


def transcript(kazoo_client, srv, fn):
    t = []
    fn(kazoo_client(srv), t)
    return t


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_quota_like_apache(pair, kazoo_client, name):
    ref = transcript(kazoo_client, pair["apache"], SCENARIOS[name])
    got = transcript(kazoo_client, pair["zkd"], SCENARIOS[name])
    assert got == ref


def test_ephemerals_leave_the_quota_when_their_session_closes(pair, kazoo_client):
    out = {}
    for kind, srv in pair.items():
        t = []
        sc_ephemerals_on_close(kazoo_client(srv), t, kazoo_client(srv))
        out[kind] = t
    assert out["zkd"] == out["apache"]



def test_a_multi_cannot_overshoot_a_hard_limit_on_zkd(pair, kazoo_client):
    """Each op of a multi is checked against the tree the earlier ops left.  Apache 3.8 checks
    every op against its committed tree, so its multi of three creates gets through a limit
    that has room for two (a difference on purpose: server/quota.h)."""
    ref = transcript(kazoo_client, pair["apache"], sc_multi_cumulative)
    got = transcript(kazoo_client, pair["zkd"], sc_multi_cumulative)
    assert ref == ["multi of 3 creates, room for 2 -> ['/qmc/a', '/qmc/b', '/qmc/c']",
                   "stats -> 'count=4,bytes=0'"]
    assert got == ["multi of 3 creates, room for 2 -> ['ERR 0', 'ERR 0', 'ERR -125']",
                   "stats -> 'count=1,bytes=0'"]


def sc_before_restart(c, t):
    c.create("/qr", b"")
    set_quota(c, "/qr", hard(count=4, nbytes=8))
    c.create("/qr/a", b"abc")
    c.create("/qr/b", b"de")
    c.set("/qr/b", b"defg")
    c.delete("/qr/a")
    c.create("/qr/c", b"x")
    step(t, "stats", lambda: stats(c, "/qr"))


def sc_after_restart(c, t):
    step(t, "stats", lambda: stats(c, "/qr"))
    step(t, "limits", lambda: c.get(QUOTA + "/qr/zookeeper_limits"))
    step(t, "create within", lambda: c.create("/qr/d", b"zz"))
    step(t, "create over the count", lambda: c.create("/qr/e"))
    step(t, "set over the bytes", lambda: c.set("/qr/d", b"zzzz") and None)
    step(t, "stats", lambda: stats(c, "/qr"))


@pytest.mark.parametrize("restarts", [1, 2])
def test_quotas_survive_restart(server_factory, kazoo_client, restarts):
    """Usage and limits after a restart (Apache snapshots at start-up, so the second restart
    loads the quota nodes from a snapshot and recounts them; the first replays the log)."""
    out = {}
    for kind in ("apache", "zkd"):
        srv = server_factory(kind, cfg=ENFORCE)
        out[kind] = transcript(kazoo_client, srv, sc_before_restart)
        for _ in range(restarts):
            srv.restart()
        out[kind] += transcript(kazoo_client, srv, sc_after_restart)
    assert out["zkd"] == out["apache"]
    assert out["zkd"][0] == "stats -> 'count=3,bytes=5'"


def snapshot_zxids(data_dir):
    out = []
    for root, _, files in os.walk(data_dir):
        for name in files:
            if name.startswith("snapshot.") and not name.endswith(".tmp"):
                try:
                    out.append(int(name.split(".")[1], 16))
                except ValueError:
                    pass
    return out


def test_zkd_recounts_usage_when_it_loads_a_snapshot(server_factory, kazoo_client):
    """As Apache's setupQuota: usage is recounted from the tree when a snapshot is loaded, so a
    zookeeper_stats node a client overwrote is right again after a restart from a snapshot
    taken since (a replayed log keeps what was written, as in Apache)."""
    srv = server_factory("zkd", cfg=dict(ENFORCE, snapCount="2"))
    c = kazoo_client(srv)
    c.create("/qz", b"")
    set_quota(c, "/qz", hard(count=400))
    c.create("/qz/a", b"abc")
    zxid = c.set(QUOTA + "/qz/zookeeper_stats", b"count=100,bytes=100").mzxid
    c.create("/qz/b", b"abc")
    assert stats(c, "/qz") == "count=101,bytes=103"

    def snapshot_since():
        c.set("/qz", b"")  # snapCount=2: a snapshot follows within a few writes
        return any(z >= zxid for z in snapshot_zxids(srv.data_dir))

    wait_until(snapshot_since, what="a snapshot taken after the stats were overwritten")
    srv.restart()
    assert stats(kazoo_client(srv), "/qz") == "count=3,bytes=6"


# ---- zkcli's setquota / listquota / delquota (client/zkcli.c), as zkCli.sh 3.8 has them ----

ZKCLI = os.path.join(BUILD_BIN, "zkcli")


def zkcli(srv, *args):
    p = subprocess.run([ZKCLI, "-s", srv.hosts] + list(args), capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


@pytest.mark.parametrize("kind", ["apache", "zkd"])
def test_zkcli_quota_commands(pair, kazoo_client, kind):
    """The messages are zkCli.sh's (SetQuotaCommand, ListQuotaCommand, DelQuotaCommand)."""
    srv = pair[kind]
    c = kazoo_client(srv)
    c.create("/zq", b"")
    c.create("/zq/a", b"x")
    assert zkcli(srv, "setquota", "-N", "3", "/zq") == (0, "", "")
    assert c.get(QUOTA + "/zq/zookeeper_limits")[0] == \
        b"count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=3"
    assert zkcli(srv, "listquota", "/zq") == (
        0, "Output quota for /zq count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=3\n"
           "Output stat for /zq count=2,bytes=1\n",
        "absolute path is /zookeeper/quota/zq/zookeeper_limits\n")
    assert zkcli(srv, "setquota", "-b", "100", "/zq")[0] == 0  # merged into the limits there
    assert c.get(QUOTA + "/zq/zookeeper_limits")[0] == \
        b"count=-1,bytes=100=;byteHardLimit=-1;countHardLimit=3"
    assert zkcli(srv, "create", "/zq/b")[0] == 0
    rc, _, err = zkcli(srv, "create", "/zq/c")
    assert rc == 1 and c.exists("/zq/c") is None, err
    assert zkcli(srv, "setquota", "-n", "1", "/zq") == (
        0, "[Warning]: the count quota you create is less than the existing count:3\n", "")

    # One quota per branch: not under or over an existing one.
    assert zkcli(srv, "setquota", "-n", "5", "/zq/a") == (
        1, "", "/zq/a has a parent /zq which has a quota\n")
    c.ensure_path("/zq2/d")
    assert zkcli(srv, "setquota", "-n", "5", "/zq2/d")[0] == 0
    assert zkcli(srv, "setquota", "-n", "5", "/zq2") == (
        1, "", "/zq2 has a child /zq2/d which has a quota\n")

    # Bad values and paths.
    assert zkcli(srv, "setquota", "-n", "0", "/zq")[2] == "the num quota must be greater than zero\n"
    assert zkcli(srv, "setquota", "-B", "-1", "/zq")[2] == \
        "the bytes quota must be greater than or equal to zero\n"
    assert zkcli(srv, "setquota", "-b", "x", "/zq")[2] == \
        "NumberFormatException happens when parsing the option value\n"
    assert zkcli(srv, "setquota", "-n", "1", "-b", "2", "/zq")[0] == 2
    assert zkcli(srv, "setquota", "-n", "1", QUOTA + "/x")[2] == \
        "cannot set a quota under the path: /zookeeper/quota\n"
    assert zkcli(srv, "setquota", "-n", "1", "/zq-none")[2] == "/zq-none does not exist.\n"

    # delquota: one limit, then the whole quota and the levels it leaves empty.
    assert zkcli(srv, "delquota", "-N", "/zq") == (0, "", "")
    assert c.get(QUOTA + "/zq/zookeeper_limits")[0] == \
        b"count=1,bytes=100=;byteHardLimit=-1;countHardLimit=-1"
    assert zkcli(srv, "create", "/zq/c")[0] == 0  # only a soft limit now
    assert zkcli(srv, "delquota", "/zq") == (0, "", "")
    assert c.exists(QUOTA + "/zq") is None
    assert zkcli(srv, "listquota", "/zq")[2].endswith("quota for /zq does not exist.\n")
    assert zkcli(srv, "delquota", "/zq") == (0, "Quota does not exist for /zq\n", "")
    assert zkcli(srv, "delquota", "/zq2/d")[0] == 0
    assert not [n for n in c.get_children(QUOTA) if n.startswith("zq")]
