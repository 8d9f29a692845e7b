"""Fixtures for zkfs tests: real FUSE mounts of a server's namespace.

  zkfs_mount    make(server, opts=(), chroot=None) -> Mount; every mount made is unmounted at
                teardown (lazily if it is busy, after killing the daemon if it hangs), even when
                the test fails.  By default each mount gets a fresh chroot znode of its own, so
                tests sharing a module-scoped server never see each other's znodes.
  zk            a kazoo client on `server` (the other side of the mount)
  mounted       (Mount, kazoo client) on `server`, chrooted to a fresh znode

Mount.path is the mount point, Mount.zk_root the chroot znode ("/zkfs-…") that kazoo uses to
look at what the mount did; Mount.zpath("a/b") is the kazoo path of mount-relative "a/b".
"""
import os
import re
import signal
import subprocess
import time
import uuid

import pytest

from tests.lib.paths import BUILD_BIN

ZKFS = os.path.join(BUILD_BIN, "zkfs")

# Session timeout (seconds) for the clients and mounts of tests that make bursts of thousands of
# changes: on a loaded machine an ASan server's replies can stop for longer than a 10 s session
# allows (they wait for fsync; silences of 6.7 s were seen at load average 13-19): kazoo then
# drops the connection and fails the multis in flight with ConnectionLoss, and a mount
# reconnects and so misses the watch events of that moment (docs/zkfs.md, limits).
SLOW_SERVER_SESSION = 30.0


def start_lease_holder(path):
    """A bash holding `exec 3>path` open, as a shell-level lease; returns (process, first line
    it printed): "held" once the lease exists.  It keeps the lease until its stdin closes or it
    is killed."""
    p = subprocess.Popen(["bash", "-c", 'exec 3>"$1" || exit 7; echo held; read -r _', "_", path],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    return p, p.stdout.readline().strip()


def hold_lease(path):
    """start_lease_holder that must succeed."""
    p, line = start_lease_holder(path)
    assert line == "held", "lease %s not taken: %r" % (path, line)
    return p


def _mounted(path):
    return _mount_device(path) is not None


def _mount_device(path):
    """The "major:minor" of the mount at `path` (the last one), or None."""
    dev = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == path:
                dev = fields[2]
    return dev


def abort_fuse_connection(dev):
    """Ends the FUSE connection of device "major:minor" (fusectl, mounted if need be): every
    request waiting on it fails, so a stuck daemon can exit."""
    ctl = "/sys/fs/fuse/connections"
    if not os.path.isdir(os.path.join(ctl, dev.split(":")[1])):
        subprocess.run(["mount", "-t", "fusectl", "fusectl", ctl], capture_output=True, timeout=20)
    try:
        with open(os.path.join(ctl, dev.split(":")[1], "abort"), "w") as f:
            f.write("1")
    except OSError:
        pass


class Mount:
    def __init__(self, workdir, hosts, opts, zk_root, env=None):
        self.env = dict(os.environ, **(env or {}))
        self.path = os.path.join(workdir, "mnt")
        os.makedirs(self.path)
        self.log_path = os.path.join(workdir, "zkfs.log")
        self.hosts = hosts
        self.opts = list(opts)
        self.zk_root = zk_root
        self.proc = None
        self.dev = None  # "major:minor" of the mount once started

    def zpath(self, rel=""):
        return (self.zk_root.rstrip("/") + "/" + rel).rstrip("/") or "/"

    def p(self, rel=""):
        return os.path.join(self.path, rel) if rel else self.path

    def start(self, timeout=20.0):
        cmd = [ZKFS, self.hosts, self.path, "-f"]
        for o in self.opts:
            cmd += ["-o", o]
        self.log = open(self.log_path, "ab", buffering=0)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + timeout
        while not _mounted(self.path):
            if self.proc.poll() is not None:
                raise AssertionError("zkfs exited with %s:\n%s" % (self.proc.returncode, self.log_text()))
            if time.monotonic() > deadline:
                raise AssertionError("zkfs did not mount within %.0fs:\n%s" % (timeout, self.log_text()))
            time.sleep(0.02)
        self.dev = _mount_device(self.path)
        # The mount appears in mountinfo before zkfs logs "mounted ..., session 0x..." and
        # starts its request loop; a request on the mount waits for that loop (the kernel
        # holds requests until FUSE INIT is answered), so after it the line is known written.
        os.listdir(self.path)
        return self

    def session_id(self):
        """The session the mount opened, from the "mounted ... session 0x..." line that
        start() has made sure is written."""
        m = re.search(r"mounted .* session 0x([0-9a-f]+)", self.log_text())
        assert m, "no 'mounted ... session' line in the zkfs log:\n" + self.log_text()
        return int(m.group(1), 16)

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def unmount(self):
        """Unmounts for good: fusermount3 -u, then lazily (-uz); the daemon gets SIGTERM, then
        SIGKILL.  Never hangs: a daemon that is stuck is killed, which ends every request."""
        if _mounted(self.path):
            r = subprocess.run(["fusermount3", "-u", self.path], capture_output=True, timeout=20)
            if r.returncode != 0:
                subprocess.run(["fusermount3", "-uz", self.path], capture_output=True, timeout=20)
        if self.proc is not None:
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:  # a thread waits on its own mount
                    abort_fuse_connection(self.dev)
                    self.proc.wait(10)
            self.log.close()
        if _mounted(self.path):
            subprocess.run(["umount", "-l", self.path], capture_output=True, timeout=20)

    def sanitizer_report(self):
        text = self.log_text()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            if marker in text:
                return text
        return None


@pytest.fixture
def zkfs_mount(tmp_path, kazoo_client):
    if not os.path.exists("/dev/fuse"):
        pytest.skip("no /dev/fuse on this machine")
    if not os.path.exists(ZKFS):
        pytest.fail("zkfs not built at %s" % ZKFS, pytrace=False)
    mounts = []

    def make(srv, opts=(), chroot=None, hosts=None, start=True, env=None):
        if chroot is None:
            chroot = "/zkfs-" + uuid.uuid4().hex[:12]
            kazoo_client(srv).ensure_path(chroot)
        d = tmp_path / ("m%d" % len(mounts))
        d.mkdir()
        base = hosts or srv.hosts
        m = Mount(str(d), base + (chroot if chroot != "/" else ""), opts, chroot, env)
        mounts.append(m)
        if start:
            m.start()
        return m

    try:
        yield make
    finally:
        for m in reversed(mounts):
            m.unmount()
        for m in mounts:
            assert m.sanitizer_report() is None, m.sanitizer_report()


@pytest.fixture
def zk(server, kazoo_client):
    return kazoo_client(server)


@pytest.fixture
def mounted(server, zk, zkfs_mount):
    return zkfs_mount(server), zk


class Inotify:
    """inotifywait -m [-r] on a path; lines are awaited, never slept for."""

    def __init__(self, path, recursive=True):
        self.proc = subprocess.Popen(
            ["inotifywait", "-m"] + (["-r"] if recursive else []) + ["--format", "%e %w%f", path],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # inotifywait says "Watches established." on stderr once it listens.
        while True:
            line = self.proc.stderr.readline()
            if not line or b"Watches established" in line:
                break
        self.events = []
        self._pending = []
        self._buf = b""

    def wait_for(self, pred, timeout=10.0):
        """Returns the first new event (flags, path) for which pred(flags, path) holds;
        fails after `timeout` seconds, listing what was seen."""
        import select
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while True:
            while self._pending:
                flags, path = self._pending.pop(0)
                self.events.append((flags, path))
                if pred(flags, path):
                    return flags, path
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no such inotify event; saw %r" % self.events)
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AssertionError("inotifywait ended; saw %r" % self.events)
            self._buf += chunk
            *lines, self._buf = self._buf.split(b"\n")
            for line in lines:
                ev, _, path = line.decode().partition(" ")
                self._pending.append((ev.split(","), path))

    def watches(self, path):
        """1 if inotifywait holds a watch on `path`'s inode now (from /proc/PID/fdinfo, where
        the kernel lists each watch as "ino:HEX sdev:HEX")."""
        st = os.stat(path)
        key = "ino:%x sdev:%x " % (st.st_ino, (os.major(st.st_dev) << 20) | os.minor(st.st_dev))
        d = "/proc/%d/fdinfo" % self.proc.pid
        for fd in os.listdir(d):
            try:
                with open(os.path.join(d, fd)) as f:
                    if key in f.read():
                        return True
            except OSError:
                pass
        return False

    def wait_watching(self, path, timeout=10.0):
        """Waits until inotifywait -r watches the new directory `path`: it prints a directory's
        CREATE line first and adds its watch after, so a change made in between is not seen
        (as on any file system)."""
        from tests.lib.waiting import wait_until
        wait_until(lambda: self.watches(path), timeout=timeout,
                   what="inotifywait watching %s" % path)

    def close(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def inotify():
    watchers = []

    def make(path, recursive=True):
        w = Inotify(path, recursive)
        watchers.append(w)
        return w

    try:
        yield make
    finally:
        for w in watchers:
            w.close()
