"""zkd re-executes itself once with glibc.malloc.hugetlb=1 so that its heap sits on transparent
huge pages and a snapshot's fork() copies a page-table entry per 2 MiB instead of per 4 KiB
(server/hugepage.h; issue 20: 150-350 ms -> 1-4 ms per fork at 10M znodes).  The same process
(pid) serves; an operator can opt out; a sanitizer build never re-executes."""
import os
import re
import subprocess

import pytest

from tests.lib.paths import BUILD_BIN

THP = "/sys/kernel/mm/transparent_hugepage/enabled"


def _environ(pid):
    with open("/proc/%d/environ" % pid, "rb") as f:
        return dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)


def _heap_advised(pid):
    """True if glibc madvise()d its heap for huge pages (VmFlags "hg" on [heap]), which is what
    glibc.malloc.hugetlb=1 does whether or not the kernel then finds free huge pages.  (glibc
    rewrites GLIBC_TUNABLES in place as it parses it, so the variable itself is no evidence.)"""
    with open("/proc/%d/smaps" % pid) as f:
        text = f.read()
    for block in re.split(r"\n(?=[0-9a-f]+-[0-9a-f]+ )", text):
        if block.split("\n", 1)[0].endswith("[heap]"):
            m = re.search(r"^VmFlags:(.*)$", block, re.M)
            if m and "hg" in m.group(1).split():
                return True
    return False


def _sanitized():
    out = subprocess.run([os.path.join(BUILD_BIN, "zkd"), "--version"], capture_output=True,
                         text=True, timeout=30).stdout
    return "sanitizers off" not in out


def _thp_usable():
    try:
        with open(THP) as f:
            return "[never]" not in f.read()
    except OSError:
        return False


def _log(srv):
    with open(srv.log_path, "rb") as f:
        return f.read().decode("utf-8", "replace")


def test_zkd_runs_with_malloc_hugepages_unless_it_cannot(server_factory):
    if "hugetlb" in os.environ.get("GLIBC_TUNABLES", "") or "ZKD_MALLOC_HUGEPAGES" in os.environ:
        pytest.skip("the suite's own environment already decides (GLIBC_TUNABLES)")
    srv = server_factory("zkd")
    env = _environ(srv.pid)  # the pid the launcher started is the one serving
    assert srv.four_letter("ruok") == "imok"
    if _sanitized():
        assert b"GLIBC_TUNABLES" not in env or b"hugetlb" not in env[b"GLIBC_TUNABLES"]
        assert "malloc huge pages: off (sanitizer build" in _log(srv)
    elif _thp_usable():
        assert b"glibc.malloc.hugetlb=1" in env.get(b"GLIBC_TUNABLES", b""), env
        assert _heap_advised(srv.pid)
        assert "malloc huge pages: on (GLIBC_TUNABLES sets glibc.malloc.hugetlb)" in _log(srv)
        assert _log(srv).count("starting with") == 1  # one process logged, after the re-exec
    else:
        assert "malloc huge pages: off" in _log(srv)
        assert not _heap_advised(srv.pid)


def test_operator_opt_out_and_own_tunables_are_kept(server_factory):
    off = server_factory("zkd", env={"ZKD_MALLOC_HUGEPAGES": "0"})
    assert b"hugetlb" not in _environ(off.pid).get(b"GLIBC_TUNABLES", b"")
    assert not _heap_advised(off.pid)
    assert "malloc huge pages: off (ZKD_MALLOC_HUGEPAGES=0)" in _log(off)
    # Another tunable the operator set survives the re-exec; the hugetlb one is added.
    if "hugetlb" in os.environ.get("GLIBC_TUNABLES", ""):
        return
    own = server_factory("zkd", env={"GLIBC_TUNABLES": "glibc.malloc.arena_max=2"})
    tun = _environ(own.pid).get(b"GLIBC_TUNABLES", b"")
    assert tun.startswith(b"glibc.malloc.arena_max=2"), tun
    if not _sanitized() and _thp_usable():
        assert _heap_advised(own.pid)
        assert "malloc huge pages: on" in _log(own)
