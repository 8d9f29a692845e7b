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
