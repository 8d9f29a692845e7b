"""A follower that was down comes back and is synchronized: by a full snapshot when it is further
behind than the leader's recent history (zkd: snapCount transactions; Apache: its 500-entry
committed log, on-disk log sync disabled), by a diff when slightly behind.  The leader's log must
say which, the follower must then hold every acknowledged write, and it must vote: with the other
follower down, writes still commit (the leader and the resynchronized follower form the quorum).
A dead leader's uncommitted proposal is dropped when it comes back."""
import os

import pytest

from tests.lib.waiting import wait_until

SYNC_CFG = {"snapCount": "100"}
APACHE_SYNC_PROPS = {"zookeeper.snapshotSizeFactor": "-1"}  # no diff from the on-disk log

LEADER_SAYS = {
    ("apache", "snap"): "Sending snapshot last zxid of peer is",
    ("apache", "diff"): "Sending DIFF zxid=",
    ("zkd", "snap"): "by snapshot at",
    ("zkd", "diff"): "by diff from",
}


def write_many(client, base, first, n):
    """Creates base/n<first>..., n of them, pipelined; every one acknowledged before returning."""
    results = [client.create_async("%s/n%05d" % (base, i), b"v%d" % i)
               for i in range(first, first + n)]
    for r in results:
        r.get(timeout=60)


@pytest.mark.parametrize("behind,plan", [(700, "snap"), (5, "diff")], ids=["far-snap", "near-diff"])
def test_lagging_follower_is_synchronized(ensemble_factory, kz, kind, behind, plan):
    ens = ensemble_factory(cfg=SYNC_CFG, apache_sysprops=APACHE_SYNC_PROPS)
    leader = ens.leader()
    lagging, other = [s for s in ens.participants if s != leader]
    client = kz(ens.hosts_of([leader]))
    client.create("/sync", b"")
    write_many(client, "/sync", 0, 3)
    ens.kill(lagging)
    write_many(client, "/sync", 3, behind)  # committed by the leader and the other follower
    client.set("/sync", b"last")
    mark = ens.log_size(leader)
    ens.start_member(lagging)
    assert ens.leader() == leader
    log = ens.log_since(leader, mark)
    assert LEADER_SAYS[(kind, plan)] in log, "leader did not sync by %s:\n%s" % (plan, log[-3000:])

    # The synchronized follower holds everything, without a sync of its own.
    reader = kz(ens.hosts_of([lagging]))
    assert reader.get("/sync")[0] == b"last"
    names = reader.get_children("/sync")
    assert len(names) == 3 + behind
    for i in (0, 3, 3 + behind // 2, 2 + behind):
        assert reader.get("/sync/n%05d" % i)[0] == b"v%d" % i

    # ... and votes: with the other follower down, the quorum is the leader and it.
    ens.kill(other)
    reader.set("/sync", b"after")
    assert client.get("/sync")[0] == b"after"
    ens.start_member(other)
    late = kz(ens.hosts_of([other]))
    late.sync("/sync")
    assert late.get("/sync")[0] == b"after"


# Apache 3.8 cannot TRUNC across epochs ("Cannot send TRUNC to peer ... from different epoch") and
# falls back to a snapshot; zkd truncates, then sends the diff.
TRUNC_SAYS = {"apache": ("Sending TRUNC to follower", "Cannot send TRUNC to peer"),
              "zkd": ("by truncation to 0x",)}


def logged(data_dir, needle):
    """Whether a transaction log file under data_dir (zkd's log.*, Apache's version-2/log.*) holds
    `needle`."""
    for root, _, files in os.walk(data_dir):
        for name in files:
            if name.startswith("log."):
                with open(os.path.join(root, name), "rb") as f:
                    if needle in f.read():
                        return True
    return False


def test_uncommitted_proposal_of_dead_leader_is_truncated(ensemble_factory, kz, kind):
    """The leader logs a proposal nobody else receives (its links blackholed), then dies; the others
    move on in a new epoch.  When it comes back it must drop that proposal (TRUNC, or a snapshot),
    and the write, never acknowledged, must exist nowhere."""
    ens = ensemble_factory(proxied=True)
    leader = ens.leader()
    rest = [s for s in ens.participants if s != leader]
    client = kz(ens.hosts_of([leader]))
    client.create("/trunc", b"committed")
    ens.isolate(leader, mode="blackhole")
    pending = client.set_async("/trunc", b"uncommitted")  # proposed and logged by the leader only
    # The leader must have written the proposal to its log before it dies, or there is nothing
    # to truncate (a loaded machine can kill it first): the data bytes stand verbatim in the
    # log record of both servers' formats, and a SIGKILL keeps what was written.
    wait_until(lambda: logged(ens[leader].data_dir, b"uncommitted"),
               what="the leader's log holding the proposal")
    new_leader = ens.wait_serving(rest)
    ens.kill(leader)
    assert not pending.successful()  # it never was acknowledged
    ens.isolate(leader)  # drop the connections (and the proposal) the stalled links still hold
    ens.heal()
    other = kz(ens.hosts_of(rest))
    other.set("/trunc", b"new epoch")
    other.create("/trunc/after", b"")
    mark = ens.log_size(new_leader)
    ens.start_member(leader)
    log = ens.log_since(new_leader, mark)
    assert any(says in log for says in TRUNC_SAYS[kind]), "no truncation:\n%s" % log[-3000:]
    for sid in ens.sids:
        c = kz(ens.hosts_of([sid]))
        c.sync("/trunc")
        value, stat = c.get("/trunc")
        assert (value, stat.version) == (b"new epoch", 1), "member %d" % sid
        assert c.get_children("/trunc") == ["after"]
