"""bench/matrix.py --smoke --zkfs-only: the zkfs rows (cached cat, ls of a big directory, remote
change -> inotify event) run end to end against a standalone zkd through a real FUSE mount, the
markdown and JSON reports parse, and nothing is left mounted.  Apache is left to the full run;
the suite checks that the rows work, never their numbers."""
import json
import os
import subprocess

import pytest

from tests.lib.paths import BUILD_DIR, ROOT


def _fuse_mounts():
    with open("/proc/self/mountinfo") as f:
        return [ln.split()[4] for ln in f if " - fuse" in ln]


def test_matrix_zkfs_rows_run_and_parse(tmp_path):
    if not os.path.exists("/dev/fuse"):
        pytest.skip("no /dev/fuse on this machine")
    out = tmp_path / "zkfs.md"
    before = _fuse_mounts()
    env = dict(os.environ, ZK_BUILD_DIR=BUILD_DIR)
    p = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "bench", "matrix.py"), "--smoke",
                        "--only", "zkd", "--zkfs-only", "--out", str(out)],
                       capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, (p.stdout + p.stderr)[-4000:]
    assert _fuse_mounts() == before, "the bench left a mount behind"

    text = out.read_text()
    part = text.split("## zkfs mount", 1)[1]
    rows = {ln.split("|")[1].strip(): [c.strip() for c in ln.split("|")[2:-1]]
            for ln in part.splitlines() if ln.startswith("| ") and "---" not in ln}
    for case in ("cat p50/p99 us", "cat reads/s", "ls first, 2000 children, ms",
                 "ls repeated (median of 2), 2000 children, ms",
                 "setData -> IN_MODIFY p50/p99 us", "create -> IN_CREATE p50/p99 us"):
        assert case in rows, (case, part)
        zkd = rows[case][0]
        for number in zkd.split("/"):
            assert float(number) > 0, (case, rows[case])
        assert rows[case][1].strip("-/") == "", (case, rows[case])  # no Apache in the smoke

    doc = json.loads((tmp_path / "zkfs.json").read_text())
    z = doc["zkfs/zkd"]
    assert set(z) == {"cat", "ls", "inotify set", "inotify create", "burst"}, z
    assert all("error" not in v for v in z.values()), z
    assert z["cat"]["reads"] == 300 and z["cat"]["reads_per_sec"] > 0
    assert z["ls"]["children"] == 2000 and z["ls"]["first_ms"] > 0
    for row in ("inotify set", "inotify create"):
        assert z[row]["samples"] == 30 and 0 < z[row]["p50_us"] <= z[row]["p99_us"], z[row]
    for op in ("create", "set", "delete"):  # the smoke burst: 2,000 of each, every event seen
        assert z["burst"][op]["events_per_sec"] > 0, z["burst"]
