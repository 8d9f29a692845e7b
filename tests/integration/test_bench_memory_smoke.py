"""bench/memory.py with a tiny tree: the memory row of the scale profile (issue 20), measured
from a snapshot load, runs end to end and writes its report.  The suite checks that the script
works, never its numbers (RSS at 20,000 znodes moves in huge-page steps)."""
import json
import os
import subprocess

from tests.lib.paths import BUILD_BIN, ROOT


def test_memory_bench_smoke(tmp_path):
    out = tmp_path / "memory.md"
    zkd = os.path.join(BUILD_BIN, "zkd")
    p = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "bench", "memory.py"), "-n", "20000",
                        "--settle", "0.5", "--zkd", zkd, "--out", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, (p.stdout + p.stderr)[-4000:]
    res = json.loads((tmp_path / "memory.json").read_text())
    assert res["n"] == 20000 and len(res["runs"]) == 1
    run = res["runs"][0]
    assert run["rss_loaded"] > run["rss_empty"] > 0, run
    assert "bytes per znode" in out.read_text()
