"""Smoke run of bench/failover.py (one run per kind): it measures, restarts and reports a row.
No timing is asserted: the numbers are for the report, not a pass criterion."""
import os
import re
import subprocess
import sys

from tests.lib.paths import ROOT

SCRIPT = os.path.join(ROOT, "bench", "failover.py")


def test_failover_bench_smoke(kind):
    p = subprocess.run([sys.executable, SCRIPT, "--runs", "1", "--kinds", kind],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    assert p.returncode == 0, p.stdout
    assert re.search(r"^\| %s \| 1 \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \| \|$" % kind, p.stdout,
                     re.M), p.stdout


def test_failover_bench_rejects_bad_arguments():
    p = subprocess.run([sys.executable, SCRIPT, "--runs", "1", "--kinds", "etcd"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
    assert p.returncode == 2 and "unknown kind" in p.stdout, p.stdout
