"""zkfs: the commands of the issue, the stat/xattr mapping, write semantics and errno mapping,
against zkd and Apache ZooKeeper (the `server` fixture), with kazoo on the other side."""
import errno
import os
import subprocess

import pytest
from kazoo.security import make_acl, make_digest_acl

from tests.lib.waiting import wait_until


def sh(cmd, check=True):
    r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=30)
    if check and r.returncode != 0:
        raise AssertionError("%s -> %d\n%s%s" % (cmd, r.returncode, r.stdout, r.stderr))
    return r


def test_issue_commands(mounted):
    m, zk = mounted
    M = m.path
    sh('mkdir -p %s/app && echo "max_conns=10" > %s/app/config' % (M, M))
    assert zk.get(m.zpath("app/config"))[0] == b"max_conns=10\n"
    assert sh("cat %s/app/config" % M).stdout == "max_conns=10\n"
    sh('echo "max_conns=20" > %s/app/config' % M)  # replaces
    assert zk.get(m.zpath("app/config"))[0] == b"max_conns=20\n"
    sh("mkdir -p %s/app/workers" % M)
    assert zk.get(m.zpath("app/workers"))[0] in (None, b"")  # null data: a directory
    out = sh("ls -la %s/app" % M).stdout.splitlines()
    assert any(l.startswith("-") and l.endswith(" config") and " 13 " in l for l in out), out
    assert any(l.startswith("d") and l.endswith(" workers") for l in out), out
    sh("rm %s/app/config" % M)
    assert not zk.exists(m.zpath("app/config"))
    sh("rmdir %s/app/workers" % M)
    assert zk.get_children(m.zpath("app")) == []


def test_remote_tree_is_visible(mounted):
    m, zk = mounted
    zk.create(m.zpath("a/b/c"), b"deep", makepath=True)
    zk.create(m.zpath("a/leaf"), b"x")
    # makepath created /a as an empty leaf; the mount turns it into a directory once its
    # watch reports the child, which reaches zkfs's session after kazoo's reply to kazoo.
    wait_until(lambda: os.path.isdir(m.p("a")), what="remote /a shown as a directory")
    assert sorted(os.listdir(m.p("a"))) == ["b", "leaf"]
    assert os.path.isdir(m.p("a/b")) and os.path.isfile(m.p("a/b/c"))
    with open(m.p("a/b/c"), "rb") as f:
        assert f.read() == b"deep"
    # A directory's own data is its hidden .zkdata entry.
    zk.set(m.zpath("a/b"), b"dir data")
    wait_until(lambda: open(m.p("a/b/.zkdata"), "rb").read() == b"dir data",
               what="remote data of a directory in .zkdata")
    assert ".zkdata" not in os.listdir(m.p("a/b"))
    with open(m.p("a/b/.zkdata"), "w") as f:
        f.write("new dir data")
    assert zk.get(m.zpath("a/b"))[0] == b"new dir data"
    sh("rm -r %s" % m.p("a"))
    assert not zk.exists(m.zpath("a"))


def test_stat_mapping(mounted):
    m, zk = mounted
    zk.create(m.zpath("f"), b"12345")
    zk.create(m.zpath("d/x"), b"", makepath=True)
    zk.create(m.zpath("d/y"), b"", makepath=True)
    wait_until(lambda: os.path.isdir(m.p("d")), what="remote /d shown as a directory")
    st = os.stat(m.p("f"))
    zst = zk.exists(m.zpath("f"))
    assert st.st_size == 5 and st.st_nlink == 1
    assert st.st_mtime_ns // 1000000 == zst.mtime and st.st_ctime_ns // 1000000 == zst.mtime
    d = os.stat(m.p("d"))
    assert d.st_nlink >= 2 and (d.st_mode & 0o170000) == 0o040000
    # Inode numbers are stable: across lookups, listings and data changes.
    ino = st.st_ino
    os.listdir(m.path)
    zk.set(m.zpath("f"), b"changed")
    assert os.stat(m.p("f")).st_ino == ino
    assert len({ino, d.st_ino, os.stat(m.p("d/x")).st_ino, os.stat(m.p("d/y")).st_ino}) == 4


def test_xattrs(mounted):
    m, zk = mounted
    zk.create(m.zpath("f"), b"abc")
    zk.set(m.zpath("f"), b"abcd")
    wait_until(lambda: os.path.getsize(m.p("f")) == 4, what="remote setData seen by the mount")
    out = sh("getfattr -d %s" % m.p("f")).stdout
    zst = zk.exists(m.zpath("f"))
    want = {"version": zst.version, "cversion": zst.cversion, "aversion": zst.aversion,
            "czxid": zst.czxid, "mzxid": zst.mzxid, "pzxid": zst.pzxid, "ctime": zst.ctime,
            "mtime": zst.mtime, "ephemeralOwner": zst.ephemeralOwner,
            "dataLength": zst.dataLength, "numChildren": zst.numChildren}
    for k, v in want.items():
        assert 'user.zk.%s="%d"' % (k, v) in out, (k, out)
    assert 'user.zk.acl="world:anyone:rwcda"' in out
    assert 'user.zk.path="/f"' in out  # relative to the chroot
    # setfattr on the ACL attribute changes the ACL.  (World keeps ADMIN: without it the
    # servers redact digest hashes to "x" in getACL replies.)
    sh("setfattr -n user.zk.acl -v 'world:anyone:ra,digest:bob:Zm9v:rwcda' %s" % m.p("f"))
    acl, _ = zk.get_acls(m.zpath("f"))
    got = sorted((a.id.scheme, a.id.id, a.perms) for a in acl)
    assert got == [("digest", "bob:Zm9v", 31), ("world", "anyone", 17)]
    assert 'user.zk.acl="world:anyone:ra,digest:bob:Zm9v:rwcda"' in sh(
        "getfattr -n user.zk.acl %s" % m.p("f")).stdout
    r = sh("setfattr -n user.zk.acl -v 'nonsense' %s" % m.p("f"), check=False)
    assert r.returncode != 0 and "Invalid argument" in r.stderr
    r = sh("setfattr -n user.zk.version -v 3 %s" % m.p("f"), check=False)
    assert r.returncode != 0 and "not permitted" in r.stderr


def test_write_semantics(mounted):
    m, zk = mounted
    f = m.p("w")
    sh("printf hello > %s" % f)
    sh("printf ' world' >> %s" % f)
    assert zk.get(m.zpath("w"))[0] == b"hello world"
    fd = os.open(f, os.O_WRONLY)
    os.pwrite(fd, b"J", 6)  # partial write in the middle
    os.close(fd)
    assert zk.get(m.zpath("w"))[0] == b"hello Jorld"
    os.truncate(f, 5)
    assert zk.get(m.zpath("w"))[0] == b"hello"
    os.truncate(f, 7)
    assert zk.get(m.zpath("w"))[0] == b"hello\0\0"
    # One setData per close: the content is replaced atomically.
    v0 = zk.exists(m.zpath("w")).version
    with open(f, "w") as fh:
        for i in range(50):
            fh.write("line %d\n" % i)
    data, st = zk.get(m.zpath("w"))
    assert data == b"".join(b"line %d\n" % i for i in range(50)) and st.version == v0 + 1
    # Read-your-writes through the mount.
    with open(f, "rb") as fh:
        assert fh.read() == data
    sh(": > %s" % f)
    assert zk.get(m.zpath("w"))[0] == b""
    # More than the server's limit: EFBIG, nothing written.
    with pytest.raises(OSError) as e:
        with open(f, "wb") as fh:
            fh.write(b"x" * (1024 * 1024 + 1))
    assert e.value.errno == errno.EFBIG
    assert zk.get(m.zpath("w"))[0] == b""


def test_errno_mapping(mounted):
    m, zk = mounted
    with pytest.raises(FileNotFoundError):
        open(m.p("missing"))
    os.mkdir(m.p("d"))
    with pytest.raises(FileExistsError):
        os.mkdir(m.p("d"))
    open(m.p("d/x"), "w").close()
    with pytest.raises(OSError) as e:
        os.rmdir(m.p("d"))
    assert e.value.errno == errno.ENOTEMPTY
    zk.create(m.zpath("ro"), b"locked", acl=[make_acl("world", "anyone", read=True)])
    with pytest.raises(PermissionError):
        with open(m.p("ro"), "w") as fh:
            fh.write("x")
    zk.create(m.zpath("secret"), b"s", acl=[make_digest_acl("u", "p", all=True)])
    with pytest.raises(PermissionError):
        open(m.p("secret")).read()
    with pytest.raises(OSError) as e:
        os.mkdir(m.p("bad@eph"))  # markers are for files
    assert e.value.errno == errno.EINVAL
    with pytest.raises(OSError) as e:
        open(m.p("bad\x01name"), "w")
    assert e.value.errno == errno.EINVAL


def test_mv_is_atomic_multi(mounted):
    m, zk = mounted
    zk.create(m.zpath("src"), b"payload", acl=[make_acl("world", "anyone", all=True)])
    zk.create(m.zpath("dst"), b"old")
    sh("mv %s %s" % (m.p("src"), m.p("dst")))
    assert zk.get(m.zpath("dst"))[0] == b"payload" and not zk.exists(m.zpath("src"))
    with open(m.p("dst"), "rb") as f:
        assert f.read() == b"payload"
    os.mkdir(m.p("dir"))
    sh("mv %s %s" % (m.p("dst"), m.p("dir/moved")))
    assert zk.get(m.zpath("dir/moved"))[0] == b"payload"
    assert sorted(os.listdir(m.path)) == ["dir"]
    # A directory with children is copied by mv (EXDEV), not renamed.
    zk.create(m.zpath("tree/a"), b"1", makepath=True)
    wait_until(lambda: os.path.isdir(m.p("tree")), what="remote /tree shown as a directory")
    sh("mv %s %s" % (m.p("tree"), m.p("tree2")))
    assert zk.get(m.zpath("tree2/a"))[0] == b"1" and not zk.exists(m.zpath("tree"))


def test_leaf_gains_a_child(mounted):
    m, zk = mounted
    zk.create(m.zpath("leaf"), b"leaf data")
    assert open(m.p("leaf")).read() == "leaf data"
    zk.create(m.zpath("leaf/child"), b"c")
    # The kernel may hold the file for a moment: the watch turns it into a directory.
    wait_until(lambda: os.path.isdir(m.p("leaf")), what="leaf turned into a directory")
    assert os.listdir(m.p("leaf")) == ["child"]
    assert open(m.p("leaf/.zkdata")).read() == "leaf data"


def test_chmod_chown_and_locks_fail_clearly(mounted):
    import fcntl
    m, zk = mounted
    f = m.p("f")
    sh("echo x > %s && mkdir %s" % (f, m.p("d")))
    # Znodes have no mode or owner: a change is refused, the mode shown is accepted unchanged.
    with pytest.raises(PermissionError):
        os.chmod(f, 0o600)
    with pytest.raises(PermissionError):
        os.chmod(m.p("d"), 0o700)
    os.chmod(f, 0o644)
    os.chmod(m.p("d"), 0o755)
    os.chown(f, os.getuid(), os.getgid())
    with pytest.raises(PermissionError):
        os.chown(f, os.getuid() + 1, -1)
    assert os.stat(f).st_mode & 0o7777 == 0o644
    sh("touch %s" % f)  # times: accepted, nothing to change
    # Locks would hold in this kernel only: they fail with ENOLCK, unlocking succeeds.
    with open(f, "r+") as fh:
        for call in (lambda: fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB),
                     lambda: fcntl.lockf(fh, fcntl.LOCK_EX | fcntl.LOCK_NB),
                     lambda: fcntl.lockf(fh, fcntl.LOCK_SH)):
            with pytest.raises(OSError) as e:
                call()
            assert e.value.errno == errno.ENOLCK
        fcntl.flock(fh, fcntl.LOCK_UN)
        fcntl.lockf(fh, fcntl.LOCK_UN)
    r = sh("flock -n %s true" % f, check=False)
    assert r.returncode != 0 and "No locks available" in r.stderr
    assert zk.get(m.zpath("f"))[0] == b"x\n"


def test_df_counts_znodes(mounted):
    m, zk = mounted
    os.mkdir(m.p("a"))
    zk.create(m.zpath("a/b"), b"x")
    zk.create(m.zpath("a/c"), b"")
    st = os.statvfs(m.path)
    assert st.f_files - st.f_ffree == 4  # the mount's root, a, a/b, a/c
    assert st.f_blocks == 0
    out = sh("df -i %s" % m.path).stdout.splitlines()[-1].split()
    assert out[2] == "4", out  # IUsed


def test_root_times(server, zk, zkfs_mount):
    import time
    t0 = time.time()
    whole = zkfs_mount(server, chroot="/")  # ZooKeeper's "/" has mtime 0
    assert t0 - 1 <= os.stat(whole.path).st_mtime <= time.time() + 1
    m = zkfs_mount(server)  # a chroot: its znode's own times
    assert os.stat(m.path).st_mtime_ns // 1000000 == zk.exists(m.zk_root).mtime
