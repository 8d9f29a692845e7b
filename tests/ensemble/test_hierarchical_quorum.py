"""Hierarchical quorums (group.G / weight.S in zoo.cfg, server/quorum_verifier.h), the same scenario
run against Apache ZooKeeper 3.8 and zkd.

Five participants in groups {1,2} {3,4} {5}: a quorum is two of the three groups, a two-member group
counting only when both its members are there.  So
  - losing the whole group {3,4} keeps a quorum ({1,2} and {5}), though two members are gone;
  - losing 1 and 3 loses it ({5} is the only whole group left), though three of five members,
    a majority, still run: under the majority rule they would elect a leader at once.
Then bringing 1 back gives {1,2} and {5}: a quorum again, without 3.

The "no quorum" phase is checked by waiting until every running member has stopped serving (the
leader's followers no longer form a quorum, so it steps down) and then watching for NO_LEADER_S
seconds, many election rounds at tickTime=200 (an ensemble that wrongly counted heads elects in
about one second here), that no member leads.
"""
import time

import pytest

from tests.lib.ensemble import EnsembleError, MixedEnsemble, require_kinds, wait_for
from tests.lib.ensemble import kazoo_client as client

GROUPS = {"group.1": "1:2", "group.2": "3:4", "group.3": "5"}
NO_LEADER_S = 4.0


def wait_leader_among(ens, sids, timeout=60):
    def led():
        return any(ens.mode(s) == "leader" for s in sids) and all(ens.mode(s) for s in sids)
    wait_for(led, timeout, "a leader serving members %s" % sids, ens)


def assert_no_quorum(ens, sids):
    wait_for(lambda: not any(ens.mode(s) for s in sids), 30,
             "members %s to stop serving once they lost their quorum" % sids, ens)
    deadline = time.monotonic() + NO_LEADER_S
    while time.monotonic() < deadline:
        modes = {s: ens.mode(s) for s in sids}
        if any(modes.values()):
            pytest.fail("members %s serve without a quorum of groups: %s\n%s" % (
                sids, modes, ens.describe()), pytrace=False)
        time.sleep(0.1)


def test_group_quorum_survives_and_loses(ensemble_factory, kind):
    ens = ensemble_factory(participants=5, cfg=dict(GROUPS))
    kz = client(ens, ens.sids)
    try:
        kz.create("/hq", b"0")
        # /zookeeper/config lists the groups and every participant's weight, as Apache's
        # QuorumHierarchical.toString writes them (its HashMap order aside).
        text = kz.get("/zookeeper/config")[0].decode()
        lines = {ln for ln in text.splitlines() if ln.startswith(("group.", "weight."))}
        assert lines == {"group.1=1:2", "group.2=3:4", "group.3=5", "weight.1=1", "weight.2=1",
                         "weight.3=1", "weight.4=1", "weight.5=1"}, text
    finally:
        kz.stop()
        kz.close()

    # A whole group gone: {1,2} and {5} still make two of three groups.
    ens.kill(3)
    ens.kill(4)
    wait_leader_among(ens, [1, 2, 5])
    kz = client(ens, [1, 2, 5])
    try:
        kz.set("/hq", b"1")
    finally:
        kz.stop()
        kz.close()
    ens.start_member(3, wait=False)
    ens.start_member(4, wait=False)
    ens.wait_serving(timeout=90)

    # One member of each two-member group gone: three of five members run, one group is whole.
    ens.kill(1)
    ens.kill(3)
    assert_no_quorum(ens, [2, 4, 5])

    # 1 back: {1,2} and {5} again.
    ens.start_member(1, wait=False)
    wait_leader_among(ens, [1, 2, 4, 5])
    kz = client(ens, [1, 2, 4, 5])
    try:
        assert kz.get("/hq")[0] == b"1"
        kz.set("/hq", b"2")
    finally:
        kz.stop()
        kz.close()
    ens.start_member(3, wait=False)
    try:
        ens.wait_serving(timeout=90)
    except EnsembleError as e:
        pytest.fail(str(e), pytrace=False)


def test_weight_zero_member_never_leads_nor_counts(ensemble_factory, kind):
    """Groups {1,2,3} with weight.3=0: 3 follows and serves but its ack weighs nothing, so 1 and
    2 are both needed, and no one votes for 3 (Apache's totalOrderPredicate).  Checked: 3 is
    never the leader, even when it holds the newest history; without 1 the other two stop."""
    ens = ensemble_factory(participants=3, cfg={"group.1": "1:2:3", "weight.3": "0"})
    assert ens.leader() != 3
    kz = client(ens, [3])
    try:
        kz.create("/w0", b"x")
    finally:
        kz.stop()
        kz.close()
    leader = ens.leader()
    other = 1 if leader == 2 else 2
    ens.kill(other)
    assert_no_quorum(ens, [leader, 3])
    ens.start_member(other, wait=False)
    try:
        assert ens.wait_serving(timeout=90) != 3
    except EnsembleError as e:
        pytest.fail(str(e), pytrace=False)


def test_mixed_ensemble_with_groups(tmp_path):
    """Apache members 1 and 2 and a zkd member 3 (memberProtocol=apache) with groups {1,2} {3}:
    both groups are needed, so zkd's ACKs are part of every quorum.  The ensemble forms (zkd, with
    the highest sid, normally leads: then its own verifier counts the Apache followers' ACKs);
    without the other Apache member it stops; it forms again when that member is back.  Apache parses the
    configuration every zkd notification carries (now with its group and weight lines) and logs
    an error for one it cannot read: there must be none."""
    require_kinds("apache", "zkd")
    ens = MixedEnsemble(tmp_path, [3], participants=3, cfg={"group.1": "1:2", "group.2": "3"})
    try:
        ens.start(timeout=90)
        assert ens.mode(3) in ("leader", "follower")
        kz = client(ens, [3])
        try:
            kz.create("/mixed-hq", b"z")
        finally:
            kz.stop()
            kz.close()
        other = 1 if ens.leader() == 2 else 2  # an Apache member, not the leader
        ens.kill(other)
        assert_no_quorum(ens, [3 - other, 3])
        ens.start_member(other, wait=False)
        ens.wait_serving(timeout=90)
        assert ens.mode(3) in ("leader", "follower")
        for sid in (1, 2):
            text = ens.log_since(sid, [0] * len(ens[sid].log_files()))
            # QuorumHierarchical's constructor logs its weights, members and groups: Apache
            # did read the groups (from zoo.cfg, and from each notification).
            assert "3, 3, 2" in text, text[-3000:]
            assert "Something went wrong while processing config" not in text, text[-3000:]
    finally:
        ens.close()
