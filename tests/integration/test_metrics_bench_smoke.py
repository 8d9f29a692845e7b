"""bench/metrics_cost.py --smoke: the scrape-cost benchmark runs end to end (set and get 8x32,
scraped and not) and prints its report.  The suite checks that the bench works, never its
numbers (they are machine-dependent)."""
import os
import subprocess

from tests.lib.paths import BUILD_DIR, ROOT


def test_metrics_cost_smoke_runs_and_reports():
    env = dict(os.environ, ZK_BUILD_DIR=BUILD_DIR)
    p = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "bench", "metrics_cost.py"), "--smoke"],
                       capture_output=True, text=True, timeout=600, env=env)
    assert p.returncode == 0, (p.stdout + p.stderr)[-4000:]
    assert "report check passed" in p.stdout
    rows = [ln for ln in p.stdout.splitlines() if ln.startswith("| set 8x32") or ln.startswith("| get 8x32")]
    assert len(rows) == 2, p.stdout
    for row in rows:
        cells = [c.strip() for c in row.split("|")[1:-1]]
        assert float(cells[1]) > 0 and float(cells[2]) > 0 and int(cells[6]) >= 1, row
