/*
 * zab.c - Apache ZooKeeper's member protocol codecs (see zab.h for the byte
 * layouts).  The frame finders walk lengths only: a peer claiming a huge
 * buffer costs nothing until its bytes arrive, and every length is checked
 * against what is left before it is used.
 */
#include "zab.h"

#include <string.h>

/* A bounds-checked reader over p[0..len); `short_` marks that the input
 * ended early (incomplete, not malformed), `bad` that it is malformed. */
struct walk {
    const uint8_t *p;
    size_t len, off;
    int short_, bad;
};

static int need(struct walk *w, size_t n)
{
    if (w->short_ || w->bad)
        return 0;
    if (w->len - w->off < n) {
        w->short_ = 1;
        return 0;
    }
    return 1;
}

static int32_t w_int(struct walk *w)
{
    if (!need(w, 4))
        return 0;
    int32_t v = (int32_t)zk_be32_get(w->p + w->off);
    w->off += 4;
    return v;
}

static int64_t w_long(struct walk *w)
{
    if (!need(w, 8))
        return 0;
    int64_t v = (int64_t)zk_be64_get(w->p + w->off);
    w->off += 8;
    return v;
}

/* A jute buffer or string: int length (-1 = null) then the bytes. */
static const uint8_t *w_bytes(struct walk *w, int32_t *n)
{
    int32_t l = w_int(w);
    *n = l;
    if (w->short_ || w->bad)
        return NULL;
    if (l < -1) {
        w->bad = 1;
        return NULL;
    }
    if (l <= 0)
        return NULL;
    if (!need(w, (size_t)l))
        return NULL;
    const uint8_t *r = w->p + w->off;
    w->off += (size_t)l;
    return r;
}

static void w_skip(struct walk *w, size_t n)
{
    if (need(w, n))
        w->off += n;
}

static long w_result(const struct walk *w)
{
    if (w->bad)
        return -1;
    if (w->short_)
        return 0;
    return (long)w->off;
}

/* ---- QuorumPacket ---- */

long zab_packet_frame(const uint8_t *p, size_t len, size_t max)
{
    struct walk w = {p, len, 0, 0, 0};
    int32_t n;
    w_int(&w);
    w_long(&w);
    /* Check the claimed size before waiting for it. */
    size_t at = w.off;
    int32_t dl = w.len - at >= 4 && !w.short_ ? (int32_t)zk_be32_get(p + at) : 0;
    if (dl > 0 && (size_t)dl > max)
        return -1;
    w_bytes(&w, &n);
    int32_t count = w_int(&w);
    if (!w.short_ && count < -1)
        return -1;
    for (int32_t i = 0; i < count && !w.short_ && !w.bad; i++) {
        w_bytes(&w, &n);
        w_bytes(&w, &n);
    }
    if (!w.bad && !w.short_ && w.off > max)
        return -1;
    return w_result(&w);
}

int zab_packet_decode(const uint8_t *p, size_t len, struct zab_packet *out)
{
    struct walk w = {p, len, 0, 0, 0};
    out->type = w_int(&w);
    out->zxid = w_long(&w);
    out->data = w_bytes(&w, &out->dlen);
    return w.short_ || w.bad ? -1 : 0;
}

void zab_put_packet(struct jute_out *o, int32_t type, int64_t zxid, const void *data,
                    int32_t dlen)
{
    jute_put_int(o, type);
    jute_put_long(o, zxid);
    jute_put_buffer(o, data, dlen);
    jute_put_int(o, -1); /* authinfo: null, as Apache's own packets */
}

void zab_put_packet_auth(struct jute_out *o, int32_t type, int64_t zxid, const void *data,
                         int32_t dlen, const char *const *schemes, const char *const *ids,
                         int nauth)
{
    jute_put_int(o, type);
    jute_put_long(o, zxid);
    jute_put_buffer(o, data, dlen);
    jute_put_int(o, nauth);
    for (int i = 0; i < nauth; i++) {
        jute_put_string(o, schemes[i]);
        jute_put_string(o, ids[i]);
    }
}

void zab_put_learnerinfo(struct jute_out *o, int64_t sid, int64_t config_version)
{
    jute_put_long(o, sid);
    jute_put_int(o, ZAB_LEARNER_PROTOCOL);
    jute_put_long(o, config_version);
}

/* ---- the SNAP stream ---- */

static void walk_acls(struct walk *w)
{
    int32_t maps = w_int(w), n;
    if (maps < 0 && !w->short_)
        w->bad = 1;
    for (int32_t i = 0; i < maps && !w->short_ && !w->bad; i++) {
        w_long(w);
        int32_t acls = w_int(w);
        if (acls < -1 && !w->short_)
            w->bad = 1;
        for (int32_t j = 0; j < acls && !w->short_ && !w->bad; j++) {
            w_int(w);
            w_bytes(w, &n);
            w_bytes(w, &n);
        }
    }
}

#define STAT_PERSISTED_LEN 60 /* 4 longs, 3 ints, 2 longs */

long zab_snap_frame(const uint8_t *p, size_t len, size_t *body)
{
    struct walk w = {p, len, 0, 0, 0};
    int32_t sessions = w_int(&w), n;
    if (!w.short_ && sessions < 0)
        return -1;
    for (int32_t i = 0; i < sessions && !w.short_; i++)
        w_skip(&w, 12);
    walk_acls(&w);
    for (;;) {
        const uint8_t *path = w_bytes(&w, &n);
        if (w.short_ || w.bad)
            break;
        if (n < 0) {
            w.bad = 1; /* every node has a path (the root's is ""); the last is "/" */
            break;
        }
        if (n == 1 && path[0] == '/')
            break;
        w_bytes(&w, &n);
        w_long(&w);
        w_skip(&w, STAT_PERSISTED_LEN);
    }
    *body = w.off;
    const uint8_t *sig = w_bytes(&w, &n);
    if (!w.short_ && !w.bad &&
        (n != (int32_t)strlen(ZAB_SNAP_SIGNATURE) || memcmp(sig, ZAB_SNAP_SIGNATURE, (size_t)n)))
        return -1;
    return w_result(&w);
}

/* ---- election port ---- */

void zab_put_hello(struct jute_out *o, int64_t sid, const char *addr)
{
    size_t n = strlen(addr);
    jute_put_long(o, ZAB_PROTOCOL_V1);
    jute_put_long(o, sid);
    jute_put_int(o, (int32_t)n);
    jute_put_raw(o, addr, n);
}

long zab_hello_frame(const uint8_t *p, size_t len, int64_t *sid)
{
    struct walk w = {p, len, 0, 0, 0};
    int64_t first = w_long(&w);
    if (w.short_)
        return 0;
    if (first >= 0) { /* the pre-3.5 hello: the sid alone */
        *sid = first;
        return (long)w.off;
    }
    if (first != ZAB_PROTOCOL_V1 && first != ZAB_PROTOCOL_V2)
        return -1;
    *sid = w_long(&w);
    int32_t n = w_int(&w);
    if (!w.short_ && (n <= 0 || n > ZAB_MAX_HELLO_ADDR))
        return -1;
    if (!w.short_)
        w_skip(&w, (size_t)n);
    if (!w.short_ && *sid < 0)
        return -1;
    return w_result(&w);
}

void zab_put_note(struct jute_out *o, const struct zab_note *n)
{
    jute_put_int(o, n->state);
    jute_put_long(o, n->leader);
    jute_put_long(o, n->zxid);
    jute_put_long(o, n->election_epoch);
    jute_put_long(o, n->peer_epoch);
    jute_put_int(o, 2);
    jute_put_int(o, n->config_len);
    jute_put_raw(o, n->config, (size_t)n->config_len);
}

int zab_get_note(const uint8_t *p, size_t len, struct zab_note *n)
{
    struct walk w = {p, len, 0, 0, 0};
    memset(n, 0, sizeof *n);
    if (len < 28 || len > ZAB_MAX_NOTE)
        return -1;
    n->state = w_int(&w);
    n->leader = w_long(&w);
    n->zxid = w_long(&w);
    n->election_epoch = w_long(&w);
    if (n->state < 0 || n->state > 3)
        return -1; /* the caller indexes by state */
    if (len == 28) {
        n->peer_epoch = (int64_t)((uint64_t)n->zxid >> 32);
        return 0;
    }
    n->peer_epoch = w_long(&w);
    if (len == 40)
        return w.short_ ? -1 : 0;
    n->version = w_int(&w);
    if (n->version > 1) {
        n->config = w_bytes(&w, &n->config_len);
        if (n->config_len < 0)
            return -1;
    }
    if (w.short_ || w.bad || n->state < 0 || n->state > 3)
        return -1;
    return 0;
}

int zab_get_learnerinfo(const struct zab_packet *pk, int64_t *sid, int64_t *config_version)
{
    if (pk->dlen < 8)
        return -1;
    *sid = (int64_t)zk_be64_get(pk->data);
    *config_version = pk->dlen >= 20 ? (int64_t)zk_be64_get(pk->data + 12) : -1;
    return *sid < 0 ? -1 : 0;
}

int zab_get_request(const struct zab_packet *pk, struct zab_request *r)
{
    if (pk->dlen < 16)
        return -1;
    r->session = (int64_t)zk_be64_get(pk->data);
    r->cxid = (int32_t)zk_be32_get(pk->data + 8);
    r->type = (int32_t)zk_be32_get(pk->data + 12);
    r->frame = pk->data + 8;
    r->flen = (size_t)pk->dlen - 8;
    return 0;
}

int zab_packet_auth(const uint8_t *p, size_t len, struct zk_slice *schemes, struct zk_slice *ids,
                    int max)
{
    struct jute_in in;
    jute_in_init(&in, p, len);
    jute_get_int(&in);
    jute_get_long(&in);
    jute_get_buffer(&in);
    int32_t n = jute_get_int(&in);
    if (in.err || n > max)
        return -1;
    for (int32_t i = 0; i < n; i++) {
        schemes[i] = jute_get_string(&in);
        ids[i] = jute_get_string(&in);
        if (in.err || schemes[i].len < 0 || ids[i].len < 0)
            return -1;
    }
    return n < 0 ? 0 : n;
}
