"""The rolling migration (issue 16) under continuous load: three Apache ZooKeeper 3.8 members are
replaced one by one by zkd (same zoo.cfg keys, myid and dataDir; tests/lib/migration.py), then
back to Apache one by one, while the checked workload of test_faults.py runs (five kazoo clients
reading, writing and conditionally writing; tests/lib/history.py) and one more kazoo session holds
an ephemeral node throughout.

Checked: the history (every acknowledged write present at the end on every member, linearizable
writes, ZooKeeper's read guarantees), the held session never expired (kazoo never saw LOST, same
session id, its ephemeral node still there and its own) although it had to move between Apache and
zkd members, and every member ends as the kind it should.  Printed (with -s): each swap's
client-visible unavailability (stop until a write through the other members is acknowledged) and
the time until the replacement serves; bench/migration.py measures the same over several rounds
against an Apache-to-Apache rolling restart.  About 40 s.
"""
from tests.ensemble.test_faults import run_checked
from tests.lib.ensemble import MixedEnsemble, require_kinds
from tests.lib.migration import MIGRATION_CFG, HeldSession, rolling


def test_rolling_migration_apache_to_zkd_and_back(tmp_path):
    require_kinds("apache", "zkd")
    ens = MixedEnsemble(tmp_path, [], participants=3, cfg=MIGRATION_CFG)
    held = HeldSession(ens)
    swaps = []
    try:
        ens.start()
        held.start()

        def migrate(ens):
            swaps.extend(rolling(ens, ["zkd"] * 3))
            assert all(ens.member_kind(sid) == "zkd" for sid in ens.sids)
            swaps.extend(rolling(ens, ["apache"] * 3))

        run_checked(ens, migrate, writes_before=10, writes_after=10)
        assert all(ens.member_kind(sid) == "apache" for sid in ens.sids)
        assert len(swaps) == 6 and any(s.leader for s in swaps), swaps
        problems = held.check()
        assert not problems, problems
        print("unavailability per swap (s): %s" % " ".join(
            "%d:%s>%s%s=%.3f" % (s.sid, s.was, s.now, "(L)" if s.leader else "", s.unavailable)
            for s in swaps))
    finally:
        held.close()
        ens.close()
