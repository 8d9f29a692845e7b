/*
 * jute.c - the jute binary record codec (see include/zk/jute.h for layout).
 *
 * The reader is defensive by construction: every getter checks the remaining
 * length first, and after the first failure the reader is "poisoned" (err set,
 * offset pinned at the end) so that a malformed or truncated record can never
 * make a decoder read out of bounds.  Callers check `err` once per record.
 */
#include "zk/jute.h"
#include "zk/proto.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *zk_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "fatal: out of memory allocating %zu bytes\n", n);
        abort();
    }
    return p;
}

void *zk_xcalloc(size_t n, size_t m)
{
    void *p = calloc(n ? n : 1, m ? m : 1);
    if (!p) {
        fprintf(stderr, "fatal: out of memory allocating %zu x %zu bytes\n", n, m);
        abort();
    }
    return p;
}

void *zk_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fprintf(stderr, "fatal: out of memory reallocating %zu bytes\n", n);
        abort();
    }
    return q;
}

char *zk_xstrndup(const char *s, size_t n)
{
    char *d = zk_xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

const char *zk_strerror(int err)
{
    switch (err) {
#define ZK_ERR_TEXT(name, code, text) case code: return text;
        ZK_ERRNO_MAP(ZK_ERR_TEXT)
#undef ZK_ERR_TEXT
    }
    return "unknown error";
}

const char *zk_errname(int err)
{
    switch (err) {
#define ZK_ERR_NAME(name, code, text) case code: return #name;
        ZK_ERRNO_MAP(ZK_ERR_NAME)
#undef ZK_ERR_NAME
    }
    return "UNKNOWN";
}

/* ---- reader ---- */

void jute_in_init(struct jute_in *in, const void *p, size_t len)
{
    assert(p || len == 0);
    in->p = p;
    in->len = len;
    in->off = 0;
    in->err = 0;
}

static int in_need(struct jute_in *in, size_t n)
{
    if (in->err || in->len - in->off < n) {
        in->err = ZK_MARSHALLINGERROR;
        in->off = in->len;
        return 0;
    }
    return 1;
}

int32_t jute_get_int(struct jute_in *in)
{
    if (!in_need(in, 4))
        return 0;
    uint32_t v = zk_be32_get(in->p + in->off);
    in->off += 4;
    return (int32_t)v;
}

int64_t jute_get_long(struct jute_in *in)
{
    if (!in_need(in, 8))
        return 0;
    uint64_t hi = zk_be32_get(in->p + in->off);
    uint64_t lo = zk_be32_get(in->p + in->off + 4);
    in->off += 8;
    return (int64_t)((hi << 32) | lo);
}

int jute_get_bool(struct jute_in *in)
{
    if (!in_need(in, 1))
        return 0;
    return in->p[in->off++] != 0;
}

struct zk_slice jute_get_buffer(struct jute_in *in)
{
    struct zk_slice s = {NULL, -1};
    int32_t len = jute_get_int(in);
    if (in->err)
        return s;
    if (len < 0) {
        if (len != -1) {
            in->err = ZK_MARSHALLINGERROR;
            in->off = in->len;
        }
        return s;
    }
    if (!in_need(in, (size_t)len))
        return s;
    s.p = (const char *)in->p + in->off;
    s.len = len;
    in->off += (size_t)len;
    return s;
}

struct zk_slice jute_get_string(struct jute_in *in)
{
    struct zk_slice s = jute_get_buffer(in);
    if (!in->err && s.len < 0) {
        /* Apache writes null strings as -1; treat as empty for robustness. */
        s.p = "";
        s.len = 0;
    }
    return s;
}

int32_t jute_get_count(struct jute_in *in, size_t min_elem)
{
    int32_t n = jute_get_int(in);
    if (in->err)
        return 0;
    if (n == -1)
        return 0;
    if (n < 0 || (min_elem && (size_t)n > jute_in_left(in) / min_elem)) {
        in->err = ZK_MARSHALLINGERROR;
        in->off = in->len;
        return 0;
    }
    return n;
}

/* ---- writer ---- */

void jute_out_init(struct jute_out *out)
{
    out->p = NULL;
    out->len = 0;
    out->cap = 0;
}

void jute_out_free(struct jute_out *out)
{
    free(out->p);
    jute_out_init(out);
}

uint8_t *jute_out_steal(struct jute_out *out, size_t *len)
{
    uint8_t *p = out->p;
    if (len)
        *len = out->len;
    jute_out_init(out);
    return p;
}

void jute_out_reserve(struct jute_out *out, size_t extra)
{
    if (out->cap - out->len >= extra)
        return;
    size_t cap = out->cap ? out->cap : 256;
    while (cap - out->len < extra)
        cap *= 2;
    out->p = zk_xrealloc(out->p, cap);
    out->cap = cap;
}

void jute_put_raw(struct jute_out *out, const void *p, size_t len)
{
    assert(p || len == 0);
    if (out->cap - out->len < len)
        jute_out_reserve(out, len);
    if (len)
        memcpy(out->p + out->len, p, len);
    out->len += len;
}

void jute_put_bool(struct jute_out *out, int v)
{
    uint8_t b = v ? 1 : 0;
    jute_put_raw(out, &b, 1);
}

void jute_put_buffer(struct jute_out *out, const void *p, int32_t len)
{
    assert(len >= -1);      /* -1 is null, as on the wire */
    assert(p || len <= 0);  /* bytes to copy need a source */
    if (len < 0 || !p) {
        jute_put_int(out, len < 0 ? -1 : 0);
        return;
    }
    jute_put_int(out, len);
    jute_put_raw(out, p, (size_t)len);
}

void jute_put_string(struct jute_out *out, const char *s)
{
    if (!s) {
        jute_put_int(out, -1);
        return;
    }
    jute_put_buffer(out, s, (int32_t)strlen(s));
}

void jute_put_slice(struct jute_out *out, struct zk_slice s)
{
    if (s.len < 0)
        jute_put_int(out, -1);
    else
        jute_put_buffer(out, s.p, s.len);
}

void jute_patch_int(struct jute_out *out, size_t at, int32_t v)
{
    assert(at + 4 <= out->len); /* patches a value already written */
    zk_be32_put(out->p + at, (uint32_t)v);
}

/* ---- records ---- */

void jute_put_stat(struct jute_out *out, const struct zk_stat *st)
{
    jute_put_long(out, st->czxid);
    jute_put_long(out, st->mzxid);
    jute_put_long(out, st->ctime);
    jute_put_long(out, st->mtime);
    jute_put_int(out, st->version);
    jute_put_int(out, st->cversion);
    jute_put_int(out, st->aversion);
    jute_put_long(out, st->ephemeral_owner);
    jute_put_int(out, st->data_length);
    jute_put_int(out, st->num_children);
    jute_put_long(out, st->pzxid);
}

void jute_get_stat(struct jute_in *in, struct zk_stat *st)
{
    st->czxid = jute_get_long(in);
    st->mzxid = jute_get_long(in);
    st->ctime = jute_get_long(in);
    st->mtime = jute_get_long(in);
    st->version = jute_get_int(in);
    st->cversion = jute_get_int(in);
    st->aversion = jute_get_int(in);
    st->ephemeral_owner = jute_get_long(in);
    st->data_length = jute_get_int(in);
    st->num_children = jute_get_int(in);
    st->pzxid = jute_get_long(in);
}
