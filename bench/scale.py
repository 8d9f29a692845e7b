#!/usr/bin/python3
"""The scale profile: zkd (and Apache ZooKeeper 3.8) with a big tree (issue 20).

    bash bench/run.sh --scale -n 10000000 --apache-n 1000000   # the full run
    /usr/bin/python3 bench/scale.py --smoke --only zkd         # seconds; what the suite runs

Rows, per server (zkd at -n and, if --apache-n, zkd again and Apache at that smaller N,
interleaved: zkd small, Apache small, zkd big):

 load      N znodes of 100 bytes under N/1000 parents (/scale/dNNN/nNNNNN), 4 sessions x
           1000 in flight (zkbench --op load: one C thread on libzk): creates/s, with the
           CPU seconds of the loader and of the server over the same window (the loader must
           stay well below the server for the rate to be the server's), the server thread
           that waited longest for a CPU (schedstat: on a shared machine the rate is the
           share of CPU the server got), and the other processes' CPU.  The layout's twin in
           bench/loader.py (layout, znode_path) reads the tree back in the later rows; the row
           checks that zkbench's last path is loader.py's and exists.
 memory    VmRSS after the load minus VmRSS of the empty server, per znode.  The floor is
           100 bytes of data + the 6-byte name + the Stat fields that must be kept
           (czxid mzxid ctime mtime pzxid owner: 48, version cversion aversion: 12) = 166.
 snapshot  get 1x1 (one connection, one request in flight, random znodes) for a baseline
           window, then setData on one znode until a snapshot of the whole tree starts; the
           probe keeps running until the server logs it complete.  p50/p99/p99.9/max of the
           gets inside the snapshot's window vs the baseline's: the stall a client sees.  (zkd
           writes a fuzzy snapshot, walked and written on its snapshot thread, with no fork.)
 restart   SIGKILL, start again, time until getData of the last znode answers (snapshot +
           log tail).
 wide      W children under one parent (/wide/d000): create rate; one getChildren (reply
           bytes and time, or the error when the reply exceeds jute.maxbuffer, and whether the
           session still works after it); then delete all W (1000 in flight) while the get probe
           runs: deletes/s and the probe's max vs baseline.
 fanout    zkbench --op fanout: F sessions watch one node, one setData, time until the last
           notification; server syscalls per notification where `perf` may count them.

Load average is recorded next to every timed row: the machine is shared.  --rows picks rows
(load always runs: the others need its tree).  Writes bench/results/<date>-<host>-scale.md
and .json (smoke: --out, or a temp file).
"""
import argparse
import array
import datetime
import json
import multiprocessing
import os
import platform
import re
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH_DIR)
sys.path.insert(0, ROOT)
sys.path.insert(0, BENCH_DIR)

from tests.lib.paths import BUILD_BIN  # noqa: E402

import bench as B  # noqa: E402
import loader  # noqa: E402

ROOT_PATH = b"/scale"
WIDE_ROOT = b"/wide"
SIZE = 100
PER_PARENT = 1000
OP_DELETE = 2
OP_GETCHILDREN = 8
FLOOR_BYTES = SIZE + 6 + 48 + 12
ROWS = ("load", "snapshot", "restart", "wide", "fanout")
LOAD_SESSIONS = 4
LOAD_INFLIGHT = 1000

PROFILES = {
    "full": dict(n=10_000_000, apache_n=1_000_000, wide=1_000_000, fanout=10_000,
                 baseline_s=5.0, cfg={}),
    "smoke": dict(n=3000, apache_n=0, wide=3000, fanout=20, baseline_s=0.3,
                  # small enough that the 3000-name getChildren reply exceeds it
                  cfg={"snapCount": "1000", "jute.maxbuffer": "20000"}),
}


def log(msg):
    sys.stderr.write("[scale %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


# --------------------------------------------------------------------------
# The get probe: one connection, one get at a time, (send time, latency) each
# --------------------------------------------------------------------------

def tree_probe_paths(n, parents, count=4096):
    """`count` znodes spread over the tree of N znodes under `parents` (loader.layout)."""
    _p, per = loader.layout(n, parents)
    return [loader.znode_path(ROOT_PATH, (k * 7919 % n) // per, (k * 7919 % n) % per)
            for k in range(count)]


def _probe_main(port, paths, stop, out_path):
    bodies = [loader.get_body(paths[k % len(paths)]) for k in range(4096)]
    s, _sid, _to = loader.connect("127.0.0.1", port, sock_timeout=300.0)
    times = array.array("d")
    lats = array.array("d")
    xid = 1
    mono = time.monotonic
    try:
        while not stop.is_set():
            body = bodies[xid & 4095]
            t0 = mono()
            s.sendall(struct.pack(">iii", 8 + len(body), xid, loader.OP_GETDATA) + body)
            while True:
                f = loader.recv_frame(s)
                rxid, _z, err = struct.unpack_from(">iqi", f, 0)
                if rxid == xid:
                    break
            t1 = mono()
            if err:
                raise loader.ProtocolError("probe get: err %d" % err)
            times.append(t0)
            lats.append((t1 - t0) * 1e6)
            xid += 1
    finally:
        loader.close_session(s)
        with open(out_path, "wb") as f:
            f.write(struct.pack("<q", len(times)))
            times.tofile(f)
            lats.tofile(f)


class Probe:
    """One session sending one get at a time, in a process of its own, to random znodes of the
    scale tree of N znodes under `parents`, or to `paths` when given."""

    def __init__(self, port, n, parents, workdir, paths=None):
        self.out = os.path.join(workdir, "probe-%d.bin" % port)
        self.stop_evt = multiprocessing.Event()
        paths = paths or tree_probe_paths(n, parents)
        self.proc = multiprocessing.Process(target=_probe_main,
                                            args=(port, paths, self.stop_evt, self.out))
        self.proc.start()
        self.t0 = time.monotonic()

    def finish(self):
        self.stop_evt.set()
        self.proc.join(300)
        if self.proc.exitcode != 0:
            raise RuntimeError("get probe failed (exit %s)" % self.proc.exitcode)
        with open(self.out, "rb") as f:
            (k,) = struct.unpack("<q", f.read(8))
            self.times = array.array("d")
            self.times.fromfile(f, k)
            self.lats = array.array("d")
            self.lats.fromfile(f, k)
        os.unlink(self.out)
        return self

    def window(self, a, b):
        """Latency summary (us) of the gets sent in [a, b] (time.monotonic)."""
        v = sorted(lat for t, lat in zip(self.times, self.lats) if a <= t <= b)
        if not v:
            return {"count": 0}
        return {"count": len(v), "p50": loader.percentile(v, 50), "p99": loader.percentile(v, 99),
                "p999": loader.percentile(v, 99.9), "max": v[-1], "window_s": b - a}


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------

def timed_get_children(port, parent):
    """One getChildren of `parent` on a session of its own: {err, reply_bytes, call_s}."""
    s, _sid, _to = loader.connect("127.0.0.1", port, sock_timeout=300.0)
    try:
        t0 = time.monotonic()
        _z, err, body = loader.call(s, 1, OP_GETCHILDREN, loader.get_body(parent))
        return {"err": err, "reply_bytes": len(body) + 16, "call_s": time.monotonic() - t0}
    finally:
        loader.close_session(s)


def pipelined(port, bodies, window=1000):
    s, _sid, _to = loader.connect("127.0.0.1", port, sock_timeout=300.0)
    try:
        return loader.pipeline(s, bodies, window)
    finally:
        loader.close_session(s)


def wait_snapshot(srv, off, min_zxid, timeout):
    """Polls the server log from `off` until a snapshot with zxid >= min_zxid is logged
    complete; returns ({zxid, seconds}, the monotonic time it was seen) or (None, now)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [x for x in B.parse_snapshots(srv.kind, B.read_from(srv.server_log(), off))
                if x["zxid"] >= min_zxid]
        if done:
            return done[0], time.monotonic()
        if srv.proc.poll() is not None:
            raise RuntimeError("%s exited" % srv.name)
        time.sleep(0.02)
    return None, time.monotonic()


def snapshot_started(srv, min_zxid):
    return any(z >= min_zxid for z in B.find_snapshot_files(srv.data_dir))


# --------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------

def children_cpu_s():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_queue_wait(pid):
    """{thread id: seconds it spent runnable but waiting for a CPU} (/proc schedstat)."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                out[tid] = int(f.read().split()[1]) / 1e9
        except (OSError, IndexError, ValueError):
            pass
    return out


def zkbench_load(srv, n, parents):
    """zkbench --op load; returns (its JSON result, the server's Phase summary, the loader's
    CPU seconds over the same window: the whole zkbench process, reaped)."""
    cmd = [os.path.join(BUILD_BIN, "zkbench"), "--hosts", "127.0.0.1:%d" % srv.port,
           "--op", "load", "--root", ROOT_PATH.decode(), "--parents", str(parents),
           "--count", str(n), "--size", str(SIZE), "--clients", str(LOAD_SESSIONS),
           "--inflight", str(LOAD_INFLIGHT), "--json", "--quiet"]
    cpu0 = children_cpu_s()
    wait0 = run_queue_wait(srv.pid)
    with B.Phase(srv) as ph:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=7200)
    loader_cpu_s = children_cpu_s() - cpu0
    wait1 = run_queue_wait(srv.pid)
    js = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode != 0 or not js:
        raise RuntimeError("zkbench --op load failed (exit %d): %s"
                           % (p.returncode, (p.stdout + p.stderr)[-1000:]))
    out = ph.summary(n, loader_cpu_s)
    # A busy machine shows here: the server was ready to run and got no CPU.  Its most
    # delayed thread (zkd: the loop, which every request passes) against the window.
    waits = [w - wait0.get(tid, 0.0) for tid, w in wait1.items()]
    out["run_queue_wait_max_s"] = max(waits) if waits else None
    return json.loads(js[-1]), out, loader_cpu_s


def check_layout(srv, n, parents, j):
    """The layout has two definitions (zkbench.c creates, loader.py reads back): they must
    name the same znodes."""
    last = loader.last_path(ROOT_PATH, n, parents)
    if j.get("last_path", "").encode() != last:
        raise RuntimeError("layout mismatch: zkbench's last znode %r, loader.py's %r"
                           % (j.get("last_path"), last))
    if loader.try_get("127.0.0.1", srv.port, last, timeout=30.0) != SIZE:
        raise RuntimeError("%r: not %d bytes after the load" % (last, SIZE))


def row_load(srv, r, n, parents):
    r["rss_empty"] = B.rss(srv.pid)
    B.wait_quiet("%s load" % srv.kind)  # --quiet-wait: the others' CPU, before the row
    quiet = B.QUIET["log"][-1]
    la = B.loadavg()
    j, ph, loader_cpu_s = zkbench_load(srv, n, parents)
    check_layout(srv, n, parents, j)
    r["load"] = {"creates_per_s": j["ops_per_sec"], "wall_s": j["seconds"],
                 "sessions": LOAD_SESSIONS, "inflight": LOAD_INFLIGHT,
                 "p50_us": j["p50_us"], "p99_us": j["p99_us"], "max_us": j["max_us"],
                 # the loader's CPU: in its timed run, and the whole process (setup of the
                 # parents, sessions) over the same window as the server's
                 "loader_run_cpu_s": j["cpu_user_s"] + j["cpu_sys_s"],
                 "loader_cpu_s": loader_cpu_s, "server_cpu_s": ph["server_cpu_s"],
                 "server_cpu_us_per_create": ph["server_cpu_us_per_op"],
                 "other_cpu_util": ph["other_cpu_util"], "window_s": ph["wall_s"],
                 "server_thread_run_queue_wait_max_s": ph["run_queue_wait_max_s"],
                 "busy_cores_before": quiet["busy_cores"], "quiet_waited_s": quiet["waited_s"],
                 "loadavg": [la, B.loadavg()]}
    r["rss_after_load"] = B.rss(srv.pid)
    r["bytes_per_znode"] = (r["rss_after_load"] - r["rss_empty"]) / n
    r["load_zxid"] = B.server_zxid(srv)
    log("%s: %d znodes at %.0f creates/s, %.1f bytes/znode (load %s); CPU s loader %.2f, "
        "server %.2f" % (srv.kind, n, j["ops_per_sec"], r["bytes_per_znode"], la, loader_cpu_s,
                         ph["server_cpu_s"]))


def row_snapshot(srv, r, n, parents, prof, workdir):
    """get 1x1 without and during a snapshot of the whole tree."""
    # A snapshot past the load's last zxid: it starts after `off` (the probe's session is the
    # next txn).  One at exactly load_zxid could already be logged complete before `off`;
    # waiting for its line then took the whole 900 s (the smoke test timed out at 300 once).
    min_zxid = r["load_zxid"] + 1
    off = B.file_size(srv.server_log())
    la = B.loadavg()
    probe = Probe(srv.port, n, parents, workdir)
    time.sleep(prof["baseline_s"])
    t_base_end = time.monotonic()
    # Padding: setData on one znode until a snapshot covering the load starts.
    body = loader.set_body(loader.znode_path(ROOT_PATH, 0, 0), b"y" * SIZE)
    s, _sid, _to = loader.connect("127.0.0.1", srv.port)
    xid = 1
    written = 0
    try:
        while not snapshot_started(srv, min_zxid) and written < 2_000_000:
            pr = loader.pipeline(s, ((loader.OP_SETDATA, body) for _ in range(500)), 250,
                                 first_xid=xid)
            xid = pr["last_xid"] + 1
            written += pr["ops"]
    finally:
        loader.close_session(s)
    t_pad_end = time.monotonic()
    snap, t_done = wait_snapshot(srv, off, min_zxid, 900)
    time.sleep(0.05)
    probe.finish()
    out = {"padding_writes": written, "loadavg": [la, B.loadavg()]}
    if not snap:
        out["error"] = "no snapshot logged"
        r["snapshot"] = out
        return
    secs = snap["seconds"]
    out["zxid"] = snap["zxid"]
    out.update({"seconds": secs,
                "baseline": probe.window(probe.t0 + 0.2, t_base_end),
                "during": probe.window(max(t_done - secs, t_pad_end), t_done)})
    if not out["during"].get("count"):
        # a short snapshot that ended within the last padding batch: its whole window
        out["during"] = probe.window(t_done - secs, t_done)
        out["during_overlaps_padding"] = True
    b, d = out["baseline"], out["during"]
    if b.get("p999") and d.get("p999"):
        out["p999_ratio"] = d["p999"] / b["p999"]
    r["snapshot"] = out
    log("%s: snapshot %.2f s: get p99.9 %s -> %s us, max %s -> %s us"
        % (srv.kind, secs, b.get("p999"), d.get("p999"), b.get("max"), d.get("max")))


def row_restart(srv, r, n, parents):
    last = loader.last_path(ROOT_PATH, n, parents)
    la = B.loadavg()
    srv.kill(signal.SIGKILL)
    off = B.file_size(srv.server_log())
    marks = B.start_timed(srv, path=last, timeout=900)
    text = B.read_from(srv.server_log(), off)
    out = {"ready_s": marks["ready"], "loadavg": la}
    m = re.search(r"recovered (\d+) znodes .* in (\d+) ms", text)
    if m:
        out["log_recover_ms"] = int(m.group(2))
    sizes = [os.path.getsize(p) for p in B.find_snapshot_files(srv.data_dir).values()
             if os.path.exists(p)]
    out["snapshot_bytes"] = max(sizes) if sizes else None
    r["restart"] = out
    r["rss_after_restart"] = B.rss(srv.pid)
    log("%s: restart after SIGKILL %.2f s (load %s)" % (srv.kind, marks["ready"], la))


def row_wide(srv, r, w, n, parents, prof, workdir):
    la = B.loadavg()
    lr = loader.load("127.0.0.1", srv.port, w, root=WIDE_ROOT, parents=1, size=SIZE, conns=1,
                     window=1000)
    out = {"children": w, "creates_per_s": lr["ops_per_s"], "create_errors": lr["errors"],
           "loadavg": [la]}
    parent = WIDE_ROOT + b"/d000"
    s, _sid, _to = loader.connect("127.0.0.1", srv.port, sock_timeout=300.0)
    try:
        t0 = time.monotonic()
        _z, err, body = loader.call(s, 1, OP_GETCHILDREN, loader.get_body(parent))
        out["getchildren_s"] = time.monotonic() - t0
        out["getchildren_err"] = err
        out["getchildren_bytes"] = len(body) + 16
        if not err:
            (out["getchildren_names"],) = struct.unpack_from(">i", body, 0)
        # The session must still work after an oversized reply.
        _z, err2, _b = loader.call(s, 2, loader.OP_GETDATA, loader.get_body(parent))
        out["session_alive_after"] = err2 == 0
    except (OSError, loader.ProtocolError) as e:
        out["getchildren_exception"] = "%s: %s" % (type(e).__name__, e)
        out["session_alive_after"] = False
    finally:
        loader.close_session(s)
    probe = Probe(srv.port, n, parents, workdir)
    time.sleep(prof["baseline_s"])
    t_del = time.monotonic()
    bodies = ((OP_DELETE, loader.jstr(b"%s/n%05d" % (parent, c)) + struct.pack(">i", -1))
              for c in range(w))
    dr = pipelined(srv.port, bodies)
    t_end = time.monotonic()
    probe.finish()
    out.update({"deletes_per_s": dr["ops"] / (t_end - t_del), "delete_errors": dr["errors"],
                "baseline": probe.window(probe.t0 + 0.2, t_del),
                "during_delete": probe.window(t_del, t_end)})
    out["loadavg"].append(B.loadavg())
    r["wide"] = out
    log("%s: %d children: getChildren err %s (%d bytes, %.3f s), delete %.0f/s, probe max %s -> %s us"
        % (srv.kind, w, out.get("getchildren_err"), out.get("getchildren_bytes", 0),
           out.get("getchildren_s", 0), out["deletes_per_s"], out["baseline"].get("max"),
           out["during_delete"].get("max")))


def perf_syscalls(pid):
    if not B.perf_usable():
        return None
    return subprocess.Popen(["perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "-p", str(pid)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def row_fanout(srv, r, f):
    zkbench = os.path.join(BUILD_BIN, "zkbench")
    rounds = 5
    la = B.loadavg()
    perf = perf_syscalls(srv.pid)
    time.sleep(0.3 if perf else 0)
    try:
        p = subprocess.run([zkbench, "--hosts", "127.0.0.1:%d" % srv.port, "--op", "fanout",
                            "--clients", str(f + 1), "--watchers", str(f), "--count",
                            str(rounds), "--json", "--quiet"],
                           capture_output=True, text=True, timeout=900)
    finally:
        syscalls = None
        if perf:
            perf.send_signal(signal.SIGINT)
            _o, err = perf.communicate(timeout=60)
            m = re.search(r"^(\d+),,raw_syscalls:sys_enter", err, re.M)
            syscalls = int(m.group(1)) if m else None
    out = {"watchers": f, "rounds": rounds, "loadavg": la}
    js = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode != 0 or not js:
        out["error"] = (p.stdout + p.stderr)[-500:]
    else:
        j = json.loads(js[-1])
        out["result"] = {k: j.get(k) for k in ("ops", "errors", "p50_us", "p99_us", "max_us",
                                               "latency_us") if k in j}
    if syscalls is not None:
        # everything the server did in the run: sessions, watch sets, then rounds x f events
        out["server_syscalls"] = syscalls
        out["syscalls_per_event"] = syscalls / float(rounds * f)
    r["fanout"] = out
    log("%s: fan-out %d: %s" % (srv.kind, f, out.get("result") or out.get("error")))


# --------------------------------------------------------------------------
# One server, all rows
# --------------------------------------------------------------------------

def make_server(kind, workdir, prof, heap):
    cfg = dict(B.server_cfg(None))
    cfg.update(prof["cfg"])
    if kind == "zkd":
        return B.BenchZkd(workdir, os.path.join(BUILD_BIN, "zkd"), None, cfg=cfg)
    return B.BenchApache(workdir, None, heap, cfg=cfg)


def run_one(kind, n, prof, args, base):
    workdir = tempfile.mkdtemp(prefix="%s-%d-" % (kind, n), dir=base)
    parents = max(1, n // PER_PARENT)
    heap = args.apache_heap or "%dm" % max(1024, n * 900 // (1 << 20))
    srv = make_server(kind, workdir, prof, heap)
    r = {"kind": kind, "n": n, "parents": parents}
    if kind == "apache":
        r["heap"] = heap
    try:
        r["start"] = B.start_timed(srv, timeout=300)
        row_load(srv, r, n, parents)
        if "snapshot" in prof["rows"]:
            row_snapshot(srv, r, n, parents, prof, workdir)
        if "restart" in prof["rows"]:
            row_restart(srv, r, n, parents)
        if prof["wide"] and "wide" in prof["rows"]:
            row_wide(srv, r, prof["wide"], n, parents, prof, workdir)
        if prof["fanout"] and "fanout" in prof["rows"]:
            row_fanout(srv, r, prof["fanout"])
        r["rss_end"] = B.rss(srv.pid)
    except Exception as e:  # keep the rows measured so far
        r["error"] = "%s: %s" % (type(e).__name__, e)
        log("%s n=%d failed: %s\n%s" % (kind, n, r["error"], srv.describe_log(40)))
    finally:
        try:
            srv.close()
        except B.ServerError as e:  # a slow shutdown must not lose the rows
            log("%s: %s" % (srv.name, str(e).split("\n", 1)[0]))
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return r


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------

def _f(v, digits=0):
    if v is None:
        return "-"
    if isinstance(v, float):
        return "{:,.{}f}".format(v, digits)
    return "{:,}".format(v)


def _lat(w):
    if not w or not w.get("count"):
        return "-"
    return "%s / %s / %s / %s (%d gets)" % (_f(w["p50"]), _f(w["p99"]), _f(w["p999"]),
                                            _f(w["max"]), w["count"])


def render(runs, meta):
    cols = ["%s N=%s" % (r["kind"], _f(r["n"])) for r in runs]
    lines = ["# Scale profile (issue 20): %s" % meta["date"], "",
             "Command: `%s`; host %s, %s cores; wall %.0f s." % (
                 meta["cmdline"], meta["host"], meta["cores"], meta["elapsed_s"]), "",
             "Latencies in microseconds, p50 / p99 / p99.9 / max.  `load` = 1-minute load "
             "average when the row started (the machine is shared).", "",
             "| row | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]

    def row(name, fn):
        vals = []
        for r in runs:
            try:
                vals.append(fn(r))
            except (KeyError, TypeError, ZeroDivisionError):
                vals.append("-")
        lines.append("| %s | %s |" % (name, " | ".join(vals)))

    row("load [creates/s]", lambda r: "%s (load %s)" % (_f(r["load"]["creates_per_s"]),
                                                         r["load"]["loadavg"][0]))
    row("load: CPU s, loader / server", lambda r: "%s / %s (%sx)" % (
        _f(r["load"]["loader_cpu_s"], 2), _f(r["load"]["server_cpu_s"], 2),
        _f(r["load"]["loader_cpu_s"] / r["load"]["server_cpu_s"], 2)))
    row("load: server CPU per create [us]", lambda r: _f(r["load"]["server_cpu_us_per_create"], 2))
    row("load: server thread waiting for a CPU, most [% of the window]", lambda r: _f(
        100.0 * r["load"]["server_thread_run_queue_wait_max_s"] / r["load"]["window_s"], 0))
    row("load: other processes' CPU [cores], before / during", lambda r: "%s / %s" % (
        _f(r["load"]["busy_cores_before"], 2), _f(r["load"]["other_cpu_util"], 2)))
    row("RSS after load [MiB]", lambda r: _f(r["rss_after_load"] / 1048576.0, 1))
    row("bytes per znode (RSS delta / N)", lambda r: _f(r["bytes_per_znode"], 1))
    row("snapshot of the whole tree [s]", lambda r: _f(r["snapshot"]["seconds"], 2))
    row("get 1x1 without snapshot", lambda r: _lat(r["snapshot"]["baseline"]))
    row("get 1x1 during snapshot", lambda r: _lat(r["snapshot"]["during"]))
    row("p99.9 during / without", lambda r: _f(r["snapshot"]["p999_ratio"], 2) + "x")
    row("restart after SIGKILL [s]", lambda r: "%s (load %s)" % (_f(r["restart"]["ready_s"], 2),
                                                                  r["restart"]["loadavg"]))
    row("snapshot file [MiB]", lambda r: _f(r["restart"]["snapshot_bytes"] / 1048576.0, 1))
    row("wide: children under one parent", lambda r: _f(r["wide"]["children"]))
    row("wide: create [creates/s]", lambda r: _f(r["wide"]["creates_per_s"]))
    row("wide: getChildren", lambda r: (
        "err %d, session %s" % (r["wide"]["getchildren_err"],
                                "alive" if r["wide"]["session_alive_after"] else "LOST")
        if r["wide"].get("getchildren_err") else
        "%s names, %s bytes, %s s" % (_f(r["wide"]["getchildren_names"]),
                                      _f(r["wide"]["getchildren_bytes"]),
                                      _f(r["wide"]["getchildren_s"], 3))
        if "getchildren_err" in r["wide"] else r["wide"]["getchildren_exception"]))
    row("wide: delete all [deletes/s]", lambda r: _f(r["wide"]["deletes_per_s"]))
    row("wide: get 1x1 before deleting", lambda r: _lat(r["wide"]["baseline"]))
    row("wide: get 1x1 while deleting", lambda r: _lat(r["wide"]["during_delete"]))
    row("fan-out: watchers", lambda r: _f(r["fanout"]["watchers"]))
    row("fan-out: setData to last event [us]", lambda r: (
        json.dumps(r["fanout"]["result"]) if "result" in r["fanout"] else "error"))
    row("fan-out: server syscalls per event", lambda r: _f(r["fanout"]["syscalls_per_event"], 2))
    lines += ["", "Floor for memory: %d bytes per znode (100 data + 6 name + 60 of Stat that "
              "must be kept)." % FLOOR_BYTES]
    errs = ["- %s N=%s: %s" % (r["kind"], r["n"], r["error"]) for r in runs if r.get("error")]
    if errs:
        lines += ["", "Errors:"] + errs
    return "\n".join(lines) + "\n"


def check(runs, prof):
    """Problems with a run (the smoke test fails on any)."""
    out = []
    rows = [k for k in ROWS if k in prof["rows"] and prof.get(k, True)]
    for r in runs:
        if r.get("error"):
            out.append("%s: %s" % (r["kind"], r["error"]))
            continue
        for k in rows:
            if k not in r:
                out.append("%s: row %s missing" % (r["kind"], k))
        if "snapshot" in rows and r.get("snapshot", {}).get("during", {}).get("count", 0) == 0:
            out.append("%s: no gets inside the snapshot window" % r["kind"])
        w = r.get("wide", {})
        if w and (w.get("delete_errors") or w.get("create_errors")):
            out.append("%s: wide create/delete errors" % r["kind"])
        if w and not w.get("session_alive_after"):
            out.append("%s: session lost after getChildren" % r["kind"])
        if r.get("fanout", {}).get("error"):
            out.append("%s: fanout: %s" % (r["kind"], r["fanout"]["error"]))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description="zkd at scale (issue 20)")
    ap.add_argument("--smoke", action="store_true", help="tiny N, seconds; checks its own output")
    ap.add_argument("-n", type=int, help="znodes for zkd (full default 10,000,000)")
    ap.add_argument("--apache-n", type=int, help="N for the side-by-side run of both servers "
                    "(0: none; full default 1,000,000)")
    ap.add_argument("--wide", type=int, help="children under one parent (0: skip the row)")
    ap.add_argument("--fanout", type=int, help="watchers on one node (0: skip the row)")
    ap.add_argument("--apache-heap", help="Apache -Xmx (default ~900 bytes per znode, >= 1g)")
    ap.add_argument("--only", choices=["zkd", "apache"])
    ap.add_argument("--snap-count", type=int, metavar="N",
                    help="snapCount for both servers (default theirs, 100,000).  At 10M znodes "
                    "Apache writes a snapshot every ~100,000 creates and keeps them all "
                    "(autopurge is off): ~90 GB of disk; 2,000,000 keeps it to ~6 GB")
    ap.add_argument("--quiet-wait", type=float, default=0.0, metavar="S",
                    help="before each load row, wait up to S seconds until other processes use "
                    "under --quiet-below cores (the machine is shared)")
    ap.add_argument("--quiet-below", type=float, default=0.3, metavar="CORES")
    ap.add_argument("--rows", default=",".join(ROWS),
                    help="comma-separated rows to run (default all; load always runs)")
    ap.add_argument("--out", help="report path (.json next to it)")
    ap.add_argument("--workdir", help="where data dirs go (default $TMPDIR)")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args(argv)

    prof = dict(PROFILES["smoke" if args.smoke else "full"])
    for k in ("n", "apache_n", "wide", "fanout"):
        if getattr(args, k) is not None:
            prof[k] = getattr(args, k)
    if args.snap_count:
        prof["cfg"] = dict(prof["cfg"], snapCount=str(args.snap_count))
    B.QUIET.update(max_wait_s=args.quiet_wait, threshold=args.quiet_below)
    prof["rows"] = ["load"] + [k for k in args.rows.split(",") if k and k != "load"]
    bad = [k for k in prof["rows"] if k not in ROWS]
    if bad:
        ap.error("unknown rows: %s (known: %s)" % (", ".join(bad), ", ".join(ROWS)))

    def on_term(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_term)

    plan = []
    if prof["apache_n"] and prof["apache_n"] != prof["n"]:
        plan += [("zkd", prof["apache_n"]), ("apache", prof["apache_n"])]
    elif prof["apache_n"]:
        plan += [("apache", prof["apache_n"])]
    plan += [("zkd", prof["n"])]
    if args.only:
        plan = [p for p in plan if p[0] == args.only]
    if any(k == "apache" for k, _n in plan) and B.BenchApache.missing_reason():
        log("Apache skipped: " + B.BenchApache.missing_reason())
        plan = [p for p in plan if p[0] != "apache"]

    t0 = time.monotonic()
    base = tempfile.mkdtemp(prefix="zk-scale-", dir=args.workdir)
    runs = []
    try:
        for kind, n in plan:
            log("%s: N=%d" % (kind, n))
            runs.append(run_one(kind, n, prof, args, base))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    meta = {"date": datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC"),
            "host": platform.node(), "cores": os.cpu_count(),
            "cmdline": "bench/scale.py" + "".join(" " + a for a in (argv or sys.argv[1:])),
            "elapsed_s": time.monotonic() - t0}
    text = render(runs, meta)
    out = args.out
    if not out:
        if args.smoke:
            out = os.path.join(tempfile.mkdtemp(prefix="zk-scale-report-"), "scale.md")
        else:
            out = os.path.join(BENCH_DIR, "results", "%s-%s-scale.md" % (
                datetime.date.today().isoformat(), platform.node()))
    with open(out, "w") as f:
        f.write(text)
    with open(os.path.splitext(out)[0] + ".json", "w") as f:
        json.dump({"meta": meta, "prof": prof, "runs": runs}, f, indent=1)
    sys.stdout.write(text)
    log("report: %s" % out)
    problems = check(runs, prof)
    if problems:
        log("check failed:\n  " + "\n  ".join(problems))
        return 1
    log("scale check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
