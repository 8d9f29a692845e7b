"""zkfs on a 3-member ensemble (tests/lib/ensemble.py): the member serving the mount dies; the
mount moves to another member with the same session, its lease and its open files."""
import os
import re

import pytest

from tests.lib import servers as S
from tests.lib.ensemble import Ensemble, require_kinds
from tests.lib.waiting import wait_until
from tests.zkfs.conftest import hold_lease


@pytest.fixture(params=["apache", "zkd"])
def ensemble(request, tmp_path_factory):
    require_kinds(request.param)
    ens = Ensemble(tmp_path_factory.mktemp("ens"), request.param)
    try:
        ens.start()
        yield ens
    finally:
        ens.close()


def serving_member(ens, session_id):
    """The sid of the member holding `session_id` (from each member's `cons`)."""
    for sid in ens.sids:
        try:
            text = S.four_letter(ens.client_ports[sid], "cons")
        except OSError:
            continue
        if any(int(x, 16) == session_id for x in re.findall(r"sid=0x([0-9a-f]+)", text)):
            return sid
    return None


def test_member_death_keeps_session_lease_and_open_files(ensemble, kazoo_client, zkfs_mount):
    zk = kazoo_client(ensemble)
    m = zkfs_mount(ensemble, opts=["session_timeout=20000"])
    session = m.session_id()
    holder = hold_lease(m.p("leader@eph"))
    fd = None
    try:
        # The lease was made through the mount's session, maybe on another member: a sync makes
        # this session's member catch up first (ZooKeeper orders nothing across sessions).
        zk.sync(m.zpath("leader"))
        assert zk.exists(m.zpath("leader")).ephemeralOwner == session
        fd = os.open(m.p("state"), os.O_RDWR | os.O_CREAT, 0o644)
        os.write(fd, b"one")
        os.fsync(fd)
        sid = serving_member(ensemble, session)
        assert sid is not None, "no member lists session 0x%x" % session
        ensemble.kill(sid)
        wait_until(lambda: "resumed" in m.log_text(), what="session resumed on another member")
        # A member that took the session over may still drop it when the dead member was the
        # leader and it joins the next election; the session then moves on once more.
        wait_until(lambda: serving_member(ensemble, session) not in (None, sid), timeout=60,
                   what="session held by a living member")
        os.write(fd, b" two")  # the open file keeps working
        os.fsync(fd)
        zk2 = kazoo_client(ensemble)
        zk2.sync(m.zpath("state"))
        assert zk2.get(m.zpath("state"))[0] == b"one two"
        assert zk2.exists(m.zpath("leader")).ephemeralOwner == session
        with open(m.p("after"), "w") as f:
            f.write("x")
        assert sorted(os.listdir(m.path)) == ["after", "leader", "state"]
    finally:
        if fd is not None:
            os.close(fd)
        holder.stdin.close()
        holder.wait(30)
