"""The history checker (tests/lib/history.py) on synthetic histories: a valid one passes and each
kind of corruption is reported.  A checker that cannot fail would make every fault test vacuous."""
import pytest

from tests.lib.history import History, Op, check


class Sim:
    """A sequential single-copy ZooKeeper that records a valid history, one op at a time."""

    def __init__(self, keys=("/k0", "/k1")):
        self.h = History()
        self.t = 0.0
        self.zxid = 0x100000000
        self.state = {}
        for k in keys:
            self.zxid += 1
            self.state[k] = ("init:" + k, 0, self.zxid)
            self.h.initial[k] = self.state[k]
        self.n = 0

    def _op(self, client, kind, key, value=None, expected=None):
        self.t += 1.0
        op = Op(client, 0x1000 + client, kind, key, value, expected, self.t)
        self.t += 1.0
        op.complete = self.t
        return op

    def write(self, client, key, expected=None):
        self.n += 1
        op = self._op(client, "cas" if expected is not None else "write", key,
                      "c%d-%d" % (client, self.n), expected)
        _, ver, _ = self.state[key]
        if expected is not None and expected != ver:
            op.outcome = "fail"
        else:
            self.zxid += 1
            self.state[key] = (op.value, ver + 1, self.zxid)
            op.outcome, op.version, op.mzxid = "ok", ver + 1, self.zxid
        self.h.add(op)
        return op

    def read(self, client, key, sync=False):
        op = self._op(client, "sync_read" if sync else "read", key)
        op.value, op.version, op.mzxid = self.state[key]
        op.outcome = "ok"
        self.h.add(op)
        return op

    def finish(self):
        for k, (val, ver, z) in self.state.items():
            self.h.final[k] = [(m, val, ver, z) for m in (1, 2, 3)]
        return self.h


def valid_sim():
    s = Sim()
    for i in range(4):
        for c in (1, 2, 3):
            key = "/k%d" % ((i + c) % 2)
            s.write(c, key)
            s.read(c, key)
            s.write(c, key, expected=s.state[key][1])  # succeeds
            s.write(c, key, expected=0)  # fails (version > 0 by now)
            s.read((c % 3) + 1, "/k0", sync=True)
    return s


def only(violations, needle):
    assert violations, "the checker missed the corruption"
    assert any(needle in v for v in violations), violations


def test_valid_history_passes():
    h = valid_sim().finish()
    assert check(h) == []
    assert sum(op.outcome == "fail" for op in h.ops) > 0  # the workload had both cas outcomes


def test_indeterminate_writes_may_or_may_not_apply():
    s = valid_sim()
    ghost = s._op(1, "write", "/k1", "ghost-applied")
    ghost.outcome, ghost.complete = "info", float("inf")
    s.h.add(ghost)
    s.zxid += 1
    _, ver, _ = s.state["/k1"]
    s.state["/k1"] = ("ghost-applied", ver + 1, s.zxid)  # it did apply, later
    lost = s._op(2, "write", "/k0", "ghost-lost")
    lost.outcome, lost.complete = "info", float("inf")
    s.h.add(lost)
    s.read(3, "/k1")
    assert check(s.finish()) == []


def test_lost_acknowledged_write_is_reported():
    s = valid_sim()
    w = s.write(1, "/k0")
    # The ensemble forgets w: the next write gets the same version.
    s.state["/k0"] = (s.h.initial["/k0"][0], w.version - 1, w.mzxid - 1)
    s.zxid += 1
    s.write(2, "/k0")
    only(check(s.finish()), "lost")


def test_acknowledged_write_missing_from_final_state_is_reported():
    s = valid_sim()
    before = s.state["/k1"]
    s.write(1, "/k1")
    s.state["/k1"] = before  # final state rolled back
    only(check(s.finish()), "newer than the final state")


def test_members_disagreeing_at_the_end_is_reported():
    s = valid_sim()
    h = s.finish()
    m, val, ver, z = h.final["/k0"][2]
    h.final["/k0"][2] = (m, "stale", ver - 1, z - 5)
    assert any("disagree" in v for v in check(h))


def test_real_time_order_violation_is_reported():
    s = valid_sim()
    a = s.write(1, "/k0")
    b = s.write(2, "/k1")
    a.mzxid, b.mzxid = b.mzxid, a.mzxid  # b, invoked after a completed, ordered first
    s.state["/k0"] = (a.value, a.version, a.mzxid)
    s.state["/k1"] = (b.value, b.version, b.mzxid)
    only(check(s.finish()), "real-time")


def test_value_never_written_is_reported():
    s = valid_sim()
    r = s.read(1, "/k0")
    r.value = "phantom"
    only(check(s.finish()), "nobody wrote")


def test_read_going_back_in_a_session_is_reported():
    s = valid_sim()
    old = s.read(1, "/k0")
    s.write(2, "/k0")
    s.read(1, "/k0")
    stale = s.read(1, "/k0")  # a reconnect to a lagging member served the older state
    stale.value, stale.version, stale.mzxid = old.value, old.version, old.mzxid
    only(check(s.finish()), "after it had seen")


def test_read_your_writes_violation_is_reported():
    s = valid_sim()
    old = s.read(1, "/k1")
    s.write(1, "/k1")
    mine = s.read(1, "/k1")
    mine.value, mine.version, mine.mzxid = old.value, old.version, old.mzxid
    only(check(s.finish()), "after it had seen")


def test_stale_sync_read_is_reported():
    s = valid_sim()
    old = s.read(2, "/k0")
    s.write(1, "/k0")
    r = s.read(3, "/k0", sync=True)  # another session: only the sync guarantee applies
    r.session = 0x9999
    r.value, r.version, r.mzxid = old.value, old.version, old.mzxid
    only(check(s.finish()), "sync+read")


def test_conditional_write_with_wrong_version_is_reported():
    s = valid_sim()
    op = s.write(1, "/k0", expected=s.state["/k0"][1])
    op.expected -= 1  # acknowledged although conditioned on an older version
    only(check(s.finish()), "conditional write on version")


def test_badversion_while_version_matched_is_reported():
    s = valid_sim()
    op = s.write(1, "/k1", expected=0)
    op.expected = s.state["/k1"][1]  # the current version, yet it "failed"
    only(check(s.finish()), "had that version throughout")


def test_value_read_before_it_was_written_is_reported():
    s = valid_sim()
    r = s.read(1, "/k0")
    w = s.write(2, "/k0")
    r.value, r.version, r.mzxid = w.value, w.version, w.mzxid
    vs = check(s.finish())
    only(vs, "before it was written")


@pytest.mark.parametrize("field", ["value", "version"])
def test_two_observations_of_one_zxid_disagreeing_is_reported(field):
    s = valid_sim()
    w = s.write(1, "/k1")
    r = s.read(2, "/k1")
    if field == "value":
        r.value = w.value + "x"
    else:
        r.version += 1
    assert check(s.finish())
