"""zkd's poll window (pollSpinMicros, server_run in server/server.c): after client input the
loop keeps polling instead of sleeping, so a client that sends its next request soon after a
reply finds the server awake.  Latency is measured by bench/, not here; these tests check the
mechanism through mntr's counters, which count the requests the window caught and the window
time that ran out unused."""
from tests.lib.rawzk import RawSession
from tests.lib.servers import four_letter

REQUESTS = 20


def spin_counters(port):
    lines = dict(l.split("\t", 1) for l in four_letter(port, "mntr").splitlines() if "\t" in l)
    return int(lines["zk_poll_spin_hits"]), int(lines["zk_poll_spin_idle_us"])


def back_to_back_gets(port):
    s = RawSession(port)
    s.create("/spin", b"x")
    for _ in range(REQUESTS):
        err, _ = s.call("getData", b"\0\0\0\x05/spin\0")
        assert err == 0
    s.close_session()


def test_window_catches_back_to_back_requests(server_factory):
    # A one-second window: each next request arrives long before it runs out.
    srv = server_factory("zkd", cfg={"pollSpinMicros": 1000000, "4lw.commands.whitelist": "ruok, mntr"})
    hits_before, _ = spin_counters(srv.port)
    back_to_back_gets(srv.port)
    hits, _ = spin_counters(srv.port)
    assert hits - hits_before >= REQUESTS


def test_window_off_never_spins(server_factory):
    srv = server_factory("zkd", cfg={"pollSpinMicros": 0, "4lw.commands.whitelist": "ruok, mntr"})
    back_to_back_gets(srv.port)
    assert spin_counters(srv.port) == (0, 0)
