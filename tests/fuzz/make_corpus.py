#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets, one directory per target:
corpus/<target>/ for tests/fuzz/fuzz_<target>.c.  Every seed is small and
well-formed, so mutations start from inputs that reach deep.

    python3 tests/fuzz/make_corpus.py [OUT_DIR]   # default: tests/fuzz/corpus

Seeds that reproduced a bug are not made here: they are committed as found
(named crash-* or slow-*), and this script leaves them alone.
"""
import os
import struct
import sys
import zlib

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")


def write_seeds(target, seeds, lead=lambda name: b""):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    for name, body in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(lead(name) + body)



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
    # Records (odd first byte): a create txn as Apache logs it (TxnHeader: clientId,
    # cxid, zxid, time, type; CreateTxn: path, data, acl, ephemeral, parentCVersion), a
    # peer snapshot node record, and an Apache DataTree image (ACL cache, nodes, "/").
    "txn_create": i64(0) + i32(0) + i64(0) + i64(0) + i32(1) + s("/r") + buf(b"d") + acl_open()
    + b"\0" + i32(1),
    "snap_node": b"N" + buf(b"/") + buf(b"") + i32(1) + i64(0) * 4 + i32(0) * 3 + i64(0) + i64(0),
    "snap_tree": i32(1) + i64(1) + acl_open() + s("") + buf(b"") + i64(-1) + i64(0) * 4
    + i32(0) * 3 + i64(0) * 2 + s("/a") + buf(b"x") + i64(1) + i64(2) * 4 + i32(0) * 3
    + i64(0) + i64(2) + s("/"),
}


def halves(a, b):
    """Two messages as the two equal halves of one input (the shorter padded with zeros)."""
    n = max(len(a), len(b))
    return a.ljust(n, b"\0") + b.ljust(n, b"\0")


# Also records (odd first byte): a forwarded request (xid, type, body) and its reply (xid, zxid,
# err, response), as a learner's audit log decodes them; a sequential create, and a multi whose
# results carry the created path and a Stat.
seeds["fwd_create"] = halves(i32(1) + i32(1) + s("/q-") + buf(b"") + acl_open() + i32(2),
                             i32(1) + i64(5) + i32(0) + s("/q-0000000001"))
seeds["fwd_multi"] = halves(
    i32(2) + i32(14) + i32(1) + b"\0" + i32(-1) + s("/m") + buf(b"") + acl_open() + i32(0)
    + i32(5) + b"\0" + i32(-1) + s("/m") + buf(b"x") + i32(-1) + i32(-1) + b"\1" + i32(-1),
    i32(2) + i64(6) + i32(0) + i32(1) + b"\0" + i32(0) + s("/m") + i32(5) + b"\0" + i32(0)
    + b"\0" * 68 + i32(-1) + b"\1" + i32(-1))
# fuzz_request: byte 0 even = a client stream, odd = on-disk records.
write_seeds("request", seeds,
            lambda name: b"\1" if name.startswith(("txn_", "snap_", "fwd_")) else b"\0")

# ---- fuzz_client: [pick][flags] then a reply frame (see fuzz_client.c) ----
CLIENT_OPS = [1, 15, 19, 21, 9, 3, 5, 7, 4, 6, 8, 12, 103, 104, 107, 14, 22, 2, 17, -11]


def stat():
    return i64(2) + i64(3) + i64(1000) + i64(2000) + i32(1) + i32(0) + i32(0) + i64(0) \
        + i32(2) + i32(0) + i64(3)


def hdr(xid=1, zxid=5, err=0): return i32(xid) + i64(zxid) + i32(err)
def reply(op, body, chroot=0, err=0): return bytes([CLIENT_OPS.index(op), chroot]) + hdr(err=err) + body


def mres(t, body, err=0): return i32(t) + b"\0" + i32(err) + body


mend = i32(-1) + b"\1" + i32(-1)
write_seeds("client", {
    "create": reply(1, s("/a")),
    "create2_chroot": reply(15, s("/app/a") + stat(), chroot=1),
    "exists_nonode": reply(3, b"", err=-101),
    "getdata": reply(4, buf(b"hi") + stat()),
    "getdata_null": reply(4, i32(-1) + stat()),
    "getacl": reply(6, i32(1) + i32(31) + s("world") + s("anyone") + stat()),
    "children2": reply(12, i32(2) + s("a") + s("b") + stat()),
    "ephemerals": reply(103, i32(1) + s("/app/e"), chroot=1),
    "allchildren": reply(104, i32(7)),
    "whoami": reply(107, i32(1) + s("ip") + s("127.0.0.1")),
    "multi": reply(14, mres(1, s("/m")) + mres(15, s("/n") + stat()) + mres(5, stat())
                   + mres(2, b"") + mres(13, b"") + mend),
    "multi_failed": reply(14, mres(-1, i32(0)) + mres(-1, i32(-110)) + mend),
    "multiread": reply(22, mres(4, buf(b"d") + stat()) + mres(8, i32(1) + s("c"))
                       + mres(-1, i32(-101)) + mend),
    "event": bytes([len(CLIENT_OPS), 1]) + hdr(-1, -1) + i32(3) + i32(3) + s("/app/a"),
    "event_child": bytes([len(CLIENT_OPS), 0]) + hdr(-1, -1) + i32(4) + i32(3) + s("/a"),
    "connect": bytes([len(CLIENT_OPS) + 1, 0]) + i32(0) + i32(30000) + i64(0x100) + buf(b"p" * 16) + b"\0",
    "connect_old": bytes([len(CLIENT_OPS) + 1, 0]) + i32(0) + i32(30000) + i64(0x100) + buf(b"p" * 16),
})

# ---- fuzz_config: zoo.cfg NUL dynamic file NUL myid ----
write_seeds("config", {
    "standalone": b"tickTime=2000\ndataDir=/var/lib/zk\nclientPort=2181\n",
    "ensemble": b"tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/var/lib/zk\n"
                b"reconfigEnabled=true\n\0"
                b"server.1=127.0.0.1:2888:3888;2181\nserver.2=127.0.0.1:2889:3889:participant;2182\n"
                b"server.3=[::1]:2890:3890:observer;127.0.0.1:2183\n\0" b"1\n",
    "syntax": b"# comment\n! also a comment\r\n  dataDir = /var/lib/\\\n    zk\n"
              b"clientPort: 2181\nclientPortAddress 127.0.0.1\n"
              b"4lw.commands.whitelist=ruok, srvr, mntr\n"
              b"authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n"
              b"zookeeper.snapCount=1000\njaasLoginFile=/etc/zk/jaas.conf\n"
              b"minSessionTimeout=-1\nautopurge.purgeInterval=1\n",
    "tls": b"dataDir=/var/lib/zk\nsecureClientPort=2281\nssl.keyStore.location=/etc/zk/k.pem\n"
           b"ssl.trustStore.location=/etc/zk/ca.pem\nssl.clientAuth=want\nsslQuorum=false\n",
    "escapes": b"dataDir=/tmp/\\u00e9\\t\\:x\nclientPort=2181\nmaxClientCnxns=0\n"
               b"superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=\n",
    "apache_tls": b"dataDir=/var/lib/zk\nsecureClientPort=2281\nsslQuorum=true\n"
                  b"ssl.keyStore.location=/etc/zk/k.jks\nssl.keyStore.password=x\n"
                  b"ssl.trustStore.location=/etc/zk/t.p12\nssl.trustStore.type=PKCS12\n"
                  b"ssl.enabledProtocols=TLSv1.2,TLSv1.3\nssl.ciphersuites=TLS_AES_128_GCM_SHA256\n"
                  b"ssl.quorum.hostnameVerification=false\nssl.crl=true\nclient.portUnification=true\n"
                  b"initLimit=5\nsyncLimit=2\nmultiAddress.enabled=true\n"
                  b"server.1000=a:1:2|b:1:2;2181\nserver.2=c:1:2;2181\n",
    # zoo.cfg, no dynamic file (empty), no myid (empty), then SERVER_JVMFLAGS.
    "jvmflags": b"dataDir=/var/lib/zk\nclientPort=2181\n\0\0\0-Xmx1g "
                b"-Dzookeeper.DigestAuthenticationProvider.superDigest=super:abc= "
                b"-Djava.security.auth.login.config=/etc/zk/jaas.conf -Djute.maxbuffer=0x100000 "
                b"-Dzookeeper.ssl.quorum.keyStore.location=/q.p12 -Dzookeeper.tickTime=1",
    "operations": b"tickTime=2000\ndataDir=/tmp/zk\nclientPort=2181\nadmin.enableServer=true\n"
                  b"admin.serverAddress=127.0.0.1\nadmin.serverPort=8080\n"
                  b"admin.commandURL=/commands/\nadmin.idleTimeout=30000\n"
                  b"metricsProvider.className=org.apache.zookeeper.metrics.prometheus."
                  b"PrometheusMetricsProvider\nmetricsProvider.httpHost=0.0.0.0\n"
                  b"metricsProvider.httpPort=7000\nmetricsProvider.exportJvmInfo=false\n"
                  b"fsync.warningthresholdms=1000\nslowRequestThresholdMs=1000\n"
                  b"logLevel=debug\nlogFormat=json\n",
})

# ---- fuzz_jaas: a JAAS file ----
write_seeds("jaas", {
    "server": b'Server {\n    org.apache.zookeeper.server.auth.DigestLoginModule required\n'
              b'    user_super="adminsecret"\n    user_bob="bobsecret";\n};\n',
    "two_sections": b'Client {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n'
                    b'  username="bob"\n  password="bobsecret";\n};\n'
                    b'QuorumServer { x required user_q="q"; };\n'
                    b'Server{x required user_a = "1" user_b="two words";};',
    "comments": b'/* JAAS */\n// Server {\nServer {\n  DigestLoginModule required user_x="";\n};\n',
})

# ---- fuzz_quorum_auth: QuorumAuthPackets (byte 0: role, byte 1: read size - 1) ----
def qauth(status, token): return i64(0x5f2435013501edcc) + i32(status) + buf(token)


write_seeds("quorum_auth", {
    # as the server: a learner's empty first token, then a DIGEST-MD5 response
    "server_digest": b"\0\x0f" + qauth(0, b"") + qauth(0, b'username="zkpeer",realm="zk-quorum-'
                     b'sasl-md5",nonce="abc",cnonce="def",nc=00000001,qop=auth,digest-uri='
                     b'"zookeeper-quorum/zk-quorum-sasl-md5",response=0123456789abcdef0123456789'
                     b'abcdef,charset=utf-8'),
    "server_not_auth": b"\0\xff" + i32(5) + b"\0\0\0\0\1",
    # as the learner: a DIGEST-MD5 challenge, then SUCCESS and ERROR answers
    "learner_challenge": b"\1\x07" + qauth(0, b'realm="zk-quorum-sasl-md5",nonce="OA6MG9tEQGm2hh"'
                         b',qop="auth",charset=utf-8,algorithm=md5-sess') + qauth(1, b"rspauth=0"),
    "learner_error": b"\1\xff" + qauth(-1, b""),
})

# ---- fuzz_jks: a JKS key store, password "changeit" ----
def jks(entries, version=2, password="changeit"):
    """A JKS file as keytool writes it (see server/jks.h); entries are bytes from jks_*()."""
    import hashlib
    body = struct.pack(">III", 0xFEEDFEED, version, len(entries)) + b"".join(entries)
    pw = password.encode("utf-16-be")
    return body + hashlib.sha1(pw + b"Mighty Aphrodite" + body).digest()


def utf(t): return struct.pack(">H", len(t)) + t.encode()
def jks_cert(der): return utf("X.509") + buf(der)
def jks_trusted(alias, der): return i32(2) + utf(alias) + i64(0) + jks_cert(der)


def jks_key(alias, pkcs8, chain, password="changeit"):
    """A private key entry protected by Sun's KeyProtector (salt, XOR stream, check)."""
    import hashlib
    pw = password.encode("utf-16-be")
    salt = bytes(range(20))
    stream, digest = b"", salt
    while len(stream) < len(pkcs8):
        digest = hashlib.sha1(pw + digest).digest()
        stream += digest
    data = salt + bytes(a ^ b for a, b in zip(pkcs8, stream)) + hashlib.sha1(pw + pkcs8).digest()
    def der(tag, b):
        n = len(b)
        ln = bytes([n]) if n < 128 else bytes([0x82, n >> 8, n & 0xff])
        return bytes([tag]) + ln + b
    oid = der(0x06, bytes([0x2b, 0x06, 0x01, 0x04, 0x01, 0x2a, 0x02, 0x11, 0x01, 0x01]))
    epki = der(0x30, der(0x30, oid + b"\x05\x00") + der(0x04, data))
    return (i32(1) + utf(alias) + i64(0) + buf(epki) + i32(len(chain))
            + b"".join(jks_cert(c) for c in chain))


fake_cert = b"\x30\x03\x02\x01\x01"  # the parser does not decode certificates
write_seeds("jks", {
    "trusted": jks([jks_trusted("ca", fake_cert)]),
    "key": jks([jks_key("server", b"\x30\x05\x02\x01\x00\x30\x00" * 5, [fake_cert, fake_cert])]),
    "both": jks([jks_key("k", b"\x30\x00", [fake_cert]), jks_trusted("t", fake_cert)]),
})

# ---- fuzz_zkfs_names: [mode] then a name or an ACL value ----
write_seeds("zkfs_names", {
    "plain": b"\0file.txt",
    "eph": b"\0lease@eph",
    "seq": b"\2job-@seq",
    "eseq": b"\0q-@eseq",
    "zkdata": b"\0.zkdata",
    "marker_only": b"\0@eseq",
    "acl_world": b"\1world:anyone:cdrwa",
    "acl_list": b"\1digest:user:smGaoVKd/cQkjm7b88GyorAUz20=:rwa, ip:10.0.0.1:r\n",
})


# ---- fuzz_datadir: [flags] then files (kind, u64 zxid, u32 len, bytes) ----
# Apache ZooKeeper's FileSnap and FileTxnLog formats (server/snapshot.c, txnlog.c).
def seal(body): return body + i64(zlib.adler32(body)) + i32(1) + b"/"


def pstat(czxid, owner=0, cversion=0):
    return i64(czxid) * 2 + i64(1000) * 2 + i32(0) + i32(cversion) + i32(0) + i64(owner) + i64(czxid)


def snap_file(sessions, nodes):
    body = b"ZKSN" + i32(2) + i64(-1) + i32(len(sessions))
    for sid, timeout in sessions:
        body += i64(sid) + i32(timeout)
    body += i32(1) + i64(1) + acl_open()
    for path, data, acl, st in nodes:
        body += s(path) + buf(data) + i64(acl) + st
    return seal(body + s("/"))


def log_file(records, zeroes=64):
    body = b"ZKLG" + i32(2) + i64(0)
    for r in records:
        body += i64(zlib.adler32(r)) + i32(len(r)) + r + b"\x42"
    return body + b"\0" * zeroes


def dfile(kind, zxid, data): return bytes([kind]) + i64(zxid) + i32(len(data)) + data


def txn(zxid, type_, session, body): return i64(session) + i32(0) + i64(zxid) + i64(1000) + i32(type_) + body


def create(path, data, eph, pcv): return s(path) + buf(data) + acl_open() + (b"\1" if eph else b"\0") + i32(pcv)


snap = snap_file([(0x100, 30000)], [("", b"", -1, pstat(0, cversion=2)),
                                     ("/zookeeper", b"", -1, pstat(0)),
                                     ("/a", b"x", 1, pstat(2)),
                                     ("/e", b"", 1, pstat(2, owner=0x100))])
log1 = log_file([txn(1, -10, 0x100, i32(30000)),
                 txn(2, 1, 0x100, create("/a", b"x", False, 1))])
log3 = log_file([txn(3, 5, 0x100, s("/a") + buf(b"y") + i32(1)),
                 txn(4, 15, 0x100, create("/e", b"", True, 2)),
                 txn(5, 14, 0x100, i32(3) + i32(2) + buf(s("/e")) + i32(5) + buf(s("/a") + buf(b"z") + i32(2))
                     + i32(13) + buf(s("/a") + i32(2))),
                 txn(6, 21, 0x100, s("/t") + buf(b"") + acl_open() + i32(3) + i64(5000)),
                 txn(7, 19, 0x100, s("/c") + buf(b"") + acl_open() + i32(4)),
                 txn(8, 7, 0x100, s("/c") + acl_open() + i32(1)),
                 txn(9, -1, 0, i32(2)),
                 txn(10, 20, 0, s("/c")),
                 txn(11, -11, 0x100, i32(1) + s("/e"))])
write_seeds("datadir", {
    "snapshot": b"\0" + dfile(0, 2, snap),
    "snapshot_gz": b"\0" + dfile(2, 2, zlib.compress(snap, 6, wbits=31)),
    "log": b"\0" + dfile(1, 1, log1),
    "snapshot_and_log": b"\0" + dfile(0, 2, snap) + dfile(1, 1, log1) + dfile(1, 3, log3),
    "torn_log": b"\0" + dfile(1, 1, log1[:-70]),
    "fixed_crcs": b"\1" + dfile(0, 2, snap) + dfile(1, 3, log3),
})


# ---- fuzz_peer: [port] then the stream a member sends ([u32 len][message]...) ----
def notification(sender, state, leader, zxid, epoch, rnd):
    return frame(b"N" + i32(sender) + bytes([state]) + i32(leader) + i64(zxid) + i64(epoch) + i64(rnd))


def qmsg(t, body): return frame(bytes([t]) + body)


SID = 0x0300000000000001
finfo = qmsg(1, i32(3) + b"\1" + i64(0) + i64(0) + i64(0))  # server 3, an observer
synced = finfo + qmsg(3, i64(0) + i64(0)) + qmsg(10, i64(0x100000000))
write_seeds("peer", {
    "election_following": b"\0" + frame(b"H" + i32(2)) + notification(2, 3, 1, 0, 1, 1),
    "election_looking": b"\0" + frame(b"H" + i32(2)) + notification(2, 0, 2, 5, 1, 9),
    "election_stranger": b"\0" + frame(b"H" + i32(7)) + notification(7, 0, 7, 0, 0, 1),
    "quorum_finfo": b"\1" + finfo,
    "quorum_sync": b"\1" + synced + qmsg(17, i32(0)),
    "quorum_session": b"\1" + synced + qmsg(15, i64(SID) + i64(1) + i32(30000))
    + qmsg(13, i64(SID) + i64(2) + i32(1) + s("digest") + s("u:x")
           + i32(1) + i32(1) + s("/p") + buf(b"v") + acl_open() + i32(0))
    + qmsg(13, i64(SID) + i64(3) + i32(0) + i32(2) + i32(4) + s("/p") + b"\0")
    + qmsg(17, i32(1) + i64(SID)),
    # Replayed in size order: the first sets a watch through the learner's link and ends (the
    # leader frees the link's proxy connection), the second changes the node, firing that watch
    # (it stayed on the freed proxy until conn_free_proxy cleared it: a use-after-free).
    "quorum_watch_then_close": b"\1" + synced + qmsg(15, i64(SID) + i64(1) + i32(30000))
    + qmsg(13, i64(SID) + i64(2) + i32(0) + i32(1) + i32(1) + s("/w") + buf(b"v") + acl_open() + i32(0))
    + qmsg(13, i64(SID) + i64(3) + i32(0) + i32(2) + i32(4) + s("/w") + b"\1"),
    "quorum_watched_change": b"\1" + synced + qmsg(15, i64(SID + 1) + i64(1) + i32(30000))
    + qmsg(13, i64(SID + 1) + i64(2) + i32(0) + i32(1) + i32(5) + s("/w") + buf(b"v2") + i32(-1))
    + qmsg(13, i64(SID + 1) + i64(3) + i32(0) + i32(2) + i32(4) + s("/w") + b"\0")
    + qmsg(17, i32(1) + i64(SID + 1)) + qmsg(17, i32(1) + i64(SID + 1)),
    # Server 3's local session (the leader runs with local sessions on): a create through the
    # stand-in, an UPGRADE, then an ephemeral.
    "quorum_local_session": b"\1" + synced
    + qmsg(13, i64(SID + 1) + i64(4) + i32(0) + i32(1) + i32(1) + s("/l") + buf(b"") + acl_open()
           + i32(0))
    + qmsg(18, i64(SID + 1) + i32(4000))
    + qmsg(13, i64(SID + 1) + i64(5) + i32(0) + i32(2) + i32(1) + s("/l/e") + buf(b"")
           + acl_open() + i32(1)),
})


# ---- fuzz_zab: [kind] then what an Apache member sends (server/zab.h) ----
def qpacket(t, zxid, data=None, auth=None):
    d = i32(-1) if data is None else buf(data)
    a = i32(-1) if auth is None else i32(len(auth)) + b"".join(s(x) + s(y) for x, y in auth)
    return i32(t) + i64(zxid) + d + a


def note(state, leader, zxid, rnd, epoch, config=b"server.1=127.0.0.1:2888:3888:participant\nversion=0"):
    return frame(i32(state) + i64(leader) + i64(zxid) + i64(rnd) + i64(epoch) + i32(2) + buf(config))


txn = i64(SID) + i32(1) + i64(0x100000001) + i64(0) + i32(1) + s("/a") + buf(b"x") + acl_open() \
    + b"\0" + i32(1)
db = i32(1) + i64(SID) + i32(30000) + i32(1) + i64(1) + acl_open() \
    + s("") + buf(b"") + i64(-1) + bytes(60) + s("/a") + buf(b"x") + i64(1) + bytes(60) + s("/")
write_seeds("zab", {
    "learner_sync": b"\0" + qpacket(17, 0x100000000, i32(0x10000)) + qpacket(13, 0x100000000)
    + qpacket(2, 0x100000001, txn) + qpacket(4, 0x100000001) + qpacket(10, 0x100000000)
    + qpacket(12, -1) + qpacket(5, 0x100000001),
    "request_auth": b"\0" + qpacket(1, -1, i64(SID) + i32(1) + i32(1) + b"x", [("ip", "127.0.0.1")]),
    "snap": b"\1" + db + s("BenWasHere"),
    "election": b"\2" + i64(-65536) + i64(2) + buf(b"127.0.0.1:3888") + note(1, 1, 0x100000000, 3, 1)
    + frame(i32(0) + i64(2) + i64(5) + i64(9) + i64(1)),
    "election_old": b"\2" + i64(2) + frame(i32(0) + i64(2) + i64(5) + i64(9)),
})
