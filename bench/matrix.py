#!/usr/bin/python3
"""zkbench matrix: zkd vs Apache ZooKeeper 3.8, standalone and 3-member ensembles, in one run.

    /usr/bin/python3 bench/matrix.py            # full: 10 s per case -> bench/results/<date>-<host>-matrix.md
    /usr/bin/python3 bench/matrix.py --quick    # 3 s per case
    /usr/bin/python3 bench/matrix.py --smoke    # 1 s, a few cases, report in a temp file (suite)
    /usr/bin/python3 bench/matrix.py --quick --cases fanout,'set 1x1' --zkd-cfg pollSpinMicros=0
                                                # a few rows, zkd with an extra zoo.cfg key (A/B)
    /usr/bin/python3 bench/matrix.py --quick --mixed --no-standalone --no-zkfs \
        --cases 'create 8x32,set 8x32,get 8x32'  # 3-member ensembles: all zkd, all Apache, and
                                                # mixed (a zkd leader, two Apache followers)

Every case runs build/bin/zkbench (C, on libzk) against each server set with the same
durability (both fsync before acknowledging; an ensemble commits once a quorum has fsync'd), the
generator pinned to CPU 0 and every server process (all threads) to CPU 1 where the machine has
two or more, so the generator never competes with the servers for a core; the generator's own CPU
use is reported for every case.  Ensembles are tests/lib/ensemble.py's (tickTime 200, snapCount
10000); the client connects to every member (reads spread, writes forwarded to the leader).
Apache runs with only -Xmx set (zkServer.sh's way), not the test launcher's fast-start JIT flags.

Every case starts its servers afresh on empty data directories (run_set says why), warms them
up by running unmeasured until the rate is stable (warm_up), then runs measured.

Rows: latency with one client and one request in flight (p50/p99, us), throughput with 8 clients x
32 in flight (ops/s and p99), watch fan-out to 1,000 watchers (setData to last event), session
churn (connect + ephemeral + close).  The ratio column is zkd's advantage: ops/s zkd / Apache,
latency Apache / zkd.

Then the zkfs group (bench/zkfs_bench.py, skipped with --no-zkfs, alone with --zkfs-only): a zkfs
mount over a standalone zkd and over a standalone Apache: cached `cat` latency, `ls` of 100,000
children, remote change -> inotify event latency.  Every mount is unmounted (fusermount3 -u) and
every server stopped, also on failure.
"""
import argparse
import datetime
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.lib import servers as S  # noqa: E402
from tests.lib.ensemble import Ensemble, MixedEnsemble, ensemble_missing_reason  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zkfs_bench  # noqa: E402

GEN_CPU, SERVER_CPU = 0, 1

LATENCY = [("create", 1, 1), ("set", 1, 1), ("get", 1, 1)]
THROUGHPUT = [("create", 8, 32), ("set", 8, 32), ("get", 8, 32), ("mixed:90/10", 8, 32),
              ("multi", 8, 32)]
SPECIAL = [("fanout", 1, 1), ("churn", 1, 8)]

PROFILES = {
    "full": {"seconds": 10, "warmup": (15, 3, 45), "cases": LATENCY + THROUGHPUT + SPECIAL},
    "quick": {"seconds": 3, "warmup": (6, 2, 18), "cases": LATENCY + THROUGHPUT + SPECIAL},
    "smoke": {"seconds": 1, "warmup": (1, 1, 1), "cases": [("set", 1, 1), ("get", 4, 16)]},
}


def log(msg):
    sys.stderr.write("[matrix] %s\n" % msg)
    sys.stderr.flush()


def pinning():
    return (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None


def pin_tree(pid, cpu):
    """Pins a process and all its threads (a JVM has dozens) to one CPU."""
    subprocess.run(["taskset", "-a", "-p", "-c", str(cpu), str(pid)], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)


def bench_apache_command(m):
    """Apache with -Xmx only (as zkServer.sh starts it) instead of the tests' fast-start flags."""
    props = ["-D%s=%s" % kv for kv in sorted(getattr(m, "sysprops", {}).items())]
    return [m.java, "-Xmx" + m.heap, "-Djava.awt.headless=true",
            "-Dzookeeper.log.dir=" + m.workdir, "-Dlog4j.configuration=file:" + m.log4j_path,
            "-Dzookeeper.jmx.log4j.disable=true"] + props + [
            "-cp", m.classpath(), "org.apache.zookeeper.server.quorum.QuorumPeerMain", m.cfg_path]


class Servers:
    """A standalone server or a 3-member ensemble of one kind, started and pinned.  Kind "mixed"
    (ensemble3 only, issue 16): a zkd leader (memberProtocol=apache, sid 3) with two Apache 3.8
    followers."""

    def __init__(self, kind, topology, workdir, zkd_cfg=None):
        self.kind, self.topology = kind, topology
        cfg = {"maxClientCnxns": "0", "znode.container.checkIntervalMs": None}
        if kind == "zkd":
            cfg.update(zkd_cfg or {})
        if topology == "standalone":
            launcher = S.LAUNCHERS[kind]
            kw = {"cfg": cfg}
            if kind == "apache":
                kw["heap"] = "1g"
            self.single = launcher(os.path.join(workdir, "s"), **kw)
            self.members = [self.single]
            self.ensemble = None
        elif kind == "mixed":
            self.single = None
            self.ensemble = MixedEnsemble(workdir, [3], leader=3, participants=3, cfg=cfg,
                                          apache_heap="512m")
            self.members = list(self.ensemble.members.values())
        else:
            self.single = None
            self.ensemble = Ensemble(workdir, kind, participants=3, cfg=cfg, apache_heap="512m")
            self.members = list(self.ensemble.members.values())
        for m in self.members:
            if isinstance(m, S.LAUNCHERS["apache"]):
                m.command = (lambda mm=m: bench_apache_command(mm))

    @property
    def hosts(self):
        return self.single.hosts if self.single else self.ensemble.hosts

    def start(self):
        if self.single:
            self.single.start()
        else:
            self.ensemble.start()
        if pinning():
            for m in self.members:
                pin_tree(m.pid, SERVER_CPU)

    def close(self):
        if self.ensemble:
            self.ensemble.close()
        else:
            self.single.close()


# A pipelined create warm-up is counted in creates, not seconds: timed, the faster server would
# enter the measured run with a tree several times larger (zkd creates 5-8x as fast), and the
# snapshots of that larger tree would weigh on its measurement alone.
CREATE_WARMUP_PER_S = 20000


def warm_up(binary, hosts, op, clients, inflight, warmup):
    """Runs the case unmeasured for `first` seconds, then in steps of `step` seconds until two
    steps in a row agree on the rate within 10%, or `limit` seconds have gone.  A JVM measured
    cold runs at a fraction of its speed: Apache's set 8x32 went 8k, 13k, 15k, 23k, 39k, 38k
    ops/s in successive 3 s runs on a fresh server here (zkd's was flat from the first), and
    short steps can agree while the JIT is still climbing, hence the fixed first part.
    Returns the wall seconds spent."""
    first, step, limit = warmup
    by_count = op == "create" and clients * inflight > 1
    prev, spent, t0 = None, 0, time.monotonic()
    while spent < limit:
        secs = first if spent == 0 else step
        count = secs * CREATE_WARMUP_PER_S if by_count else None
        rate = zkbench(binary, hosts, op, clients, inflight, secs, count).get("ops_per_sec")
        spent += secs
        if prev and rate and abs(rate - prev) <= 0.1 * max(rate, prev):
            break
        prev = rate
    return round(time.monotonic() - t0)


def zkbench(binary, hosts, op, clients, inflight, seconds, count=None):
    cmd = [binary, "--hosts", hosts, "--op", op, "--clients", str(clients), "--inflight",
           str(inflight), "--json", "--quiet"]
    if op == "fanout":
        cmd += ["--watchers", "1000", "--count", str(max(5, seconds * 3))]
    elif count:
        cmd += ["--count", str(count)]
    else:
        cmd += ["--duration", str(seconds)]
    if pinning():
        cmd = ["taskset", "-c", str(GEN_CPU)] + cmd
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         timeout=seconds * 10 + 120)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        # zkbench exits 1 when any request failed; its JSON line says which errors.
        raise RuntimeError("zkbench %s failed (%d): %s %s" % (
            op, out.returncode, out.stderr[-500:], lines[-1][-600:] if lines else ""))
    return json.loads(lines[-1])


def run_set(binary, kind, topology, workdir, cases, seconds, warmup, zkd_cfg=None):
    """Each case gets servers of its own, started on empty data directories, so no case runs
    in the wake of another's writes: a create case leaves zkd (5-8x Apache's create rate) with
    a tree several times larger than Apache's, and its snapshots of that tree would otherwise
    land in whichever case comes next."""
    results = {}
    for n, (op, clients, inflight) in enumerate(cases):
        key = "%s %dx%d" % (op, clients, inflight)
        log("%s %s: %s" % (kind, topology, key))
        srv = Servers(kind, topology, os.path.join(workdir, "case%02d" % n), zkd_cfg)
        try:
            srv.start()
            warmed = warm_up(binary, srv.hosts, op, clients, inflight, warmup)
            results[key] = zkbench(binary, srv.hosts, op, clients, inflight, seconds)
            results[key]["warmup_s"] = warmed
        except (RuntimeError, subprocess.TimeoutExpired, S.ServerError) as e:
            log("  failed: %s" % e)
            results[key] = {"error": str(e)}
        finally:
            try:
                srv.close()
            except S.ServerError as e:
                log("  %s %s: trouble at stop: %s" % (kind, topology, e))
            shutil.rmtree(os.path.join(workdir, "case%02d" % n), ignore_errors=True)
    return results


def fmt_ops(r):
    return "%.0f" % r["ops_per_sec"] if "ops_per_sec" in r else "failed"


def fmt_lat(r, field):
    return "%d" % r[field] if field in r else "-"


def ratio(a, b):
    if not a or not b:
        return "-"
    return "%.1fx" % (a / b)


def render_mixed(results, mixed):
    """The mixed ensemble beside the all-zkd and all-Apache ones (same cases)."""
    z = results.get(("zkd", "ensemble3"), {})
    a = results.get(("apache", "ensemble3"), {})
    out = ["## Mixed 3-member ensemble: a zkd leader, two Apache 3.8 followers (issue 16)", "",
           "The client connects to every member: reads are spread over the three, writes go "
           "through the leader (forwarded by the followers).", "",
           "| case | all zkd ops/s (p50/p99 us) | mixed ops/s (p50/p99 us) | "
           "all Apache ops/s (p50/p99 us) |", "|---|---|---|---|"]
    for key in mixed:
        cells = ["%s (%s/%s)" % (fmt_ops(r), fmt_lat(r, "p50_us"), fmt_lat(r, "p99_us"))
                 if r else "-" for r in (z.get(key, {}), mixed[key], a.get(key, {}))]
        out.append("| %s | %s |" % (key, " | ".join(cells)))
    out.append("")
    return "\n".join(out)


def render(results, prof_name, seconds, info, zkfs=None):
    out = ["# zkbench matrix: zkd vs Apache ZooKeeper 3.8.0 (%s profile)" % prof_name, ""]
    out.append("%s. %d s per case; generator pinned to CPU %d, servers to CPU %d: %s. Both fsync "
               "before acknowledging; ensembles are 3 members on this one machine." % (
                   info["date"], seconds, GEN_CPU, SERVER_CPU, "yes" if info["pinned"] else "no"))
    out.append("Machine: %s (load average at the start; at the end: %s). zkd %s." % (
        info["cpu"], info.get("load_end", "-"), info["zkd"]))
    out.append("")
    for topology in ("standalone", "ensemble3"):
        z = results.get(("zkd", topology), {})
        a = results.get(("apache", topology), {})
        if not z and not a:
            continue
        out.append("## %s" % ("Standalone" if topology == "standalone" else "3-member ensemble"))
        out.append("")
        out.append("| case | zkd ops/s | zkd p50/p99 us | Apache ops/s | Apache p50/p99 us | "
                   "zkd advantage (ops/s; p50, p99) | generator CPU zkd/Apache | "
                   "warm-up s zkd/Apache |")
        out.append("|---|---|---|---|---|---|---|---|")
        for key in list(z.keys()) or list(a.keys()):
            zr, ar = z.get(key, {}), a.get(key, {})
            adv = "%s; %s, %s" % (
                ratio(zr.get("ops_per_sec"), ar.get("ops_per_sec")),
                ratio(ar.get("p50_us"), zr.get("p50_us")),
                ratio(ar.get("p99_us"), zr.get("p99_us")))
            gen = "%s/%s" % (
                "%.0f%%" % (100 * zr["generator_cpu"]) if "generator_cpu" in zr else "-",
                "%.0f%%" % (100 * ar["generator_cpu"]) if "generator_cpu" in ar else "-")
            warm = "%s/%s" % (zr.get("warmup_s", "-"), ar.get("warmup_s", "-"))
            out.append("| %s | %s | %s/%s | %s | %s/%s | %s | %s | %s |" % (
                key, fmt_ops(zr), fmt_lat(zr, "p50_us"), fmt_lat(zr, "p99_us"), fmt_ops(ar),
                fmt_lat(ar, "p50_us"), fmt_lat(ar, "p99_us"), adv, gen, warm))
        out.append("")
    mixed = results.get(("mixed", "ensemble3"))
    if mixed:
        out.append(render_mixed(results, mixed))
    out.append("fanout: 1 client sets a node 1,000 sessions watch; latency = setData to the last "
               "event; ops/s = rounds/s.  churn: connect + create ephemeral + close, 8 sessions "
               "at a time; ops/s = sessions/s.  A generator CPU near 100%% means the case measured "
               "zkbench, not the server.  Each case ran on servers started for it on empty data "
               "directories, after an unmeasured warm-up of the same case (a fixed first part, then "
               "steps until two in a row agreed on the rate within 10%%; pipelined creates counted "
               "in creates, %d per second of it, so both trees start the measured run the same "
               "size: the warm-up column, wall seconds)." % CREATE_WARMUP_PER_S)
    out.append("")
    if zkfs is not None:
        out.append(zkfs_bench.render(zkfs, prof_name))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true")
    g.add_argument("--smoke", action="store_true")
    ap.add_argument("--out")
    ap.add_argument("--only", choices=["zkd", "apache"])
    ap.add_argument("--no-ensemble", action="store_true")
    ap.add_argument("--no-standalone", action="store_true")
    ap.add_argument("--mixed", action="store_true",
                    help="also a mixed 3-member ensemble (a zkd leader, two Apache followers)")
    z = ap.add_mutually_exclusive_group()
    z.add_argument("--no-zkfs", action="store_true", help="skip the zkfs mount rows")
    z.add_argument("--zkfs-only", action="store_true", help="only the zkfs mount rows")
    ap.add_argument("--cases", help="comma-separated rows to run, by op ('fanout') or by "
                    "case ('set 1x1'); default all of the profile's")
    ap.add_argument("--zkd-cfg", action="append", default=[], metavar="KEY=VALUE",
                    help="an extra zoo.cfg line for zkd only (repeatable), for A/B runs")
    args = ap.parse_args()
    prof_name = "smoke" if args.smoke else "quick" if args.quick else "full"
    prof = dict(PROFILES[prof_name])
    if args.cases:
        wanted = [w.strip() for w in args.cases.split(",") if w.strip()]
        prof["cases"] = [c for c in prof["cases"]
                         if c[0] in wanted or "%s %dx%d" % c in wanted]
        if not prof["cases"]:
            log("no case of the %s profile matches --cases %s" % (prof_name, args.cases))
            return 2
    zkd_cfg = dict(kv.split("=", 1) for kv in args.zkd_cfg)
    # SIGTERM (a timeout, the suite) unwinds like an exception, so every finally block stops
    # its servers and unmounts its zkfs mounts.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    binary = os.path.join(S.BUILD_BIN, "zkbench")
    if not os.access(binary, os.X_OK):
        log("%s missing: build first (packaging/build.sh)" % binary)
        return 2
    kinds = [args.only] if args.only else ["zkd", "apache"]
    topologies = ([] if args.no_standalone else ["standalone"]) + (
        [] if args.no_ensemble else ["ensemble3"])
    for kind in list(kinds):
        reason = S.LAUNCHERS[kind].missing_reason() or (
            None if args.no_ensemble else ensemble_missing_reason(kind))
        if reason:
            log("%s skipped: %s" % (kind, reason))
            kinds.remove(kind)
    if not kinds:
        return 2
    mixed = args.mixed and "ensemble3" in topologies and all(
        not ensemble_missing_reason(k) for k in ("zkd", "apache"))
    if args.mixed and not mixed:
        log("mixed ensemble skipped: needs --no-ensemble off and both kinds")
    if not args.no_zkfs:
        reason = zkfs_bench.missing_reason()
        if reason:
            log("zkfs rows skipped: %s" % reason)
            args.no_zkfs = True
    workdir = tempfile.mkdtemp(prefix="zkmatrix.")
    info = {
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "pinned": pinning(),
        "cpu": "%d CPUs, %s" % (os.cpu_count() or 0, open("/proc/loadavg").read().strip()),
        "zkd": subprocess.run([os.path.join(S.BUILD_BIN, "zkd"), "--version"],
                              stdout=subprocess.PIPE, text=True).stdout.strip(),
    }
    if pinning():
        os.sched_setaffinity(0, {GEN_CPU})
    results = {}
    zkfs = None
    if args.zkfs_only:
        topologies = []
    try:
        for topology in topologies:
            for kind in kinds + (["mixed"] if mixed and topology == "ensemble3" else []):
                results[(kind, topology)] = run_set(binary, kind, topology,
                                                    os.path.join(workdir, kind + "-" + topology),
                                                    prof["cases"], prof["seconds"],
                                                    prof["warmup"], zkd_cfg)
        if not args.no_zkfs:
            try:
                zkfs = zkfs_bench.run(Servers, kinds, os.path.join(workdir, "zkfs"), prof_name)
            except RuntimeError as e:
                log("zkfs rows failed: %s" % e)
                zkfs = {k: {"all": {"error": str(e)}} for k in kinds}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    info["load_end"] = open("/proc/loadavg").read().strip()
    text = render(results, prof_name, prof["seconds"], info, zkfs)
    if args.out:
        out = args.out
    elif args.smoke:
        out = os.path.join(tempfile.gettempdir(), "zkmatrix-smoke.md")
    else:
        os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
        out = os.path.join(ROOT, "bench", "results", "%s-%s-matrix%s.md" % (
            datetime.date.today().isoformat(), socket.gethostname(),
            "" if prof_name == "full" else "-" + prof_name))
    with open(out, "w") as f:
        f.write(text)
    with open(os.path.splitext(out)[0] + ".json", "w") as f:
        doc = {"%s/%s" % k: v for k, v in results.items()}
        doc.update({"zkfs/%s" % k: v for k, v in (zkfs or {}).items()})
        json.dump(doc, f, indent=1, sort_keys=True)
    sys.stdout.write(text)
    log("report written to %s" % out)
    failed = [k for r in results.values() for k, v in r.items() if "error" in v]
    failed += zkfs_bench.failed(zkfs or {})
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
