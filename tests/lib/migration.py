"""A rolling migration between Apache ZooKeeper and zkd (issue 16), member by member, and what a
client sees of it: shared by tests/ensemble/test_rolling_migration.py and bench/migration.py.

    ens = MixedEnsemble(tmpdir, zkd_sids=[], participants=3, cfg=MIGRATION_CFG); ens.start()
    held = HeldSession(ens); held.start()          # a session with an ephemeral node
    swaps = rolling(ens, ["zkd"] * 3 + ["apache"] * 3)   # each member to zkd, then back
    held.check()                                   # same session, never lost, ephemeral there

A swap stops member `sid` (SIGTERM, as an operator's service stop), puts a launcher of the other
kind on the same myid, ports, zoo.cfg keys and dataDir (MixedEnsemble.replace_member; zkd's also
says memberProtocol=apache), starts it and waits until every member serves again.  Each Swap
records:

  stopping     from the stop signal until the process has exited (Apache's JVM takes about half
               a second to shut down; zkd a few milliseconds)
  unavailable  from the stop signal until a write through the other members is acknowledged
               again (a probe kazoo client connected to those members only, retrying setData every
               10 ms with 0.5 s per attempt, as bench/failover.py): what clients of the ensemble
               see, election and the new quorum's synchronization included.  The probe starts
               once the member has exited, so a follower's swap costs its `stopping` time and
               little more; the leader's costs an election on top.
  rejoined     from the stop signal until the replacement serves (every member in a mode).
"""
import time

# The held session gets 10 s (maxSessionTimeout raised from tickTime=200's 20-tick 4 s): on this
# shared 2-core machine an Apache member's start can stall the others for seconds; deployments
# run 10-40 s session timeouts with elections far shorter than that.
MIGRATION_CFG = {"maxSessionTimeout": "10000"}
HELD_TIMEOUT = 10.0


class Swap:
    def __init__(self, sid, was, now, leader, stopping, unavailable, rejoined, new_leader):
        self.sid, self.was, self.now = sid, was, now
        self.leader = leader  # the member was the leader when stopped
        self.stopping = stopping
        self.unavailable, self.rejoined, self.new_leader = unavailable, rejoined, new_leader

    def __repr__(self):
        return "member %d %s -> %s%s: stopped in %.3f s, writes unavailable %.3f s, rejoined " \
               "after %.3f s (leader now %s)" % (
                   self.sid, self.was, self.now, " (the leader)" if self.leader else "",
                   self.stopping, self.unavailable, self.rejoined, self.new_leader)


def write_until_ok(client, path, value, deadline, attempt_timeout=0.5):
    """Retries setData until acknowledged; returns the monotonic time of the acknowledgement."""
    while time.monotonic() < deadline:
        try:
            client.set_async(path, value).get(timeout=attempt_timeout)
            return time.monotonic()
        except Exception:  # connection loss, timeout, not serving: the ensemble is failing over
            time.sleep(0.01)
    raise RuntimeError("no write succeeded before the deadline")


def probe_client(ens, sids):
    """A started kazoo client of members `sids` retrying every 50 ms without backoff."""
    from kazoo.client import KazooClient
    from kazoo.retry import KazooRetry

    c = KazooClient(hosts=ens.hosts_of(sids), timeout=4.0,
                    connection_retry=KazooRetry(max_tries=-1, delay=0.05, max_delay=0.05,
                                                backoff=1))
    c.start(timeout=30)
    return c


def swap(ens, sid, kind, timeout=120.0, probe_path="/migration-probe"):
    """Replaces member `sid` of MixedEnsemble `ens` by a member of `kind`; returns a Swap."""
    others = [s for s in ens.sids if s != sid]
    leader = ens.leader()
    was = ens.member_kind(sid)
    probe = probe_client(ens, others)
    try:
        probe.ensure_path(probe_path)
        t0 = time.monotonic()
        ens.replace_member(sid, kind)  # SIGTERM, waits for the exit
        t_exit = time.monotonic()
        t1 = write_until_ok(probe, probe_path, b"after %d" % sid, t0 + timeout)
    finally:
        probe.stop()
        probe.close()
    ens.start_member(sid, wait=False)
    new_leader = ens.wait_serving(timeout=timeout)
    t2 = time.monotonic()
    return Swap(sid, was, kind, leader == sid, t_exit - t0, t1 - t0, t2 - t0, new_leader)


def rolling(ens, kinds, order=None, log=print):
    """One swap per entry of `kinds`, on members `order` (default: the sids, round and round);
    returns the Swaps."""
    order = order or [ens.sids[i % len(ens.sids)] for i in range(len(kinds))]
    swaps = []
    for sid, kind in zip(order, kinds):
        swaps.append(swap(ens, sid, kind))
        log(repr(swaps[-1]))
    return swaps


class HeldSession:
    """One kazoo session held across the migration, owning an ephemeral node; check() verifies
    it was never expired (kazoo never reported LOST, same session id, the node still its own)."""

    def __init__(self, ens, path="/migration-held", timeout=HELD_TIMEOUT):
        from kazoo.client import KazooClient
        from kazoo.retry import KazooRetry

        self.ens, self.path = ens, path
        self.states = []
        self.client = KazooClient(hosts=ens.hosts, timeout=timeout,
                                  connection_retry=KazooRetry(max_tries=-1, delay=0.05,
                                                              max_delay=0.5))
        self.client.add_listener(self.states.append)

    def start(self):
        self.client.start(timeout=30)
        self.session = self.client.client_id[0]
        self.client.create(self.path, b"held", ephemeral=True)

    def check(self):
        """Returns a list of problems (empty: the session survived)."""
        from kazoo.client import KazooState
        from kazoo.retry import KazooRetry

        problems = []
        if KazooState.LOST in self.states:
            problems.append("the held session was lost (states %s)" % self.states)
        retry = KazooRetry(max_tries=-1, delay=0.05, max_delay=0.5, deadline=60)
        stat = retry(self.client.exists, self.path)
        if self.client.client_id is None or self.client.client_id[0] != self.session:
            problems.append("the held session changed from 0x%x to %s" % (
                self.session, self.client.client_id))
        if stat is None:
            problems.append("the held session's ephemeral %s is gone" % self.path)
        elif stat.ephemeralOwner != self.session:
            problems.append("%s is owned by 0x%x, not the held session 0x%x" % (
                self.path, stat.ephemeralOwner, self.session))
        return problems

    def close(self):
        self.client.stop()
        self.client.close()
