"""Dynamic reconfig across a mixed ensemble (issue 16): an Apache observer under a zkd leader,
and a brand-new server (in no member's configuration) added by reconfig, with zkd or Apache
leading and the new member of either kind.

Apache's procedure for a new server: it starts with the current membership plus itself, finds
the leader through the election (the members answer a non-voter's notifications with their
vote), syncs as a non-voting learner, and becomes a voter when a reconfig that names it
commits.
"""
import pytest
from kazoo.client import KazooClient

from tests.ensemble.test_mixed_zkd_leader import ZKD_SID, close_all, start_led_by_zkd
from tests.ensemble.test_zkd_leader_wire import RECONFIG_CFG, SUPER, check_activated, membership
from tests.lib.ensemble import MixedEnsemble, require_kinds, synced_value, wait_for
from tests.lib.ensemble import kazoo_client as client

NEW = 4


def admin_of(ens, sids):
    admin = KazooClient(hosts=ens.hosts_of(sids), timeout=10, auth_data=[SUPER])
    admin.start(timeout=30)
    return admin


def test_reconfig_activates_on_an_apache_observer(tmp_path):
    """zkd leads two Apache followers and an Apache observer; a reconfig that removes a follower
    reaches the observer as INFORMANDACTIVATE (designated leader, then the txn), and the observer
    must run the new membership (`conf`), then the one that adds the follower back."""
    require_kinds("apache", "zkd")
    ens = MixedEnsemble(tmp_path, [ZKD_SID], participants=3, observers=1, cfg=RECONFIG_CFG)
    try:
        start_led_by_zkd(ens)
        assert ens.mode(NEW) == "observer"
        admin = admin_of(ens, [ZKD_SID])
        try:
            data, _ = admin.reconfig(joining=None, leaving="2", new_members=None)
            removed = data.decode()
            assert "server.2=" not in removed and "server.4=" in removed
            check_activated(ens, removed)
            data, _ = admin.reconfig(joining="server.2=" + ens.server_line(1, 2), leaving=None,
                                     new_members=None)
            check_activated(ens, data.decode())
            admin.create("/after-reconfig", b"r")
        finally:
            close_all(admin)
        assert synced_value(ens, [NEW], "/after-reconfig") == b"r"
    finally:
        ens.close()


def start_without_new(ens, zkd_leads):
    """Members 1-3 do not know member 4; they start and elect (zkd, sid 3, or an Apache member)."""
    for sid in (1, 2, 3):
        ens[sid].cfg.pop("server.%d" % NEW)
    if zkd_leads:
        ens[ZKD_SID].start(wait=False)
        ens[1].start(wait=False)
        assert ens.wait_serving(sids=[1, ZKD_SID], timeout=90) == ZKD_SID
        ens[2].start(wait=False)
    else:
        ens[1].start(wait=False)
        ens[2].start(wait=False)
        leader = ens.wait_serving(sids=[1, 2], timeout=90)
        ens[ZKD_SID].start(wait=False)
    leader = ens.wait_serving(sids=[1, 2, 3], timeout=60)
    assert (leader == ZKD_SID) == zkd_leads, ens.describe()
    return leader


@pytest.mark.parametrize("leader_kind,new_kind", [("zkd", "apache"), ("zkd", "zkd"),
                                                  ("apache", "apache"), ("apache", "zkd")])
def test_reconfig_adds_a_brand_new_server(tmp_path, leader_kind, new_kind):
    require_kinds("apache", "zkd")
    zkd_sids = [ZKD_SID] + ([NEW] if new_kind == "zkd" else [])
    # Member 4 is planned as a participant: its own zoo.cfg lists 1-3 and itself.
    ens = MixedEnsemble(tmp_path, zkd_sids, participants=4, cfg=RECONFIG_CFG)
    try:
        leader = start_without_new(ens, leader_kind == "zkd")
        before = membership(ens, 1)
        assert "server.4=" not in before
        ens[NEW].start(wait=False)
        wait_for(lambda: ens.mode(NEW) in ("follower", "observer"), 60,
                 "the new server to join as a learner", ens)
        admin = admin_of(ens, [leader])
        try:
            data, _ = admin.reconfig(joining="server.4=" + ens.server_line(1, NEW), leaving=None,
                                     new_members=None)
            added = data.decode()
            assert "server.4=" in added
            check_activated(ens, added)
            admin.create("/via-leader", b"l")
        finally:
            close_all(admin)
        assert ens.wait_serving(timeout=60) == leader
        assert ens.mode(NEW) == "follower"
        kz = client(ens, [NEW])
        try:
            kz.create("/via-new", b"n")
            kz.sync("/")
            assert kz.get("/via-leader")[0] == b"l"
        finally:
            close_all(kz)
        # A voter now: with member 4 and the leader up, the ensemble of four has no quorum
        # without one more, and with it again commits.
        assert synced_value(ens, [1], "/via-new") == b"n"
    finally:
        ens.close()
