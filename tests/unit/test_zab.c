/*
 * test_zab.c - Apache's member-protocol codecs (server/zab.h) against byte
 * layouts written out by hand from Apache's sources (QuorumCnxManager,
 * FastLeaderElection.buildMsg, QuorumPacket in zookeeper.jute,
 * SerializeUtils.serializeSnapshot): frames are found only when complete,
 * at every split point, and malformed lengths are refused.
 */
#include "zab.h"
#include "ztest.h"

static void put_str(struct jute_out *o, const char *s) { jute_put_string(o, s); }

/* Every proper prefix is incomplete (0); the whole is one frame. */
static void assert_frames_only_whole(long (*frame)(const uint8_t *, size_t), const uint8_t *p,
                                     size_t len)
{
    for (size_t i = 0; i < len; i++)
        ASSERT_INT_EQ(frame(p, i), 0);
    ASSERT_INT_EQ(frame(p, len), (long)len);
}

static long packet_frame(const uint8_t *p, size_t len) { return zab_packet_frame(p, len, 1 << 20); }

static void test_packet_layout(void)
{
    struct jute_out o;
    jute_out_init(&o);
    zab_put_packet(&o, ZAB_ACKEPOCH, 0x100000005LL, "\0\0\0\1", 4);
    /* int type | long zxid | int len, bytes | int -1 (no authinfo) */
    static const uint8_t want[] = {0, 0, 0, 18, 0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0, 4,
                                   0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff};
    ASSERT_INT_EQ(o.len, sizeof want);
    ASSERT_TRUE(!memcmp(o.p, want, sizeof want));
    assert_frames_only_whole(packet_frame, o.p, o.len);
    struct zab_packet pk;
    ASSERT_INT_EQ(zab_packet_decode(o.p, o.len, &pk), 0);
    ASSERT_INT_EQ(pk.type, ZAB_ACKEPOCH);
    ASSERT_INT_EQ(pk.zxid, 0x100000005LL);
    ASSERT_INT_EQ(pk.dlen, 4);
    jute_out_free(&o);
}

static void test_packet_with_auth_and_null_data(void)
{
    struct jute_out o;
    jute_out_init(&o);
    const char *schemes[] = {"ip", "digest"}, *ids[] = {"127.0.0.1", "u:x"};
    zab_put_packet_auth(&o, ZAB_REQUEST, -1, NULL, -1, schemes, ids, 2);
    assert_frames_only_whole(packet_frame, o.p, o.len);
    struct zab_packet pk;
    ASSERT_INT_EQ(zab_packet_decode(o.p, o.len, &pk), 0);
    ASSERT_INT_EQ(pk.dlen, -1);
    ASSERT_TRUE(pk.data == NULL);
    jute_out_free(&o);
}

static void test_packet_malformed(void)
{
    uint8_t p[24] = {0};
    zk_be32_put(p + 12, (uint32_t)-2); /* data length -2 */
    ASSERT_INT_EQ(zab_packet_frame(p, sizeof p, 1 << 20), -1);
    zk_be32_put(p + 12, 1u << 30); /* more than the limit: refused before it arrives */
    ASSERT_INT_EQ(zab_packet_frame(p, 16, 1 << 20), -1);
    zk_be32_put(p + 12, 0);
    zk_be32_put(p + 16, (uint32_t)-5); /* authinfo count -5 */
    ASSERT_INT_EQ(zab_packet_frame(p, 20, 1 << 20), -1);
}

static void test_hello(void)
{
    struct jute_out o;
    jute_out_init(&o);
    zab_put_hello(&o, 3, "127.0.0.1:3888");
    ASSERT_INT_EQ(zk_be64_get(o.p), (uint64_t)-65536LL);
    ASSERT_INT_EQ(zk_be64_get(o.p + 8), 3);
    ASSERT_INT_EQ(zk_be32_get(o.p + 16), 14);
    int64_t sid = -1;
    for (size_t i = 0; i < o.len; i++)
        ASSERT_INT_EQ(zab_hello_frame(o.p, i, &sid), 0);
    ASSERT_INT_EQ(zab_hello_frame(o.p, o.len, &sid), (long)o.len);
    ASSERT_INT_EQ(sid, 3);
    /* The pre-3.5 form: just the sid. */
    uint8_t old[8];
    zk_be64_put(old, 7);
    ASSERT_INT_EQ(zab_hello_frame(old, 8, &sid), 8);
    ASSERT_INT_EQ(sid, 7);
    /* An unknown protocol version, or an address too long. */
    zk_be64_put(old, (uint64_t)-3);
    ASSERT_INT_EQ(zab_hello_frame(old, 8, &sid), -1);
    zk_be32_put(o.p + 16, ZAB_MAX_HELLO_ADDR + 1);
    ASSERT_INT_EQ(zab_hello_frame(o.p, o.len, &sid), -1);
    jute_out_free(&o);
}

static void test_notification(void)
{
    static const char cfg[] = "server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181\nversion=0";
    struct zab_note n = {1, 2, 0x100000007LL, 9, 1, 2, (const uint8_t *)cfg, (int32_t)strlen(cfg)}, m;
    struct jute_out o;
    jute_out_init(&o);
    zab_put_note(&o, &n);
    ASSERT_INT_EQ(o.len, 44 + strlen(cfg)); /* buildMsg: 44 bytes + config */
    ASSERT_INT_EQ(zab_get_note(o.p, o.len, &m), 0);
    ASSERT_INT_EQ(m.state, 1);
    ASSERT_INT_EQ(m.leader, 2);
    ASSERT_INT_EQ(m.zxid, 0x100000007LL);
    ASSERT_INT_EQ(m.election_epoch, 9);
    ASSERT_INT_EQ(m.peer_epoch, 1);
    ASSERT_INT_EQ(m.config_len, (int64_t)strlen(cfg));
    /* 40 bytes: no version; 28 bytes: no peer epoch (taken from the zxid). */
    ASSERT_INT_EQ(zab_get_note(o.p, 40, &m), 0);
    ASSERT_INT_EQ(m.peer_epoch, 1);
    ASSERT_INT_EQ(zab_get_note(o.p, 28, &m), 0);
    ASSERT_INT_EQ(m.peer_epoch, 1);
    /* A config length past the end, a bad state, too short. */
    ASSERT_INT_EQ(zab_get_note(o.p, o.len - 1, &m), -1);
    zk_be32_put(o.p, 9);
    ASSERT_INT_EQ(zab_get_note(o.p, o.len, &m), -1);
    ASSERT_INT_EQ(zab_get_note(o.p, 28, &m), -1); /* old forms too (found by fuzz_zab) */
    ASSERT_INT_EQ(zab_get_note(o.p, 27, &m), -1);
    jute_out_free(&o);
}

static long snap_frame(const uint8_t *p, size_t len)
{
    size_t body;
    return zab_snap_frame(p, len, &body);
}

/* Sessions, the ACL cache, the root (path ""), /a, the "/" end marker. */
static void put_db(struct jute_out *o)
{
    uint8_t stat[60] = {0};
    jute_put_int(o, 1);
    jute_put_long(o, 0x0300000000000001LL);
    jute_put_int(o, 30000);
    jute_put_int(o, 1);
    jute_put_long(o, 1);
    jute_put_int(o, 1);
    jute_put_int(o, 31);
    put_str(o, "world");
    put_str(o, "anyone");
    put_str(o, "");
    jute_put_buffer(o, NULL, -1);
    jute_put_long(o, -1);
    jute_put_raw(o, stat, sizeof stat);
    put_str(o, "/a");
    jute_put_buffer(o, "x", 1);
    jute_put_long(o, 1);
    jute_put_raw(o, stat, sizeof stat);
    put_str(o, "/");
}

static void test_snap_stream(void)
{
    struct jute_out o;
    jute_out_init(&o);
    put_db(&o);
    size_t body_len = o.len, body = 0;
    put_str(&o, ZAB_SNAP_SIGNATURE);
    assert_frames_only_whole(snap_frame, o.p, o.len);
    ASSERT_INT_EQ(zab_snap_frame(o.p, o.len, &body), (long)o.len);
    ASSERT_INT_EQ(body, body_len);
    /* A wrong signature, a null path. */
    o.p[o.len - 1] = 'X';
    ASSERT_INT_EQ(zab_snap_frame(o.p, o.len, &body), -1);
    o.len = 0;
    jute_put_int(&o, 0);
    jute_put_int(&o, 0);
    jute_put_int(&o, -1);
    ASSERT_INT_EQ(zab_snap_frame(o.p, o.len, &body), -1);
    jute_out_free(&o);
}

/* What a leader reads from its learners (apache_leader.c). */
static void test_learner_packets(void)
{
    struct jute_out o, d;
    jute_out_init(&o);
    jute_out_init(&d);
    zab_put_learnerinfo(&d, 7, 0x100000003LL);
    zab_put_packet(&o, ZAB_FOLLOWERINFO, 2LL << 32, d.p, (int32_t)d.len);
    struct zab_packet pk;
    int64_t sid, cv;
    ASSERT_INT_EQ(zab_packet_decode(o.p, o.len, &pk), 0);
    ASSERT_INT_EQ(zab_get_learnerinfo(&pk, &sid, &cv), 0);
    ASSERT_INT_EQ(sid, 7);
    ASSERT_INT_EQ(cv, 0x100000003LL);
    pk.dlen = 8; /* a 3.3 learner: the sid alone */
    ASSERT_INT_EQ(zab_get_learnerinfo(&pk, &sid, &cv), 0);
    ASSERT_INT_EQ(cv, -1);
    pk.dlen = 7;
    ASSERT_INT_EQ(zab_get_learnerinfo(&pk, &sid, &cv), -1);

    /* REQUEST: long session | int cxid | int type | body, with the client's ids. */
    o.len = d.len = 0;
    jute_put_long(&d, 0x300000001234LL);
    jute_put_int(&d, 42);
    jute_put_int(&d, 2);
    put_str(&d, "/x");
    jute_put_int(&d, -1);
    const char *schemes[] = {"ip", "digest"}, *ids[] = {"127.0.0.1", "u:x"};
    zab_put_packet_auth(&o, ZAB_REQUEST, -1, d.p, (int32_t)d.len, schemes, ids, 2);
    ASSERT_INT_EQ(zab_packet_decode(o.p, o.len, &pk), 0);
    struct zab_request r;
    ASSERT_INT_EQ(zab_get_request(&pk, &r), 0);
    ASSERT_INT_EQ(r.session, 0x300000001234LL);
    ASSERT_INT_EQ(r.cxid, 42);
    ASSERT_INT_EQ(r.type, 2);
    ASSERT_INT_EQ(r.flen, d.len - 8);
    ASSERT_INT_EQ(zk_be32_get(r.frame), 42);
    struct zk_slice sc[2], id[2];
    ASSERT_INT_EQ(zab_packet_auth(o.p, o.len, sc, id, 2), 2);
    ASSERT_TRUE(sc[1].len == 6 && !memcmp(sc[1].p, "digest", 6));
    ASSERT_TRUE(id[0].len == 9 && !memcmp(id[0].p, "127.0.0.1", 9));
    ASSERT_INT_EQ(zab_packet_auth(o.p, o.len, sc, id, 1), -1); /* more than room for */
    pk.dlen = 15;
    ASSERT_INT_EQ(zab_get_request(&pk, &r), -1);
    o.len = 0;
    zab_put_packet(&o, ZAB_PING, 5, NULL, -1);
    ASSERT_INT_EQ(zab_packet_auth(o.p, o.len, sc, id, 2), 0); /* null authinfo */
    jute_out_free(&o);
    jute_out_free(&d);
}

ZTEST_MAIN(ZT(test_packet_layout), ZT(test_packet_with_auth_and_null_data),
           ZT(test_packet_malformed), ZT(test_hello), ZT(test_notification),
           ZT(test_snap_stream), ZT(test_learner_packets))
