"""A zkd leader streams a SNAP from a fuzzy walk of its tree while writes go on (issue 20,
server/walkstream.c, quorum_snap_start): the learner loads the image as fuzzy and replays what
followed Z onto it.  A writer keeps creating, deleting, setting and running multis through the
leader while followers (their history further behind than the leader's window of snapCount
transactions) are SNAP-synced; at the end every follower's tree equals the leader's: children,
data, version, mzxid, cversion and pzxid of every node.  On zkd's wire with two followers synced at
once (one walk each), and on Apache's wire with an Apache follower, whose log must not say its
digests mismatched (the catch-up after a fuzzy SNAP goes without TxnDigests).
"""
import threading

from kazoo.client import KazooClient

from tests.lib.ensemble import Ensemble, MixedEnsemble, require_kinds, wait_for
from tests.lib.ensemble import kazoo_client as client

WINDOW = {"snapCount": "50"}  # zkd keeps snapCount transactions for DIFFs (server/txnwin.h)
PARENTS = 12
KIDS = 25  # 300 nodes: a walk of several 128-node steps


def create_all(kz, items):
    """Creates (path, data) items, pipelined 20 at a time: zkd drops an Apache follower whose
    commits lag further than its history window (snapCount)."""
    for i in range(0, len(items), 20):
        for r in [kz.create_async(p, d) for p, d in items[i:i + 20]]:
            r.get(timeout=60)


def build_tree(kz):
    kz.create("/w", b"")
    create_all(kz, [("/w/p%02d" % p, b"parent") for p in range(PARENTS)])
    create_all(kz, [("/w/p%02d/k%03d" % (p, k), b"%d" % k)
                    for p in range(PARENTS) for k in range(KIDS)])


def miss_writes(kz, n):
    """n creates a stopped member will have missed (more than the window: a SNAP)."""
    kz.ensure_path("/missed")
    first = len(kz.get_children("/missed"))
    create_all(kz, [("/missed/m%04d" % i, b"m") for i in range(first, first + n)])


class Writer(threading.Thread):
    """Creates, deletes, sets and multis through one client until stopped; `done` counts them."""

    def __init__(self, hosts):
        super().__init__(daemon=True)
        self.kz = KazooClient(hosts=hosts, timeout=10)
        self.kz.start(timeout=30)
        self.stop_ev = threading.Event()
        self.done = 0
        self.error = None
        self.last_multi = {}

    def run(self):
        try:
            i = 0
            while not self.stop_ev.is_set():
                self.step(i)
                i += 1
                self.done += 1
        except Exception as e:  # reported by the test
            self.error = e

    def step(self, i):
        """Cycles of four on one parent, keeping the tree's size steady: create a node, set a
        node, delete (or recreate) a node, and a multi that creates one, sets the parent and
        deletes the cycle's new node and the parent's previous multi node."""
        kz = self.kz
        cycle, op = divmod(i, 4)
        p = "/w/p%02d" % (cycle % PARENTS)
        kid = "%s/k%03d" % (p, (cycle // PARENTS) % KIDS)
        if op == 0:
            kz.create("%s/new%05d" % (p, i), b"n%d" % i)
        elif op == 1:
            if kz.exists(kid):
                kz.set(kid, b"s%d" % i)
        elif op == 2:
            if kz.exists(kid):
                kz.delete(kid)
            else:
                kz.create(kid, b"back%d" % i)
        else:
            t = kz.transaction()
            t.create("%s/multi%05d" % (p, i), b"m")
            t.set_data(p, b"multi%d" % i)
            t.delete("%s/new%05d" % (p, i - 3))
            if p in self.last_multi:
                t.delete(self.last_multi[p])
            t.commit()
            self.last_multi[p] = "%s/multi%05d" % (p, i)

    def finish(self):
        self.stop_ev.set()
        self.join(60)
        self.kz.stop()
        self.kz.close()
        assert self.error is None, "writer failed: %r" % (self.error,)


def await_more(writer, n, ens):
    start = writer.done
    wait_for(lambda: writer.done >= start + n or writer.error, 60, "%d more writes" % n, ens)


def tree_of(kz):
    """{path: (data, version, mzxid, cversion, pzxid, sorted children)} outside /zookeeper."""
    out, todo = {}, ["/"]
    while todo:
        path = todo.pop()
        data, st = kz.get(path)
        kids = sorted(kz.get_children(path))
        out[path] = (data, st.version, st.mzxid, st.cversion, st.pzxid, kids)
        for k in kids:
            child = (path.rstrip("/") + "/" + k)
            if child != "/zookeeper":
                todo.append(child)
    return out


def assert_same_tree(ens, leader, sid):
    a, b = client(ens, [leader]), client(ens, [sid])
    try:
        b.sync("/")
        want, have = tree_of(a), tree_of(b)
    finally:
        for kz in (a, b):
            kz.stop()
            kz.close()
    assert set(have) == set(want), "server %d: paths differ: %s" % (
        sid, sorted(set(have) ^ set(want))[:10])
    diff = [p for p in want if want[p] != have[p]]
    assert not diff, "server %d differs at %s: leader %r, it %r" % (
        sid, diff[0], want[diff[0]], have[diff[0]])


# The leader's walk pauses this long after each 128-node step, so the writer's transactions surely
# land inside the stream and a learner can be killed in the middle of one (server/walkstream.c).
STEP_MS = {"ZKD_TEST_SNAP_STREAM_STEP_MS": "200"}


def miss(ens, leader, lagging, n=80):
    """Stops `lagging`, which then miss n writes: more than the window, so they need a SNAP."""
    kz = client(ens, [leader])
    try:
        if not kz.exists("/w"):
            build_tree(kz)
        for sid in lagging:
            ens.stop(sid)
        miss_writes(kz, n)
    finally:
        kz.stop()
        kz.close()


def snap_sync_under_writes(ens, leader, lagging):
    """Restarts the stopped `lagging` together while a writer runs; waits for the leader to have
    streamed each its SNAP and for writes after it.  Returns the leader's log meanwhile."""
    writer = Writer(ens.hosts_of([leader]))
    writer.start()
    try:
        await_more(writer, 20, ens)
        mark = ens.log_size(leader)
        for sid in lagging:
            ens.start_member(sid, wait=False)
        for sid in lagging:
            wait_for(lambda: "to server %d (" % sid in ens.log_since(leader, mark), 90,
                     "the leader streaming its SNAP to server %d" % sid, ens)
        assert ens.wait_serving(timeout=60) == leader
        await_more(writer, 30, ens)
    finally:
        writer.finish()
    return ens.log_since(leader, mark)


def test_two_followers_snap_synced_at_once_under_writes(tmp_path):
    require_kinds("zkd")
    ens = Ensemble(tmp_path, "zkd", participants=5, cfg=WINDOW)
    try:
        for m in ens.members.values():
            m.extra_env.update(STEP_MS)
        ens.start()
        leader = ens.leader()
        a, b = [s for s in ens.participants if s != leader][:2]
        # A learner that dies mid-stream: the leader abandons the walk (its thread stopped between
        # steps, joined, the walk freed) and goes on.
        miss(ens, leader, [a])
        mark = ens.log_size(leader)
        ens.start_member(a, wait=False)
        wait_for(lambda: "syncing server %d by snapshot" % a in ens.log_since(leader, mark), 60,
                 "server %d's SNAP to start" % a, ens)
        ens.kill(a)
        wait_for(lambda: "lost the link to server %d" % a in ens.log_since(leader, mark), 60,
                 "the leader to see server %d gone" % a, ens)
        assert "to server %d (" % a not in ens.log_since(leader, mark), "killed too late"
        # Two at once, under writes.
        miss(ens, leader, [b])
        marks = {sid: ens.log_size(sid) for sid in (a, b)}
        log = snap_sync_under_writes(ens, leader, [a, b])
        for sid in (a, b):
            assert "syncing server %d by snapshot" % sid in log
            assert_same_tree(ens, leader, sid)
            # It loaded the SNAP as fuzzy: the TxnDigests of what it replayed onto it are
            # compared only from the first one its tree matches.
            assert "Digests are not matching" not in ens.log_since(sid, marks[sid])
    finally:
        ens.close()


ZKD_SID = 3


def test_apache_follower_snap_synced_under_writes(tmp_path):
    require_kinds("apache", "zkd")
    from tests.ensemble.test_mixed_zkd_leader import start_led_by_zkd
    ens = MixedEnsemble(tmp_path, [ZKD_SID], participants=3, cfg=WINDOW)
    try:
        ens[ZKD_SID].extra_env.update(STEP_MS)
        start_led_by_zkd(ens)
        mark = ens.log_size(2)
        miss(ens, ZKD_SID, [2])
        log = snap_sync_under_writes(ens, ZKD_SID, [2])
        assert "syncing server 2 by SNAP" in log
        assert_same_tree(ens, ZKD_SID, 2)
        follower_log = ens.log_since(2, mark)
        assert "Digests are not matching" not in follower_log, follower_log[-3000:]
    finally:
        ens.close()
