"""bench/run.sh --smoke: the side-by-side benchmark runs end to end (2,000 znodes, both
servers) and its report parses.  The suite checks that bench works, never its numbers."""
import os
import subprocess

from tests.lib.paths import BUILD_DIR, ROOT


def test_bench_smoke_runs_and_parses():
    env = dict(os.environ, ZK_BUILD_DIR=BUILD_DIR)
    p = subprocess.run(["bash", os.path.join(ROOT, "bench", "run.sh"), "--smoke"],
                       capture_output=True, text=True, timeout=600, env=env)
    assert p.returncode == 0, (p.stdout + p.stderr)[-4000:]
    assert "report check passed" in p.stdout + p.stderr
