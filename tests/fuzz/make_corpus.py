#!/usr/bin/env python3
"""Writes the seed corpus for fuzz_request: well-formed client streams and records."""
import os
import struct
import sys

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
os.makedirs(out, exist_ok=True)


def i32(v): return struct.pack(">i", v)
def i64(v): return struct.pack(">q", v)
def buf(b): return i32(len(b)) + b
def s(t): return buf(t.encode())
def frame(b): return i32(len(b)) + b
def acl_open(): return i32(1) + i32(31) + s("world") + s("anyone")


connect = frame(i32(0) + i64(0) + i32(30000) + i64(0) + buf(b"\0" * 16) + b"\0")


def req(xid, op, body): return frame(i32(xid) + i32(op) + body)


seeds = {
    "ruok": b"ruok",
    "mntr": b"mntr",
    "create_get": connect + req(1, 1, s("/a") + buf(b"hi") + acl_open() + i32(0))
    + req(2, 4, s("/a") + b"\1") + req(3, 8, s("/") + b"\1") + req(4, 12, s("/") + b"\0"),
    "seq_eph": connect + req(1, 15, s("/q-") + buf(b"") + acl_open() + i32(3))
    + req(2, 103, s("/")) + req(3, 104, s("/")),
    "set_delete": connect + req(1, 1, s("/b") + buf(b"") + acl_open() + i32(0))
    + req(2, 5, s("/b") + buf(b"x") + i32(-1)) + req(3, 2, s("/b") + i32(0)),
    "multi": connect + req(1, 14, i32(1) + b"\0" + i32(-1) + s("/m") + buf(b"") + acl_open() + i32(0)
                           + i32(13) + b"\0" + i32(-1) + s("/m") + i32(0)
                           + i32(-1) + b"\1" + i32(-1)),
    "multiread": connect + req(1, 22, i32(4) + b"\0" + i32(-1) + s("/") + b"\0" + i32(-1) + b"\1" + i32(-1)),
    "acl_auth": connect + req(-4, 100, i32(0) + s("digest") + buf(b"u:p"))
    + req(1, 7, s("/") + acl_open() + i32(-1)) + req(2, 6, s("/")) + req(3, 107, b""),
    "watches": connect + req(1, 106, s("/") + i32(1)) + req(2, 17, s("/") + i32(3))
    + req(3, 18, s("/") + i32(3)) + req(-8, 105, i64(0) + i32(1) + s("/a") + i32(0) + i32(0) + i32(0) + i32(0)),
    "ttl_container": connect + req(1, 21, s("/t") + buf(b"") + acl_open() + i32(5) + i64(1000))
    + req(2, 19, s("/c") + buf(b"") + acl_open() + i32(4)),
    "close": connect + req(1, 9, s("/")) + req(2, 11, b"") + req(3, -11, b""),
    # Records (odd first byte): a create txn and a snapshot node record.
    "txn_create": i32(1) + i64(0) + i32(0) + i64(0) + s("/r") + buf(b"d") + acl_open() + i64(0) + i32(1),
    "snap_node": b"N" + buf(b"/") + buf(b"") + i32(1) + i64(0) * 4 + i32(0) * 3 + i64(0) + i64(0),
}
for name, body in seeds.items():
    lead = b"\1" if name.startswith(("txn_", "snap_")) else b"\0"
    with open(os.path.join(out, name), "wb") as f:
        f.write(lead + body)
