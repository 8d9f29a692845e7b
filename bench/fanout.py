#!/usr/bin/python3
"""Watch fan-out at scale (issue 20): N sessions watch one node, one setData, all notified.

    /usr/bin/python3 bench/fanout.py --case zkd:single:10000 --case apache:single:10000
    /usr/bin/python3 bench/fanout.py --case zkd:1+5:100000:local --rounds 3
    /usr/bin/python3 bench/fanout.py --smoke        # 200 watchers, leader + observer, counts only

A case is KIND:LAYOUT:N[:local][:KEY=VALUE...]: KIND zkd or apache; LAYOUT `single` (one
standalone server) or `P+O` (an ensemble of P participants and O observers on loopback,
tests/lib/ensemble.py, with tickTime 2000); N watchers, spread round-robin over every member;
`local` sets localSessionsEnabled=true on every member (sessions are then created by the member
that accepted them, with no createSession txn through the leader); KEY=VALUE adds a zoo.cfg line
(e.g. zkd:single:19000:notifyWritesPerTurn=0, zkd's fan-out written in one loop turn as before
server/flush.h).  --repeat R runs the whole case list R times, interleaved (A B A B, not A A B B).
--pin A:B (CPU lists, e.g. 0:1) stands in for watchers on machines of their own: the servers, the
probe and the setter run on CPUs A, the generators on CPUs B.  Without it the generators' reading
of N sockets shares every CPU with the probe, and what the probe sees is mostly that.

One watcher is one session (a connection) with one data watch (exists) on /fan: Apache keeps one
watch per (path, connection), so 100,000 watchers are 100,000 connections.  RLIMIT_NOFILE here is
20,000 (hard) by default, so each member holds at most ~19,900 of them, unless the limit is raised
for the whole run (root: `ulimit -n 120000` in the shell that starts fanout.py; the servers inherit
it, fs.nr_open permitting), e.g. zkd:single:100000.  The generator (bench/fanout.c) is started as
ceil(N / 19,000) processes, each from its own loopback address (127.0.0.1+i: one address reaches
one server port from at most 28,232 local ports).

Per round (--rounds, default 4): all N armed; one setData on /fan; every generator stamps each
session's first event (CLOCK_MONOTONIC, the clock of time.monotonic_ns here).  Odd rounds run the
get probe (one session on the first member, one getData at a time): --baseline-s seconds before
the set, then through the fan-out.  Even rounds pause the probe and attach
`perf stat -e raw_syscalls:sys_enter` to every server process from --attach-s before the setData
until every generator has reported.  Reported:

 delivery    setData sent -> each session's event: p50 / p99 / max over all N (and all rounds);
             notified = sessions with an event, dup = sessions with more than one (must be 0)
 probe       get 1x1 p99 of the baseline windows; of the gets sent inside [setData, last event]
             (few: the fan-out is one loop turn, a get waits behind it); of the gets sent in
             the second after the setData (the "other clients' p99" of issue 20); p50 / p99 /
             max of the gets sent during the re-arms (every round: from the generators'
             reports, after which each session sends its exists again, to "armed"), and
             per round in the JSON (rounds[].probe_windows; rounds[].rearm_cpu_ms: each
             server's CPU time, user + system, over the re-arm)
 syscalls    per server: all its syscalls in that window divided by the notifications it sent
             (its share of the sessions): an upper bound, the window also holds its
             sessions' pings (N / 13.3 s: every session pings each third of its 40 s timeout)
             and, on an ensemble, the peers' traffic; the floor is 1 (a write per session)

Writes the report to --out (markdown, and .json next to it).
"""
import argparse
import datetime
import json
import math
import multiprocessing
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH_DIR)
sys.path.insert(0, ROOT)
sys.path.insert(0, BENCH_DIR)

from tests.lib.paths import BUILD_BIN  # noqa: E402
from tests.lib.ensemble import Ensemble  # noqa: E402

import bench as B  # noqa: E402
import loader  # noqa: E402

PATH = b"/fan"
PER_PROCESS = 19000
OP_SETDATA = 5
SERVER_CFG = {"maxClientCnxns": "0", "znode.container.checkIntervalMs": None,
              # sessions of 40 s: a ping every ~13 s each (100,000 sessions: ~7,500 pings/s)
              "maxSessionTimeout": "60000"}
ENSEMBLE_CFG = {"tickTime": "2000", "initLimit": "30", "syncLimit": "10"}


def log(msg):
    sys.stderr.write("[fanout %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


# --------------------------------------------------------------------------
# Servers: one standalone, or an ensemble; both give [(name, pid, port)]
# --------------------------------------------------------------------------

class Deployment:
    def __init__(self, kind, layout, local, workdir, heap, extra=None):
        self.kind, self.layout, self.local = kind, layout, local
        cfg = dict(SERVER_CFG)
        cfg.update(extra or {})
        self.ens = self.single = None
        if layout == "single":
            if kind == "zkd":
                self.single = B.BenchZkd(workdir, os.path.join(BUILD_BIN, "zkd"), None, cfg=cfg)
            else:
                self.single = B.BenchApache(workdir, None, heap, cfg=cfg)
            self.single.start(timeout=120)
        else:
            p, o = (int(x) for x in layout.split("+"))
            cfg.update(ENSEMBLE_CFG)
            if local:
                cfg["localSessionsEnabled"] = "true"
            self.ens = Ensemble(workdir, kind, participants=p, observers=o, cfg=cfg,
                                apache_heap=heap)
            self.ens.start(timeout=180)

    def members(self):
        if self.single:
            return [("%s" % self.kind, self.single.pid, self.single.port)]
        return [("%s-%d" % (self.kind, sid), self.ens[sid].pid, self.ens.client_ports[sid])
                for sid in self.ens.sids]

    def close(self):
        if self.single:
            self.single.close()
        if self.ens:
            self.ens.close()


# --------------------------------------------------------------------------
# Generators (bench/fanout.c), one per <= PER_PROCESS sessions
# --------------------------------------------------------------------------

class Generators:
    def __init__(self, n, ports, workdir, threads, cpus=None):
        self.procs, self.outs, self.sizes = [], [], []
        pin = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
        k = max(1, math.ceil(n / PER_PROCESS))
        for i in range(k):
            size = n // k + (i < n % k)
            # rotate the host list so that sessions spread evenly over the members
            rot = ports[i % len(ports):] + ports[:i % len(ports)]
            out = os.path.join(workdir, "events-%d.bin" % i)
            cmd = [os.path.join(BUILD_BIN, "fanout"), "--conns", str(size), "--out", out,
                   "--threads", str(threads), "--path", PATH.decode(),
                   "--hosts", ",".join("127.0.0.1:%d" % p for p in rot),
                   # one loopback address each: 28,232 local ports per address and server
                   # port would not reach 100,000 sessions on one server (bench/fanout.c)
                   "--source", "127.0.0.%d" % (1 + i)]
            self.procs.append(subprocess.Popen(cmd, stdin=subprocess.PIPE, preexec_fn=pin,
                                               stdout=subprocess.PIPE, text=True, bufsize=1))
            self.outs.append(out)
            self.sizes.append(size)
        self.rot = [[ports[(j + i) % len(ports)] for j in range(len(ports))]
                    for i in range(k)]

    def expect(self, word, timeout):
        """Reads one line from every generator; each must start with `word`."""
        lines = []
        for p in self.procs:
            box = []
            t = threading.Thread(target=lambda: box.append(p.stdout.readline()))
            t.start()
            t.join(timeout)
            line = box[0] if box else ""
            if not line.startswith(word):
                raise RuntimeError("generator said %r, expected %s" % (line.strip() or
                                                                        "nothing", word))
            lines.append(line.split())
        return lines

    def send(self, text):
        for p in self.procs:
            p.stdin.write(text + "\n")
            p.stdin.flush()

    def events(self):
        """Per generator: [(t_ns, port)] of each session's event (t 0: none)."""
        out = []
        for gi, path in enumerate(self.outs):
            with open(path, "rb") as f:
                raw = f.read()
            ts = struct.unpack("<%dQ" % (len(raw) // 8), raw)
            rot = self.rot[gi]
            out.append([(t, rot[i % len(rot)]) for i, t in enumerate(ts)])
        return out

    def close(self):
        for p in self.procs:
            try:
                p.stdin.write("quit\n")
                p.stdin.flush()
            except OSError:
                pass
        for p in self.procs:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


# --------------------------------------------------------------------------
# The get probe and syscall counts
# --------------------------------------------------------------------------

class Probe:
    """One session, one getData of /fan at a time, (send time ns, latency us) each.

    It runs in a process of its own, as another client would: a thread of the bench would
    wait for the GIL whenever the bench's own threads run Python (reading the generators'
    reports, the events), and its gets would look slow for that."""

    def __init__(self, port):
        ctx = multiprocessing.get_context("fork")
        self.stop_evt = ctx.Event()
        self.paused = ctx.Event()  # set: no gets (the syscall-counting rounds)
        self._results, sender = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=self._run, args=(port, sender), daemon=True)
        self.samples = []
        self.error = None
        self.joined = False

    def start(self):
        self.proc.start()

    def join(self, timeout):
        """Takes the samples once stop_evt is set (the process sends them as it ends)."""
        if self.joined:
            return
        self.joined = True
        try:
            if self._results.poll(timeout):
                self.samples, self.error = self._results.recv()
        except EOFError:
            self.error = "the probe process ended without its samples"
        self.proc.join(timeout)
        if self.proc.is_alive():
            self.proc.kill()

    def _run(self, port, sender):
        samples, error = [], None
        try:
            s, _sid, _to = loader.connect("127.0.0.1", port, sock_timeout=60.0)
        except Exception as e:  # noqa: BLE001 - reported in the result
            sender.send((samples, str(e)))
            return
        body = loader.get_body(PATH)
        xid = 1
        try:
            while not self.stop_evt.is_set():
                if self.paused.is_set():
                    time.sleep(0.005)
                    continue
                t0 = time.monotonic_ns()
                _z, err, _b = loader.call(s, xid, loader.OP_GETDATA, body)
                t1 = time.monotonic_ns()
                if err:
                    raise loader.ProtocolError("probe get: err %d" % err)
                samples.append((t0, (t1 - t0) / 1000.0))
                xid += 1
        except Exception as e:  # noqa: BLE001
            error = str(e)
        finally:
            loader.close_session(s)
            sender.send((samples, error))

    def window(self, spans):
        return sorted(lat for t, lat in self.samples if any(a <= t <= b for a, b in spans))


def cpu_s(pid):
    """CPU seconds (user + system) a process has used so far (/proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summary(v):
    if not v:
        return {"count": 0}
    return {"count": len(v), "p50": loader.percentile(v, 50), "p99": loader.percentile(v, 99),
            "max": v[-1]}


def perf_start(pids):
    return [subprocess.Popen(["perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "-p",
                              str(pid)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True) for pid in pids]


def perf_stop(procs):
    """[(syscalls, seconds the counter ran)] per process; (0, None) for "<not counted>" (the
    process never ran while perf watched), None if perf said nothing usable."""
    out = []
    for p in procs:
        p.send_signal(signal.SIGINT)
        _o, err = p.communicate(timeout=60)
        m = re.search(r"^(\d+|<not counted>),[^,]*,raw_syscalls:sys_enter,(\d*)", err, re.M)
        if not m:
            out.append(None)
        elif m.group(1) == "<not counted>":
            out.append((0, None))
        else:
            out.append((int(m.group(1)), int(m.group(2)) / 1e9 if m.group(2) else None))
    return out


# --------------------------------------------------------------------------
# One case
# --------------------------------------------------------------------------

def make_fan(port):
    s, _sid, _to = loader.connect("127.0.0.1", port)
    try:
        _z, err, _b = loader.call(s, 1, loader.OP_CREATE, loader.create_body(PATH, b"0"))
        if err not in (0, -110):
            raise RuntimeError("create %s: err %d" % (PATH, err))
    finally:
        loader.close_session(s)


def run_case(spec, args, base):
    parts = spec.split(":")
    kind, layout, n = parts[0], parts[1], int(parts[2])
    local = "local" in parts[3:]
    extra = dict(p.split("=", 1) for p in parts[3:] if "=" in p)
    workdir = tempfile.mkdtemp(prefix="%s-%s-%d-" % (kind, layout, n), dir=base)
    r = {"case": spec, "kind": kind, "layout": layout, "watchers": n, "local_sessions": local,
         "rounds": []}
    dep = gens = probe = None
    perf_ok = B.perf_usable() and not args.smoke
    try:
        dep = Deployment(kind, layout, local, workdir, args.apache_heap, extra)
        members = dep.members()
        r["members"] = [m[0] for m in members]
        ports = [m[2] for m in members]
        make_fan(ports[0])
        la = B.loadavg()
        t0 = time.monotonic()
        gens = Generators(n, ports, workdir, args.threads, args.pin and args.pin[1])
        gens.expect("armed", args.connect_timeout)
        r["connect_s"] = time.monotonic() - t0
        r["loadavg"] = [la, B.loadavg()]
        r["rss_mib"] = {m[0]: round(B.rss(m[1]) / 1048576.0, 1) for m in members}
        log("%s: %d sessions armed in %.1f s (load %s)" % (spec, n, r["connect_s"], la))
        probe = Probe(ports[0])
        probe.start()
        setter, _sid, _to = loader.connect("127.0.0.1", ports[0], sock_timeout=120.0)
        base_spans, fan_spans, sec_spans, rearm_spans = [], [], [], []
        round_spans = []
        deliveries = []
        xid = 1
        for rnd in range(1, args.rounds + 1):
            # Rounds alternate: the probe runs in odd ones (its latency is what they
            # measure); even ones pause it and count syscalls (so the probe's own gets,
            # which stop while it waits behind the fan-out, do not skew the background).
            counting = perf_ok and rnd % 2 == 0
            if counting:
                probe.paused.set()
                time.sleep(0.05)
            tb = time.monotonic_ns()
            if not counting:
                time.sleep(args.baseline_s)
                base_spans.append((tb, time.monotonic_ns()))
            pf = perf_start([m[1] for m in members]) if counting else None
            time.sleep(args.attach_s if pf else 0)  # perf attaches
            t_set = time.monotonic_ns()
            _z, err, _b = loader.call(setter, xid, OP_SETDATA,
                                      loader.set_body(PATH, b"%d" % rnd))
            xid += 1
            if err:
                raise RuntimeError("setData: err %d" % err)
            gens.send("collect %d" % args.collect_timeout)
            done = gens.expect("done", args.collect_timeout + 60)
            t_done = time.monotonic_ns()
            cpu_done = [cpu_s(m[1]) for m in members]
            fan = perf_stop(pf) if pf else None
            got = sum(int(d[2]) for d in done)
            dups = sum(int(d[3]) for d in done)
            ev = [e for g in gens.events() for e in g]
            lat = sorted((t - t_set) / 1000.0 for t, _p in ev if t)
            t_last = max((t for t, _p in ev if t), default=t_set)
            fan_s = (t_last - t_set) / 1e9
            if not counting:
                fan_spans.append((t_set, t_last))
                sec_spans.append((t_set, t_set + 1_000_000_000))
            deliveries += lat
            out = {"round": rnd, "notified": got, "dups": dups, "last_event_ms": fan_s * 1e3,
                   "delivery": summary(lat), "probe": not counting, "loadavg": B.loadavg()}
            if fan and None not in fan:
                per_port = {p: 0 for p in ports}
                for _t, p in (e for e in ev if e[0]):
                    per_port[p] += 1
                # Everything each server did from perf's attach (args.attach_s before the
                # set) to the generators' reports: the notifications, plus the pings of its
                # sessions (N / 13.3 s) and the peers' traffic in that window.  An upper bound.
                out["syscalls"] = {name: {"window": f, "events": per_port[port],
                                          "per_event": f / max(1, per_port[port])}
                                   for (name, _pid, port), (f, _s) in zip(members, fan)}
            r["rounds"].append(out)
            log("%s round %d: %d/%d notified (%d dup), last %.0f ms, p50 %s p99 %s us%s"
                % (spec, rnd, got, n, dups, fan_s * 1e3, out["delivery"].get("p50"),
                   out["delivery"].get("p99"),
                   " syscalls/event %s" % {k: round(v["per_event"], 2)
                                           for k, v in out.get("syscalls", {}).items()}))
            probe.paused.clear()
            gens.expect("armed", args.connect_timeout)
            # The re-arm: every session sent its exists again right after its report
            # (bench/fanout.c), N requests on N connections at once.
            rearm_spans.append((t_done, time.monotonic_ns()))
            out["rearm_cpu_ms"] = {m[0]: round((cpu_s(m[1]) - c0) * 1e3)
                                   for m, c0 in zip(members, cpu_done)}
            round_spans.append((out, base_spans[-1:] if not counting else [],
                                fan_spans[-1:] if not counting else [], rearm_spans[-1:]))
            time.sleep(0.3)  # the probe's next baseline starts clean of the re-arm burst
        loader.close_session(setter)
        probe.stop_evt.set()
        probe.join(30)
        deliveries.sort()
        r["delivery"] = summary(deliveries)
        r["probe_baseline"] = summary(probe.window(base_spans))
        r["probe_during"] = summary(probe.window(fan_spans))
        r["probe_second"] = summary(probe.window(sec_spans))
        r["probe_rearm"] = summary(probe.window(rearm_spans))
        for out, bs, fs, rs in round_spans:
            out["probe_windows"] = {"baseline": summary(probe.window(bs)),
                                    "during": summary(probe.window(fs)),
                                    "rearm": summary(probe.window(rs)),
                                    "rearm_ms": (rs[0][1] - rs[0][0]) / 1e6}
            log("%s round %d probe: %s" % (spec, out["round"], out["probe_windows"]))
        if probe.error:
            r["probe_error"] = probe.error
        b, d = r["probe_baseline"], r["probe_during"]
        if b.get("p99") and d.get("p99"):
            r["probe_p99_ratio"] = d["p99"] / b["p99"]
        if b.get("p99") and r["probe_second"].get("p99"):
            r["probe_second_p99_ratio"] = r["probe_second"]["p99"] / b["p99"]
    except Exception as e:  # keep what was measured
        r["error"] = "%s: %s" % (type(e).__name__, e)
        log("%s failed: %s" % (spec, r["error"]))
        if dep and dep.single:
            log(dep.single.describe_log(30))
        if dep and dep.ens:
            for sid in dep.ens.sids:
                m = dep.ens[sid]  # Apache's own log is not its launcher's stdout log
                with open(getattr(m, "zk_log_path", m.log_path), errors="replace") as f:
                    bad = [ln for ln in f if re.search(r" (WARN|ERROR) |expiring|election:|"
                                                        r"closing|lost", ln)]
                log("member %d: %d WARN/ERROR/expiry/election lines; last: %s"
                    % (sid, len(bad), "".join(bad[-5:])))
    finally:
        if probe:
            probe.stop_evt.set()
            probe.join(30)
        if gens:
            gens.close()
        if dep:
            try:
                dep.close()
            except Exception as e:  # noqa: BLE001 - a slow shutdown must not lose the rows
                log("close: %s" % str(e).split("\n", 1)[0])
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return r


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------

def _f(v, d=0):
    return "-" if v is None else "{:,.{}f}".format(v, d)


def render(runs, meta):
    lines = ["# Watch fan-out (issue 20): %s" % meta["date"], "",
             "Command: `%s`; %s cores; wall %.0f s." % (meta["cmdline"], meta["cores"],
                                                       meta["elapsed_s"]), "",
             "Delivery: setData sent -> each session's notification, us, over all rounds.  "
             "Probe: get 1x1 on the first member, p99 us (x: against the baseline) in odd "
             "rounds; syscalls counted in even rounds, the probe paused.  Syscalls per "
             "event: per server, all its syscalls from perf's attach to the last report / "
             "notifications it sent (an upper bound: pings in the window count; floor 1).  "
             "load = 1-minute load average (shared machine).", "",
             "| case | members | connect s | notified / dup (per round) | delivery p50 / p99 / "
             "max us | probe p99 baseline | probe p99 in [set, last event] | probe p99 in "
             "[set, set + 1 s] | probe p50 / p99 / max in the re-arms | syscalls per event | "
             "load |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        if r.get("error") and not r["rounds"]:
            lines.append("| %s | %s | - | error: %s | | | | | | | |" % (
                r["case"], len(r.get("members", [])), r["error"][:200]))
            continue
        nd = ", ".join("%d/%d" % (x["notified"], x["dups"]) for x in r["rounds"])
        d = r.get("delivery", {})
        sc = {}
        for x in r["rounds"]:
            for name, v in x.get("syscalls", {}).items():
                sc.setdefault(name, []).append(v["per_event"])
        scs = "; ".join("%s %s" % (name, "/".join(_f(v, 2) for v in vals))
                        for name, vals in sc.items()) or "-"
        pb, pd = r.get("probe_baseline", {}), r.get("probe_during", {})
        ps, pr = r.get("probe_second", {}), r.get("probe_rearm", {})
        lines.append("| %s | %d | %s | %s | %s / %s / %s | %s | %s (%s x, %d gets) | %s (%s x, "
                     "%d gets) | %s / %s / %s (%d gets) | %s | %s |" % (
                         r["case"], len(r["members"]), _f(r.get("connect_s"), 1), nd,
                         _f(d.get("p50")), _f(d.get("p99")), _f(d.get("max")), _f(pb.get("p99")),
                         _f(pd.get("p99")), _f(r.get("probe_p99_ratio"), 2), pd.get("count", 0),
                         _f(ps.get("p99")), _f(r.get("probe_second_p99_ratio"), 2),
                         ps.get("count", 0), _f(pr.get("p50")), _f(pr.get("p99")),
                         _f(pr.get("max")), pr.get("count", 0), scs, r.get("loadavg")))
    errs = ["- %s: %s" % (r["case"], r["error"]) for r in runs if r.get("error")]
    if errs:
        lines += ["", "Errors:"] + errs
    return "\n".join(lines) + "\n"


def check(runs):
    out = []
    for r in runs:
        if r.get("error"):
            out.append("%s: %s" % (r["case"], r["error"]))
        for x in r["rounds"]:
            if x["notified"] != r["watchers"] or x["dups"]:
                out.append("%s round %d: %d of %d notified, %d dup" % (
                    r["case"], x["round"], x["notified"], r["watchers"], x["dups"]))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description="watch fan-out (issue 20)")
    ap.add_argument("--case", action="append", default=[],
                    help="KIND:LAYOUT:N[:local], e.g. zkd:single:19000, zkd:1+5:100000:local")
    ap.add_argument("--smoke", action="store_true",
                    help="zkd:1+1:200 (a leader + an observer), one round, counts only")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run the case list this many times, interleaved")
    ap.add_argument("--rounds", type=int, default=4,
                    help="odd rounds time the probe, even ones count syscalls")
    ap.add_argument("--threads", type=int, default=2, help="threads per generator process")
    ap.add_argument("--attach-s", type=float, default=1.0,
                    help="wait after starting perf before the set (it attaches slowly)")
    ap.add_argument("--baseline-s", type=float, default=1.0, help="probe window before a set")
    ap.add_argument("--connect-timeout", type=float, default=600)
    ap.add_argument("--collect-timeout", type=float, default=120)
    ap.add_argument("--apache-heap", default="1g")
    ap.add_argument("--out", help="report path (.json next to it)")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--pin", metavar="A:B", type=B.parse_pin,
                    help="the servers, the probe and the setter on CPUs A, the generators on "
                    "CPUs B (e.g. 0:1): watchers on machines of their own")
    args = ap.parse_args(argv)
    if args.pin:
        os.sched_setaffinity(0, args.pin[0])  # the servers and the probe inherit it
    if args.smoke:
        args.case = args.case or ["zkd:1+1:200"]
        args.rounds = 1
        args.baseline_s = 0
    if not args.case:
        ap.error("no --case")

    def on_term(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_term)

    t0 = time.monotonic()
    base = tempfile.mkdtemp(prefix="zk-fanout-")
    runs = []
    try:
        for spec in args.case * args.repeat:
            runs.append(run_case(spec, args, base))
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
        else:
            log("kept %s" % base)
    meta = {"date": datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC"),
            "cores": os.cpu_count(),
            "cmdline": "bench/fanout.py" + "".join(" " + a for a in (argv or sys.argv[1:])),
            "elapsed_s": time.monotonic() - t0}
    text = render(runs, meta)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
        with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
            json.dump({"meta": meta, "runs": runs}, f, indent=1)
    sys.stdout.write(text)
    problems = check(runs)
    if problems:
        log("check failed:\n  " + "\n  ".join(problems))
        return 1
    log("fan-out check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
