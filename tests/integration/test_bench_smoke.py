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


def test_matrix_smoke_runs_and_reports_every_case(tmp_path):
    """bench/matrix.py drives zkbench against standalone zkd and a 3-member zkd ensemble (Apache
    is left to the full run, to keep the suite short) and writes one row per case.  The zkfs rows
    have their own test (test_bench_zkfs_smoke.py)."""
    out = tmp_path / "matrix.md"
    env = dict(os.environ, ZK_BUILD_DIR=BUILD_DIR)
    p = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "bench", "matrix.py"), "--smoke",
                        "--only", "zkd", "--no-zkfs", "--out", str(out)],
                       capture_output=True, text=True, timeout=600, env=env)
    assert p.returncode == 0, (p.stdout + p.stderr)[-4000:]
    text = out.read_text()
    for section in ("## Standalone", "## 3-member ensemble"):
        part = text.split(section, 1)[1].split("##", 1)[0]
        rows = [ln for ln in part.splitlines() if ln.startswith("| set 1x1") or ln.startswith("| get 4x16")]
        assert len(rows) == 2, part
        for row in rows:
            ops = row.split("|")[2].strip()
            assert ops.replace(".", "").isdigit() and float(ops) > 0, row
