"""zkfs robustness: read-only mounts, daemon death, session expiry, server restarts, large
directories, concurrency, auth, TLS, background mode and allow_other."""
import errno
import os
import signal
import subprocess
import threading
import time

import pytest
from kazoo.security import make_digest_acl

from tests.integration.test_tls_sasl import pki, tls_zkd  # noqa: F401 (fixtures)
from tests.lib.waiting import wait_until
from tests.zkfs.conftest import SLOW_SERVER_SESSION, _mounted, hold_lease


def release(p):
    p.stdin.close()
    try:
        p.wait(20)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def assert_ls_enotconn(path):
    """`ls` of a mount whose daemon is gone fails at once with ENOTCONN."""
    r = subprocess.run(["ls", path], capture_output=True, text=True, timeout=20)
    assert r.returncode != 0 and "Transport endpoint is not connected" in r.stderr


def test_read_only_mount(server, zk, zkfs_mount, inotify):
    m = zkfs_mount(server, opts=["ro"])
    zk.create(m.zpath("f"), b"data")
    assert open(m.p("f")).read() == "data"
    for op in (lambda: open(m.p("f"), "w"), lambda: open(m.p("new"), "w"),
               lambda: os.mkdir(m.p("d")), lambda: os.unlink(m.p("f")),
               lambda: os.truncate(m.p("f"), 0),
               lambda: os.setxattr(m.p("f"), "user.zk.acl", b"world:anyone:r")):
        with pytest.raises(OSError) as e:
            op()
        assert e.value.errno == errno.EROFS
    # Remote changes are still reported (the read-only rule is enforced by zkfs).
    w = inotify(m.path)
    zk.create(m.zpath("g"), b"")
    w.wait_for(lambda ev, p: "CREATE" in ev and p.endswith("/g"))


def test_daemon_killed_gives_enotconn_and_ends_the_session(server, zk, zkfs_mount):
    m = zkfs_mount(server, opts=["session_timeout=4000"])
    holder = hold_lease(m.p("lease@eph"))
    try:
        gone = threading.Event()
        assert zk.exists(m.zpath("lease"), watch=lambda ev: gone.set())
        m.proc.send_signal(signal.SIGKILL)
        m.proc.wait(10)
        assert_ls_enotconn(m.path)
        assert gone.wait(30), "the session of a dead zkfs did not expire"
        assert zk.exists(m.zpath("lease")) is None
    finally:
        holder.kill()
        holder.wait(10)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_daemon_stopped_while_replaying_remote_changes_exits(server, zk, zkfs_mount, inotify,
                                                             monkeypatch, sig):
    """zkfs stopped while its notifier replays a remote change on the mount (the replay's
    answer held back for 300 ms): the daemon exits and the mount is gone or reports ENOTCONN.
    On SIGTERM the FUSE loop cancels the worker holding the replay, whose request is then
    never answered; if the replaying thread shared the daemon's descriptors, /dev/fuse would
    never close, shutdown would wait for it for ever, and a SIGKILL would leave a zombie."""
    monkeypatch.setenv("ZKFS_TEST_REPLAY_PAUSE_MS", "300")
    m = zkfs_mount(server)
    os.mkdir(m.p("q"))
    w = inotify(m.p("q"))
    zk.create(m.zpath("q/n1"), b"")
    zk.create(m.zpath("q/n2"), b"")
    w.wait_for(lambda ev, p: "CREATE" in ev)  # n1 replayed; n2 is being replayed
    m.proc.send_signal(sig)
    try:
        m.proc.wait(20)
    except subprocess.TimeoutExpired:
        raise AssertionError("zkfs did not exit on %s during a replay" % sig.name)
    if _mounted(m.path):
        assert_ls_enotconn(m.path)


def test_unreachable_server_times_out_and_recovers(server_factory, kazoo_client, zkfs_mount):
    srv = server_factory("zkd")
    m = zkfs_mount(srv, opts=["session_timeout=6000"])
    # Made through the mount: its watch event comes before the reply on this session, so no
    # late event of another session's create drops the cached copy after the read below.
    with open(m.p("cached"), "w") as f:
        f.write("still here")
    assert open(m.p("cached")).read() == "still here"
    srv.stop()
    t0 = time.monotonic()
    with pytest.raises(OSError) as e:
        os.stat(m.p("never-seen"))  # needs the server
    assert e.value.errno == errno.ETIMEDOUT
    assert time.monotonic() - t0 < 30
    assert open(m.p("cached")).read() == "still here"  # answered by the caches
    srv.start()
    wait_until(lambda: "resumed" in m.log_text(), what="session resumed")
    with open(m.p("after"), "w") as f:
        f.write("back")
    assert kazoo_client(srv).get(m.zpath("after"))[0] == b"back"


def test_session_expiry_is_survived(server, zk, zkfs_mount):
    m = zkfs_mount(server, opts=["session_timeout=4000"])
    holder = hold_lease(m.p("lease@eph"))
    try:
        gone = threading.Event()
        assert zk.exists(m.zpath("lease"), watch=lambda ev: gone.set())
        os.kill(m.proc.pid, signal.SIGSTOP)  # silent past the session timeout
        try:
            assert gone.wait(30), "session did not expire"
        finally:
            os.kill(m.proc.pid, signal.SIGCONT)
        # "new session 0x...", not the expiry line, which ends in "opening a new session".
        wait_until(lambda: "zkfs: new session 0x" in m.log_text(), what="a new session")
        assert "expired" in m.log_text()
        with open(m.p("after"), "w") as f:
            f.write("still mounted")
        assert zk.get(m.zpath("after"))[0] == b"still mounted"
        assert not os.path.exists(m.p("lease"))
    finally:
        release(holder)


@pytest.mark.parametrize("kind", ["zkd", "apache"])
def test_server_restart_keeps_session_and_files(kind, server_factory, kazoo_client, zkfs_mount):
    srv = server_factory(kind)
    zk = kazoo_client(srv)
    m = zkfs_mount(srv, opts=["session_timeout=20000"])
    holder = hold_lease(m.p("lease@eph"))
    owner = zk.exists(m.zpath("lease")).ephemeralOwner
    fd = os.open(m.p("open-file"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.write(fd, b"before")
        srv.restart()
        wait_until(lambda: "resumed" in m.log_text(), what="session resumed")
        zk2 = kazoo_client(srv)
        assert zk2.exists(m.zpath("lease")).ephemeralOwner == owner
        os.write(fd, b" after")  # the open file keeps working
        os.fsync(fd)
        assert zk2.get(m.zpath("open-file"))[0] == b"before after"
        assert sorted(os.listdir(m.path)) == ["lease", "open-file"]
    finally:
        os.close(fd)
        release(holder)


def test_large_directory(server, kazoo_client, zkfs_mount):
    zk = kazoo_client(server, timeout=SLOW_SERVER_SESSION)  # see conftest.py
    m = zkfs_mount(server)
    n = 100_000
    zk.create(m.zpath("big"), b"")
    for base in range(0, n, 2000):
        t = zk.transaction()
        for i in range(base, base + 2000):
            t.create(m.zpath("big/%05d" % i), b"")
        assert all(r is not Exception and not isinstance(r, Exception) for r in t.commit())
    names = os.listdir(m.p("big"))
    assert len(names) == n and set(names) == {"%05d" % i for i in range(n)}
    r = subprocess.run("ls %s | wc -l" % m.p("big"), shell=True, capture_output=True, text=True,
                       timeout=120)
    assert r.stdout.strip() == str(n)


def test_concurrent_processes(mounted):
    m, zk = mounted
    script = 'for i in $(seq 1 20); do echo "$1 $i" > "$2/f$1"; cat "$2/f$1" > /dev/null; done'
    procs = [subprocess.Popen(["bash", "-c", script, "_", str(w), m.path]) for w in range(8)]
    for p in procs:
        assert p.wait(120) == 0
    for w in range(8):
        assert zk.get(m.zpath("f%d" % w))[0] == b"%d 20\n" % w
        assert open(m.p("f%d" % w)).read() == "%d 20\n" % w


def test_digest_auth(server, zk, zkfs_mount):
    root = "/zkfs-auth-%d" % os.getpid()
    zk.ensure_path(root)
    zk.create(root + "/secret", b"s3cret", acl=[make_digest_acl("alice", "pw", all=True)])
    m = zkfs_mount(server, opts=["digest=alice:pw"], chroot=root)
    assert open(m.p("secret")).read() == "s3cret"
    anon = zkfs_mount(server, chroot=root)
    with pytest.raises(PermissionError):
        open(anon.p("secret")).read()


def test_tls(tls_zkd, pki, zkfs_mount, kazoo_client):  # noqa: F811
    zk = kazoo_client(tls_zkd)
    zk.ensure_path("/tls")
    m = zkfs_mount(tls_zkd, chroot="/tls", hosts="127.0.0.1:%d" % tls_zkd.tls_port,
                   opts=["tls", "tls_ca=" + os.path.join(pki, "ca.pem"),
                         "tls_cert=" + os.path.join(pki, "client.pem"),
                         "tls_key=" + os.path.join(pki, "client.key")])
    with open(m.p("over-tls"), "w") as f:
        f.write("yes")
    assert zk.get("/tls/over-tls")[0] == b"yes"


def test_background_mode_and_allow_other(server, zk):
    import pathlib
    import shutil
    import tempfile
    from tests.zkfs.conftest import ZKFS
    top = tempfile.mkdtemp(prefix="zkfs-bg-", dir="/tmp")  # reachable by another user
    os.chmod(top, 0o755)
    mnt = pathlib.Path(top) / "mnt"
    mnt.mkdir()
    root = "/zkfs-bg-%d" % os.getpid()
    zk.ensure_path(root)
    zk.create(root + "/hello", b"world")
    r = subprocess.run([ZKFS, server.hosts + root, str(mnt), "-o", "allow_other"],
                       capture_output=True, text=True, timeout=30)
    try:
        assert r.returncode == 0, r.stderr
        assert _mounted(str(mnt))  # mounted before the foreground process returned
        out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                              "cat", str(mnt / "hello")], capture_output=True, text=True, timeout=20)
        assert out.stdout == "world", out.stderr
    finally:
        subprocess.run(["fusermount3", "-u", str(mnt)], timeout=20)
        if _mounted(str(mnt)):
            subprocess.run(["fusermount3", "-uz", str(mnt)], timeout=20)
    assert not _mounted(str(mnt))
    shutil.rmtree(top)


def test_bad_command_lines(tmp_path):
    from tests.zkfs.conftest import ZKFS
    r = subprocess.run([ZKFS], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "usage" in r.stderr
    r = subprocess.run([ZKFS, "127.0.0.1:1", str(tmp_path), "-f", "-o", "session_timeout=1000"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "cannot open a session" in r.stderr
    r = subprocess.run([ZKFS, "not a host list", str(tmp_path), "-f"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode != 0 and "cannot open a session" in r.stderr


def test_lazy_unmount_of_a_dead_mount(server_factory, zkfs_mount):
    """No server reachable: a request fails within the session timeout, `umount -l` returns at
    once, and zkfs exits by itself once the kernel has let the mount go."""
    srv = server_factory("zkd")
    m = zkfs_mount(srv, opts=["session_timeout=4000"])
    os.mkdir(m.p("d"))
    srv.stop()
    t0 = time.monotonic()
    with pytest.raises(OSError) as e:
        os.listdir(m.p("d"))  # opendir: one getChildren, which no server answers
    assert e.value.errno == errno.ETIMEDOUT and time.monotonic() - t0 < 30
    r = subprocess.run(["umount", "-l", m.path], capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    assert m.proc.wait(60) == 0  # the kernel ended the connection: a clean exit
    assert not os.path.ismount(m.path)


def test_lazy_unmount_during_a_burst_of_replays(server, kazoo_client, zkfs_mount, inotify):
    """A lazy unmount while remote creates are being replayed: zkfs exits cleanly, and no replay
    reaches the directory underneath the mount point (the replay thread works with paths
    relative to the mount it entered, docs/zkfs.md)."""
    zk = kazoo_client(server, timeout=SLOW_SERVER_SESSION)  # see conftest.py
    m = zkfs_mount(server, opts=["session_timeout=%d" % (SLOW_SERVER_SESSION * 1000)])
    w = inotify(m.path, recursive=False)
    pending = []
    for base in range(0, 5000, 1000):
        t = zk.transaction()
        for i in range(base, base + 1000):
            t.create(m.zpath("n%05d" % i), b"v")
        pending.append(t.commit_async())
    w.wait_for(lambda ev, p: ev == ["CREATE"])  # replays are under way
    r = subprocess.run(["umount", "-l", m.path], capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    assert m.proc.wait(60) == 0
    assert os.listdir(m.path) == []  # the directory underneath
    for a in pending:
        a.get(timeout=30)


def test_remote_changes_while_zkfs_exits(server, kazoo_client, zkfs_mount):
    """Remote creates keep coming while zkfs exits after an unmount: libzk's thread delivers
    their watch events into zkfs's node table until the session is closed, so the table must
    outlive the session.  The exit is stretched right before the session is closed
    (ZKFS_TEST_CLOSE_DELAY_MS); with the table freed first, zkfs died of SIGSEGV there, as it
    did now and then in a lazy unmount during a burst (the test above)."""
    zk = kazoo_client(server)
    m = zkfs_mount(server, env={"ZKFS_TEST_CLOSE_DELAY_MS": "1000"})
    os.listdir(m.path)  # the recursive watch is armed from the mount on
    stop = threading.Event()
    made = []

    def writer():
        while not stop.is_set():
            made.append(zk.create(m.zpath("w%06d" % len(made)), b"v"))

    t = threading.Thread(target=writer)
    t.start()
    try:
        wait_until(lambda: len(made) >= 20, what="remote creates under way")
        # (lazily: a plain unmount fails EBUSY while a batch is being replayed)
        r = subprocess.run(["umount", "-l", m.path], capture_output=True, text=True, timeout=20)
        assert r.returncode == 0, r.stderr
        n = len(made)
        assert m.proc.wait(60) == 0, m.log_text()
        assert len(made) > n  # creates went on while zkfs was closing
    finally:
        stop.set()
        t.join(30)
