#!/usr/bin/python3
"""The performance case: zkd against Apache ZooKeeper 3.8 on the same machine.

Run through bench/run.sh:

    bash bench/run.sh            # full: N=1,000,000 znodes, writes bench/results/<date>-<host>.md
    bash bench/run.sh --quick    # N=100,000, shorter phases, no callgrind
    bash bench/run.sh --smoke    # N=2,000, < 60 s, result in a temp dir; exit 0 iff it parses

For each server (same zoo.cfg keys, same filesystem, server pinned to CPU 1,
load generator to CPU 0):

 1. start-to-ready: median of S starts of an empty server, from spawning the
    process until `ruok` answers `imok` and a session can be created;
 2. bulk load of N znodes of 100 bytes under /bench/dNNN/nNNNNN (100 parents)
    with bench/loader.py: C connections x W requests in flight, raw wire protocol;
 3. VmRSS before and after the load -> bytes per znode;
 4. a snapshot that covers the whole tree: after the load, setData on one
    znode until a snapshot with zxid >= the last create starts; its duration
    comes from the server's log;
 5. get/set latency (1 connection, 1 in flight) and throughput (4 connections
    x 100 in flight) on random znodes of the loaded tree;
 6. SIGKILL and restart: time until ruok + a session + getData of the last znode;
 7. optional (full run): zkd under callgrind, instructions per get/set request.

Everything it starts is stopped in `finally` blocks; the work directory
(data dirs, logs) is removed unless --keep.
"""
import argparse
import datetime
import glob
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH_DIR)
sys.path.insert(0, ROOT)
sys.path.insert(0, BENCH_DIR)

from tests.lib.servers import ApacheZK, ServerError, Zkd, four_letter, parse_srvr  # noqa: E402
from tests.lib.paths import BUILD_BIN  # noqa: E402

import loader  # noqa: E402

PROFILES = {
    # n: znodes; starts: start-to-ready repetitions; lat_s/tp_s: seconds per get/set phase
    "full": dict(n=1_000_000, starts=5, lat_s=10.0, tp_s=10.0, callgrind=True, snap_count=None,
                 perf_profiles=True,
                 jcmd=True, fsync_probe=200, quiet_wait_s=120),
    "quick": dict(n=100_000, starts=5, lat_s=3.0, tp_s=3.0, callgrind=False, snap_count=None,
                  perf_profiles=True,
                  jcmd=True, fsync_probe=100, quiet_wait_s=60),
    # snapCount=1000 so that the "snapshot after the load" step needs few padding writes
    "smoke": dict(n=2000, starts=2, lat_s=0.5, tp_s=0.5, callgrind=False, snap_count=1000,
                  perf_profiles=False,
                  jcmd=False, fsync_probe=20, quiet_wait_s=0),
}

ROOT_PATH = b"/bench"
PARENTS = 100
SIZE = 100
LOAD_CONNS = 4
LOAD_WINDOW = 1000
TP_CONNS = 4
TP_WINDOW = 100
GEN_CPU = 0
SERVER_CPU = 1
POLL_S = 0.002  # readiness polling interval

CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    sys.stderr.write("[bench %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


# --------------------------------------------------------------------------
# Servers: the test launchers, pinned with taskset; Apache with benchmark JVM flags
# --------------------------------------------------------------------------

def parse_pin(spec):
    """--pin A:B -> (CPUs A, CPUs B), each a set from a CPU list such as '0,2-3'; None -> None."""
    if not spec:
        return None

    def cpus(part):
        out = set()
        for piece in part.split(","):
            a, _, b = piece.partition("-")
            out.update(range(int(a), int(b or a) + 1))
        return out
    a, _, b = spec.partition(":")
    return cpus(a), cpus(b)


def taskset_prefix(cpu):
    if cpu is None or not shutil.which("taskset"):
        return []
    return ["taskset", "-c", str(cpu)]


class BenchZkd(Zkd):
    kind = "zkd"

    def __init__(self, workdir, binary, cpu, wrapper=None, **kw):
        self.cpu = cpu
        self.wrapper = wrapper or []
        super().__init__(workdir, binary=binary, **kw)

    def command(self):
        return taskset_prefix(self.cpu) + self.wrapper + super().command()

    def server_log(self):
        return self.log_path


class BenchApache(ApacheZK):
    """Apache with only -Xmx set, as zkServer.sh does, and otherwise the JVM's defaults
    (tiered JIT, the collector ergonomics picks); the test launcher's fast-start flags
    (-XX:TieredStopAtLevel=1: C1 only) would handicap throughput."""
    kind = "apache"
    start_timeout = 120.0

    def __init__(self, workdir, cpu, heap, **kw):
        self.cpu = cpu
        super().__init__(workdir, heap=heap, **kw)

    def jvm_flags(self):
        return ["-Xmx" + self.heap]

    def command(self):
        return taskset_prefix(self.cpu) + [
            self.java] + self.jvm_flags() + [
            "-Djava.awt.headless=true",
            "-Dzookeeper.log.dir=" + self.workdir,
            "-Dlog4j.configuration=file:" + self.log4j_path,
            "-Dzookeeper.jmx.log4j.disable=true",
            "-cp", self.classpath(), "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            self.cfg_path]

    def server_log(self):
        return self.zk_log_path


def server_cfg(snap_count):
    cfg = {
        # The launcher's 200 ms container check is for tests; use the default (60 s).
        "znode.container.checkIntervalMs": None,
        "maxClientCnxns": "0",
    }
    if snap_count:
        cfg["snapCount"] = str(snap_count)
    return cfg


# --------------------------------------------------------------------------
# /proc helpers
# --------------------------------------------------------------------------

def proc_status(pid):
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                v = v.strip()
                if v.endswith(" kB"):
                    out[k] = int(v[:-3]) * 1024
                else:
                    out[k] = v
    except OSError:
        pass
    return out


def rss(pid):
    return proc_status(pid).get("VmRSS")


def proc_cpu(pid):
    """CPU seconds of a process (all threads): (user, sys, reaped children user+sys)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ut, st, cut, cst = (int(x) for x in fields[11:15])
    return ut / CLK_TCK, st / CLK_TCK, (cut + cst) / CLK_TCK


def cpu_times():
    """Per-CPU (busy, total) jiffies from /proc/stat, keyed 'cpu', 'cpu0', ..."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            if not line.startswith("cpu"):
                break
            parts = line.split()
            vals = [int(x) for x in parts[1:]]
            idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
            total = sum(vals[:8])
            out[parts[0]] = (total - idle, total)
    return out


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def busy_cores(interval=0.5):
    """CPU cores busy over `interval` seconds, machine-wide."""
    c0 = cpu_times()["cpu"]
    time.sleep(interval)
    c1 = cpu_times()["cpu"]
    dt = c1[1] - c0[1]
    return (c1[0] - c0[0]) / dt * (os.cpu_count() or 1) if dt > 0 else 0.0


QUIET = {"max_wait_s": 0.0, "threshold": 0.25, "log": []}


def wait_quiet(what):
    """Before a measured phase: wait (up to QUIET['max_wait_s']) until other work on the
    machine uses less than QUIET['threshold'] cores.  Records what it saw."""
    t0 = time.monotonic()
    busy = None
    while True:
        busy = busy_cores()
        waited = time.monotonic() - t0
        if busy < QUIET["threshold"] or waited >= QUIET["max_wait_s"]:
            break
    QUIET["log"].append({"phase": what, "busy_cores": round(busy, 2), "waited_s": round(waited, 1)})
    if busy >= QUIET["threshold"] and QUIET["max_wait_s"] > 0:
        log("%s: machine still busy (%.2f cores) after waiting %.0f s; measuring anyway"
            % (what, busy, waited))
    return busy


class Phase:
    """Measures one phase: wall time, server CPU, per-core busy share, background load."""

    def __init__(self, srv):
        self.srv = srv

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        self.t0 = time.monotonic()
        self.cpu0 = cpu_times()
        self.srv0 = proc_cpu(self.srv.pid)
        self.self0 = os.times()
        self.load0 = loadavg()

    def stop(self):
        self.wall = time.monotonic() - self.t0
        c1 = cpu_times()
        s1 = proc_cpu(self.srv.pid)
        me = os.times()
        d = [b - a for a, b in zip(self.srv0, s1)]
        self.server_cpu_s = sum(d)
        self.server_user_s, self.server_sys_s, self.server_children_s = d
        # this orchestrator process only; the generator workers report their own CPU
        self.orch_cpu_s = (me.user + me.system) - (self.self0.user + self.self0.system)
        self.core_busy = {}
        for k, (b, t) in c1.items():
            b0, t0 = self.cpu0.get(k, (0, 0))
            if t - t0 > 0:
                self.core_busy[k] = (b - b0) / (t - t0)
        self.total_busy_s = (c1["cpu"][0] - self.cpu0["cpu"][0]) / CLK_TCK
        self.load1 = loadavg()

    def summary(self, ops=None, gen_cpu_s=0.0):
        self.other_cpu_s = max(0.0, self.total_busy_s - self.server_cpu_s - self.orch_cpu_s
                               - (gen_cpu_s or 0.0))
        d = {"wall_s": self.wall, "server_cpu_s": self.server_cpu_s,
             "server_cpu_util": self.server_cpu_s / self.wall if self.wall else 0.0,
             "server_user_s": self.server_user_s, "server_sys_s": self.server_sys_s,
             # zkd: forked snapshot writers, counted once reaped
             "server_children_s": self.server_children_s,
             "core_busy": self.core_busy,
             "other_cpu_util": self.other_cpu_s / self.wall if self.wall else 0.0,
             "loadavg": [self.load0, self.load1]}
        if ops:
            d["server_cpu_us_per_op"] = self.server_cpu_s / ops * 1e6
        return d


class PerfSyscalls:
    """Counts fsync/fdatasync syscalls of a process with `perf stat` tracepoints (if allowed)."""

    EVENTS = ["syscalls:sys_enter_fdatasync", "syscalls:sys_enter_fsync"]

    def __init__(self, pid, out_path):
        self.out_path = out_path
        self.proc = None
        if not shutil.which("perf"):
            return
        try:
            self.proc = subprocess.Popen(
                ["perf", "stat", "-x", ",", "-o", out_path, "-e", ",".join(self.EVENTS),
                 "-p", str(pid)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
        except OSError:
            self.proc = None
            return
        # perf needs a moment to attach; poll for its output file header
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline and not os.path.exists(out_path):
            if self.proc.poll() is not None:
                break
            time.sleep(0.01)

    def stop(self):
        if self.proc is None:
            return None
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGINT)
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None
        counts = {}
        try:
            with open(self.out_path) as f:
                for line in f:
                    parts = line.strip().split(",")
                    if len(parts) >= 3 and parts[2] in self.EVENTS:
                        try:
                            counts[parts[2].split("sys_enter_")[1]] = int(parts[0])
                        except ValueError:
                            return None  # "<not supported>"
        except OSError:
            return None
        return counts or None


def perf_usable():
    if not shutil.which("perf"):
        return False
    try:
        r = subprocess.run(["perf", "record", "-e", "cpu-clock", "-o", "/dev/null", "--", "true"],
                           capture_output=True, timeout=30)
        return r.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def perf_top(data_path, limit=10):
    """Top (percent, dso, symbol) rows of a `perf record -e cpu-clock` profile."""
    try:
        out = subprocess.run(["perf", "report", "-i", data_path, "--stdio", "--sort", "dso,sym"],
                             capture_output=True, text=True, timeout=120).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    rows = []
    for line in out.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[[.k]\]\s+(.+?)\s*$", line)
        if m:
            rows.append((float(m.group(1)), m.group(2), m.group(3)))
            if len(rows) >= limit:
                break
    return rows


def perf_split(data_path):
    """Share of samples per dso class: zkd itself, kernel, libc/other."""
    try:
        out = subprocess.run(["perf", "report", "-i", data_path, "--stdio", "--sort", "dso"],
                             capture_output=True, text=True, timeout=120).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    split = {}
    for line in out.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\S+)", line)
        if m and not line.lstrip().startswith("#"):
            key = ("kernel" if "kernel" in m.group(2) else
                   "zkd" if m.group(2) == "zkd" else "libs")
            split[key] = split.get(key, 0.0) + float(m.group(1))
    return split


# --------------------------------------------------------------------------
# Readiness
# --------------------------------------------------------------------------

def wait_ready(srv, t0, path=None, timeout=None):
    """Polls until ruok says imok, a session can be created and (if path) getData(path)
    works; returns the seconds since t0 at which each first succeeded."""
    timeout = srv.start_timeout if timeout is None else timeout
    deadline = t0 + timeout
    marks = {}
    last_err = None
    while True:
        if srv.proc.poll() is not None:
            srv.kill()
            raise ServerError("%s exited with status %s while starting\n%s"
                              % (srv.name, srv.proc.returncode, srv.describe_log()))
        try:
            if "ruok" not in marks:
                if four_letter(srv.port, "ruok", timeout=1.0) == "imok":
                    marks["ruok"] = time.monotonic() - t0
            if "ruok" in marks and "session" not in marks:
                loader.try_session(srv.host if hasattr(srv, "host") else "127.0.0.1",
                                   srv.port, timeout=1.0)
                marks["session"] = time.monotonic() - t0
            if path is not None and "session" in marks and "get" not in marks:
                loader.try_get("127.0.0.1", srv.port, path, timeout=1.0)
                marks["get"] = time.monotonic() - t0
            if "session" in marks and (path is None or "get" in marks):
                marks["ready"] = max(marks.values())
                return marks
        except (OSError, loader.ProtocolError) as e:
            last_err = "%s: %s" % (type(e).__name__, e)
        if time.monotonic() > deadline:
            srv.kill()
            raise ServerError("%s not ready after %.0f s (%s)\n%s"
                              % (srv.name, timeout, last_err, srv.describe_log()))
        time.sleep(POLL_S)


def start_timed(srv, path=None, timeout=None):
    t0 = time.monotonic()
    srv.start(wait=False)
    return wait_ready(srv, t0, path, timeout)


# --------------------------------------------------------------------------
# Log parsing
# --------------------------------------------------------------------------

def read_from(path, offset):
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def file_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


_TS = r"(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d[.,]\d{3})"


def parse_snapshots(kind, text):
    """Completed snapshots in a log excerpt: list of {zxid, seconds}."""
    out = []
    if kind == "zkd":
        for m in re.finditer(r"snapshot 0x([0-9a-f]+) written in ([\d.]+) s", text):
            out.append({"zxid": int(m.group(1), 16), "seconds": float(m.group(2))})
    else:
        pending = []
        for m in re.finditer(r"Snapshotting: 0x([0-9a-f]+) to (\S+)|Snapshot taken in (\d+) ms",
                             text):
            if m.group(1):
                pending.append((int(m.group(1), 16), m.group(2)))
            elif pending:
                zxid, fn = pending.pop(0)
                out.append({"zxid": zxid, "seconds": int(m.group(3)) / 1000.0, "file": fn})
    return out


def find_snapshot_files(data_dir):
    """{zxid: path} of snapshot files (complete or .tmp) anywhere under data_dir."""
    out = {}
    for p in glob.glob(os.path.join(data_dir, "**", "snapshot.*"), recursive=True):
        m = re.search(r"snapshot\.([0-9a-fA-F]+)", os.path.basename(p))
        if m:
            out[int(m.group(1), 16)] = p
    return out


def server_zxid(srv):
    z = parse_srvr(four_letter(srv.port, "srvr")).get("Zxid", "0x0")
    return int(z, 16)


def dir_size(path):
    """(allocated bytes, apparent bytes) of the files under path."""
    alloc = apparent = 0
    for dp, _dn, fns in os.walk(path):
        for fn in fns:
            try:
                st = os.stat(os.path.join(dp, fn))
            except OSError:
                continue
            alloc += st.st_blocks * 512
            apparent += st.st_size
    return alloc, apparent


# --------------------------------------------------------------------------
# Phases
# --------------------------------------------------------------------------

def phase_start_to_ready(make, workdir, reps):
    times, details = [], []
    for i in range(reps):
        srv = make(os.path.join(workdir, "start%d" % i))
        try:
            marks = start_timed(srv)
            times.append(marks["ready"])
            details.append(marks)
            if i == 0:
                empty_rss = rss(srv.pid)
        finally:
            srv.close()
        m = re.search(r"ready: .* started in (\d+) ms", read_from(srv.log_path, 0))
        if m:
            marks["log_started_ms"] = int(m.group(1))
        shutil.rmtree(os.path.join(workdir, "start%d" % i), ignore_errors=True)
    return {"median_s": statistics.median(times), "all_s": times,
            "ruok_s": [d["ruok"] for d in details], "rss_first_start": empty_rss,
            "log_started_ms": [d["log_started_ms"] for d in details if "log_started_ms" in d]}


def pad_until_snapshot(srv, min_zxid, log_off, max_writes, gen_cpus):
    """setData on one znode until a snapshot with zxid >= min_zxid is logged as complete."""
    kind = srv.kind
    path = loader.znode_path(ROOT_PATH, 0, 0)
    body = loader.set_body(path, b"x" * SIZE)
    written = 0
    xid = 1
    t_start = time.monotonic()
    s, _sid, _to = loader.connect("127.0.0.1", srv.port)
    try:
        while written < max_writes:
            snaps = [x for x in parse_snapshots(kind, read_from(srv.server_log(), log_off))
                     if x["zxid"] >= min_zxid]
            if snaps:
                return snaps[0], written
            if any(z >= min_zxid for z in find_snapshot_files(srv.data_dir)):
                break  # started; wait for it below without more writes
            r = loader.pipeline(s, ((loader.OP_SETDATA, body) for _ in range(2000)), 500,
                                first_xid=xid)
            xid = r["last_xid"] + 1
            written += r["ops"]
            if r["errors"]:
                raise loader.ProtocolError("padding setData errors: %r" % r["error_codes"])
    finally:
        loader.close_session(s)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        snaps = [x for x in parse_snapshots(kind, read_from(srv.server_log(), log_off))
                 if x["zxid"] >= min_zxid]
        if snaps:
            return snaps[0], written
        if srv.proc.poll() is not None:
            break
        time.sleep(0.05)
    log("no snapshot with zxid >= %#x after %d padding writes (%.0f s)"
        % (min_zxid, written, time.monotonic() - t_start))
    return None, written


def jcmd_heap(pid):
    """Java heap used before and after a full GC (jcmd GC.run), in bytes; None if unavailable."""
    if not shutil.which("jcmd"):
        return None

    gc_name = []

    def used():
        # GC.heap_info prints one "<space> total NK, used MK" line per top-level space
        # (G1: "garbage-first heap"; Serial: "def new generation" + "tenured generation");
        # Metaspace lines say "used NK, committed" and are not heap.
        try:
            out = subprocess.run(["jcmd", str(pid), "GC.heap_info"], capture_output=True,
                                 text=True, timeout=60).stdout
        except (OSError, subprocess.TimeoutExpired):
            return None
        tot = use = 0
        names = []
        for m in re.finditer(r"^ ?(\S[^\n]*?)\s+total (\d+)K, used (\d+)K", out, re.M):
            names.append(m.group(1).strip())
            tot += int(m.group(2)) * 1024
            use += int(m.group(3)) * 1024
        if not names:
            return None
        gc_name[:] = names
        return tot, use

    before = used()
    try:
        subprocess.run(["jcmd", str(pid), "GC.run"], capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    after = used()
    if not before or not after:
        return None
    return {"committed_before": before[0], "used_before": before[1],
            "committed_after_gc": after[0], "used_after_gc": after[1],
            "spaces": gc_name,
            "gc": "G1" if any("garbage-first" in x for x in gc_name) else
                  "Serial" if any("def new generation" in x for x in gc_name) else
                  "Parallel" if any("PSYoungGen" in x for x in gc_name) else "/".join(gc_name)}


def run_server(kind, make, workdir, prof, n, results, gen_cpus):
    """All phases for one server kind; fills results[kind]."""
    r = results.setdefault(kind, {})
    log("%s: start-to-ready x%d" % (kind, prof["starts"]))
    wait_quiet("%s start" % kind)
    r["start"] = phase_start_to_ready(make, workdir, prof["starts"])
    log("%s: start-to-ready median %.3f s" % (kind, r["start"]["median_s"]))

    srv = make(os.path.join(workdir, "main"))
    last = loader.last_path(ROOT_PATH, n, PARENTS)
    try:
        r["main_start"] = start_timed(srv)
        r["rss_empty"] = rss(srv.pid)

        # ---- bulk load ----
        log("%s: loading %d znodes (%d conns x %d in flight)" % (kind, n, LOAD_CONNS, LOAD_WINDOW))
        loader.ensure_parents("127.0.0.1", srv.port, ROOT_PATH, n, PARENTS)
        wait_quiet("%s load" % kind)
        perf = PerfSyscalls(srv.pid, os.path.join(workdir, "perf-load.txt"))
        log_off = file_size(srv.server_log())
        try:
            ph = Phase(srv)
            lr = loader.load("127.0.0.1", srv.port, n, root=ROOT_PATH, parents=PARENTS,
                             size=SIZE, conns=LOAD_CONNS, window=LOAD_WINDOW, cpus=gen_cpus,
                             on_start=ph.start, on_end=ph.stop)
        finally:
            r["load_fsyncs"] = perf.stop()
        lr.update(ph.summary(lr["ops"], lr["gen_cpu_s"]))
        r["load"] = lr
        log("%s: load %.0f creates/s, %d errors, gen CPU %.2f, server CPU %.2f"
            % (kind, lr["ops_per_s"], lr["errors"], lr["gen_cpu_util"], lr["server_cpu_util"]))
        r["rss_after_load"] = rss(srv.pid)
        r["status_after_load"] = {k: v for k, v in proc_status(srv.pid).items()
                                  if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "VmSize",
                                           "Threads")}
        r["load_zxid"] = server_zxid(srv)
        r["snapshots_during_load"] = parse_snapshots(kind, read_from(srv.server_log(), log_off))
        if kind == "apache" and prof["jcmd"]:
            r["heap"] = jcmd_heap(srv.pid)
            r["rss_after_full_gc"] = rss(srv.pid)

        # ---- a snapshot of the whole tree ----
        log("%s: writing until a snapshot covers zxid %#x" % (kind, r["load_zxid"]))
        snap_count = prof["snap_count"] or 100000
        t0 = time.monotonic()
        snap, padded = pad_until_snapshot(srv, r["load_zxid"], log_off, 2 * snap_count + 20000,
                                          gen_cpus)
        r["snapshot"] = snap
        r["snapshot_padding_writes"] = padded
        r["snapshot_wait_s"] = time.monotonic() - t0
        if snap:
            files = find_snapshot_files(srv.data_dir)
            f = files.get(snap["zxid"])
            snap["bytes"] = file_size(f) if f else None
            log("%s: snapshot %#x: %.3f s, %s bytes" % (kind, snap["zxid"], snap["seconds"],
                                                        snap["bytes"]))

        # ---- get / set ----
        for op in ("get", "set"):
            # unmeasured warm-up (JIT for Apache, caches for both)
            loader.bench("127.0.0.1", srv.port, op, n, root=ROOT_PATH, parents=PARENTS,
                         size=SIZE, conns=TP_CONNS, window=TP_WINDOW,
                         duration=min(2.0, prof["tp_s"]), record_latency=False, cpus=gen_cpus,
                         seed=99)
            wait_quiet("%s %s latency" % (kind, op))
            log("%s: %s latency (1 x 1) for %.1f s" % (kind, op, prof["lat_s"]))
            ph = Phase(srv)
            br = loader.bench("127.0.0.1", srv.port, op, n, root=ROOT_PATH, parents=PARENTS,
                              size=SIZE, conns=1, window=1, duration=prof["lat_s"],
                              cpus=gen_cpus, on_start=ph.start, on_end=ph.stop)
            br.update(ph.summary(br["ops"], br["gen_cpu_s"]))
            r["%s_lat" % op] = br
            log("%s: %s p50 %s us p99 %s us, %.0f ops/s" % (
                kind, op, br["lat_us"]["p50"], br["lat_us"]["p99"], br["ops_per_s"]))
            log("%s: %s throughput (%d x %d) for %.1f s" % (kind, op, TP_CONNS, TP_WINDOW,
                                                          prof["tp_s"]))
            wait_quiet("%s %s throughput" % (kind, op))
            perf = PerfSyscalls(srv.pid, os.path.join(workdir, "perf-%s.txt" % op)) \
                if op == "set" else None
            off = file_size(srv.server_log())
            try:
                ph = Phase(srv)
                br = loader.bench("127.0.0.1", srv.port, op, n, root=ROOT_PATH,
                                  parents=PARENTS, size=SIZE, conns=TP_CONNS,
                                  window=TP_WINDOW, duration=prof["tp_s"], cpus=gen_cpus,
                                  on_start=ph.start, on_end=ph.stop)
            finally:
                if perf:
                    br["fsyncs"] = perf.stop()
            br.update(ph.summary(br["ops"], br["gen_cpu_s"]))
            br["snapshots"] = parse_snapshots(kind, read_from(srv.server_log(), off))
            r["%s_tp" % op] = br
            log("%s: %s %.0f ops/s, gen CPU %.2f, server CPU %.2f" % (
                kind, op, br["ops_per_s"], br["gen_cpu_util"], br["server_cpu_util"]))

        # ---- SIGKILL and recover ----
        r["zxid_before_kill"] = server_zxid(srv)
        r["snapshots_on_disk"] = len(find_snapshot_files(srv.data_dir))
        r["data_dir_bytes"] = dir_size(srv.data_dir)
        wait_quiet("%s restart" % kind)
        log("%s: SIGKILL and restart" % kind)
        srv.kill(signal.SIGKILL)
        off = file_size(srv.server_log())
        r["restart"] = start_timed(srv, path=last, timeout=600)
        r["rss_after_restart"] = rss(srv.pid)
        text = read_from(srv.server_log(), off)
        if kind == "zkd":
            m = re.search(r"recovered (\d+) znodes .* in (\d+) ms", text)
            if m:
                r["restart"]["log_recovered_znodes"] = int(m.group(1))
                r["restart"]["log_recover_ms"] = int(m.group(2))
        else:
            m = re.search(r"Snapshot loaded in (\d+) ms", text)
            if m:
                r["restart"]["log_snapshot_load_ms"] = int(m.group(1))
            m = re.search(r"(\d+) txns loaded in (\d+) ms", text)
            if m:
                r["restart"]["log_txns_loaded"] = int(m.group(1))
                r["restart"]["log_txns_load_ms"] = int(m.group(2))
            # Apache writes a full snapshot at start-up, before it serves
            sn = parse_snapshots(kind, text)
            if sn:
                r["restart"]["startup_snapshot_s"] = sn[0]["seconds"]
        log("%s: recovered in %.3f s" % (kind, r["restart"]["ready"]))

        # ---- zkd only, unmeasured: where the CPU goes (perf cpu-clock sampling) ----
        if kind == "zkd" and prof.get("perf_profiles") and perf_usable():
            r["perf_set"] = profile_set(srv, workdir, n, gen_cpus)
            r["perf_restart"] = profile_restart(srv, workdir, last)
    finally:
        srv.close()


def _children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def profile_set(srv, workdir, n, gen_cpus, seconds=3.0):
    """perf record -p zkd while the generator runs sets (4 x 100) for a few seconds."""
    data = os.path.join(workdir, "perf-set.data")
    log("zkd: perf profile of %g s of sets (not part of the numbers above)" % seconds)
    p = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "999", "-o", data,
                          "-p", str(srv.pid)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.2)  # let perf attach (it writes no "ready" signal we could poll)
        br = loader.bench("127.0.0.1", srv.port, "set", n, root=ROOT_PATH, parents=PARENTS,
                          size=SIZE, conns=TP_CONNS, window=TP_WINDOW, duration=seconds,
                          record_latency=False, cpus=gen_cpus, seed=77)
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return {"ops_per_s": br["ops_per_s"], "top": perf_top(data), "split": perf_split(data)}


def profile_restart(srv, workdir, last):
    """SIGKILL zkd and restart it under `perf record`; returns the start-up profile."""
    data = os.path.join(workdir, "perf-restart.data")
    log("zkd: perf profile of a second SIGKILL + restart (not part of the numbers above)")
    srv.kill(signal.SIGKILL)
    srv.wrapper = ["perf", "record", "-e", "cpu-clock", "-F", "4999", "-o", data, "--"]
    try:
        marks = start_timed(srv, path=last, timeout=600)
        # perf is the process we started; stop zkd itself so perf writes its data and exits
        for c in _children(srv.pid):
            os.kill(c, signal.SIGTERM)
        try:
            srv.proc.wait(60)
        except subprocess.TimeoutExpired:
            pass
    finally:
        srv.wrapper = []
    return {"ready_s": marks["ready"], "top": perf_top(data), "split": perf_split(data)}


def fsync_probe(workdir, count):
    """Latency of a 4 KiB overwrite + fdatasync in a preallocated file on the data filesystem."""
    if count <= 0:
        return None
    p = os.path.join(workdir, "fsync-probe")
    fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.posix_fallocate(fd, 0, 4 << 20)
        os.fsync(fd)
        buf = b"z" * 4096
        lat = []
        for i in range(count):
            t = time.perf_counter()
            os.pwrite(fd, buf, (i * 4096) % (4 << 20))
            os.fdatasync(fd)
            lat.append(time.perf_counter() - t)
    finally:
        os.close(fd)
        os.unlink(p)
    lat.sort()
    return {"p50_ms": loader.percentile(lat, 50) * 1e3, "p99_ms": loader.percentile(lat, 99) * 1e3,
            "count": count}


# --------------------------------------------------------------------------
# Callgrind: instructions per request for zkd
# --------------------------------------------------------------------------

def callgrind_ir(path):
    with open(path) as f:
        for line in f:
            if line.startswith("summary:") or line.startswith("totals:"):
                return int(line.split()[1])
    return None


def callgrind_top(path, binary, limit=12):
    """zkd functions by inclusive Ir share from callgrind_annotate (self cost is not usable
    after `callgrind_control -z`: it lands on main)."""
    try:
        out = subprocess.run(["callgrind_annotate", "--inclusive=yes", path],
                             capture_output=True, text=True, timeout=120).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    rows = []
    skip = {"main", "on_read", "handle_frames", "server_request"}
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+) \(\s*([\d.]+)%\)\s+(\S+):(\S+) \[(.*)\]$", line)
        if not m or os.path.basename(m.group(5)) != os.path.basename(binary):
            continue
        fn = re.sub(r"(\.(part|constprop|isra|cold)\.\d+)+$", "", m.group(4))
        if fn in skip or fn.startswith("0x") or any(fn == x[0] for x in rows):
            continue
        rows.append((fn, float(m.group(2))))
        if len(rows) >= limit:
            break
    return rows


def phase_callgrind(binary, workdir, cfg):
    if not shutil.which("valgrind") or not shutil.which("callgrind_control"):
        return None
    wd = os.path.join(workdir, "callgrind")
    os.makedirs(wd, exist_ok=True)
    out_tpl = os.path.join(wd, "callgrind.out")
    cfg = dict(cfg, snapCount="10000000")  # no forked snapshot writer during the counts
    srv = BenchZkd(wd, binary, SERVER_CPU, cfg=cfg,
                   wrapper=["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out_tpl])
    srv.start_timeout = 120.0
    n = 10000
    res = {"znodes": n, "runs": []}
    try:
        start_timed(srv)
        loader.load("127.0.0.1", srv.port, n, root=ROOT_PATH, parents=PARENTS, size=SIZE,
                    conns=1, window=100, cpus={GEN_CPU})
        loader.ensure_parents("127.0.0.1", srv.port, b"/cg", 1, 1)  # /cg and /cg/d000
        runs = [("get", 100, 20000), ("set", 100, 20000), ("create", 100, 20000),
                ("get", 1, 3000), ("set", 1, 3000)]
        s, _sid, _to = loader.connect("127.0.0.1", srv.port)
        try:
            xid = 1
            rnd = __import__("random").Random(7)
            per = loader.layout(n, PARENTS)[1]
            created = [0]

            def requests(op, bodies, count):
                for j in range(count):
                    if op == "create":
                        created[0] += 1
                        yield (loader.OP_CREATE, loader.create_body(
                            b"/cg/d000/n%07d" % created[0], b"c" * SIZE))
                    else:
                        yield bodies[j % len(bodies)]

            for i, (op, window, count) in enumerate(runs):
                bodies = []
                for _ in range(1024):
                    k = rnd.randrange(n)
                    p = loader.znode_path(ROOT_PATH, k // per, k % per)
                    bodies.append((loader.OP_GETDATA, loader.get_body(p)) if op == "get"
                                  else (loader.OP_SETDATA, loader.set_body(p, b"y" * SIZE)))
                # warm-up, then zero the counters, run, dump
                w = loader.pipeline(s, requests(op, bodies, 500), window, first_xid=xid)
                xid = w["last_xid"] + 1
                subprocess.run(["callgrind_control", "-z", str(srv.pid)], capture_output=True,
                               timeout=60, check=True)
                r = loader.pipeline(s, requests(op, bodies, count), window, first_xid=xid)
                xid = r["last_xid"] + 1
                subprocess.run(["callgrind_control", "-d", "%s-w%d" % (op, window),
                                str(srv.pid)], capture_output=True, timeout=60, check=True)
                dumps = sorted(glob.glob(out_tpl + ".*"), key=os.path.getmtime)
                dump = dumps[-1]
                ir = callgrind_ir(dump)
                res["runs"].append({"op": op, "window": window, "requests": r["ops"],
                                    "errors": r["errors"], "ir": ir,
                                    "ir_per_request": ir / r["ops"] if ir and r["ops"] else None,
                                    "top": callgrind_top(dump, binary) if window > 1 else []})
                log("callgrind: %s window %d: %.0f instructions/request"
                    % (op, window, res["runs"][-1]["ir_per_request"] or -1))
        finally:
            loader.close_session(s)
    finally:
        srv.close()
    return res


# --------------------------------------------------------------------------
# Machine and build info
# --------------------------------------------------------------------------

def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True,
                              timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def machine_info(workdir, zkd_binary, zkd_copy):
    info = {
        "host": socket.gethostname(),
        "nproc": os.cpu_count(),
        "kernel": platform.release(),
        "cpu": sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip(),
        "mem": sh("free -h | awk '/Mem:/ {print $2}'"),
        "df": sh("df -h %s | tail -1" % workdir),
        "fstype": sh("findmnt -no FSTYPE,OPTIONS -T %s" % workdir),
        "python": sys.version.split()[0],
        "java": sh("java -version 2>&1 | head -1"),
        "git_head": sh("git -C %s rev-parse --short HEAD" % ROOT),
        "git_dirty": sh("git -C %s status --porcelain -- server include client | wc -l" % ROOT),
        "zkd_binary": zkd_binary,
        "zkd_mtime": datetime.datetime.fromtimestamp(os.path.getmtime(zkd_binary)).isoformat(
            timespec="seconds"),
        "zkd_sha256": hashlib.sha256(open(zkd_copy, "rb").read()).hexdigest()[:16],
        "loadavg_start": sh("cat /proc/loadavg"),
    }
    return info


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------

def fmt_num(v, digits=0):
    if v is None:
        return "n/a"
    if isinstance(v, float) and digits:
        return "{:,.{d}f}".format(v, d=digits)
    return "{:,.0f}".format(v)


def mib(v):
    return None if v is None else v / 1048576.0


def get(d, *keys):
    for k in keys:
        if d is None:
            return None
        if isinstance(d, dict):
            d = d.get(k)
        elif isinstance(d, (list, tuple)) and isinstance(k, int) and k < len(d):
            d = d[k]
        else:
            return None
    return d


def ratio(z, a, better):
    """How many times better zkd is (>1: zkd better)."""
    if z is None or a is None or z == 0 or a == 0:
        return None
    return (a / z) if better == "lower" else (z / a)


METRICS = [
    # key, label, better, digits, extractor
    ("start", "Start-to-ready, empty server (median) [ms]", "lower", 1,
     lambda r: get(r, "start", "median_s") and r["start"]["median_s"] * 1e3),
    ("load_tp", "Bulk load throughput [creates/s]", "higher", 0,
     lambda r: get(r, "load", "ops_per_s")),
    ("load_err", "Bulk load errors (err != 0) [count]", "lower", 0,
     lambda r: get(r, "load", "errors")),
    ("load_cpu", "Server CPU per create during load [us, incl. snapshot writers]", "lower", 1,
     lambda r: get(r, "load", "server_cpu_us_per_op")),
    ("load_fsync", "Creates per fsync during load", "info", 1,
     lambda r: _per_fsync(r, "load")),
    ("rss_empty", "RSS empty (after start) [MiB]", "lower", 1,
     lambda r: mib(r.get("rss_empty"))),
    ("rss_load", "RSS after load [MiB]", "lower", 1,
     lambda r: mib(r.get("rss_after_load"))),
    ("bpz", "Bytes per znode = (RSS_after - RSS_empty) / N", "lower", 0,
     lambda r: _bpz(r)),
    ("heap_bpz", "Apache: live Java heap after full GC / N [bytes]", "info", 0,
     lambda r: r.get("heap") and r["heap"]["used_after_gc"] / r["_n"]),
    ("snap_s", "Snapshot of the loaded tree [s]", "lower", 3,
     lambda r: get(r, "snapshot", "seconds")),
    ("snap_mib", "Snapshot file size [MiB]", "lower", 1,
     lambda r: mib(get(r, "snapshot", "bytes"))),
    ("restart", "SIGKILL -> restart -> getData(last znode) [s]", "lower", 3,
     lambda r: get(r, "restart", "ready")),
    ("restart_ruok", "Restart: until ruok = imok [s] (Apache answers before loading)", "info", 3,
     lambda r: get(r, "restart", "ruok")),
    ("get_p50", "get latency p50, 1 conn x 1 in flight [us]", "lower", 0,
     lambda r: get(r, "get_lat", "lat_us", "p50")),
    ("get_p99", "get latency p99, 1 conn x 1 in flight [us]", "lower", 0,
     lambda r: get(r, "get_lat", "lat_us", "p99")),
    ("set_p50", "set latency p50, 1 conn x 1 in flight [us]", "lower", 0,
     lambda r: get(r, "set_lat", "lat_us", "p50")),
    ("set_p99", "set latency p99, 1 conn x 1 in flight [us]", "lower", 0,
     lambda r: get(r, "set_lat", "lat_us", "p99")),
    ("get_tp", "get throughput, 4 conns x 100 in flight [ops/s]", "higher", 0,
     lambda r: get(r, "get_tp", "ops_per_s")),
    ("set_tp", "set throughput, 4 conns x 100 in flight [ops/s]", "higher", 0,
     lambda r: get(r, "set_tp", "ops_per_s")),
    ("get_cpu", "Server CPU per get at 4x100 [us, incl. snapshot writers]", "lower", 2,
     lambda r: get(r, "get_tp", "server_cpu_us_per_op")),
    ("set_cpu", "Server CPU per set at 4x100 [us, incl. snapshot writers]", "lower", 2,
     lambda r: get(r, "set_tp", "server_cpu_us_per_op")),
    ("gen_load", "Generator CPU during load [cores, max 1.0]", "info", 2,
     lambda r: get(r, "load", "gen_cpu_util")),
    ("gen_get", "Generator CPU during get 4x100 [cores, max 1.0]", "info", 2,
     lambda r: get(r, "get_tp", "gen_cpu_util")),
    ("gen_set", "Generator CPU during set 4x100 [cores, max 1.0]", "info", 2,
     lambda r: get(r, "set_tp", "gen_cpu_util")),
]


def _per_fsync(r, phase):
    f = r.get("%s_fsyncs" % phase) if phase == "load" else get(r, phase, "fsyncs")
    ops = get(r, phase, "ops")
    if not f or not ops:
        return None
    total = sum(f.values())
    return ops / total if total else None


def _bpz(r):
    a, e = r.get("rss_after_load"), r.get("rss_empty")
    if a is None or e is None:
        return None
    return (a - e) / r["_n"]


def metric_values(results):
    rows = []
    for key, label, better, digits, fn in METRICS:
        vals = {}
        for kind in ("zkd", "apache"):
            r = results.get(kind)
            try:
                vals[kind] = fn(r) if r else None
            except (KeyError, TypeError, ZeroDivisionError):
                vals[kind] = None
        rows.append((key, label, better, digits, vals["zkd"], vals["apache"]))
    return rows


def pct(v):
    return "n/a" if v is None else "%.0f%%" % (100 * v)


def render(results, info, prof_name, prof, n, cmdline, elapsed):
    z = results.get("zkd", {})
    a = results.get("apache", {})
    L = []
    L.append("# zkd vs Apache ZooKeeper 3.8.0 - %s (%s run, N=%s znodes)"
             % (datetime.date.today().isoformat(), prof_name, "{:,}".format(n)))
    L.append("")
    L.append("Command: `%s` (%.0f s wall). Generated by bench/bench.py; raw numbers in the .json "
             "next to this file." % (cmdline, elapsed))
    L.append("")
    L.append("## Results")
    L.append("")
    L.append("ratio = how many times better zkd is (>1: zkd better, <1: Apache better); for "
             "\"lower\" rows ratio = Apache/zkd, for \"higher\" rows zkd/Apache.")
    L.append("")
    L.append("| metric | better | zkd | Apache | ratio |")
    L.append("|---|---|---:|---:|---:|")
    for key, label, better, digits, zv, av in metric_values(results):
        if better == "info":
            rt = "-"
        else:
            rv = ratio(zv, av, better)
            rt = "n/a" if rv is None else ("**%.2fx**" % rv if rv >= 1 else "%.2fx" % rv)
        L.append("| %s | %s | %s | %s | %s |" % (label, better if better != "info" else "-",
                                                fmt_num(zv, digits), fmt_num(av, digits), rt))
    L.append("")
    # ---------------- setup ----------------
    L.append("## Setup")
    L.append("")
    L.append("- Machine: %s, nproc=%s, %s RAM, kernel %s; Python %s; %s."
             % (info["cpu"], info["nproc"], info["mem"], info["kernel"], info["python"],
                info["java"]))
    L.append("- Data dir filesystem (both servers, same work dir): `%s` (%s)."
             % (info["df"], info["fstype"]))
    L.append("- fsync probe on that filesystem (4 KiB pwrite + fdatasync, preallocated file): "
             "p50 %s ms, p99 %s ms." % (fmt_num(get(results, "fsync_probe", "p50_ms"), 2),
                                        fmt_num(get(results, "fsync_probe", "p99_ms"), 2)))
    L.append("- zkd: `%s` (mtime %s, sha256 %s...), repo HEAD %s%s."
             % (info["zkd_binary"], info["zkd_mtime"], info["zkd_sha256"], info["git_head"],
                ", %s uncommitted files under server/ client/ include/ at run time"
                % info["git_dirty"] if info["git_dirty"] not in ("", "0") else ""))
    L.append("- Apache ZooKeeper 3.8.0 from /usr/share/java/zookeeper.jar, JVM flags `%s` "
             "and otherwise JVM defaults (tiered JIT; the collector is the JVM's own choice: "
             "under `taskset -c %d` the JVM sees one CPU and picks %s)."
             % ("-Xmx" + prof["heap"], SERVER_CPU, get(a, "heap", "gc") or "SerialGC"))
    L.append("- Same zoo.cfg keys for both: tickTime=2000, snapCount=%s, "
             "4lw.commands.whitelist=*, maxClientCnxns=0; durability: Apache forceSync=yes "
             "(default), zkd fdatasyncs before every reply of a write (group commit)."
             % (prof["snap_count"] or "100000 (default)"))
    L.append("- Pinning: server `taskset -c %d`, load generator (and this script) on CPU %d. "
             "Load: %d znodes of %d bytes under %s/dNNN/nNNNNN (%d parents), %d connections "
             "x %d requests in flight (one Python process per connection, raw wire protocol, "
             "every reply's err checked). get/set: random existing znodes; latency 1 conn x 1 "
             "in flight for %g s; throughput %d conns x %d in flight for %g s."
             % (SERVER_CPU, GEN_CPU, n, SIZE, ROOT_PATH.decode(), PARENTS, LOAD_CONNS,
                LOAD_WINDOW, prof["lat_s"], TP_CONNS, TP_WINDOW, prof["tp_s"]))
    q = results.get("quiet") or []
    L.append("- Background load: before each phase the script waited up to %g s for the "
             "machine's other CPU use to drop below %.2f cores; busy cores seen at each phase "
             "start: %s."
             % (prof["quiet_wait_s"], QUIET["threshold"],
                ", ".join("%s %.2f%s" % (x["phase"], x["busy_cores"],
                                         " (after %.0f s)" % x["waited_s"] if x["waited_s"] >= 1
                                         else "") for x in q) or "n/a"))
    L.append("- Load average at start: %s. The machine may be shared: each phase's JSON "
             "records `other_cpu_util` (CPU used by anything but server and generator: other "
             "processes, kernel threads, softirq)."
             % info["loadavg_start"])
    L.append("")
    # ---------------- how measured ----------------
    L.append("## How each number was measured")
    L.append("")
    L.append("- **Start-to-ready**: %d starts each on an empty dataDir; from spawning the "
             "process (`taskset ... zkd zoo.cfg` / `taskset ... java ...`) until `ruok` answers "
             "`imok` *and* a session handshake succeeds (polled every %d ms). zkd all: %s ms; "
             "Apache all: %s ms."
             % (prof["starts"], int(POLL_S * 1000), _ms_list(get(z, "start", "all_s")),
                _ms_list(get(a, "start", "all_s"))))
    L.append("- **Load**: wall time from the first create sent to the last reply received "
             "(parent directories created before). Server CPU from /proc/PID/stat (all "
             "threads, plus reaped children such as zkd's snapshot writer). fsyncs counted "
             "with `perf stat -e syscalls:sys_enter_fdatasync,syscalls:sys_enter_fsync -p PID` "
             "(threads present at attach time): zkd %s, Apache %s."
             % (_fs(z.get("load_fsyncs")), _fs(a.get("load_fsyncs"))))
    L.append("- **Memory**: VmRSS from /proc/PID/status right after the server is ready, and "
             "right after the last create reply. zkd after load: %s. Apache after load: %s; "
             "Java heap (jcmd GC.heap_info) before full GC: %s MiB used of %s MiB committed, "
             "after `jcmd GC.run`: %s MiB used (RSS then %s MiB)."
             % (_status(z.get("status_after_load")), _status(a.get("status_after_load")),
                fmt_num(mib(get(a, "heap", "used_before")), 1),
                fmt_num(mib(get(a, "heap", "committed_before")), 1),
                fmt_num(mib(get(a, "heap", "used_after_gc")), 1) + " (%s)" % (
                    " + ".join(get(a, "heap", "spaces") or []) or "n/a"),
                fmt_num(mib(a.get("rss_after_full_gc")), 1)))
    L.append("- **Snapshot**: after the load both servers take snapshots on their own every "
             "snapCount/2 + random(snapCount/2) transactions; the script then issues setData "
             "on one znode until a snapshot starts whose zxid >= the last create's zxid, i.e. "
             "one that holds all N znodes (padding writes: zkd %s, Apache %s). Duration from "
             "the server's log: zkd `snapshot 0x... written in X s` (forked child, the parent "
             "keeps serving), Apache `Snapshotting: 0x...` + `Snapshot taken in N ms` (a "
             "background thread, fuzzy snapshot). Snapshots during the load: zkd %s; Apache %s."
             % (fmt_num(z.get("snapshot_padding_writes")),
                fmt_num(a.get("snapshot_padding_writes")),
                _snaps(z.get("snapshots_during_load")), _snaps(a.get("snapshots_during_load"))))
    L.append("- **Restart**: after the get/set phases (so the log tail since the last snapshot "
             "holds up to snapCount writes) SIGKILL, start again, poll until `ruok`, a session "
             "and getData(%s) all succeed. zkd log: %s. Apache log: %s. Data dir before the "
             "kill (allocated / apparent size; %s snapshot files): zkd %s / %s MiB, Apache "
             "%s / %s MiB."
             % (loader.last_path(ROOT_PATH, n, PARENTS).decode(), _zkd_restart(z),
                _apache_restart(a), "%s and %s" % (fmt_num(z.get("snapshots_on_disk")),
                                                   fmt_num(a.get("snapshots_on_disk"))),
                fmt_num(mib(get(z, "data_dir_bytes", 0)), 0),
                fmt_num(mib(get(z, "data_dir_bytes", 1)), 0),
                fmt_num(mib(get(a, "data_dir_bytes", 0)), 0),
                fmt_num(mib(get(a, "data_dir_bytes", 1)), 0)))
    L.append("- **get/set**: closed loop on random znodes among the N, 100-byte values for "
             "set; latency = send to reply per request (perf_counter_ns) in the generator, "
             "so it includes Python's own time. Throughput phases overlap the servers' own "
             "snapshots (set: zkd %s, Apache %s during the run)."
             % (len(get(z, "set_tp", "snapshots") or []), len(get(a, "set_tp", "snapshots") or [])))
    L.append("")
    # ---------------- limits ----------------
    L.append("## What limits it / next step")
    L.append("")
    for para in limits(results, n):
        L.append(para)
        L.append("")
    cg = results.get("callgrind")
    if cg:
        L.append("## zkd under callgrind (instructions per request)")
        L.append("")
        L.append("zkd under `valgrind --tool=callgrind`, %d znodes, counters zeroed with "
                 "`callgrind_control -z` after a warm-up and dumped after a fixed number of "
                 "requests on one connection. Counts user-space instructions of all zkd threads "
                 "(fsync thread included), not the kernel's." % cg["znodes"])
        L.append("")
        L.append("| op | in flight | requests | instructions/request |")
        L.append("|---|---:|---:|---:|")
        for run in cg["runs"]:
            L.append("| %s | %d | %s | %s |" % (run["op"], run["window"], fmt_num(run["requests"]),
                                               fmt_num(run["ir_per_request"])))
        L.append("")
        for run in cg["runs"]:
            if run["top"]:
                L.append("Inclusive share of zkd functions, %s x%d: %s." % (
                    run["op"], run["window"],
                    ", ".join("%s %.0f%%" % (f, p) for f, p in run["top"])))
                L.append("")
    for key, title in (("perf_set", "zkd CPU profile during 4 x 100 sets (perf, cpu-clock)"),
                       ("perf_restart", "zkd CPU profile of a SIGKILL + restart (perf, cpu-clock)")):
        pr = z.get(key)
        if not pr or not pr.get("top"):
            continue
        L.append("## " + title)
        L.append("")
        if key == "perf_set":
            L.append("An extra, unmeasured %s-ops/s set run after the restart, `perf record -e "
                     "cpu-clock -p PID` (children inherited: snapshot writers included)."
                     % fmt_num(pr.get("ops_per_s")))
        else:
            L.append("A second SIGKILL + restart with zkd under `perf record -e cpu-clock` "
                     "(ready after %s s under perf)." % fmt_num(pr.get("ready_s"), 3))
        L.append("Samples by object: %s." % ", ".join(
            "%s %.0f%%" % (k, v) for k, v in sorted(pr.get("split", {}).items(),
                                                   key=lambda x: -x[1])))
        L.append("")
        L.append("| samples | object | symbol |")
        L.append("|---:|---|---|")
        for pc, dso, sym in pr["top"]:
            L.append("| %.1f%% | %s | `%s` |" % (pc, dso, sym))
        L.append("")
    return "\n".join(L) + "\n"


def _ms_list(v):
    return "n/a" if not v else ", ".join("%.0f" % (x * 1e3) for x in v)


def _fs(f):
    return "n/a" if not f else ", ".join("%s %s" % (k, fmt_num(v)) for k, v in sorted(f.items()))


def _status(st):
    if not st:
        return "n/a"
    return ", ".join("%s %s" % (k, ("%.0f MiB" % mib(v)) if isinstance(v, int) else v)
                     for k, v in st.items())


def _snaps(sn):
    if not sn:
        return "none"
    return "%d, last %.3f s at zxid %#x, longest %.3f s" % (
        len(sn), sn[-1]["seconds"], sn[-1]["zxid"], max(x["seconds"] for x in sn))


def _zkd_restart(z):
    rs = z.get("restart") or {}
    if "log_recover_ms" not in rs:
        return "n/a"
    return "recovered %s znodes in %d ms" % (fmt_num(rs["log_recovered_znodes"]),
                                               rs["log_recover_ms"])


def _apache_restart(a):
    rs = a.get("restart") or {}
    parts = []
    if "log_snapshot_load_ms" in rs:
        parts.append("snapshot loaded in %d ms" % rs["log_snapshot_load_ms"])
    if "log_txns_loaded" in rs:
        parts.append("%s txns replayed in %d ms" % (fmt_num(rs["log_txns_loaded"]),
                                                    rs["log_txns_load_ms"]))
    if "startup_snapshot_s" in rs:
        parts.append("then a start-up snapshot taken in %.3f s" % rs["startup_snapshot_s"])
    return ", ".join(parts) or "n/a"


def limits(results, n):
    """One data-backed paragraph per metric: what the numbers say limits it, and a next step."""
    z = results.get("zkd", {})
    a = results.get("apache", {})
    fp = results.get("fsync_probe") or {}
    cg = {(x["op"], x["window"]): x for x in (results.get("callgrind") or {}).get("runs", [])}
    out = []

    # ---- start ----
    zs = z.get("start") or {}
    out.append(
        "**Start-to-ready.** zkd: %s ms median; `ruok` first answered at %s ms and zkd's own "
        "log says `started in %s ms` (config, dataDir, listen), so the rest is fork/exec of "
        "`taskset` + zkd and the polling interval (%d ms). Apache: %s ms median, `ruok` at %s "
        "ms: JVM start-up, class loading and the interpreter/JIT on one pinned core. Next step: "
        "none for zkd; this is already at the resolution of the measurement."
        % (fmt_num(_m(z, "start", "median_s"), 1), fmt_num(_med_ms(zs.get("ruok_s")), 1),
           "/".join(str(x) for x in zs.get("log_started_ms", [])) or "n/a", int(POLL_S * 1000),
           fmt_num(_m(a, "start", "median_s"), 1), fmt_num(_med_ms(get(a, "start", "ruok_s")), 1)))

    # ---- load ----
    for kind, r in (("zkd", z), ("Apache", a)):
        ld = r.get("load")
        if not ld:
            continue
        cb = ld.get("core_busy", {})
        per_fs = _per_fsync(r, "load")
        gen = ld["gen_cpu_util"]
        srvu = ld["server_cpu_util"]
        snaps = r.get("snapshots_during_load") or []
        v = []
        if gen > 0.85:
            v.append("the Python generator was saturated (%.2f of its core), so this is a "
                     "lower bound for the server" % gen)
        if srvu > 0.85 or (cb.get("cpu1") or 0) > 0.9:
            v.append("the server's core was the limit (server %.2f cores, core 1 %s busy incl. "
                     "the kernel's loopback/softirq work)" % (srvu, pct(cb.get("cpu1"))))
        if per_fs and fp.get("p50_ms"):
            v.append("the disk was not: %.0f creates shared each fsync, and at the probe's %.2f "
                     "ms per fsync that batching would allow ~%s creates/s"
                     % (per_fs, fp["p50_ms"], fmt_num(per_fs / (fp["p50_ms"] / 1e3))))
        child = ld.get("server_children_s") or 0.0
        extra = ""
        if kind == "zkd" and child > 0:
            extra = (" Of the server's %.1f CPU-seconds, %.1f went to the %d forked snapshot "
                     "writers, which run on the same pinned core (%s s of snapshot time)."
                     % (ld["server_cpu_s"], child, len(snaps),
                        fmt_num(sum(x["seconds"] for x in snaps), 1)))
        elif kind == "Apache" and snaps:
            extra = (" Apache took %d snapshots during the load (%s s in its snapshot thread, "
                     "same core)." % (len(snaps), fmt_num(sum(x["seconds"] for x in snaps), 1)))
        nxt = ""
        if kind == "zkd":
            c = cg.get(("create", 100))
            nxt = (" Next step: the generator is not the limit, the server core is: the create "
                   "path%s, and the snapshot writers sharing the serving core (here they "
                   "must: 2 cores, one for the generator)."
                   % ((" (%s instructions per pipelined create under callgrind; top inclusive: "
                       "%s)" % (fmt_num(c["ir_per_request"]),
                                ", ".join("%s %.0f%%" % (f, p) for f, p in c["top"][:5])))
                      if c else ""))
        out.append("**Bulk load, %s.** %s creates/s; %.1f us server CPU per create (user %s s, "
                   "sys %s s); generator %.2f of its core; core 0 %s busy, core 1 %s busy; "
                   "other work on the machine %.2f cores. So %s.%s%s"
                   % (kind, fmt_num(ld["ops_per_s"]), ld.get("server_cpu_us_per_op", 0),
                      fmt_num(ld.get("server_user_s"), 1), fmt_num(ld.get("server_sys_s"), 1),
                      gen, pct(cb.get("cpu0")), pct(cb.get("cpu1")), ld["other_cpu_util"],
                      "; ".join(v) or "neither side saturated a core", extra, nxt))

    # ---- memory ----
    zb, ab = _bpz_safe(z, n), _bpz_safe(a, n)
    hb = get(a, "heap", "used_after_gc")
    name_len = len(loader.last_path(ROOT_PATH, n, PARENTS).rsplit(b"/", 1)[1])
    out.append(
        "**Memory.** zkd's RSS grows by %s bytes per znode holding %d bytes of data and a "
        "%d-byte name, i.e. ~%s bytes of per-znode overhead (whatever node struct, stat, child "
        "tables and malloc rounding add up to). Apache's RSS grows by %s bytes per znode, but a JVM's RSS "
        "is heap the collector has touched: after a full GC (`jcmd GC.run`) its live heap is %s "
        "bytes per znode (%s MiB), and its RSS stays at %s MiB because the freed heap is not "
        "returned. Next step for zkd: account the per-znode bytes (sizeof the node struct, "
        "child-table load factor, malloc size classes) against the ~%s bytes of overhead."
        % (fmt_num(zb), SIZE, name_len, fmt_num(zb - SIZE - name_len if zb else None),
           fmt_num(ab), fmt_num(hb / n if hb else None), fmt_num(mib(hb), 0),
           fmt_num(mib(a.get("rss_after_full_gc")), 0),
           fmt_num(zb - SIZE - name_len if zb else None)))

    # ---- snapshot ----
    zsn, asn = z.get("snapshot"), a.get("snapshot")
    zl = z.get("snapshots_during_load") or []
    al = a.get("snapshots_during_load") or []
    out.append(
        "**Snapshot.** After the load, with the server otherwise idle: zkd wrote %s MiB in %s s "
        "(%s MiB/s, forked child), Apache %s MiB in %s s (%s MiB/s, snapshot thread). During "
        "the load the same snapshots took longer because writer and server share one core: "
        "zkd's longest %s s, Apache's longest %s s. Apache also writes a full snapshot at every "
        "start-up (%s s here), inside its restart time. Next step for zkd: the snapshot writer "
        "competes with request processing for the pinned core (see the set phase below); "
        "on a machine with a spare core, pinning the child elsewhere or niceness would "
        "decouple them."
        % (fmt_num(mib(get(zsn, "bytes")), 1), fmt_num(get(zsn, "seconds"), 3),
           fmt_num(_rate(zsn), 0), fmt_num(mib(get(asn, "bytes")), 1),
           fmt_num(get(asn, "seconds"), 3), fmt_num(_rate(asn), 0),
           fmt_num(max([x["seconds"] for x in zl] or [None]) if zl else None, 3),
           fmt_num(max([x["seconds"] for x in al] or [None]) if al else None, 3),
           fmt_num(get(a, "restart", "startup_snapshot_s"), 3)))

    # ---- restart ----
    zr, ar = z.get("restart") or {}, a.get("restart") or {}
    zrate = (zr.get("log_recovered_znodes") or 0) / (zr["log_recover_ms"] / 1e3) \
        if zr.get("log_recover_ms") else None
    out.append(
        "**Restart.** zkd is ready %s s after the restart (its log: %s, ~%s znodes/s), and "
        "`ruok` only answers once recovery is done. Apache is ready after %s s (%s); its `ruok` "
        "answers after %s s, long before it serves. Both load the newest snapshot and replay "
        "the log after it.%s"
        % (fmt_num(zr.get("ready"), 3), _zkd_restart(z), fmt_num(zrate),
           fmt_num(ar.get("ready"), 3), _apache_restart(a), fmt_num(ar.get("ruok"), 3),
           (" Next step for zkd: a perf profile of a second restart (section below) puts "
            "%s first - that is where to cut." % _perf_top3(z.get("perf_restart")))
           if get(z, "perf_restart", "top") else ""))

    # ---- latency ----
    for op in ("get", "set"):
        zl_, al_ = z.get("%s_lat" % op), a.get("%s_lat" % op)
        if not zl_:
            continue
        sys_share = zl_["gen_cpu_sys_s"] / zl_["gen_cpu_s"] if zl_.get("gen_cpu_s") else None
        own = (zl_.get("server_user_s") or 0) + (zl_.get("server_sys_s") or 0)
        srv_sys = (zl_.get("server_sys_s") or 0) / own if own else None
        own_us = own / zl_["ops"] * 1e6 if zl_.get("ops") else None
        child_s = zl_.get("server_children_s") or 0.0
        extra = ""
        if op == "set" and fp.get("p50_ms"):
            extra = (" Every set waits for an fdatasync; the fsync probe's p50 on this disk is "
                     "%.0f us, which is most of zkd's p50." % (fp["p50_ms"] * 1e3))
        cgx = cg.get((op, 1))
        if cgx:
            extra += (" Under callgrind zkd executes %s user-space instructions per %s at 1 in "
                      "flight, so its share of the round trip is small; its measured CPU per "
                      "request is mostly sys time (syscalls, thread wake-ups, loopback TCP)%s." % (
                          fmt_num(cgx["ir_per_request"]), op,
                          " and the set additionally waits for its fsync" if op == "set" else ""))
        out.append(
            "**%s latency (1 in flight).** p50 zkd %s us / Apache %s us, p99 zkd %s us / "
            "Apache %s us (%s / %s requests). Server CPU per request: zkd %s us (%s of it sys%s), "
            "Apache %s us. The generator used %.2f of its core in the zkd run, %s of that in "
            "the kernel; a C client (zkbench) would show lower absolute numbers.%s"
            % (op, fmt_num(get(zl_, "lat_us", "p50")), fmt_num(get(al_, "lat_us", "p50")),
               fmt_num(get(zl_, "lat_us", "p99")), fmt_num(get(al_, "lat_us", "p99")),
               fmt_num(get(zl_, "ops")), fmt_num(get(al_, "ops")),
               fmt_num(own_us, 1), pct(srv_sys),
               "; not counting %.1f s of a forked snapshot writer in the same interval" % child_s
               if child_s else "",
               fmt_num(get(al_, "server_cpu_us_per_op"), 1), zl_["gen_cpu_util"],
               pct(sys_share), extra))

    # ---- throughput ----
    for op in ("get", "set"):
        for kind, r in (("zkd", z), ("Apache", a)):
            t = r.get("%s_tp" % op)
            if not t:
                continue
            cb = t.get("core_busy", {})
            v = []
            if t["gen_cpu_util"] > 0.85:
                v.append("generator-bound (%.2f of its core, core 0 %s busy): the server had "
                         "headroom, this is a lower bound" % (t["gen_cpu_util"], pct(cb.get("cpu0"))))
            elif t["server_cpu_util"] > 0.85 or (cb.get("cpu1") or 0) > 0.9:
                v.append("server-core-bound (server %.2f cores, core 1 %s busy)"
                         % (t["server_cpu_util"], pct(cb.get("cpu1"))))
            elif (cb.get("cpu0") or 0) > 0.9:
                v.append("core 0 %s busy (generator plus the kernel's loopback work)"
                         % pct(cb.get("cpu0")))
            snaps = t.get("snapshots") or []
            child = t.get("server_children_s") or 0.0
            if op == "set":
                pf = _per_fsync(r, "set_tp")
                if pf:
                    v.append("%.0f sets per fsync, so not the disk" % pf)
                if snaps:
                    v.append("%d snapshots of the %s-znode tree were written during the %s s "
                             "(%s s of snapshot time)%s"
                             % (len(snaps), fmt_num(n), fmt_num(t["wall_s"], 0),
                                fmt_num(sum(x["seconds"] for x in snaps), 1),
                                ", the forked writers used %.1f of the server's %.1f CPU-seconds"
                                % (child, t["server_cpu_s"]) if child else ""))
            nxt = ""
            if kind == "zkd" and op == "get" and cg.get(("get", 100)):
                nxt = (" Next step: zkbench (C) to find the server's real limit; callgrind "
                       "counts %s instructions per pipelined get." %
                       fmt_num(cg[("get", 100)]["ir_per_request"]))
            if kind == "zkd" and op == "set":
                c = cg.get(("set", 100))
                every = t["wall_s"] / len(snaps) if snaps else None
                nxt = (" Next step: %sthe per-set path%s%s."
                       % (("the snapshot cadence (a full-tree snapshot every ~%.1f s at this "
                           "write rate) and " % every) if every else "",
                          (" (%s instructions per pipelined set under callgrind; top "
                           "inclusive: %s)" % (
                               fmt_num(c["ir_per_request"]),
                               ", ".join("%s %.0f%%" % (f, p) for f, p in c["top"][:5])))
                          if c else "",
                          ("; a perf profile of an extra set run (section below): %s"
                           % _perf_top3(z.get("perf_set"))) if get(z, "perf_set", "top") else ""))
            out.append("**%s throughput (4 x 100), %s.** %s ops/s at %.1f us server CPU per "
                       "request; server %.2f cores, generator %.2f cores, core 0 %s, core 1 %s "
                       "busy, other work %.2f cores; p99 under load %s us. %s.%s"
                       % (op, kind, fmt_num(t["ops_per_s"]), t.get("server_cpu_us_per_op", 0),
                          t["server_cpu_util"], t["gen_cpu_util"], pct(cb.get("cpu0")),
                          pct(cb.get("cpu1")), t["other_cpu_util"],
                          fmt_num(get(t, "lat_us", "p99")),
                          "; ".join(v) if v else "Neither side saturated a core", nxt))
    return out


def _perf_top3(pr):
    split = ", ".join("%s %.0f%%" % (k, v) for k, v in sorted(
        (pr.get("split") or {}).items(), key=lambda x: -x[1]))
    top = ", ".join("`%s` %.0f%%" % (sym, pc) for pc, _dso, sym in pr["top"][:3])
    return "%s (samples by object: %s)" % (top, split)


def _m(r, *k):
    v = get(r, *k)
    return v * 1e3 if v is not None else None


def _med_ms(v):
    return statistics.median(v) * 1e3 if v else None


def _bpz_safe(r, n):
    if not r or r.get("rss_after_load") is None or r.get("rss_empty") is None:
        return None
    return (r["rss_after_load"] - r["rss_empty"]) / n


def _rate(s):
    if not s or not s.get("bytes") or not s.get("seconds"):
        return None
    return s["bytes"] / 1048576.0 / s["seconds"]


# --------------------------------------------------------------------------
# Parsing the report back (smoke check)
# --------------------------------------------------------------------------

def parse_report(text):
    """Table rows as {label: (zkd, apache)} with numbers or None."""
    rows = {}
    for line in text.splitlines():
        if not line.startswith("| ") or line.startswith("| metric") or line.startswith("|---"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 5:
            continue

        def num(c):
            c = c.replace(",", "").replace("*", "").rstrip("x")
            try:
                return float(c)
            except ValueError:
                return None
        rows[cells[0]] = (num(cells[2]), num(cells[3]))
    return rows


def check_report(text, with_apache):
    rows = parse_report(text)
    problems = []
    need = [label for key, label, better, _d, _f in METRICS
            if key not in ("heap_bpz", "load_fsync")]
    for label in need:
        if label not in rows:
            problems.append("missing row %r" % label)
            continue
        zv, av = rows[label]
        if zv is None:
            problems.append("no zkd value in %r" % label)
        if with_apache and av is None:
            problems.append("no Apache value in %r" % label)
    for label in ("Bulk load errors (err != 0) [count]",):
        if label in rows and any(v for v in rows[label] if v):
            problems.append("load errors: %r" % (rows[label],))
    return problems


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description="zkd vs Apache ZooKeeper benchmark")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true", help="N=100k, shorter phases")
    g.add_argument("--smoke", action="store_true", help="N=2000, < 60 s, checks its own output")
    ap.add_argument("-n", type=int, help="override the number of znodes")
    ap.add_argument("--out", help="report path (default bench/results/<date>-<host>[-quick].md; "
                    "smoke: a temp file)")
    ap.add_argument("--workdir", help="where data dirs go (default: a new dir in $TMPDIR or /tmp)")
    ap.add_argument("--keep", action="store_true", help="keep the work dir")
    ap.add_argument("--zkd", help="zkd binary (default <ZK_BUILD_DIR or build>/bin/zkd)")
    ap.add_argument("--apache-heap", default="3g", help="Apache -Xmx (default 3g)")
    ap.add_argument("--only", choices=["zkd", "apache"], help="run one server only")
    ap.add_argument("--quiet-wait", type=float, help="before each phase wait up to this many "
                    "seconds for other CPU use to drop below 0.25 cores (full 120, quick 60, "
                    "smoke 0)")
    ap.add_argument("--render", metavar="JSON", help="only re-render the report from a saved "
                    ".json (written next to every report) to stdout / --out")
    ap.add_argument("--callgrind", dest="callgrind", action="store_true", default=None)
    ap.add_argument("--no-callgrind", dest="callgrind", action="store_false")
    args = ap.parse_args(argv)

    if args.render:
        with open(args.render) as f:
            results = json.load(f)
        prof = results.get("prof") or dict(PROFILES[results["profile"]], heap=args.apache_heap)
        text = render(results, results["info"], results["profile"], prof, results["n"],
                      results.get("cmdline", "bash bench/run.sh"), results.get("elapsed_s", 0))
        if args.out:
            with open(args.out, "w") as f:
                f.write(text)
        sys.stdout.write(text)
        problems = check_report(text, "apache" in results)
        if problems:
            log("report check failed:\n  " + "\n  ".join(problems))
            return 1
        return 0

    prof_name = "smoke" if args.smoke else "quick" if args.quick else "full"
    prof = dict(PROFILES[prof_name])
    prof["heap"] = args.apache_heap
    if args.callgrind is not None:
        prof["callgrind"] = args.callgrind
    n = args.n or prof["n"]
    if args.quiet_wait is not None:
        prof["quiet_wait_s"] = args.quiet_wait
    QUIET["max_wait_s"] = prof["quiet_wait_s"]
    results_quiet = QUIET["log"]
    cmdline = "bash bench/run.sh" + ("".join(" " + a for a in (argv or sys.argv[1:])))

    # Stop cleanly (finally blocks run) on SIGTERM as on Ctrl-C.
    def on_term(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_term)

    pin = (os.cpu_count() or 1) >= 2
    gen_cpus = {GEN_CPU} if pin else None
    server_cpu = SERVER_CPU if pin else None
    if pin:
        os.sched_setaffinity(0, {GEN_CPU})

    zkd_binary = os.path.abspath(args.zkd or os.path.join(BUILD_BIN, "zkd"))
    reason = Zkd.missing_reason(zkd_binary)
    if reason:
        log(reason)
        return 2
    kinds = ["zkd", "apache"]
    if args.only:
        kinds = [args.only]
    apache_reason = BenchApache.missing_reason()
    if "apache" in kinds and apache_reason:
        if args.smoke:
            log("Apache skipped: " + apache_reason)
            kinds.remove("apache")
        else:
            log(apache_reason)
            return 2

    workdir = os.path.abspath(args.workdir) if args.workdir else tempfile.mkdtemp(
        prefix="zkbench.", dir=os.environ.get("TMPDIR", "/tmp"))
    os.makedirs(workdir, exist_ok=True)
    # A private copy: a rebuild of build/bin/zkd during the run does not change what we measure.
    os.makedirs(os.path.join(workdir, "bin"), exist_ok=True)
    zkd_copy = os.path.join(workdir, "bin", "zkd")
    shutil.copy2(zkd_binary, zkd_copy)
    info = machine_info(workdir, zkd_binary, zkd_copy)
    cfg = server_cfg(prof["snap_count"])
    results = {"profile": prof_name, "n": n, "info": info}
    t_start = time.monotonic()
    log("work dir %s, profile %s, N=%d, servers %s" % (workdir, prof_name, n, kinds))
    try:
        results["fsync_probe"] = fsync_probe(workdir, prof["fsync_probe"])
        for kind in kinds:
            kwd = os.path.join(workdir, kind)
            if kind == "zkd":
                def make(wd, _cfg=cfg):
                    return BenchZkd(wd, zkd_copy, server_cpu, cfg=_cfg)
            else:
                def make(wd, _cfg=cfg):
                    return BenchApache(wd, server_cpu, prof["heap"], cfg=_cfg)
            run_server(kind, make, kwd, prof, n, results, gen_cpus)
            results[kind]["_n"] = n
            if not args.keep:  # free the disk before the next server
                shutil.rmtree(os.path.join(kwd, "main", "data"), ignore_errors=True)
        if prof["callgrind"] and "zkd" in kinds:
            log("zkd under callgrind")
            try:
                results["callgrind"] = phase_callgrind(zkd_copy, workdir, cfg)
            except (ServerError, OSError, subprocess.SubprocessError, loader.ProtocolError) as e:
                log("callgrind phase failed: %s" % e)
                results["callgrind_error"] = str(e)
        elapsed = time.monotonic() - t_start
        info["loadavg_end"] = sh("cat /proc/loadavg")
        results["quiet"] = results_quiet
        results["prof"] = prof
        results["cmdline"] = cmdline
        results["elapsed_s"] = elapsed
        text = render(results, info, prof_name, prof, n, cmdline, elapsed)
        if args.out:
            out = args.out
        elif args.smoke:
            out = os.path.join(workdir, "smoke.md")  # removed with the work dir unless --keep
        else:
            os.makedirs(os.path.join(BENCH_DIR, "results"), exist_ok=True)
            out = os.path.join(BENCH_DIR, "results", "%s-%s%s.md" % (
                datetime.date.today().isoformat(), socket.gethostname(),
                "" if prof_name == "full" else "-" + prof_name))
        with open(out, "w") as f:
            f.write(text)
        with open(os.path.splitext(out)[0] + ".json", "w") as f:
            json.dump(results, f, indent=1, sort_keys=True, default=str)
        sys.stdout.write(text)
        sys.stdout.flush()
        log("report written to %s" % out)
        problems = check_report(text, "apache" in kinds)
        if problems:
            log("report check failed:\n  " + "\n  ".join(problems))
            return 1
        log("report check passed")
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log("kept work dir %s" % workdir)


if __name__ == "__main__":
    sys.exit(main())
