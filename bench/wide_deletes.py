#!/usr/bin/python3
"""Deleting a wide directory with a pipelined writer, and what another client sees (issue 20).

    /usr/bin/python3 bench/wide_deletes.py --wide 100000 --reps 2          # zkd and Apache
    /usr/bin/python3 bench/wide_deletes.py --wide 1000000 --only zkd --reps 1

Per repetition and server (zkd and Apache 3.8 interleaved, fresh data dir each):

 create    W children of 100 bytes under /wide/d000, one connection, 1000 in flight.
 probe     another connection, one getData of /wide at a time, for `--baseline-s`
           seconds (quiet), then all through the delete phase.
 delete    all W children, one connection, `--window` deletes in flight (default 1000):
           deletes/s.  With --cycles K the children are created and deleted K times and
           the probe's delete windows are pooled (a short phase has few samples).
 single    one client, 1000 pipelined deletes, no probe (--single W2 children first):
           the pipelined writer's own throughput, for the fairness cap's cost.

Reports the probe's p50/p99/p99.9/max quiet and during the deletes, their ratio, and the
server's CPU seconds in the delete phase.  The machine is shared: the load average is
recorded at the start and end of every phase.  Output: markdown on stdout, JSON with --json.
"""
import argparse
import json
import os
import shutil
import struct
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(BENCH_DIR))
sys.path.insert(0, BENCH_DIR)

import bench as B  # noqa: E402
import loader  # noqa: E402
import scale  # noqa: E402

WIDE_ROOT = b"/wide"
PARENT = WIDE_ROOT + b"/d000"
OP_DELETE = 2


def log(msg):
    sys.stderr.write("[wide-deletes %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


class Probe(scale.Probe):
    """scale.Probe's windows, on a probe that reads /wide (no /scale tree here)."""

    def windows(self, spans):
        """Latency summary (us) of the gets sent inside any of `spans`."""
        v = sorted(lat for t, lat in zip(self.times, self.lats)
                   if any(a <= t <= b for a, b in spans))
        if not v:
            return {"count": 0}
        return {"count": len(v), "p50": loader.percentile(v, 50), "p99": loader.percentile(v, 99),
                "p999": loader.percentile(v, 99.9), "max": v[-1],
                "window_s": sum(b - a for a, b in spans)}

    def __init__(self, port, workdir):
        super().__init__(port, 0, 0, workdir, paths=[WIDE_ROOT])


def deletes(port, w, window):
    bodies = ((OP_DELETE, loader.jstr(b"%s/n%05d" % (PARENT, c)) + struct.pack(">i", -1))
              for c in range(w))
    return scale.pipelined(port, bodies, window)


def fsyncs(srv):
    """The server's count of log fsyncs (mntr zk_cnt_fsynctime), or None."""
    try:
        for line in srv.four_letter("mntr").splitlines():
            k, _t, v = line.partition("\t")
            if k == "zk_cnt_fsynctime":
                return int(v)
    except Exception:  # noqa: BLE001 (a server without mntr: no count)
        return None
    return None


def cpu_s(pid):
    u, s, _c = B.proc_cpu(pid)
    return u + s


def one(label, args, base):
    """`label`: "zkd", "apache", or "zkd key=value" (a zkd with that zoo.cfg setting)."""
    kind, _sp, setting = label.partition(" ")
    workdir = tempfile.mkdtemp(prefix="%s-wide-" % kind, dir=base)
    prof = dict(scale.PROFILES["full"])
    k, _eq, v = setting.partition("=")
    if setting and k != "binary":
        prof["cfg"] = dict(prof["cfg"], **{k: v})
    srv = scale.make_server(kind, workdir, prof, args.apache_heap)
    if kind == "zkd" and (args.zkd_binary or k == "binary"):
        srv.binary = v if k == "binary" else args.zkd_binary
    r = {"kind": label, "children": args.wide}
    try:
        B.start_timed(srv, timeout=300)
        la = B.loadavg()
        lr = loader.load("127.0.0.1", srv.port, args.wide, root=WIDE_ROOT, parents=1,
                         size=100, conns=1, window=1000)
        r["create"] = {"per_s": lr["ops_per_s"], "errors": lr["errors"], "load": la}
        probe = Probe(srv.port, workdir)
        time.sleep(args.baseline_s)
        t_quiet = time.monotonic()
        phases, ops, errors, cpu, nf, la0 = [], 0, 0, 0.0, 0, B.loadavg()
        for cycle in range(args.cycles):
            if cycle:  # the children again, outside the measured windows
                loader.load("127.0.0.1", srv.port, args.wide, root=WIDE_ROOT, parents=1,
                            size=100, conns=1, window=1000)
            t_del, c0, f0 = time.monotonic(), cpu_s(srv.pid), fsyncs(srv)
            dr = deletes(srv.port, args.wide, args.window)
            phases.append((t_del, time.monotonic()))
            cpu += cpu_s(srv.pid) - c0
            f1 = fsyncs(srv)
            nf = None if f0 is None or f1 is None or nf is None else nf + f1 - f0
            ops += dr["ops"]
            errors += dr["errors"]
        probe.finish()
        r["delete"] = {"per_s": ops / sum(b - a for a, b in phases), "errors": errors,
                       "server_cpu_s": cpu, "cycles": args.cycles, "fsyncs": nf,
                       "load": [la0, B.loadavg()]}
        r["probe_quiet"] = probe.window(probe.t0 + 0.2, t_quiet)
        r["probe_deleting"] = probe.windows(phases)
        if args.single:
            loader.load("127.0.0.1", srv.port, args.single, root=WIDE_ROOT, parents=1,
                        size=100, conns=1, window=1000)
            t0 = time.monotonic()
            c0, f0 = cpu_s(srv.pid), fsyncs(srv)
            sr = deletes(srv.port, args.single, args.window)
            r["single"] = {"per_s": sr["ops"] / (time.monotonic() - t0), "errors": sr["errors"],
                           "server_cpu_s": cpu_s(srv.pid) - c0, "load": B.loadavg(),
                           "fsyncs": None if f0 is None else fsyncs(srv) - f0}
        log("%s: %s" % (kind, json.dumps(r)))
    finally:
        srv.close()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return r


def ms(v):
    return "-" if v is None else "%.1f" % (v / 1000.0)


def render(runs, cmd, args):
    out = ["Command: `%s`" % cmd, "",
           "| rep | server | deletes/s | server CPU s | probe quiet p50/p99/p99.9/max ms "
           "| probe deleting p50/p99/p99.9/max ms (gets) | p99.9 ratio | deletes per fsync "
           "| single writer deletes/s (server CPU us per delete, deletes per fsync) | load |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for rep, r in runs:
        q, d = r["probe_quiet"], r["probe_deleting"]
        ratio = d["p999"] / q["p999"] if q.get("p999") and d.get("p999") else None
        sg = r.get("single")
        out.append("| %d | %s | %.0f | %.2f | %s | %s | %s | %s | %s | %s |" % (
            rep, r["kind"], r["delete"]["per_s"], r["delete"]["server_cpu_s"],
            "/".join(ms(q.get(k)) for k in ("p50", "p99", "p999", "max")),
            "/".join(ms(d.get(k)) for k in ("p50", "p99", "p999", "max")) + " (%d)" % d["count"],
            "-" if ratio is None else "%.1fx" % ratio,
            "%.0f" % (r["delete"]["per_s"] and
                      r["children"] * r["delete"]["cycles"] / r["delete"]["fsyncs"])
            if r["delete"].get("fsyncs") else "-",
            "%.0f (%.1f, %s)" % (sg["per_s"], sg["server_cpu_s"] * 1e6 / args.single,
                                 "%.0f" % (args.single / sg["fsyncs"]) if sg.get("fsyncs") else "-")
            if sg else "-",
            "%s -> %s" % (r["delete"]["load"][0], r["delete"]["load"][1])))
    return "\n".join(out) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wide", type=int, default=100000)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--window", type=int, default=1000)
    ap.add_argument("--cycles", type=int, default=1,
                    help="create/delete the W children this many times (probe windows pooled)")
    ap.add_argument("--baseline-s", type=float, default=5.0)
    ap.add_argument("--single", type=int, default=0, help="children for the single-writer row")
    ap.add_argument("--only", choices=["zkd", "apache"])
    ap.add_argument("--zkd-also", action="append", default=[], metavar="KEY=VALUE",
                    help="also run a zkd with this zoo.cfg setting, or binary=PATH: another "
                    "zkd build (A/B in one run)")
    ap.add_argument("--apache-heap", default="1g")
    ap.add_argument("--zkd-binary", help="another zkd build (e.g. an instrumented one)")
    ap.add_argument("--json")
    ap.add_argument("--workdir")
    ap.add_argument("--keep", action="store_true", help="keep data dirs and server logs")
    args = ap.parse_args(argv)
    kinds = [k for k in ("zkd", "apache") if args.only in (None, k)]
    if "zkd" in kinds:
        kinds[1:1] = ["zkd " + kv for kv in args.zkd_also]
    if "apache" in kinds and B.BenchApache.missing_reason():
        log("Apache skipped: " + B.BenchApache.missing_reason())
        kinds.remove("apache")
    base = tempfile.mkdtemp(prefix="zk-wide-del-", dir=args.workdir)
    runs = []
    try:
        for rep in range(args.reps):
            order = kinds if rep % 2 == 0 else kinds[::-1]
            for kind in order:
                runs.append((rep + 1, one(kind, args, base)))
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    cmd = "bench/wide_deletes.py" + "".join(" " + a for a in (argv or sys.argv[1:]))
    sys.stdout.write(render(runs, cmd, args))
    if args.json:
        with open(args.json, "w") as f:
            json.dump([dict(r, rep=rep) for rep, r in runs], f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
