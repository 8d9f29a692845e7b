"""The ensemble launcher itself: roles, connect string, restarts, proxied links."""
import time

import pytest


def wait_for(pred, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() >= deadline:
            pytest.fail("timed out waiting for " + what, pytrace=False)
        time.sleep(0.05)


def test_three_members_one_leader_and_replication(ensemble, kz):
    modes = ensemble.modes()
    assert sorted(modes.values()) == ["follower", "follower", "leader"], modes
    leader = ensemble.leader()
    follower = [s for s in ensemble.sids if s != leader][0]
    writer = kz(ensemble.hosts_of([follower]))  # a write forwarded by a follower
    writer.create("/launcher", b"v1")
    for sid in ensemble.sids:
        reader = kz(ensemble.hosts_of([sid]))
        reader.sync("/launcher")
        assert reader.get("/launcher")[0] == b"v1"


def test_proxied_links_carry_traffic_and_cut_isolates(ensemble_factory, kz):
    ens = ensemble_factory(proxied=True)
    leader = ens.leader()
    others = [s for s in ens.sids if s != leader]
    client = kz(ens.hosts_of(others))
    client.create("/p", b"before")
    ens.isolate(leader)
    new_leader = ens.wait_serving(others, timeout=60)
    assert new_leader != leader
    wait_for(lambda: ens.mode(leader) is None, what="the isolated member to stop serving")
    client.set("/p", b"during")
    ens.heal()
    ens.wait_serving(timeout=60)
    back = kz(ens.hosts_of([leader]))
    back.sync("/p")
    assert back.get("/p")[0] == b"during"


def test_wait_quorum_with_a_member_down_and_restart_all(ensemble_factory, kz):
    ens = ensemble_factory(participants=3)
    follower = ens.followers()[0]
    ens.kill(follower)
    leader = ens.wait_quorum()
    assert ens.mode(follower) is None and ens.mode(leader) == "leader"
    kz(ens.hosts).create("/q", b"x")
    ens.restart_all()  # SIGKILL everyone, start everyone: the data survives
    assert sorted(m for m in ens.modes().values()) == ["follower", "follower", "leader"]
    c = kz(ens.hosts_of([follower]))
    c.sync("/q")
    assert c.get("/q")[0] == b"x"


def test_bad_arguments_are_refused(tmp_path):
    from tests.lib.ensemble import Ensemble, EnsembleError

    with pytest.raises(ValueError):
        Ensemble(tmp_path, "etcd")
    with pytest.raises(ValueError):
        Ensemble(tmp_path, "zkd", participants=0)
    with Ensemble(tmp_path, "zkd", participants=3) as ens:  # never started
        with pytest.raises(EnsembleError):
            ens.isolate(1)  # partitions need proxied=True
