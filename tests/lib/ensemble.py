"""A replicated ensemble of zkd or Apache ZooKeeper 3.8 members on loopback, for fault tests.

    ens = Ensemble(tmpdir, "apache", participants=3, observers=0, proxied=False)
    ens.start()                    # every member, then waits until a quorum serves
    KazooClient(hosts=ens.hosts)   # every member's client port
    sid = ens.leader()             # from `srvr` ("Mode: leader")
    ens.wait_serving() / ens.wait_quorum()     # all running members serve / a quorum does
    ens.kill(sid)                  # SIGKILL (dataDir kept); ens.start_member(sid) brings it back
    ens.pause(sid); ens.resume(sid)            # SIGSTOP / SIGCONT
    ens.partition([1], [2, 3]); ens.heal()     # needs proxied=True (tests/lib/faults.py)
    ens.slow_down(1, 0.05)                     # delay member 1's links
    ens.close()                    # everything stopped, proxies closed (also if a test failed)

NetnsEnsemble (below) runs each member in a network namespace of its own with a real address
(tests/lib/netns.py), for real partitions; the proxies stay for per-link faults (delay, one
direction of one link).

Also a context manager (`with Ensemble(...) as ens:`), usable outside pytest (bench/failover.py).

Members are tests/lib/servers.py launchers (Zkd or ApacheZK), so they are registered for the
failure-report log hook and killed at exit like any test server.  Each one is given, on top of
servers.DEFAULT_CFG and the caller's `cfg`, short timeouts (ENSEMBLE_CFG: tickTime=200, so elections
and failure detection take about a second) and the server.N lines, which both kinds read:

    server.N=127.0.0.1:<quorumPort>:<electionPort>:participant|observer;127.0.0.1:<clientPort>

With proxied=True, member i's zoo.cfg names member j's quorum and election ports as proxy ports of
the link i -> j, so the test can cut, blackhole or delay any directed link.

zkd runs as an ensemble only if `zkd --version` says "ensemble"; ensemble_missing_reason() says why
a kind cannot run (the tests skip with it).
"""
import os
import signal
import subprocess
import time

from tests.lib import servers as S
from tests.lib.faults import Link, Proxy, kill_direct_sockets

HOST = S.HOST

# Short timeouts so that elections and failure detection take about a second; initLimit leaves a
# loaded 2-core machine 4 s to synchronize a follower (a snapshot transfer included).
ENSEMBLE_CFG = {
    "tickTime": "200",
    "initLimit": "20",
    "syncLimit": "5",
    "standaloneEnabled": "false",
    "4lw.commands.whitelist": "*",
    "snapCount": "10000",
    "autopurge.purgeInterval": "0",
}

# Apache's election backs off up to 60 s between notification rounds and waits 5 s on a connect;
# both are JVM properties.  Shorter values keep its failover times comparable to a deployment's
# proportions at tickTime=200.
APACHE_SYSPROPS = {
    "zookeeper.fastleader.maxNotificationInterval": "1000",
    "zookeeper.cnxTimeout": "1000",
}

MODES = ("leader", "follower", "observer")


def zkd_supports_ensemble(binary=None):
    binary = binary or os.path.join(S.BUILD_BIN, "zkd")
    try:
        out = subprocess.run([binary, "--version"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return b"ensemble" in out


def ensemble_missing_reason(kind):
    """Why an ensemble of `kind` cannot run here, or None."""
    reason = S.LAUNCHERS[kind].missing_reason()
    if reason:
        return reason
    if kind == "zkd" and not zkd_supports_ensemble():
        return "zkd does not support ensembles yet (`zkd --version` does not mention 'ensemble')"
    return None


def require_kinds(*kinds):
    """Skips the test when an ensemble of one of `kinds` cannot run here; fails it instead when
    the missing piece is zkd itself (this project's build must be there)."""
    import pytest
    for kind in kinds:
        reason = ensemble_missing_reason(kind)
        if reason and kind == "zkd" and S.Zkd.missing_reason():
            pytest.fail(reason, pytrace=False)
        if reason:
            pytest.skip("%s ensemble unavailable: %s" % (kind, reason))


def kazoo_client(ens, sids, timeout=10):
    """A started KazooClient of members `sids` of `ens`; the caller stops and closes it."""
    from kazoo.client import KazooClient
    kz = KazooClient(hosts=ens.hosts_of(sids), timeout=timeout)
    kz.start(timeout=30)
    return kz


def synced_value(ens, sids, path):
    """The data at `path` as a new client of members `sids` reads it after a sync."""
    kz = kazoo_client(ens, sids)
    try:
        kz.sync("/")
        return kz.get(path)[0]
    finally:
        kz.stop()
        kz.close()


def wait_for(pred, timeout, what, ens=None):
    """Polls pred() until it is true; after `timeout` seconds fails the test naming `what`, with
    the ensemble's description when `ens` is given."""
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() >= deadline:
            import pytest
            pytest.fail("timed out (%.0fs) waiting for %s\n%s" % (
                timeout, what, ens.describe() if ens else ""), pytrace=False)
        time.sleep(0.02)


class EnsembleError(S.ServerError):
    """The ensemble did not reach the expected state in time."""


class Ensemble:
    def __init__(self, workdir, kind="zkd", participants=3, observers=0, cfg=None,
                 proxied=False, apache_heap="256m", apache_sysprops=None, sids=None):
        """sids: the members' server ids (participants first); default 1..n."""
        if participants < 1 or observers < 0:
            raise ValueError("need at least one participant")
        self.kind = kind
        self.workdir = os.path.abspath(str(workdir))
        self.proxied = proxied
        n = participants + observers
        self.sids = list(sids) if sids else list(range(1, n + 1))
        if len(self.sids) != n:
            raise ValueError("sids must name %d servers" % n)
        self.roles = {sid: ("participant" if i < participants else "observer")
                      for i, sid in enumerate(self.sids)}
        self.links = {}  # (src, dst) -> Link
        self.paused = set()
        self.members = {}
        self.apache_sysprops = dict(APACHE_SYSPROPS, **(apache_sysprops or {}))
        try:
            self._plan_addresses()
            if proxied:
                for src in self.sids:
                    for dst in self.sids:
                        if src != dst:
                            name = "%d->%d" % (src, dst)
                            self.links[(src, dst)] = Link(src, dst, [
                                Proxy(S.free_port(), self.quorum_ports[dst], "q" + name),
                                Proxy(S.free_port(), self.election_ports[dst], "e" + name),
                            ])
            for sid in self.sids:
                self.members[sid] = self._make_member(sid, cfg, apache_heap)
        except BaseException:
            self.close()
            raise

    # -- configuration ------------------------------------------------------

    def _plan_addresses(self):
        """Sets each member's address and ports: all on loopback, each on ports of its own.
        (NetnsEnsemble gives each member an address of its own instead.)"""
        self.addrs = {sid: HOST for sid in self.sids}
        self.client_ports = {sid: S.free_port() for sid in self.sids}
        self.quorum_ports = {sid: S.free_port() for sid in self.sids}
        self.election_ports = {sid: S.free_port() for sid in self.sids}

    def _launcher_kw(self, sid):
        """Extra keyword arguments for member `sid`'s launcher (tests/lib/servers.py)."""
        return {"host": self.addrs[sid]}

    def server_line(self, viewer, sid):
        """The server.<sid> value in <viewer>'s zoo.cfg."""
        if self.proxied and viewer != sid:
            q, e = (p.listen_port for p in self.links[(viewer, sid)].proxies)
            host = HOST
        else:
            q, e = self.quorum_ports[sid], self.election_ports[sid]
            host = self.addrs[sid]
        return "%s:%d:%d:%s;%s:%d" % (host, q, e, self.roles[sid], self.addrs[sid],
                                      self.client_ports[sid])

    def member_kind(self, sid):
        """The server kind ("apache" or "zkd") that runs member `sid`."""
        return self.kind

    def _member_cfg(self, sid, cfg):
        """Member `sid`'s zoo.cfg keys (on top of servers.DEFAULT_CFG)."""
        member_cfg = dict(ENSEMBLE_CFG)
        member_cfg.update(cfg or {})
        for other in self.sids:
            member_cfg["server.%d" % other] = self.server_line(sid, other)
        return member_cfg

    def _make_member(self, sid, cfg, apache_heap):
        kind = self.member_kind(sid)
        if kind not in S.LAUNCHERS:
            raise ValueError("unknown server kind %r" % kind)
        kw = dict(port=self.client_ports[sid], cfg=self._member_cfg(sid, cfg), myid=sid,
                  name="%s-%d" % (kind, sid), **self._launcher_kw(sid))
        if kind == "apache":
            kw.update(heap=apache_heap, sysprops=self.apache_sysprops)
        return S.LAUNCHERS[kind](os.path.join(self.workdir, "m%d" % sid), **kw)

    def replace_member(self, sid, kind, cfg=None, apache_heap="256m"):
        """Stops member `sid` (SIGTERM, if running) and puts a launcher of `kind` in its place on
        the same myid, ports and dataDir (the step of a rolling migration); does not start it.
        Only a MixedEnsemble can hold both kinds."""
        raise EnsembleError("only a MixedEnsemble can change a member's kind")

    # -- description --------------------------------------------------------

    @property
    def participants(self):
        return [sid for sid in self.sids if self.roles[sid] == "participant"]

    @property
    def observers(self):
        return [sid for sid in self.sids if self.roles[sid] == "observer"]

    @property
    def quorum_size(self):
        return len(self.participants) // 2 + 1

    def hosts_of(self, sids=None):
        """Connect string of the given members (default all), in that order."""
        return ",".join("%s:%d" % (self.addrs[sid], self.client_ports[sid])
                        for sid in (sids or self.sids))

    @property
    def hosts(self):
        return self.hosts_of()

    def __getitem__(self, sid):
        return self.members[sid]

    def __repr__(self):
        return "<Ensemble %s %s>" % (self.kind, ", ".join(
            "%d:%s" % (sid, "up" if m.running else "down") for sid, m in self.members.items()))

    def mode(self, sid, timeout=2.0):
        """'leader', 'follower', 'observer', or None (not serving, stopped, paused, unreachable)."""
        m = self.members[sid]
        if not m.running or sid in self.paused:
            return None
        try:
            info = S.parse_srvr(m.four_letter("srvr", timeout=timeout))
        except OSError:
            return None
        mode = info.get("Mode", "").strip()
        return mode if mode in MODES else None

    def modes(self):
        return {sid: self.mode(sid) for sid in self.sids}

    def srvr(self, sid):
        return S.parse_srvr(self.members[sid].four_letter("srvr"))

    def leader(self, timeout=0):
        """The sid that says it leads (waiting up to `timeout` s for one), or None."""
        deadline = time.monotonic() + timeout
        while True:
            for sid in self.participants:
                if self.mode(sid) == "leader":
                    return sid
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)

    def followers(self):
        return [sid for sid in self.sids if self.mode(sid) == "follower"]

    def log_size(self, sid):
        """A mark in member `sid`'s logs; log_since(sid, mark) returns what was logged after it."""
        return [os.path.getsize(p) if os.path.exists(p) else 0
                for p in self.members[sid].log_files()]

    def log_since(self, sid, mark):
        out = []
        for path, off in zip(self.members[sid].log_files(), mark):
            try:
                with open(path, "rb") as f:
                    f.seek(off)
                    out.append(f.read().decode("utf-8", "replace"))
            except OSError:
                pass
        return "\n".join(out)

    def describe(self, lines=40):
        """Every member's state and log tail, for failure messages."""
        out = [repr(self)]
        for sid, m in self.members.items():
            out.append("== member %d (%s, %s): %s\n%s" % (
                sid, self.roles[sid], "running" if m.running else "stopped",
                self.mode(sid, timeout=1.0) if m.running else "-", m.log_tail(lines)))
        return "\n".join(out)

    # -- waiting ------------------------------------------------------------

    def wait_serving(self, sids=None, timeout=60.0):
        """Waits until every member in `sids` (default: every running, unpaused member) serves,
        with exactly one leader among them; returns the leader's sid."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            want = sids or [s for s in self.sids
                            if self.members[s].running and s not in self.paused]
            for sid in want:
                m = self.members[sid]
                if m.proc is not None and m.proc.poll() is not None:
                    m._reap()
                    raise EnsembleError("member %d exited with status %s\n%s" % (
                        sid, m.proc.returncode, self.describe()))
            last = {sid: self.mode(sid) for sid in want}
            leaders = [sid for sid, mode in last.items() if mode == "leader"]
            if all(last.values()) and len(leaders) == 1:
                return leaders[0]
            if time.monotonic() >= deadline:
                raise EnsembleError("ensemble not serving after %.0fs (modes %s)\n%s" % (
                    timeout, last, self.describe()))
            time.sleep(0.05)

    def wait_quorum(self, timeout=60.0):
        """Waits until a leader serves with enough followers for a quorum (other members may
        still be down or catching up); returns the leader's sid."""
        deadline = time.monotonic() + timeout
        while True:
            modes = self.modes()
            leaders = [sid for sid, m in modes.items() if m == "leader"]
            voters = sum(1 for sid, m in modes.items()
                         if m in ("leader", "follower") and self.roles[sid] == "participant")
            if len(leaders) == 1 and voters >= self.quorum_size:
                return leaders[0]
            if time.monotonic() >= deadline:
                raise EnsembleError("no quorum serving after %.0fs (modes %s)\n%s" % (
                    timeout, modes, self.describe()))
            time.sleep(0.05)

    # -- lifecycle ----------------------------------------------------------

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self, timeout=90.0):
        """Starts every member that is not running and waits until all serve; returns the leader."""
        for sid in self.sids:
            if not self.members[sid].running:
                self.members[sid].start(wait=False)
        return self.wait_serving(timeout=timeout)

    def start_member(self, sid, wait=True, timeout=60.0):
        """(Re)starts one member (same ports and dataDir); waits until it serves if `wait`."""
        self.members[sid].start(wait=False)
        if wait:
            self.wait_serving(timeout=timeout)

    def kill(self, sid, sig=signal.SIGKILL):
        """Sends `sig` (default SIGKILL, a crash) and waits for the member to exit."""
        if sid in self.paused:
            self.resume(sid)
        return self.members[sid].kill(sig)

    def stop(self, sid):
        return self.kill(sid, signal.SIGTERM)

    def pause(self, sid):
        """SIGSTOP: the member hangs with its sockets open, as on a long GC pause."""
        os.kill(self.members[sid].pid, signal.SIGSTOP)
        self.paused.add(sid)

    def resume(self, sid):
        os.kill(self.members[sid].pid, signal.SIGCONT)
        self.paused.discard(sid)

    def restart_all(self, sig=signal.SIGKILL, timeout=90.0):
        """Every member down (SIGKILL by default), then all up again; returns the new leader."""
        for sid in self.sids:
            if self.members[sid].running:
                self.kill(sid, sig)
        return self.start(timeout=timeout)

    # -- partitions ---------------------------------------------------------

    def link(self, src, dst):
        if not self.proxied:
            raise EnsembleError("links need Ensemble(proxied=True)")
        return self.links[(src, dst)]

    def partition(self, *groups, mode="cut"):
        """Splits the members into `groups` (lists of sids; members not named form one more
        group): every link between two groups is cut (or blackholed), in both directions."""
        named = {sid for g in groups for sid in g}
        groups = [set(g) for g in groups]
        rest = set(self.sids) - named
        if rest:
            groups.append(rest)
        side = {sid: i for i, g in enumerate(groups) for sid in g}
        for (src, dst), link in self.link_items():
            if side[src] != side[dst]:
                getattr(link, mode)()
        # Apache's election layer may hold direct sockets between members (faults.py): a higher
        # sid connects back to a lower one's real election port.  Destroy those across the split.
        for (a, b), _ in self.link_items():
            if a > b and side[a] != side[b] and self.members[a].running:
                kill_direct_sockets(self.members[a].pid, self.election_ports[b])

    def slow_down(self, sid, seconds):
        """Every link to and from member `sid` delays each chunk by `seconds` (until heal())."""
        for (src, dst), link in self.link_items():
            if sid in (src, dst):
                link.delay(seconds)

    def isolate(self, sid, mode="cut"):
        self.partition([sid], mode=mode)

    def heal(self):
        for _, link in self.link_items():
            link.restore()

    def link_items(self):
        if not self.proxied:
            raise EnsembleError("partitions need Ensemble(proxied=True)")
        return list(self.links.items())

    def close(self):
        """Stops every member (resuming paused ones first) and closes the proxies."""
        errors = []
        for sid in list(self.paused):
            try:
                self.resume(sid)
            except OSError:
                pass
        for m in reversed(list(self.members.values())):
            try:
                m.close()
            except S.ServerError as e:
                errors.append(str(e))
        for link in self.links.values():
            link.close()
        self.links = {}
        if errors:
            raise S.ServerError("\n\n".join(errors))


class NetnsEnsemble(Ensemble):
    """An Ensemble whose members each run in a network namespace of their own (tests/lib/netns.py),
    with a real address on one bridge, on the standard ports 2181, 2888 and 3888, announcing that
    address to the others; the test process reaches every member through the bridge.  Partitions
    are real: packets are dropped by the kernel, not by proxies of the test process.

        ens = NetnsEnsemble(tmpdir, "zkd", participants=3)
        ens.isolate(sid)              # cable pulled: peers AND clients lose the member
        ens.partition([1], [2, 3])    # members drop each other's packets; clients reach everyone
        ens.heal()
        ens.net                       # the netns.Network, for finer faults (cut, drop_from)

    Four-letter words (mode(), srvr(), wait_serving()) are asked from inside each member's
    namespace, so a member cut off from the test process can still be observed."""

    CLIENT_PORT, QUORUM_PORT, ELECTION_PORT = 2181, 2888, 3888

    def __init__(self, workdir, kind="zkd", participants=3, observers=0, cfg=None, **kw):
        from tests.lib.netns import Network

        if kw.pop("proxied", False):
            raise ValueError("a NetnsEnsemble partitions with namespaces, not proxies")
        self.net = Network(participants + observers)
        self.net.create()
        try:
            super().__init__(workdir, kind, participants, observers, cfg, proxied=False, **kw)
        except BaseException:
            self.net.close()
            raise

    def _plan_addresses(self):
        self.addrs = {sid: self.net.addr(sid) for sid in self.sids}
        self.client_ports = {sid: self.CLIENT_PORT for sid in self.sids}
        self.quorum_ports = {sid: self.QUORUM_PORT for sid in self.sids}
        self.election_ports = {sid: self.ELECTION_PORT for sid in self.sids}

    def _launcher_kw(self, sid):
        return {"host": self.addrs[sid], "netns": self.net.ns(sid)}

    def __repr__(self):
        return "%s on %s%s" % (
            super().__repr__(), self.net.subnet,
            " (isolated %s, drops %s)" % (sorted(self.net.isolated), {
                sid: sorted(b) for sid, b in self.net.blocked.items() if b})
            if self.net.isolated or any(self.net.blocked.values()) else "")

    # -- partitions ---------------------------------------------------------

    def partition(self, *groups, mode="cut"):
        """Members of different groups drop each other's packets (netns.Network.partition);
        clients still reach every member.  Only mode "cut" (silent loss) exists here."""
        if mode not in ("cut", "blackhole"):
            raise EnsembleError("a NetnsEnsemble has no %r partitions" % mode)
        self.net.partition(*groups)

    def isolate(self, sid, mode="link"):
        """mode "link": member `sid`'s cable is pulled (clients lose it too); "cut" (or
        "blackhole"): it drops its peers' packets and they drop its, but clients reach it."""
        if mode == "link":
            self.net.isolate(sid)
        else:
            self.partition([sid], mode=mode)

    def heal(self):
        self.net.heal()

    def slow_down(self, sid, seconds):
        raise EnsembleError("no delays between namespaces (tc netem is unavailable here)")

    def link_items(self):
        raise EnsembleError("a NetnsEnsemble has no proxied links")

    def close(self):
        try:
            super().close()
        finally:
            self.net.close()


class MixedEnsemble(Ensemble):
    """An ensemble of Apache ZooKeeper members and, in `zkd_sids`, zkd members speaking Apache's
    member protocol (memberProtocol=apache, issue 16).  Its `kind` is "mixed" (tests that treat
    Apache's own misbehaviour leniently on kind "apache" stay strict here).

    leader: the sid that should lead at start: start() brings it up with the next-lower
    participant first (equal, empty histories: the larger sid wins the election), waits until
    those two serve, then starts the rest, which join the established leader."""

    def __init__(self, workdir, zkd_sids, leader=None, **kw):
        self.zkd_sids = set(zkd_sids)
        self.first_leader = leader
        super().__init__(workdir, "mixed", **kw)
        if leader is not None and not [s for s in self.participants if s < leader]:
            self.close()
            raise ValueError("leader %d needs a participant with a lower sid" % leader)

    def member_kind(self, sid):
        return "zkd" if sid in self.zkd_sids else "apache"

    def _member_cfg(self, sid, cfg):
        member_cfg = super()._member_cfg(sid, cfg)
        if sid in self.zkd_sids:
            member_cfg["memberProtocol"] = "apache"
        return member_cfg

    def __repr__(self):
        return "<MixedEnsemble %s>" % ", ".join("%d:%s:%s" % (
            sid, self.member_kind(sid), "up" if m.running else "down")
            for sid, m in self.members.items())

    def start(self, timeout=90.0):
        if self.first_leader is not None and not any(m.running for m in self.members.values()):
            second = max(s for s in self.participants if s < self.first_leader)
            for sid in (self.first_leader, second):
                self.members[sid].start(wait=False)
            self.wait_serving(sids=[self.first_leader, second], timeout=timeout)
        return super().start(timeout=timeout)

    def replace_member(self, sid, kind, cfg=None, apache_heap="256m"):
        old = self.members[sid]
        if old.running:
            self.stop(sid)
        old.close()
        (self.zkd_sids.add if kind == "zkd" else self.zkd_sids.discard)(sid)
        self.members[sid] = self._make_member(sid, cfg, apache_heap)
        return self.members[sid]


# Mixed ensembles (issue 16): name -> MixedEnsemble arguments.  The leader at start is the
# layout's `leader`; which kind leads after a fault is up to the election.
MIXED_LAYOUTS = {
    # a zkd leader, two Apache followers
    "zkd-leads-apache": dict(zkd_sids=[3], leader=3, participants=3),
    # an Apache leader, two zkd followers
    "apache-leads-zkd": dict(zkd_sids=[1, 2], leader=3, participants=3),
    # five members: participants 1 and 2 (zkd) and 3 (Apache, leads); observers 4 (zkd) and
    # 5 (Apache)
    "five-with-observers": dict(zkd_sids=[1, 2, 4], leader=3, participants=3, observers=2),
}
