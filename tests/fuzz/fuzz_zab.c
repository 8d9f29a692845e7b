/*
 * fuzz_zab.c - libFuzzer target for Apache's member-protocol decoders
 * (server/zab.h): the first input byte picks what the rest is, as a peer
 * would send it:
 *   0  a quorum-port stream: QuorumPackets framed by zab_packet_frame and
 *      decoded one after another (the link closes at a malformed frame)
 *   1  a SNAP database stream (zab_snap_frame)
 *   2  an election-port hello (zab_hello_frame), then notifications framed
 *      [int length] and decoded by zab_get_note
 * Each decoded packet and notification is re-encoded and decoded again: the
 * fields must survive the round trip.  Each packet is also read as a
 * leader reads a learner's (LearnerInfo, REQUEST header, authinfo).  No server is started; the decoders
 * are pure.  Build: CC=clang cmake -DZK_FUZZ=ON; seeds: tests/fuzz/corpus/zab.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zab.h"

/* What a zkd leader reads out of a learner's packet (apache_leader.c). */
static void check_learner_fields(const uint8_t *p, size_t n, const struct zab_packet *pk)
{
    int64_t sid, cv;
    if (!zab_get_learnerinfo(pk, &sid, &cv) && sid < 0)
        abort();
    struct zab_request r;
    if (!zab_get_request(pk, &r) && (r.frame < p || r.frame + r.flen > p + n))
        abort();
    struct zk_slice schemes[4], ids[4];
    int k = zab_packet_auth(p, n, schemes, ids, 4);
    const char *lo = (const char *)p, *hi = lo + n;
    for (int i = 0; i < k; i++) /* (an empty slice may point anywhere) */
        if ((schemes[i].len && (schemes[i].p < lo || schemes[i].p + schemes[i].len > hi)) ||
            (ids[i].len && (ids[i].p < lo || ids[i].p + ids[i].len > hi)))
            abort();
}

static void check_packet(const uint8_t *p, size_t n)
{
    struct zab_packet pk, again;
    if (zab_packet_decode(p, n, &pk))
        return;
    check_learner_fields(p, n, &pk);
    struct jute_out o;
    jute_out_init(&o);
    zab_put_packet(&o, pk.type, pk.zxid, pk.data, pk.dlen);
    long m = zab_packet_frame(o.p, o.len, (1u << 20));
    if (m != (long)o.len || zab_packet_decode(o.p, o.len, &again) || again.type != pk.type ||
        again.zxid != pk.zxid || (pk.dlen > 0 && again.dlen != pk.dlen))
        abort();
    jute_out_free(&o);
}

static void quorum_stream(const uint8_t *p, size_t n)
{
    size_t off = 0;
    while (off < n) {
        long m = zab_packet_frame(p + off, n - off, 1u << 20);
        if (m <= 0)
            return;
        check_packet(p + off, (size_t)m);
        off += (size_t)m;
    }
}

static void election_stream(const uint8_t *p, size_t n)
{
    int64_t sid;
    long m = zab_hello_frame(p, n, &sid);
    if (m <= 0)
        return;
    size_t off = (size_t)m;
    while (n - off >= 4) {
        uint32_t len = zk_be32_get(p + off);
        if (len > n - off - 4)
            return;
        struct zab_note note, again;
        if (!zab_get_note(p + off + 4, len, &note)) {
            struct jute_out o;
            jute_out_init(&o);
            zab_put_note(&o, &note);
            if (zab_get_note(o.p, o.len, &again) || again.leader != note.leader ||
                again.zxid != note.zxid || again.state != note.state)
                abort();
            jute_out_free(&o);
        }
        off += 4 + len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t body;
    switch (data[0] % 3) {
    case 0:
        quorum_stream(data + 1, size - 1);
        break;
    case 1:
        (void)zab_snap_frame(data + 1, size - 1, &body);
        break;
    default:
        election_stream(data + 1, size - 1);
        break;
    }
    return 0;
}
