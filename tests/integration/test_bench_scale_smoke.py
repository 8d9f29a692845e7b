"""bench/scale.py --smoke: the scale profile (issue 20) runs end to end against zkd with a tiny
tree and every row is measured: load, memory, get 1x1 without and during a snapshot, restart
after SIGKILL, a parent whose getChildren reply exceeds jute.maxbuffer (sent whole, as Apache
sends it, and the session survives), deleting all its children, watch fan-out.  The suite checks that the
profile works, never its numbers."""
import json
import os
import subprocess

from tests.lib.paths import BUILD_DIR, ROOT


def test_scale_smoke_measures_every_row(tmp_path):
    out = tmp_path / "scale.md"
    env = dict(os.environ, ZK_BUILD_DIR=BUILD_DIR)
    p = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "bench", "scale.py"), "--smoke",
                        "--only", "zkd", "--out", str(out)],
                       capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, (p.stdout + p.stderr)[-4000:]
    assert "scale check passed" in p.stderr
    run = json.loads((tmp_path / "scale.json").read_text())["runs"][0]
    assert run["kind"] == "zkd" and "error" not in run, run
    assert run["bytes_per_znode"] > 0
    assert run["snapshot"]["during"]["count"] > 0
    assert run["restart"]["ready_s"] > 0
    wide = run["wide"]
    assert wide["getchildren_err"] == 0 and wide["getchildren_names"] == wide["children"], wide
    assert wide["getchildren_bytes"] > 20000 and wide["session_alive_after"], wide  # > maxbuffer
    assert wide["delete_errors"] == 0 and wide["during_delete"]["count"] >= 0
    assert run["fanout"]["result"]["errors"] == 0, run["fanout"]
    text = out.read_text()
    for row in ("bytes per znode", "get 1x1 during snapshot", "restart after SIGKILL",
                "wide: getChildren", "fan-out: watchers"):
        assert row in text, text
