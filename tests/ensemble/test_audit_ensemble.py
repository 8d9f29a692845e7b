"""Which member writes the audit lines (audit.enable) on a 3-member ensemble, Apache 3.8 against
zkd: the same client scenario (tests/integration/test_audit_log.py) runs through one follower,
and each member's audit log is compared with the Apache member of the same role.

Apache's FinalRequestProcessor logs a write only where the request has a client connection, so
the follower the client is connected to logs every write (with the client's ip and ids), the
leader, which runs it for that follower, logs none, and every member logs the ephemerals a
closing session loses (DataTree.killSession runs on each).  A zkd follower of an Apache leader
(memberProtocol=apache) writes the lines an Apache follower writes."""
import os

import pytest

pytest.importorskip("kazoo")

from kazoo.client import KazooClient  # noqa: E402

from tests.integration.test_audit_log import normalise, parse, read_lines, scenario  # noqa: E402
from tests.lib.ensemble import Ensemble, MixedEnsemble, require_kinds  # noqa: E402
from tests.lib.waiting import wait_until  # noqa: E402

AUDIT_FILE = "zookeeper_audit.log"


def audit_path(member):
    # Apache's launcher routes its audit logger to a file of its own; zkd writes
    # $ZOO_LOG_DIR/zookeeper_audit.log, and each member is given its own ZOO_LOG_DIR.
    return getattr(member, "audit_log_path", None) or os.path.join(member.workdir, AUDIT_FILE)


CFG = {"audit.enable": "true"}


def run(ens, via=None, first=None):
    """The scenario through follower `via` (default: any follower) of `ens`, which it starts
    (members `first` first, serving before the others join) and closes; returns each role's
    normalised audit lines."""
    try:
        for sid in ens.sids:
            ens[sid].extra_env["ZOO_LOG_DIR"] = ens[sid].workdir
        if first:
            for sid in first:
                ens[sid].start(wait=False)
            ens.wait_serving(sids=first, timeout=90)
            for sid in ens.sids:
                if sid not in first:
                    ens.start_member(sid, wait=False)
            ens.wait_serving(timeout=60)
        else:
            ens.start(timeout=90)
        leader = ens.leader()
        followers = [sid for sid in ens.participants if sid != leader]
        via = via or followers[0]
        assert via in followers, "member %d is not a follower" % via
        other = [sid for sid in followers if sid != via][0]
        clients = [KazooClient(hosts=ens.hosts_of([via]), timeout=4.0) for _ in range(2)]
        for c in clients:
            c.start(timeout=30)
        try:
            scenario(*clients)
        finally:
            for c in clients:
                c.stop()
                c.close()
        # The first session's two ephemerals are deleted on every member; the writer threads
        # write in order, so once those lines are in a file, everything before them is too.
        for sid in ens.sids:
            wait_until(lambda: sum("ephemeralZNodeDeletion" in line
                                   for line in read_lines(audit_path(ens[sid]))) >= 2,
                       what="member %d's ephemeral deletions in its audit log" % sid)
        roles = {"client's follower": via, "leader": leader, "other follower": other}
        return {role: normalise(parse(read_lines(audit_path(ens[sid]))))
                for role, sid in roles.items()}
    finally:
        ens.close()


@pytest.fixture(scope="module")
def apache_logs(tmp_path_factory):
    require_kinds("apache")
    return run(Ensemble(tmp_path_factory.mktemp("apache-audit"), "apache", participants=3,
                        cfg=CFG))


def assert_same(a, z, role):
    assert [key(e) for e in z] == [key(e) for e in a], "\n".join(
        ["%s, apache:" % role] + [str(e) for e in a] + ["zkd:"] + [str(e) for e in z])
    assert (sorted(e for e in z if key(e) == ("eph",))
            == sorted(e for e in a if key(e) == ("eph",))), role


def key(ev):
    # Apache deletes one session's ephemerals in hash order: compare them as a set.
    return ev if "ephemeralZNodeDeletion" not in str(ev) else ("eph",)


def test_audit_lines_are_written_by_the_clients_member_as_apache(tmp_path, apache_logs):
    require_kinds("zkd")
    logs = {"apache": apache_logs, "zkd": run(Ensemble(tmp_path, "zkd", participants=3, cfg=CFG))}
    for role in logs["apache"]:
        assert_same(logs["apache"][role], logs["zkd"][role], role)
    # What the comparison covered: the client's writes on its follower only, and each member's
    # ephemeral deletions.
    ops = {role: [dict(p)["operation"] for _, p in events]
           for role, events in logs["zkd"].items()}
    for op in ("create", "delete", "setData", "setAcl", "multiOperation"):
        assert op in ops["client's follower"], op
        assert op not in ops["leader"] and op not in ops["other follower"], op
    for role in ops:
        assert ops[role].count("ephemeralZNodeDeletionOnSessionCloseOrExpire") == 2, role


def test_zkd_follower_of_an_apache_leader_writes_the_lines_of_an_apache_follower(tmp_path,
                                                                              apache_logs):
    require_kinds("zkd")
    # The Apache members first, so that zkd joins their leader (started together, zkd, with
    # the largest sid and equal histories, would lead).
    mixed = run(MixedEnsemble(tmp_path, [3], participants=3, cfg=CFG), via=3,
                first=[1, 2])
    assert_same(apache_logs["client's follower"], mixed["client's follower"], "zkd follower")
