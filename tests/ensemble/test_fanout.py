"""Watch fan-out over an ensemble (issue 20), the small version of bench/fanout.py:

  - one voter and observers elect (the layout of a read fan-out: a leader and observers holding
    the watchers); zkd's sole voter used to look for a leader forever, hearing no other voter's
    vote (server/election.c election_look);
  - 200 sessions (bench/fanout.c) spread over the leader and an observer, each with an exists
    watch on /fan: one setData, every session notified exactly once, twice over (the watches are
    set again in between); with global sessions and with localSessionsEnabled.

Counts only, no timings.  Cost: a few seconds (Apache's start for the election case).
"""
import os
import subprocess

import pytest

from tests.lib.paths import BUILD_BIN

WATCHERS = 200


def test_one_voter_with_observers_elects(kind, ensemble_factory):
    ens = ensemble_factory(participants=1, observers=2)
    assert ens.leader(timeout=30) == ens.participants[0]
    assert {ens.mode(sid) for sid in ens.observers} == {"observer"}


class Fanout:
    """bench/fanout.c on its stdin/stdout protocol."""

    def __init__(self, hosts, n, out):
        self.proc = subprocess.Popen(
            [os.path.join(BUILD_BIN, "fanout"), "--hosts", hosts, "--conns", str(n), "--out", out,
             "--threads", "2"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            bufsize=1)

    def line(self):
        return self.proc.stdout.readline().split()

    def collect(self):
        self.proc.stdin.write("collect 30\n")
        return self.line()

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# zkd only: the generator and the count would be the same for Apache (bench/fanout.py compares).
@pytest.mark.parametrize("kind", ["zkd"])
@pytest.mark.parametrize("local", [False, True], ids=["global", "local"])
def test_fanout_across_leader_and_observer(kind, local, ensemble_factory, kz, tmp_path):
    cfg = {"maxClientCnxns": "0"}
    if local:
        cfg["localSessionsEnabled"] = "true"
    ens = ensemble_factory(participants=1, observers=1, cfg=cfg)
    client = kz(ens.hosts_of([ens.participants[0]]))
    client.create("/fan", b"0")
    gen = Fanout(ens.hosts, WATCHERS, str(tmp_path / "events.bin"))
    try:
        assert gen.line() == ["armed", "1"]
        for rnd in (1, 2):
            client.set("/fan", b"%d" % rnd)
            # "done ROUND NOTIFIED DUPLICATES"
            assert gen.collect() == ["done", str(rnd), str(WATCHERS), "0"]
            assert gen.line() == ["armed", str(rnd + 1)]
        stamps = (tmp_path / "events.bin").read_bytes()
        assert len(stamps) == 8 * WATCHERS and b"\0" * 8 not in [
            stamps[i:i + 8] for i in range(0, len(stamps), 8)]
        # both members held watchers: the sessions went round-robin over the two
        srvs = [ens.srvr(sid) for sid in ens.sids]
        assert all(int(s["Connections"]) >= WATCHERS // 2 for s in srvs), srvs
    finally:
        gen.close()
