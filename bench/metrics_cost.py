#!/usr/bin/python3
"""What operating zkd costs: set 8x32 and get 8x32 against a zkd with the Prometheus endpoint
scraped every second AND the audit log on (audit.enable, every write logged), against a zkd with
both off, side by side in one run.

    /usr/bin/python3 bench/metrics_cost.py              # 5 rounds x 5 s per case and mode
    /usr/bin/python3 bench/metrics_cost.py --rounds 3 --seconds 3
    /usr/bin/python3 bench/metrics_cost.py --smoke      # 1 round x 1 s (the suite runs this)

Two servers run side by side (only one is loaded at a time): "off" has neither the Prometheus
provider nor the audit log; "on" has both, scraped every second, its audit lines written to a
file.  Rounds alternate the two modes (off, on, on, off...) so drift of the machine (other load,
page cache, the tree growing) falls on both; the report gives each mode's median ops/s and p99
and the ratio on/off (1.00 = free; the goal is > 0.97), the load average, and zkd's CPU time per
scrape (from /proc, over back-to-back scrapes), which unlike ops/s does not depend on the
machine's load; and the servers' CPU per op, all threads and the loop thread alone (the audit
writer thread's write(2)s are in the first, not the second).  The per-request side of the metrics (a latency histogram, summary.h) is always
on, as mntr uses it too, so it is in both columns.  zkbench is pinned to CPU 0 and the servers
to CPU 1 where there are two (as bench/matrix.py does).
"""
import argparse
import os
import statistics
import sys
import tempfile
import threading
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from tests.lib import servers as S  # noqa: E402
import matrix  # noqa: E402

CASES = [("set", 8, 32), ("get", 8, 32)]
PROVIDER = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"


def process_cpu_s(pid, thread=None):
    """CPU time (user + system) a process (all threads), or one of its threads, has used, in
    seconds."""
    path = "/proc/%d/stat" % pid if thread is None else "/proc/%d/task/%d/stat" % (pid, thread)
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_per_scrape_us(pid, url, n):
    """zkd's own CPU time per scrape over n back-to-back scrapes: unlike ops/s, it does not
    depend on what else the machine runs."""
    before = process_cpu_s(pid)
    for _ in range(n):
        with urllib.request.urlopen(url, timeout=5) as r:
            r.read()
    return (process_cpu_s(pid) - before) / n * 1e6


class Scraper(threading.Thread):
    """GETs /metrics every `period` seconds until stopped; counts scrapes and failures."""

    def __init__(self, url, period=1.0):
        super().__init__(daemon=True)
        self.url, self.period = url, period
        self.stopped = threading.Event()
        self.scrapes = self.failures = 0

    def run(self):
        while not self.stopped.is_set():
            try:
                with urllib.request.urlopen(self.url, timeout=5) as r:
                    r.read()
                self.scrapes += 1
            except OSError:
                self.failures += 1
            self.stopped.wait(self.period)

    def stop(self):
        self.stopped.set()
        self.join()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--smoke", action="store_true", help="1 round of 1 s per case and mode")
    args = ap.parse_args()
    if args.smoke:
        args.rounds, args.seconds = 1, 1
    binary = os.path.join(S.BUILD_BIN, "zkbench")
    mport = S.free_port()
    load = [" ".join(open("/proc/loadavg").read().split()[:3])]
    with tempfile.TemporaryDirectory(prefix="zkd-metrics-cost-") as tmp:
        audit_path = os.path.join(tmp, "zookeeper_audit.log")
        srv = S.Zkd(os.path.join(tmp, "on"), cfg={
            "metricsProvider.className": PROVIDER, "metricsProvider.httpHost": "127.0.0.1",
            "metricsProvider.httpPort": str(mport), "audit.enable": "true",
            "audit.logFile": audit_path})
        plain = S.Zkd(os.path.join(tmp, "off"))
        servers = {"off": plain, "on": srv}
        try:
            for s in (plain, srv):
                s.start()
                if matrix.pinning():
                    matrix.pin_tree(s.pid, matrix.SERVER_CPU)
            url = "http://127.0.0.1:%d/metrics" % mport
            rows = []
            for op, clients, inflight in CASES:
                for s in (plain, srv):  # warm-up, and the keys a get reads
                    matrix.zkbench(binary, s.hosts, op, clients, inflight,
                                   max(1, args.seconds // 2))
                res = {"off": [], "scraped": []}
                scrapes = 0
                for rnd in range(args.rounds):
                    # ABBA order: a drift during a round falls on both modes alike.
                    for mode in ("off", "scraped") if rnd % 2 == 0 else ("scraped", "off"):
                        scraper = Scraper(url) if mode == "scraped" else None
                        target = servers["on" if scraper else "off"]
                        if scraper:
                            scraper.start()
                        cpu0 = process_cpu_s(target.pid)
                        loop0 = process_cpu_s(target.pid, target.pid)  # zkd's loop thread
                        try:
                            r = matrix.zkbench(binary, target.hosts, op, clients, inflight,
                                               args.seconds)
                            # The server's own CPU per op: what the features cost it,
                            # much less dependent on other load than ops/s.
                            r["cpu_us_per_op"] = ((process_cpu_s(target.pid) - cpu0) * 1e6
                                                  / max(1, r["ok"]))
                            r["loop_us_per_op"] = ((process_cpu_s(target.pid, target.pid) - loop0)
                                                   * 1e6 / max(1, r["ok"]))
                        finally:
                            if scraper:
                                scraper.stop()
                                scrapes += scraper.scrapes
                                if scraper.failures:
                                    raise RuntimeError("%d scrapes failed" % scraper.failures)
                        res[mode].append(r)
                off = statistics.median(r["ops_per_sec"] for r in res["off"])
                on = statistics.median(r["ops_per_sec"] for r in res["scraped"])
                pairs = sorted(b["ops_per_sec"] / a["ops_per_sec"]
                               for a, b in zip(res["off"], res["scraped"]))
                rows.append((op, clients, inflight, off, on, pairs, scrapes,
                             statistics.median(r["p99_us"] for r in res["off"]),
                             statistics.median(r["p99_us"] for r in res["scraped"]),
                             statistics.median(r["cpu_us_per_op"] for r in res["off"]),
                             statistics.median(r["cpu_us_per_op"] for r in res["scraped"]),
                             statistics.median(r["loop_us_per_op"] for r in res["off"]),
                             statistics.median(r["loop_us_per_op"] for r in res["scraped"])))
            load.append(" ".join(open("/proc/loadavg").read().split()[:3]))
            per_scrape = cpu_per_scrape_us(srv.pid, url, 200 if args.smoke else 2000)
        finally:
            S.close_all([srv, plain])
        with open(audit_path) as f:
            audit_lines = sum(1 for _ in f)
    if audit_lines < 2:
        raise RuntimeError("the audit log holds %d lines: it was not on" % audit_lines)
    print("| case | ops/s both off | ops/s scraped every 1 s + audit log | ratio | round ratios "
          "min..max | p99 us off / on | scrapes | zkd CPU us/op off / on (ratio) "
          "| loop thread us/op off / on (ratio) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (op, c, k, off, on, pairs, scrapes, p99off, p99on, cpu_off, cpu_on, loop_off,
         loop_on) in rows:
        print("| %s %dx%d | %.0f | %.0f | %.3f | %.3f..%.3f | %d / %d | %d | %.2f / %.2f (%.3f) "
              "| %.2f / %.2f (%.3f) |"
              % (op, c, k, off, on, statistics.median(pairs), pairs[0], pairs[-1], p99off, p99on,
                 scrapes, cpu_off, cpu_on, cpu_on / cpu_off if cpu_off else float("nan"),
                 loop_off, loop_on, loop_on / loop_off if loop_off else float("nan")))
    print("(%d rounds x %d s per mode in ABBA order; ops/s are medians; ratio = median of the "
          "rounds' on / off; %d audit lines written; load average (1/5/15 min) before: %s, "
          "after: %s)" % (args.rounds, args.seconds, audit_lines, load[0], load[-1]))
    print("zkd CPU per scrape (all its threads, %d back-to-back scrapes): %.0f us = %.3f%% of one "
          "core at one scrape a second" % (200 if args.smoke else 2000, per_scrape,
                                           per_scrape / 1e6 * 100))
    print("report check passed")


if __name__ == "__main__":
    main()
