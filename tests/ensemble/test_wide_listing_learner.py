"""A sliced getChildren on a follower (server/listing.h) keeps the session's order with the
writes it forwards: pipelined create x, getChildren2, create y, getChildren2 on one follower
session.  The follower holds the reads behind the forwarded create; when its reply comes it runs
the held getChildren2, which is answered in slices (getChildrenSlice=1, 2,000 children: as many turns), and
create y must wait for that reply (zkd: quorum_drain_held stops while a listing runs), so the
first list shows x and not y, the second both, and the replies come in request order.  Apache
(which ignores the key) answers the same.  Without that stop, create y was forwarded during the
slices and its reply (or y in the list) came ahead of the list's in 2 of 3 runs: its commit races
the 2,000 turns, so this catches the bug often, not always; it never fails with the fix."""
from tests.integration.test_wide_listing import children_req, create_req, fill, header
from tests.lib.rawzk import RawSession


def test_follower_keeps_order_around_a_sliced_list(ensemble_factory):
    ens = ensemble_factory(cfg={"getChildrenSlice": "1"})
    leader = ens.leader()
    follower = [s for s in ens.participants if s != leader][0]
    base = ["n%04d" % i for i in range(2000)]
    s = RawSession(ens.client_ports[follower])
    fill(s, "/wide", base)
    s.sock.sendall(create_req(1, "/wide/x") + children_req(2, "/wide") + create_req(3, "/wide/y")
                   + children_req(4, "/wide"))
    assert header(s)[0][::2] == (1, 0)
    (xid, _z, err), r = header(s)
    assert (xid, err) == (2, 0)
    assert sorted(r.strings()) == sorted(base + ["x"])
    assert header(s)[0][::2] == (3, 0)
    (xid, _z, err), r = header(s)
    assert (xid, err) == (4, 0)
    assert sorted(r.strings()) == sorted(base + ["x", "y"])
    s.close_session()
