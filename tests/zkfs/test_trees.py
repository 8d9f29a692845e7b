"""zkfs: trees shown the way ZooKeeper applications build them (issue 18).  Parents-to-be made
by other clients (empty data never written: kazoo's ensure_path) are directories from the start,
files made through the mount stay files in every mount and after a remount, and the watchers of
a path that changes kind are told (docs/zkfs.md, "Files and directories")."""
import os
import subprocess
import uuid

import pytest

from tests.lib.waiting import wait_until


def sh(cmd):
    r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, "%s -> %d\n%s%s" % (cmd, r.returncode, r.stdout, r.stderr)
    return r.stdout


def fresh_root(zk):
    root = "/zkfs-" + uuid.uuid4().hex[:12]
    zk.ensure_path(root)
    return root


def test_trees_made_by_kazoo_are_directories(server, zk, zkfs_mount):
    root = fresh_root(zk)
    zk.ensure_path(root + "/svc/instances")  # nested: svc did not exist either
    zk.create(root + "/svc/config", b"k=v")
    zk.ensure_path(root + "/app/locks")
    lock = zk.create(root + "/app/locks/lock-", b"", sequence=True, ephemeral=True)
    m = zkfs_mount(server, chroot=root)
    for d in ("svc", "svc/instances", "app", "app/locks"):
        assert os.path.isdir(m.p(d)), d
    assert os.listdir(m.p("svc/instances")) == []
    assert os.path.isfile(m.p("svc/config"))
    # An ephemeral can never have children: a file, even empty.
    assert os.path.isfile(m.p("app/locks/" + lock.rsplit("/", 1)[1]))
    # The same for trees made while mounted, under parents that did not exist yet.
    zk.ensure_path(m.zpath("later/a/b"))
    assert os.path.isdir(m.p("later/a/b")) and os.listdir(m.p("later/a/b")) == []
    zk.create(m.zpath("queue/item-"), b"", makepath=True, sequence=True)  # empty, never written
    assert all(os.path.isdir(m.p("queue/" + n)) for n in os.listdir(m.p("queue")))


def test_watching_a_directory_made_by_ensure_path(mounted, inotify):
    m, zk = mounted
    zk.ensure_path(m.zpath("watched"))
    assert os.path.isdir(m.p("watched"))
    w = inotify(m.p("watched"), recursive=False)
    d = m.p("watched") + "/"
    zk.create(m.zpath("watched/new"), b"v1")
    w.wait_for(lambda ev, p: ev == ["CREATE"] and p == d + "new")
    zk.set(m.zpath("watched/new"), b"v2")
    w.wait_for(lambda ev, p: ev == ["MODIFY"] and p == d + "new")
    zk.delete(m.zpath("watched/new"))
    w.wait_for(lambda ev, p: ev == ["DELETE"] and p == d + "new")
    zk.ensure_path(m.zpath("watched/sub/deeper"))  # nested parents-to-be
    w.wait_for(lambda ev, p: ev == ["CREATE", "ISDIR"] and p == d + "sub")
    zk.set(m.zpath("watched"), b"now with data")  # stays a directory in this mount
    zk.create(m.zpath("watched/fence"), b"f")
    w.wait_for(lambda ev, p: ev == ["CREATE"] and p == d + "fence")
    assert not [e for e in w.events if "DELETE_SELF" in e[0] or "IGNORED" in e[0]], w.events
    assert os.path.isdir(m.p("watched"))
    with open(m.p("watched/.zkdata"), "rb") as f:
        assert f.read() == b"now with data"


def test_files_made_through_the_mount_stay_files(server, zk, zkfs_mount):
    m = zkfs_mount(server)
    sh("touch %s && : > %s && echo > %s && echo x > %s" % (
        m.p("touched"), m.p("colon"), m.p("echoed"), m.p("moved")))
    sh(": > %s && mv %s %s" % (m.p("emptied"), m.p("moved"), m.p("moved2")))
    os.truncate(m.p("moved2"), 0)
    os.rename(m.p("moved2"), m.p("moved3"))  # an empty file keeps its mark through mv
    fd = os.open(m.p("q@seq"), os.O_CREAT | os.O_WRONLY)
    seq = os.getxattr("/proc/self/fd/%d" % fd, "user.zk.path").decode()
    os.close(fd)
    files = ["touched", "colon", "echoed", "emptied", "moved3", seq.lstrip("/")]
    os.mkdir(m.p("made_dir"))
    for f in files:
        assert os.path.isfile(m.p(f)), f
    # The mark: empty data that was written (version 1), so every mount agrees.
    assert zk.get(m.zpath("touched"))[1].version == 1
    assert zk.get(m.zpath("echoed"))[0] == b"\n"
    others = [zkfs_mount(server, chroot=m.zk_root)]
    m.unmount()  # and after a remount
    others.append(zkfs_mount(server, chroot=m.zk_root))
    for o in others:
        for f in files:
            assert os.path.isfile(o.p(f)), (o.path, f)
        assert os.path.isdir(o.p("made_dir"))


def test_ambiguous_cases(server, zk, zkfs_mount):
    m = zkfs_mount(server)
    # Empty data never written is a parent-to-be, whoever meant what by it.
    zk.create(m.zpath("empty"), b"")
    assert os.path.isdir(m.p("empty"))
    # A parent-to-be that gets data: a directory stays one in a mount that has shown it...
    zk.ensure_path(m.zpath("cfg"))
    assert os.path.isdir(m.p("cfg"))
    zk.set(m.zpath("cfg"), b"x")
    wait_until(lambda: open(m.p("cfg/.zkdata"), "rb").read() == b"x", what="data in cfg/.zkdata")
    assert os.path.isdir(m.p("cfg"))
    # ...and a mount that sees it first with data shows a file.
    m2 = zkfs_mount(server, chroot=m.zk_root)
    assert os.path.isfile(m2.p("cfg")) and open(m2.p("cfg"), "rb").read() == b"x"
    # Empty data never written: a directory in every mount.
    assert os.path.isdir(m2.p("empty"))
    # Written once, even empty: a file for every mount that has not shown it as a directory.
    zk.set(m.zpath("empty"), b"")
    t = zk.transaction()  # created written, as zkfs itself makes files: no mount sees version 0
    t.create(m.zpath("written"), b"")
    t.set_data(m.zpath("written"), b"", version=0)
    assert not [r for r in t.commit() if isinstance(r, Exception)]
    wait_until(lambda: os.path.exists(m.p("written")), what="written seen by the first mount")
    assert os.path.isdir(m.p("empty")) and os.path.isdir(m2.p("empty"))
    assert os.path.isfile(m.p("written")) and os.path.isfile(m2.p("written"))
    # After a remount, what the mount had shown is forgotten: the rule alone decides.
    m.unmount()
    m3 = zkfs_mount(server, chroot=m.zk_root)
    for o in (m2, m3):
        assert os.path.isfile(o.p("written")), o.path
    assert os.path.isfile(m3.p("cfg")) and os.path.isfile(m3.p("empty"))
    assert os.path.isfile(m2.p("cfg")) and os.path.isdir(m2.p("empty"))


def test_leaf_turning_into_a_directory_under_watchers(mounted, inotify):
    m, zk = mounted
    zk.create(m.zpath("leaf"), b"data")
    assert os.path.isfile(m.p("leaf"))
    leaf = m.p("leaf")
    wr = inotify(m.path)                          # inotifywait -m -r MNT
    wp = inotify(m.path, recursive=False)         # inotifywait -m MNT
    wf = inotify(leaf, recursive=False)           # inotifywait -m MNT/leaf (the file)
    zk.create(m.zpath("leaf/kid"), b"k")
    for w in (wr, wp):
        w.wait_for(lambda ev, p: ev == ["DELETE"] and p == leaf)
        w.wait_for(lambda ev, p: ev == ["CREATE", "ISDIR"] and p == leaf)
    # The file's own watcher is told, as when a file is removed: its watch has ended.
    wf.wait_for(lambda ev, p: ev == ["ATTRIB"] and p == leaf)
    wf.wait_for(lambda ev, p: ev == ["DELETE_SELF"] and p == leaf)
    assert os.path.isdir(leaf) and os.listdir(leaf) == ["kid"]
    with open(m.p("leaf/.zkdata"), "rb") as f:
        assert f.read() == b"data"
    # -r watches the new directory (once inotifywait has added the watch) and sees its children.
    wr.wait_watching(leaf)
    zk.create(m.zpath("leaf/kid2"), b"2")
    wr.wait_for(lambda ev, p: ev == ["CREATE"] and p == leaf + "/kid2")
    zk.set(m.zpath("leaf/kid2"), b"22")
    wr.wait_for(lambda ev, p: ev == ["MODIFY"] and p == leaf + "/kid2")
    zk.set(m.zpath("leaf"), b"new data")
    wr.wait_for(lambda ev, p: ev == ["MODIFY"] and p == leaf + "/.zkdata")
    zk.delete(m.zpath("leaf/kid2"))
    wr.wait_for(lambda ev, p: ev == ["DELETE"] and p == leaf + "/kid2")


@pytest.fixture(scope="module")
def curator_trees(tmp_path_factory):
    """CuratorTrees compiled (javac), as a classpath; fails as tests/integration does when
    Curator or javac is missing."""
    from tests.integration.test_curator import classpath
    cp = classpath()
    if not any("curator-recipes" in p for p in cp) or not os.path.exists("/usr/bin/javac"):
        pytest.fail("Curator (libcurator-recipes-java) or javac missing: run packaging/install-deps.sh")
    out = str(tmp_path_factory.mktemp("curator-trees"))
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "java",
                       "CuratorTrees.java")
    subprocess.run(["javac", "-nowarn", "-cp", ":".join(cp), "-d", out, src], check=True,
                   capture_output=True, timeout=300)
    return ":".join(cp + [out])


def test_trees_made_by_curator_are_directories(mounted, curator_trees):
    m, zk = mounted
    p = subprocess.run(["java", "-Xmx256m", "-XX:TieredStopAtLevel=1", "-cp", curator_trees,
                        "CuratorTrees", m.hosts.split("/")[0], m.zk_root],
                       capture_output=True, text=True, timeout=180)
    assert p.returncode == 0 and "mkdirs => 0" in p.stdout, p.stdout + p.stderr
    for d in ("services", "services/api", "services/api/instances", "config", "config/app",
              "config/app/env"):
        assert os.path.isdir(m.p(d)), d
    assert os.path.isfile(m.p("services/api/instances/i-1"))
    assert os.listdir(m.p("config/app/env")) == []
