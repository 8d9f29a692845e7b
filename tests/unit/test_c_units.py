"""Runs every C unit test binary (build/bin/unit/test_*) as one pytest case each."""
import os
import subprocess

import pytest

from tests.lib.paths import BUILD_BIN

UNIT_DIR = os.path.join(BUILD_BIN, "unit")
BINARIES = sorted(
    f for f in (os.listdir(UNIT_DIR) if os.path.isdir(UNIT_DIR) else []) if f.startswith("test_")
)


@pytest.mark.parametrize("binary", BINARIES)
def test_c_unit(binary):
    proc = subprocess.run([os.path.join(UNIT_DIR, binary)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_unit_binaries_were_built():
    assert BINARIES, "no C unit tests found in " + UNIT_DIR


def _cache_option(name):
    cache = os.path.join(os.path.dirname(BUILD_BIN), "CMakeCache.txt")
    with open(cache) as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.strip().split("=", 1)[1]
    return None


def test_sanitizer_build_keeps_assertions():
    """The ASan+UBSan build runs the suite with assert()s compiled in, so every test checks the
    stated preconditions and invariants; a plain build may leave them out."""
    out = subprocess.run([os.path.join(BUILD_BIN, "zkd"), "--version"], capture_output=True,
                         text=True, timeout=30).stdout
    assert "build: assertions " in out, out
    if _cache_option("ZK_SANITIZE") == "ON":
        assert "assertions on" in out, out
        assert "sanitizers on" in out, out
