"""Quotas on a 3-member ensemble, Apache 3.8 and zkd alike: the usage in
/zookeeper/quota/<path>/zookeeper_stats is kept by every member as it applies the transactions
(leader, followers, and a follower brought back by a snapshot sync, which recounts it), and a
hard limit (enforceQuota=true) refuses a write sent through a follower."""
import pytest

kazoo = pytest.importorskip("kazoo")

import kazoo.exceptions as KE  # noqa: E402

from tests.ensemble.test_sync import APACHE_SYNC_PROPS, write_many  # noqa: E402
from tests.integration.test_quota import QUOTA, hard, set_quota  # noqa: E402 (registers -125)
from tests.lib.waiting import wait_until  # noqa: E402

CFG = {"enforceQuota": "true", "snapCount": "100"}


def stats_on(client, path):
    client.sync(QUOTA + path + "/zookeeper_stats")
    return client.get(QUOTA + path + "/zookeeper_stats")[0].decode()


def test_quota_usage_is_replicated_and_enforced(ensemble_factory, kz, kind):
    ens = ensemble_factory(cfg=CFG, apache_sysprops=APACHE_SYNC_PROPS)
    leader = ens.leader()
    lagging, other = [s for s in ens.participants if s != leader]
    client = kz(ens.hosts_of([leader]))
    client.create("/eq", b"")
    set_quota(client, "/eq", hard(count=200))
    write_many(client, "/eq", 0, 3)  # data "v0".."v2": 2 bytes each
    for sid in ens.participants:
        assert stats_on(kz(ens.hosts_of([sid])), "/eq") == "count=4,bytes=6", sid

    # A follower that misses enough to be synchronized by a snapshot holds the same usage.
    ens.kill(lagging)
    write_many(client, "/eq", 3, 150)  # v3..v152: 7 of 2 bytes, 90 of 3, 53 of 4
    expected = "count=%d,bytes=%d" % (4 + 150, 6 + 2 * 7 + 3 * 90 + 4 * 53)
    ens.start_member(lagging)
    assert stats_on(kz(ens.hosts_of([lagging])), "/eq") == expected

    # The hard limit holds whichever member the write comes through.
    via_follower = kz(ens.hosts_of([other]))
    write_many(via_follower, "/eq", 200, 46)  # count 200: the limit
    # Apache checks a quota against the leader's applied tree, not against what it has prepared:
    # a create forwarded while the leader has yet to apply the 200th one would pass (the follower
    # acknowledged it after applying its own copy).  Wait until the leader's usage says 200.
    wait_until(lambda: stats_on(client, "/eq").startswith("count=200,"), 30,
               "the leader to apply the 200th create")
    with pytest.raises(KE.ZookeeperError) as e:
        via_follower.create("/eq/over")
    assert type(e.value) is KE.EXCEPTIONS[-125]
    for sid in ens.participants:
        assert stats_on(kz(ens.hosts_of([sid])), "/eq").startswith("count=200,"), sid
