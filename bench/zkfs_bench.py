#!/usr/bin/python3
"""zkfs rows of the bench matrix: the FUSE mount over zkd and over Apache ZooKeeper 3.8.

    /usr/bin/python3 bench/matrix.py --zkfs-only           # these rows only, both servers
    /usr/bin/python3 bench/matrix.py                       # the whole matrix, these rows included
    /usr/bin/python3 bench/zkfs_bench.py --smoke --only zkd   # standalone, report on stdout

For each server kind: one standalone server (matrix.py's Servers: same config and pinning as the
other rows), one zkfs mount of a fresh chroot znode (`zkfs HOST/chroot MNT -f`, defaults:
cache_timeout=1, multithreaded), a kazoo client on the other side.  The bench process runs on
the generator CPU (0) and so does the zkfs daemon it starts; the server is on CPU 1.  Rows:

  cat       a 100-byte znode read through the mount after a first read, N times, each read
            os.open + os.read(64 KiB) + os.close in this process (no fork/exec of `cat`):
            p50/p99 per read, reads/s, and the server's request counter before/after the
            loop (`srvr` Received) to show the reads were cache hits.
  ls        os.listdir of a directory with C children (full: 100,000, made by kazoo in
            multis of 2,000 creates before the mount starts, so that zkfs is not busy
            replaying 100,000 NodeCreated events as inotify CREATEs while the listing is
            timed): the first listing through the mount and the median of R repeated
            listings (each opendir is one getChildren, see docs/zkfs.md).
  burst     a remote burst in one directory: B creates (full: 100,000), then 10,000 setData and
            10,000 deletes, each sent by kazoo as multis of 1,000 without waiting; a ctypes
            inotify reader thread counts IN_CREATE / IN_MODIFY / IN_DELETE: events per second
            (first send to last event) and the time from the last ack to the last event.
  inotify   ctypes inotify (no library) on a directory of the mount; kazoo's set_async /
            create_async of a znode in it; time from just before the call (the "send") to
            the read of the IN_MODIFY / IN_CREATE for that name; the write's ack time (set by
            kazoo's completion callback) is reported alongside, as the server round trip.

Everything started is stopped in `finally`: the mount with fusermount3 -u (then -uz, then
SIGKILL of the daemon and umount -l), the server with its launcher's close().  zkfs is copied
into the work directory first so a rebuild during the run cannot change it under the bench.
"""
import argparse
import ctypes
import errno
import json
import os
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.lib import servers as S  # noqa: E402

PROFILES = {
    # cat_n: reads timed; children: size of the listed directory; ls_repeat: repeated listings;
    # events: samples per inotify row
    # burst: remote creates in the burst row (then up to 10,000 setData and deletes)
    "full": dict(cat_n=20000, children=100_000, ls_repeat=5, events=1000, burst=100_000),
    "quick": dict(cat_n=5000, children=100_000, ls_repeat=3, events=300, burst=20_000),
    "smoke": dict(cat_n=300, children=2000, ls_repeat=2, events=30, burst=2000),
}

CREATE_BATCH = 2000
CAT_SIZE = 100

IN_MODIFY = 0x00000002
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_Q_OVERFLOW = 0x00004000
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
EVENT_HDR = struct.Struct("iIII")


def log(msg):
    sys.stderr.write("[zkfs-bench %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def pct(samples, p):
    """The p-th percentile (nearest rank) of a list of numbers."""
    s = sorted(samples)
    return s[min(len(s) - 1, max(0, int(round(p / 100.0 * len(s) + 0.5)) - 1))]


# --------------------------------------------------------------------------
# The mount
# --------------------------------------------------------------------------

def _mounted(path):
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


class Mount:
    """One zkfs daemon in the foreground; unmount() always leaves nothing mounted or running."""

    def __init__(self, binary, hosts, workdir):
        self.binary, self.hosts = binary, hosts
        self.path = os.path.join(workdir, "mnt")
        self.log_path = os.path.join(workdir, "zkfs.log")
        os.makedirs(self.path, exist_ok=True)
        self.proc = None
        self.log = None

    def start(self, timeout=20.0):
        self.log = open(self.log_path, "ab", buffering=0)
        self.proc = subprocess.Popen([self.binary, self.hosts, self.path, "-f"],
                                     stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not _mounted(self.path):
            if self.proc.poll() is not None:
                raise RuntimeError("zkfs exited with %s: %s" % (self.proc.returncode, self.tail()))
            if time.monotonic() > deadline:
                raise RuntimeError("zkfs did not mount within %.0f s: %s" % (timeout, self.tail()))
            time.sleep(0.02)

    def tail(self):
        with open(self.log_path, "rb") as f:
            return f.read()[-2000:].decode(errors="replace")

    def unmount(self):
        if _mounted(self.path):
            r = subprocess.run(["fusermount3", "-u", self.path], capture_output=True, timeout=30)
            if r.returncode != 0:
                subprocess.run(["fusermount3", "-uz", self.path], capture_output=True, timeout=30)
        if self.proc is not None:
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log is not None:
            self.log.close()
        if _mounted(self.path):
            subprocess.run(["umount", "-l", self.path], capture_output=True, timeout=30)


# --------------------------------------------------------------------------
# inotify through ctypes
# --------------------------------------------------------------------------

class Inotify:
    def __init__(self, path, mask):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        if self.libc.inotify_add_watch(self.fd, path.encode(), mask) < 0:
            e = ctypes.get_errno()
            os.close(self.fd)
            raise OSError(e, "inotify_add_watch " + path)
        self.pending = []

    def _read(self, timeout):
        if not select.select([self.fd], [], [], timeout)[0]:
            return False
        now = time.perf_counter()
        try:
            buf = os.read(self.fd, 65536)
        except OSError as e:
            if e.errno == errno.EAGAIN:
                return True
            raise
        off = 0
        while off < len(buf):
            _wd, mask, _cookie, ln = EVENT_HDR.unpack_from(buf, off)
            name = buf[off + EVENT_HDR.size:off + EVENT_HDR.size + ln].rstrip(b"\0").decode()
            self.pending.append((mask, name, now))
            off += EVENT_HDR.size + ln
        return True

    def wait_for(self, mask, name, timeout=10.0):
        """perf_counter() time at which the event (mask, name) was read."""
        deadline = time.monotonic() + timeout
        while True:
            while self.pending:
                m, n, t = self.pending.pop(0)
                if m & mask and n == name:
                    return t
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError("no inotify event %#x for %r within %.0f s" % (mask, name, timeout))
            self._read(left)

    def drain(self):
        while self._read(0):
            pass
        self.pending = []

    def close(self):
        os.close(self.fd)


# --------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------

OP_TIMEOUT = 30.0


def zcall(fn, *args, **kw):
    """A kazoo *_async call waited for at most OP_TIMEOUT (the sync calls wait for ever while
    the session is reconnecting)."""
    return fn(*args, **kw).get(timeout=OP_TIMEOUT)


def server_received(srv):
    text = S.four_letter(srv.members[0].port, "srvr")
    return int(S.parse_srvr(text).get("Received", "-1"))


def row_cat(mnt, zk, zroot, srv, n):
    zcall(zk.create_async, zroot + "/small", b"x" * CAT_SIZE)
    path = os.path.join(mnt.path, "small")
    # First read (fills zkfs's cache and the kernel's dentry/page cache); not timed.
    with open(path, "rb") as f:
        assert f.read() == b"x" * CAT_SIZE
    before = server_received(srv)
    lat = []
    t_start = time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter()
        fd = os.open(path, os.O_RDONLY)
        data = os.read(fd, 65536)
        os.close(fd)
        lat.append(time.perf_counter() - t0)
        if len(data) != CAT_SIZE:
            raise RuntimeError("read %d bytes, expected %d" % (len(data), CAT_SIZE))
    total = time.perf_counter() - t_start
    after = server_received(srv)
    return {"reads": n, "p50_us": pct(lat, 50) * 1e6, "p99_us": pct(lat, 99) * 1e6,
            "reads_per_sec": n / total,
            # Packets the server received during the loop from every client (pings included).
            "server_requests": after - before}


def make_children(zk, zroot, children):
    """Creates zroot/big with `children` children before the mount exists: the mount's watch
    then never sees their creation, so the listing is not timed while zkfs is still replaying
    (as mknod, for inotify) the NodeCreated events of 100,000 remote creates."""
    big = zroot + "/big"
    zcall(zk.create_async, big, None)
    t0 = time.perf_counter()
    for base in range(0, children, CREATE_BATCH):
        t = zk.transaction()
        for i in range(base, min(children, base + CREATE_BATCH)):
            t.create("%s/%05d" % (big, i), b"")
        res = zcall(t.commit_async)
        bad = [r for r in res if isinstance(r, Exception)]
        if bad:
            raise RuntimeError("creating children: %r" % bad[0])
    return time.perf_counter() - t0


def row_ls(mnt, children, repeat, create_s):
    path = os.path.join(mnt.path, "big")
    t0 = time.perf_counter()
    names = os.listdir(path)
    first = time.perf_counter() - t0
    if len(names) != children:
        raise RuntimeError("listing has %d names, expected %d" % (len(names), children))
    again = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        n = len(os.listdir(path))
        again.append(time.perf_counter() - t0)
        if n != children:
            raise RuntimeError("repeated listing has %d names, expected %d" % (n, children))
    return {"children": children, "first_ms": first * 1e3,
            "repeat_ms": statistics.median(again) * 1e3, "repeat_all_ms": [a * 1e3 for a in again],
            "create_s": create_s}


def row_inotify(mnt, zk, zroot, samples, kind):
    """kind "set": setData of one file -> IN_MODIFY; "create": a new znode -> IN_CREATE."""
    d = zroot + "/ev-" + kind
    zcall(zk.create_async, d, None)            # null data: a directory
    if kind == "set":
        zcall(zk.create_async, d + "/f", b"0")
    dpath = os.path.join(mnt.path, "ev-" + kind)
    os.listdir(dpath)               # the kernel knows the directory and its entries
    if kind == "set":
        with open(os.path.join(dpath, "f"), "rb") as f:
            f.read()
    ino = Inotify(dpath, IN_MODIFY | IN_CREATE)
    ev_lat, ack_lat, after_ack = [], [], []
    before_ack = 0
    try:
        for i in range(samples):
            ino.drain()
            acked = []
            if kind == "set":
                name, mask = "f", IN_MODIFY
                t0 = time.perf_counter()
                res = zk.set_async(d + "/f", b"%d" % i)
            else:
                name, mask = "c%06d" % i, IN_CREATE
                t0 = time.perf_counter()
                res = zk.create_async(d + "/" + name, b"")
            res.rawlink(lambda _r: acked.append(time.perf_counter()))
            t_ev = ino.wait_for(mask, name)
            res.get(timeout=10)
            deadline = time.monotonic() + 5
            while not acked and time.monotonic() < deadline:
                time.sleep(0.0001)
            t_ack = acked[0] if acked else float("nan")
            ev_lat.append(t_ev - t0)
            ack_lat.append(t_ack - t0)
            after_ack.append(t_ev - t_ack)
            if t_ev < t_ack:
                before_ack += 1
            time.sleep(0.002)       # let zkfs's notifier go idle between samples
    finally:
        ino.close()
    return {"samples": samples, "p50_us": pct(ev_lat, 50) * 1e6, "p99_us": pct(ev_lat, 99) * 1e6,
            "ack_p50_us": pct(ack_lat, 50) * 1e6, "ack_p99_us": pct(ack_lat, 99) * 1e6,
            "after_ack_p50_us": pct(after_ack, 50) * 1e6, "event_before_ack": before_ack,
            "first_us": ev_lat[0] * 1e6,
            # The three slowest samples as [sample index, event us, ack us], to tell a slow
            # server round trip from a slow event.
            "slowest": [[i, ev_lat[i] * 1e6, ack_lat[i] * 1e6] for i in
                        sorted(range(samples), key=lambda i: -ev_lat[i])[:3]]}


def row_burst(mnt, zk, zroot, creates):
    """Remote bursts in one directory: {op: {n, events_per_sec, ack_s, last_event_after_ack_s}}."""
    import threading
    d = zroot + "/burst"
    zcall(zk.create_async, d, None)
    dpath = os.path.join(mnt.path, "burst")
    os.listdir(dpath)
    ino = Inotify(dpath, IN_CREATE | IN_MODIFY | IN_DELETE)
    counts = {IN_CREATE: 0, IN_MODIFY: 0, IN_DELETE: 0}
    last = {}
    cv = threading.Condition()
    stop = []

    def reader():  # keeps the kernel's queue (16,384 events) from overflowing
        while not stop:
            if not ino._read(0.2):
                continue
            with cv:
                for m, _n, t in ino.pending:
                    if m & IN_Q_OVERFLOW:
                        counts[IN_Q_OVERFLOW] = 1
                    for k in (IN_CREATE, IN_MODIFY, IN_DELETE):
                        if m & k:
                            counts[k] += 1
                            last[k] = t
                ino.pending = []
                cv.notify_all()

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    paths = ["%s/n%06d" % (d, i) for i in range(creates)]
    out = {}
    try:
        for op, mask, n in (("create", IN_CREATE, creates), ("set", IN_MODIFY, min(10000, creates)),
                            ("delete", IN_DELETE, min(10000, creates))):
            t0 = time.perf_counter()
            pending = []
            for base in range(0, n, 1000):
                t = zk.transaction()
                for p in paths[base:base + 1000]:
                    if op == "create":
                        t.create(p, b"v")
                    elif op == "set":
                        t.set_data(p, b"w")
                    else:
                        t.delete(p)
                pending.append(t.commit_async())
            for a in pending:
                res = a.get(timeout=OP_TIMEOUT)
                if any(isinstance(r, Exception) for r in res):
                    raise RuntimeError("burst %s: %r" % (op, res[:3]))
            t_ack = time.perf_counter()
            deadline = time.monotonic() + 600
            with cv:
                while counts[mask] < n:
                    if IN_Q_OVERFLOW in counts:
                        raise RuntimeError("inotify queue overflow")
                    if time.monotonic() > deadline:
                        raise RuntimeError("burst %s: %d of %d events" % (op, counts[mask], n))
                    cv.wait(1)
                t_last = last[mask]
            out[op] = {"n": n, "events_per_sec": n / (t_last - t0), "ack_s": t_ack - t0,
                       "last_event_after_ack_s": t_last - t_ack}
    finally:
        stop.append(1)
        th.join(5)
        ino.close()
    return out


def run_kind(servers_cls, kind, workdir, prof, zkfs_binary):
    """Starts one standalone server of `kind` and one mount, runs every row, stops both."""
    from kazoo.client import KazooClient
    results = {}
    srv = servers_cls(kind, "standalone", os.path.join(workdir, "srv"))
    mnt = zk = None
    try:
        srv.start()
        zk = KazooClient(hosts=srv.hosts, timeout=30)
        zk.start(timeout=30)
        zroot = "/zkfs-bench"
        zcall(zk.create_async, zroot, None)
        log("%s: %d children for the ls row" % (kind, prof["children"]))
        create_s = make_children(zk, zroot, prof["children"])
        mnt = Mount(zkfs_binary, srv.hosts + zroot, workdir)
        mnt.start()
        rows = [("cat", lambda: row_cat(mnt, zk, zroot, srv, prof["cat_n"])),
                ("inotify set", lambda: row_inotify(mnt, zk, zroot, prof["events"], "set")),
                ("inotify create", lambda: row_inotify(mnt, zk, zroot, prof["events"], "create")),
                ("burst", lambda: row_burst(mnt, zk, zroot, prof["burst"])),
                ("ls", lambda: row_ls(mnt, prof["children"], prof["ls_repeat"], create_s))]
        for name, fn in rows:
            log("%s: %s" % (kind, name))
            try:
                results[name] = fn()
            except Exception as e:  # one failing row must not hide the others
                log("  failed: %r" % e)
                results[name] = {"error": repr(e)}
    finally:
        if mnt is not None:
            mnt.unmount()
        if zk is not None:
            zk.stop()
            zk.close()
        srv.close()
    return results


def missing_reason():
    """Why these rows cannot run here, or None."""
    binary = os.path.join(S.BUILD_BIN, "zkfs")
    if not os.access(binary, os.X_OK):
        return "%s missing: build first" % binary
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse on this machine"
    if not shutil.which("fusermount3"):
        return "fusermount3 not installed (apt-get install fuse3)"
    return None


def run(servers_cls, kinds, workdir, prof_name):
    """{kind: {row: result}} for every kind; zkfs must be built next to zkd."""
    reason = missing_reason()
    if reason:
        raise RuntimeError(reason)
    binary = os.path.join(S.BUILD_BIN, "zkfs")
    os.makedirs(workdir, exist_ok=True)
    copy = os.path.join(workdir, "zkfs")
    shutil.copy2(binary, copy)
    out = {}
    for kind in kinds:
        try:
            out[kind] = run_kind(servers_cls, kind, os.path.join(workdir, "zkfs-" + kind),
                                 PROFILES[prof_name], copy)
        except Exception as e:  # no server or no mount: the other kind still runs
            log("%s: %r" % (kind, e))
            out[kind] = {"all": {"error": repr(e)}}
    return out


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------

def _ratio(a, b):
    if not a or not b:
        return "-"
    return "%.1fx" % (a / b)


def _us(r, f):
    return "%.0f" % r[f] if f in r else "-"


def render(res, prof_name):
    """Markdown section: one row per measurement, zkd and Apache side by side."""
    z, a = res.get("zkd", {}), res.get("apache", {})
    p = PROFILES[prof_name]
    out = ["## zkfs mount (standalone server, one mount, %s profile)" % prof_name, ""]
    out.append("| case | zkd | Apache | zkd advantage | notes |")
    out.append("|---|---|---|---|---|")

    def err(r):
        return "failed" if "error" in r else "-"

    zc, ac = z.get("cat", {}), a.get("cat", {})
    out.append("| cat p50/p99 us | %s/%s | %s/%s | %s, %s | %d reads of %d B: open+read+close "
               "in-process; packets the server received during the loop (pings included): zkd %s, "
               "Apache %s |" % (
                   _us(zc, "p50_us"), _us(zc, "p99_us"), _us(ac, "p50_us"), _us(ac, "p99_us"),
                   _ratio(ac.get("p50_us"), zc.get("p50_us")),
                   _ratio(ac.get("p99_us"), zc.get("p99_us")), p["cat_n"], CAT_SIZE,
                   zc.get("server_requests", err(zc)), ac.get("server_requests", err(ac))))
    out.append("| cat reads/s | %s | %s | %s | |" % (
        "%.0f" % zc["reads_per_sec"] if "reads_per_sec" in zc else err(zc),
        "%.0f" % ac["reads_per_sec"] if "reads_per_sec" in ac else err(ac),
        _ratio(zc.get("reads_per_sec"), ac.get("reads_per_sec"))))
    zl, al = z.get("ls", {}), a.get("ls", {})
    for field, label in (("first_ms", "first"), ("repeat_ms", "repeated (median of %d)" %
                                                  p["ls_repeat"])):
        out.append("| ls %s, %d children, ms | %s | %s | %s | os.listdir; kazoo made the "
                   "children in %s s (zkd) / %s s (Apache) |" % (
                       label, p["children"],
                       "%.1f" % zl[field] if field in zl else err(zl),
                       "%.1f" % al[field] if field in al else err(al),
                       _ratio(al.get(field), zl.get(field)),
                       "%.1f" % zl["create_s"] if "create_s" in zl else "-",
                       "%.1f" % al["create_s"] if "create_s" in al else "-"))
    for row, what in (("inotify set", "setData -> IN_MODIFY"),
                      ("inotify create", "create -> IN_CREATE")):
        zr, ar = z.get(row, {}), a.get(row, {})
        out.append("| %s p50/p99 us | %s/%s | %s/%s | %s, %s | %d samples; the write's own "
                   "ack p50 zkd %s, Apache %s us; event minus ack p50 zkd %s, Apache %s us; "
                   "events before the ack: zkd %s, Apache %s; first sample zkd %s, Apache %s us |" % (
                       what, _us(zr, "p50_us"), _us(zr, "p99_us"), _us(ar, "p50_us"),
                       _us(ar, "p99_us"), _ratio(ar.get("p50_us"), zr.get("p50_us")),
                       _ratio(ar.get("p99_us"), zr.get("p99_us")), p["events"],
                       _us(zr, "ack_p50_us"), _us(ar, "ack_p50_us"),
                       _us(zr, "after_ack_p50_us"), _us(ar, "after_ack_p50_us"),
                       zr.get("event_before_ack", err(zr)), ar.get("event_before_ack", err(ar)),
                       _us(zr, "first_us"), _us(ar, "first_us")))
    zb, ab = z.get("burst", {}), a.get("burst", {})
    for op, what in (("create", "%d creates" % p["burst"]),
                     ("set", "%d setData" % min(10000, p["burst"])),
                     ("delete", "%d deletes" % min(10000, p["burst"]))):
        zr, ar = zb.get(op, {}), ab.get(op, {})
        out.append("| burst of %s, events/s | %s | %s | %s | one directory, kazoo multis of 1,000 "
                   "sent without waiting (acked in zkd %s, Apache %s s); last event after the "
                   "last ack: zkd %s, Apache %s s |" % (
                       what, "%.0f" % zr["events_per_sec"] if zr else err(zb),
                       "%.0f" % ar["events_per_sec"] if ar else err(ab),
                       _ratio(zr.get("events_per_sec"), ar.get("events_per_sec")),
                       "%.2f" % zr["ack_s"] if zr else "-", "%.2f" % ar["ack_s"] if ar else "-",
                       "%.2f" % zr["last_event_after_ack_s"] if zr else "-",
                       "%.2f" % ar["last_event_after_ack_s"] if ar else "-"))
    out.append("")
    out.append("cat: one read = os.open + os.read + os.close of a cached 100-byte znode, timed in "
               "the bench process (no `cat` fork/exec).  inotify: time from just before kazoo's "
               "async call to the read of the event on a ctypes inotify fd watching the "
               "directory in the mount.  The zkd advantage is Apache / zkd for times, zkd / "
               "Apache for rates.")
    out.append("")
    return "\n".join(out)


def failed(res):
    return [(k, row) for k, rows in res.items() for row, v in rows.items() if "error" in v]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profile", choices=sorted(PROFILES), default="full")
    ap.add_argument("--smoke", action="store_true", help="--profile smoke")
    ap.add_argument("--only", choices=["zkd", "apache"])
    args = ap.parse_args()
    prof_name = "smoke" if args.smoke else args.profile
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks
    import matrix
    kinds = [args.only] if args.only else ["zkd", "apache"]
    workdir = tempfile.mkdtemp(prefix="zkfsbench.")
    try:
        res = run(matrix.Servers, kinds, workdir, prof_name)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    sys.stdout.write(render(res, prof_name))
    sys.stdout.write(json.dumps(res, indent=1, sort_keys=True) + "\n")
    return 1 if failed(res) else 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main())
