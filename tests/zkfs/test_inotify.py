"""zkfs: other clients' changes raise inotify events on the mount (inotifywait itself),
caches follow them, and changes made through the mount are not reported twice."""
import os
import time


def test_remote_changes_raise_inotify_events(mounted, inotify):
    m, zk = mounted
    os.mkdir(m.p("app"))
    w = inotify(m.p("app"))
    app = m.p("app") + "/"
    t0 = time.monotonic()
    zk.create(m.zpath("app/config"), b"v1")
    w.wait_for(lambda ev, p: "CREATE" in ev and p == app + "config")
    zk.set(m.zpath("app/config"), b"v2")
    w.wait_for(lambda ev, p: "MODIFY" in ev and p == app + "config")
    # The cache followed the change: read through the mount right after the event.
    with open(m.p("app/config"), "rb") as f:
        assert f.read() == b"v2"
    zk.delete(m.zpath("app/config"))
    w.wait_for(lambda ev, p: "DELETE" in ev and p == app + "config")
    assert not os.path.exists(m.p("app/config"))
    zk.create(m.zpath("app/sub"), None)  # null data: a directory
    w.wait_for(lambda ev, p: "CREATE" in ev and "ISDIR" in ev and p == app + "sub")
    w.wait_watching(m.p("app/sub"))  # inotifywait -r now watches sub too
    zk.create(m.zpath("app/sub/deep"), b"")
    w.wait_for(lambda ev, p: "CREATE" in ev and p == app + "sub/deep")
    zk.set(m.zpath("app/sub"), b"dir data")
    w.wait_for(lambda ev, p: "MODIFY" in ev and p == app + "sub/.zkdata")
    zk.delete(m.zpath("app/sub/deep"))
    zk.delete(m.zpath("app/sub"))
    w.wait_for(lambda ev, p: "DELETE" in ev and "ISDIR" in ev and p == app + "sub")
    assert os.listdir(m.p("app")) == []
    print("events in %.3fs" % (time.monotonic() - t0))


def test_leaf_gaining_a_child_is_reported_as_a_directory(mounted, inotify):
    m, zk = mounted
    zk.create(m.zpath("leaf"), b"data")
    w = inotify(m.path)
    zk.create(m.zpath("leaf/kid"), b"")
    w.wait_for(lambda ev, p: "CREATE" in ev and "ISDIR" in ev and p == m.path + "/leaf")
    assert os.listdir(m.p("leaf")) == ["kid"]


def test_own_changes_are_reported_once(mounted, inotify):
    m, zk = mounted
    w = inotify(m.path)
    with open(m.p("mine"), "w") as f:
        f.write("x")
    os.unlink(m.p("mine"))
    # A remote change after ours, as a fence: every event of ours came before it.
    zk.create(m.zpath("fence"), b"")
    w.wait_for(lambda ev, p: "CREATE" in ev and p.endswith("/fence"))
    mine = [(ev, p) for ev, p in w.events if p.endswith("/mine")]
    assert [ev for ev, _ in mine if "CREATE" in ev] == [["CREATE"]]
    assert [ev for ev, _ in mine if "DELETE" in ev] == [["DELETE"]]


def test_cached_reads_cost_no_round_trip(server, mounted, inotify):
    from tests.lib.servers import parse_srvr

    def received():
        return int(parse_srvr(server.four_letter("srvr"))["Received"])

    m, zk = mounted
    zk.create(m.zpath("c"), b"cached")
    with open(m.p("c"), "rb") as f:
        assert f.read() == b"cached"
    before = received()
    for _ in range(50):
        with open(m.p("c"), "rb") as f:
            assert f.read() == b"cached"
        assert os.stat(m.p("c")).st_size == 6
    # 50 opens, reads and stats, answered by the caches (pings may arrive meanwhile).
    assert received() - before < 10
    w = inotify(m.path)
    zk.set(m.zpath("c"), b"fresh")
    w.wait_for(lambda ev, p: "MODIFY" in ev and p.endswith("/c"))
    with open(m.p("c"), "rb") as f:
        assert f.read() == b"fresh"


def test_sizes_are_exact_when_the_event_arrives(mounted, inotify):
    """stat right after a remote setData's MODIFY shows the new dataLength, for a file and for a
    directory's .zkdata (and the directory itself), whatever the kernel had cached before."""
    m, zk = mounted
    zk.create(m.zpath("f"), b"1")
    zk.create(m.zpath("d"), None)
    w = inotify(m.path)
    assert os.stat(m.p("f")).st_size == 1 and os.stat(m.p("d")).st_size == 0
    for size in (5, 0, 70000, 3):
        zk.set(m.zpath("f"), b"x" * size)
        w.wait_for(lambda ev, p: ev == ["MODIFY"] and p == m.p("f"))
        assert os.stat(m.p("f")).st_size == size
        zk.set(m.zpath("d"), b"y" * size)
        w.wait_for(lambda ev, p: ev == ["MODIFY"] and p == m.p("d/.zkdata"))
        assert os.stat(m.p("d/.zkdata")).st_size == size
        assert os.stat(m.p("d")).st_size == size
        with open(m.p("f"), "rb") as fh:
            assert len(fh.read()) == size
