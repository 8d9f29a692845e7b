"""Clients through failover: kazoo and Apache's C client (cli_mt) against 3- and 5-member
ensembles keep their session, their watches and their ephemerals when the member they talk to
(the leader) is killed; an observer serves reads, writes and watches, and is no voter."""
import os
import queue
import time

import pytest
from kazoo.exceptions import ConnectionLoss, SessionExpiredError
from kazoo.handlers.threading import KazooTimeoutError

from tests.integration.test_c_client import CLI, Cli, CliError


# Sessions long enough that a failover on a loaded machine (or a sanitizer build) cannot expire
# them: what is tested is that they are resumed, not how fast (the server's cap is 20 ticks).
LONG_SESSIONS = {"maxSessionTimeout": "30000"}
SESSION_TIMEOUT = 15.0


def wait_for(pred, timeout=30.0, what="condition", ens=None):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() >= deadline:
            pytest.fail("timed out waiting for %s\n%s" % (what, ens.describe() if ens else ""),
                        pytrace=False)
        time.sleep(0.05)


def drain(q):
    """Everything queued so far (the callbacks' history)."""
    out = []
    while True:
        try:
            out.append(q.get_nowait())
        except queue.Empty:
            return out


def retrying(fn, *args, timeout=30.0, **kw):
    """fn(*args) retried through connection loss (a failover), for idempotent calls."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return fn(*args, **kw)
        except ConnectionLoss:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.1)


@pytest.mark.parametrize("size", [3, 5])
def test_kazoo_keeps_session_watches_and_ephemerals_through_leader_crash(ensemble_factory, kz,
                                                                         size):
    ens = ensemble_factory(participants=size, cfg=LONG_SESSIONS)
    leader = ens.leader()
    rest = [s for s in ens.sids if s != leader]
    client = kz(ens.hosts_of([leader] + rest), randomize_hosts=False,  # on the leader first
                timeout=SESSION_TIMEOUT)
    other = kz(ens.hosts_of(rest))
    client.create("/fo", b"0")
    client.create("/fo/eph", b"", ephemeral=True)
    session = client.client_id
    # kazoo drops one-shot watches when its connection drops (it fires them with a NONE event);
    # its DataWatch and ChildrenWatch recipes re-arm them, as applications do.
    seen_data, seen_children = queue.Queue(), queue.Queue()
    client.DataWatch("/fo", lambda data, stat: seen_data.put(data))
    client.ChildrenWatch("/fo", lambda children: seen_children.put(sorted(children)))

    ens.kill(leader)
    assert ens.wait_serving(rest) != leader
    retrying(other.set, "/fo", b"1")
    retrying(other.ensure_path, "/fo/child")
    wait_for(lambda: b"1" in drain(seen_data), what="the data watch", ens=ens)
    wait_for(lambda: ["child", "eph"] in drain(seen_children), what="the child watch", ens=ens)
    assert retrying(client.get, "/fo")[0] == b"1"
    assert client.client_id == session  # resumed on another member, not a new session
    assert retrying(other.exists, "/fo/eph") is not None  # ephemerals outlive the member

    ens.start_member(leader)
    client.stop()  # closing the session removes its ephemeral
    wait_for(lambda: retrying(other.exists, "/fo/eph") is None, what="the ephemeral to go", ens=ens)


def cli_wait(cli, pred):
    """Reads cli_mt's output until a line satisfies pred; returns it."""
    for _ in cli._until(pred):
        pass
    return cli._last


@pytest.mark.skipif(not os.access(CLI, os.X_OK),
                    reason="cli_mt not found (apt-get install zookeeper-bin)")
@pytest.mark.parametrize("size", [3, 5])
def test_c_client_keeps_session_watches_and_ephemerals_through_leader_crash(ensemble_factory, kz,
                                                                           size):
    ens = ensemble_factory(participants=size, cfg=LONG_SESSIONS)  # cli_mt asks for 10 s
    leader = ens.leader()
    rest = [s for s in ens.sids if s != leader]
    other = kz(ens.hosts_of(rest))
    other.create("/cfo", b"0")
    # cli_mt shuffles its host list: given the leader and one follower, it is on the leader (and
    # must fail over) about half the time; the session, watch and ephemeral must survive either way.
    cli = Cli(ens.hosts_of([leader, rest[0]]), timeout=30.0)
    try:
        assert any("rc = 0" in l for l in cli.run("create +e /cfo/eph"))
        cli.run("get /cfo")  # leaves a data watch
        session = cli.session
        ens.kill(leader)
        ens.wait_serving(rest)
        retrying(other.set, "/cfo", b"1")
        # The one-shot watch was re-armed on the new member: its event arrives.
        cli_wait(cli, lambda l: "CHANGED_EVENT" in l and "/cfo" in l)
        out = cli.run("get /cfo")
        assert any("rc = 0" in l for l in out), out
        stat = retrying(other.exists, "/cfo/eph")
        assert stat is not None and stat.ephemeralOwner == session
    except CliError as e:
        pytest.fail("cli_mt: %s\n%s" % (e, ens.describe()), pytrace=False)
    finally:
        cli.close()
    wait_for(lambda: retrying(other.exists, "/cfo/eph") is None, what="the ephemeral to go",
             ens=ens)


def test_observer_serves_reads_writes_and_watches_but_does_not_vote(ensemble_factory, kz):
    ens = ensemble_factory(participants=3, observers=1, cfg=LONG_SESSIONS)
    obs = ens.observers[0]
    assert ens.mode(obs) == "observer"
    on_obs = kz(ens.hosts_of([obs]), timeout=SESSION_TIMEOUT)
    on_part = kz(ens.hosts_of(ens.participants))
    on_obs.create("/obs", b"1")  # forwarded to the leader
    on_part.sync("/obs")
    assert on_part.get("/obs")[0] == b"1"
    events = queue.Queue()
    on_obs.get("/obs", watch=events.put)
    on_part.set("/obs", b"2")
    assert events.get(timeout=30).type == "CHANGED"
    assert on_obs.get("/obs")[0] == b"2"  # the event came after the change was applied there

    leader = ens.leader()
    ens.kill(leader)
    ens.wait_serving([s for s in ens.sids if s != leader])
    retrying(on_obs.set, "/obs", b"3")
    retrying(on_part.sync, "/obs")
    assert retrying(on_part.get, "/obs")[0] == b"3"

    # One participant and the observer are no quorum of 3 voters.
    ens.kill(ens.leader())
    lone = [s for s in ens.participants if ens[s].running][0]
    wait_for(lambda: ens.mode(lone) is None and ens.mode(obs) is None, what="no quorum", ens=ens)
    # kazoo queues requests while it looks for a server: give the write a few seconds.
    with pytest.raises((ConnectionLoss, SessionExpiredError, KazooTimeoutError)):
        on_obs.set_async("/obs", b"4").get(timeout=3)


def test_follower_closes_the_connection_of_a_session_the_leader_expired(ensemble_factory, kz):
    """A client that stops pinging a follower: the leader expires its session, and the follower,
    applying the closeSession, closes the client's connection (Apache's
    FinalRequestProcessor -> closeSession), so the client learns at once, not at its next
    request.  Its ephemeral is gone on every member."""
    from tests.lib.rawzk import RawSession
    ens = ensemble_factory()
    leader = ens.leader()
    follower = [sid for sid in ens.participants if sid != leader][0]
    raw = RawSession(ens.client_ports[follower], timeout_ms=2000)
    try:
        assert raw.create("/closed-by-follower", b"", flags=1)[0] == 0  # ephemeral
        watcher = kz(ens.hosts_of([leader]))
        gone = watcher.exists("/closed-by-follower", watch=lambda e: None) is None
        assert not gone
        # No pings from here on: the server ends the session and then the connection.
        raw.sock.settimeout(60)
        try:
            while raw.sock.recv(4096):
                pass  # (anything the server still sends before it closes)
        except ConnectionResetError:
            pass
        wait_for(lambda: watcher.exists("/closed-by-follower") is None, 30,
                 "the expired session's ephemeral to go", ens)
    finally:
        raw.close_socket()
