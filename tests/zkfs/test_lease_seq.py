"""zkfs: ephemeral files as shell leases and sequential names, against zkd and Apache."""
import errno
import os
import signal
import subprocess
import threading

import pytest

from tests.lib.waiting import wait_until
from tests.zkfs.conftest import start_lease_holder


def test_ephemeral_lease(mounted):
    m, zk = mounted
    os.mkdir(m.p("locks"))
    holder, out = start_lease_holder(m.p("locks/leader@eph"))
    try:
        assert out == "held", holder.stderr.read()
        st = zk.exists(m.zpath("locks/leader"))
        assert st is not None and st.ephemeralOwner != 0
        assert os.listdir(m.p("locks")) == ["leader"] or "leader" in os.listdir(m.p("locks"))
        # A second holder is refused while the lease is held.
        r = subprocess.run(["bash", "-c", 'exec 3>"$1"', "_", m.p("locks/leader@eph")],
                           capture_output=True, text=True, timeout=20)
        assert r.returncode != 0 and "File exists" in r.stderr
        # Data written to the lease reaches the znode on close of any duplicate.
        with open(m.p("locks/leader"), "w") as f:
            f.write("me")
        assert zk.get(m.zpath("locks/leader"))[0] == b"me"
        gone = threading.Event()
        assert zk.exists(m.zpath("locks/leader"), watch=lambda ev: gone.set())
    finally:
        holder.stdin.close()  # the shell exits: fd 3 closes
        holder.wait(20)
    # The kernel sends the last close (RELEASE) to zkfs asynchronously: await the delete.
    assert gone.wait(15), "the lease outlived its holder"
    assert zk.exists(m.zpath("locks/leader")) is None


def test_lease_ends_when_process_is_killed(mounted):
    m, zk = mounted
    holder, out = start_lease_holder(m.p("lease@eph"))
    assert out == "held"
    assert zk.exists(m.zpath("lease")).ephemeralOwner != 0
    gone = threading.Event()
    assert zk.exists(m.zpath("lease"), watch=lambda ev: gone.set())
    holder.send_signal(signal.SIGKILL)
    holder.wait(20)
    assert gone.wait(15)
    assert zk.exists(m.zpath("lease")) is None


def test_sequential_names(mounted):
    m, zk = mounted
    os.mkdir(m.p("queue"))
    subprocess.run(["bash", "-c", 'echo job1 > "$1/item-@seq"; echo job2 > "$1/item-@seq"', "_",
                    m.p("queue")], check=True, timeout=20)
    kids = sorted(zk.get_children(m.zpath("queue")))
    assert len(kids) == 2 and all(k.startswith("item-") and len(k) == 15 for k in kids), kids
    assert [zk.get(m.zpath("queue/" + k))[0] for k in kids] == [b"job1\n", b"job2\n"]
    assert sorted(os.listdir(m.p("queue"))) == kids
    # The creator learns the real name from the open file.
    fd = os.open(m.p("queue/item-@seq"), os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        name = os.getxattr(fd, "user.zk.path").decode()
    finally:
        os.close(fd)
    assert name.startswith("/queue/item-") and name[len("/queue/"):] not in kids
    # ... also from a shell, through /proc/self/fd.
    r = subprocess.run(["bash", "-c", 'exec 3>"$1/lock-@eseq"; getfattr --only-values -n user.zk.path '
                        '/proc/$$/fd/3; echo; ls "$1"', "_", m.p("queue")],
                       capture_output=True, text=True, timeout=20, check=True)
    seq_name, listing = r.stdout.split("\n", 1)
    assert seq_name.startswith("/queue/lock-") and seq_name.rsplit("/", 1)[1] in listing.split()
    # That one was ephemeral: gone with the shell (its last close reaches zkfs asynchronously).
    wait_until(lambda: zk.exists(m.zpath(seq_name.lstrip("/"))) is None, timeout=15,
               what="ephemeral sequential znode deleted after its shell exited")


def test_marker_names_are_never_found(mounted):
    m, zk = mounted
    with pytest.raises(FileNotFoundError):
        os.stat(m.p("x@seq"))
    with pytest.raises(OSError) as e:
        open(m.p(".zkdata@eph"), "r")
    assert e.value.errno == errno.ENOENT
