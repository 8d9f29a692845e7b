#!/usr/bin/python3
"""Writes a synthetic Apache-format snapshot of the scale profile's tree (issue 20).

    /usr/bin/python3 bench/snapgen.py DATADIR -n 10000000 [--parents 10000]

DATADIR/version-2/snapshot.<zxid> gets N znodes of 100 bytes under N/1000 parents
(/scale/dNNN/nNNNNN, the names bench/loader.py uses), as FileSnap writes it: header,
no sessions, one ACL list (world:anyone:cdrwa), the nodes depth-first, the "/" terminator,
the Adler-32 seal, and a ZxidDigest trailer whose value is deliberately not the tree's
(recovery still walks the tree to compare it: the cost is the same, a warning is logged).
It exists to time recovery (`zkd` start on DATADIR) without loading the tree through a
client first; it takes about a minute per 10M znodes.
"""
import argparse
import os
import struct
import zlib

SIZE = 100
PER_PARENT = 1000


def jstr(b):
    return struct.pack(">i", len(b)) + b


def stat(zxid, t, version=0, cversion=0, pzxid=None):
    # czxid mzxid ctime mtime version cversion aversion ephemeralOwner pzxid
    return struct.pack(">qqqqiiiqq", zxid, zxid, t, t, version, cversion, 0, 0,
                       zxid if pzxid is None else pzxid)


def generate(path, n, parents):
    per = -(-n // parents)
    parents = -(-n // per)
    acl = struct.pack(">i", 1) + struct.pack(">q", 1) + struct.pack(">i", 1) + \
        struct.pack(">i", 31) + jstr(b"world") + jstr(b"anyone")
    value = b"x" * SIZE
    t0 = 1764950400000
    zxid = [0]

    def nz():
        zxid[0] += 1
        return zxid[0]

    out = open(path + ".tmp", "wb", buffering=1 << 22)
    adler = [1]

    def w(b):
        adler[0] = zlib.adler32(b, adler[0])
        out.write(b)

    w(b"ZKSN" + struct.pack(">iq", 2, -1))
    w(struct.pack(">i", 0))  # sessions
    w(acl)
    # The root, /zookeeper and /zookeeper/quota as Apache has them, then /scale.
    scale_czxid = 1
    zxid[0] = 1
    w(jstr(b"") + jstr(b"") + struct.pack(">q", -1) + stat(0, 0, cversion=1, pzxid=1))
    w(jstr(b"/zookeeper") + jstr(b"") + struct.pack(">q", -1) + stat(0, 0, cversion=1))
    w(jstr(b"/zookeeper/quota") + jstr(b"") + struct.pack(">q", -1) + stat(0, 0))
    # The children's zxids are assigned as a loader would: each parent, then its
    # children (the order only matters for pzxid/cversion consistency).
    done = 0
    parent_rec = []
    for d in range(parents):
        pz = nz()
        cnt = min(per, n - done)
        first = zxid[0] + 1
        kids = []
        for c in range(cnt):
            kids.append(first + c)
        zxid[0] += cnt
        done += cnt
        parent_rec.append((d, pz, cnt, kids))
    last = zxid[0]
    w(jstr(b"/scale") + jstr(b"") + struct.pack(">q", 1) +
      stat(scale_czxid, t0, cversion=parents, pzxid=parent_rec[-1][1]))
    for d, pz, cnt, kids in parent_rec:
        base = b"/scale/d%03d" % d
        w(jstr(base) + jstr(b"") + struct.pack(">q", 1) +
          stat(pz, t0 + pz, cversion=cnt, pzxid=kids[-1] if kids else pz))
        acl_id = struct.pack(">q", 1)
        chunk = []
        for c, z in enumerate(kids):
            chunk.append(jstr(base + b"/n%05d" % c) + jstr(value) + acl_id + stat(z, t0 + z))
        w(b"".join(chunk))
    w(jstr(b"/"))
    # The seal, then the ZxidDigest trailer (zxid, version 2, a value that will not
    # match) with its own seal: the checksum runs on over the first seal.
    w(struct.pack(">q", adler[0]) + struct.pack(">i", 1) + b"/")
    w(struct.pack(">qiq", last, 2, 12345))
    w(struct.pack(">q", adler[0]) + struct.pack(">i", 1) + b"/")
    out.close()
    final = os.path.join(os.path.dirname(path), "snapshot.%x" % last)
    os.rename(path + ".tmp", final)
    return final, last


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("datadir")
    ap.add_argument("-n", type=int, default=1_000_000)
    ap.add_argument("--parents", type=int, default=0)
    a = ap.parse_args()
    vdir = os.path.join(a.datadir, "version-2")
    os.makedirs(vdir, exist_ok=True)
    final, last = generate(os.path.join(vdir, "snapshot"), a.n, a.parents or max(1, a.n // PER_PARENT))
    print("%s (last zxid 0x%x, %d bytes)" % (final, last, os.path.getsize(final)))


if __name__ == "__main__":
    main()
