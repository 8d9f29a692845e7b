/*
 * txnwin.c - the recent history window (see txnwin.h).
 */
#include "txnwin.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "zk/jute.h"

void txnwin_init(struct txnwin *w, int64_t base, size_t max_count, size_t max_bytes)
{
    memset(w, 0, sizeof *w);
    w->base = base;
    w->max_count = max_count < 2 ? 2 : max_count;
    w->max_bytes = max_bytes;
}

void txnwin_reset(struct txnwin *w, int64_t base)
{
    for (size_t i = 0; i < w->n; i++)
        free(w->v[(w->head + i) % w->cap].rec);
    w->head = w->n = w->bytes = 0;
    w->base = base;
}

void txnwin_free(struct txnwin *w)
{
    txnwin_reset(w, 0);
    free(w->v);
    w->v = NULL;
    w->cap = 0;
}

const struct txnwin_entry *txnwin_at(const struct txnwin *w, size_t i)
{
    assert(i < w->n);
    return &w->v[(w->head + i) % w->cap];
}

int64_t txnwin_last(const struct txnwin *w)
{
    return w->n ? txnwin_at(w, w->n - 1)->zxid : w->base;
}

static void drop_oldest(struct txnwin *w)
{
    assert(w->n > 0);
    struct txnwin_entry *e = &w->v[w->head];
    assert(w->bytes >= e->len && e->zxid > w->base);
    w->base = e->zxid;
    w->bytes -= e->len;
    free(e->rec);
    w->head = (w->head + 1) % w->cap;
    w->n--;
}

void txnwin_push(struct txnwin *w, int64_t zxid, const void *rec, size_t len)
{
    assert(zxid > txnwin_last(w)); /* zxids must increase */
    if (w->n == w->max_count || (w->bytes + len > w->max_bytes && w->n)) {
        size_t keep = w->n / 2;
        while (w->n > keep || (w->n && w->bytes + len > w->max_bytes))
            drop_oldest(w);
    }
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 1024;
        struct txnwin_entry *v = zk_xmalloc(cap * sizeof *v);
        for (size_t i = 0; i < w->n; i++)
            v[i] = *txnwin_at(w, i);
        free(w->v);
        w->v = v;
        w->cap = cap;
        w->head = 0;
    }
    struct txnwin_entry *e = &w->v[(w->head + w->n) % w->cap];
    e->zxid = zxid;
    e->len = (uint32_t)len;
    e->rec = zk_xmalloc(len ? len : 1);
    memcpy(e->rec, rec, len);
    w->n++;
    w->bytes += len;
}

/* Index of the first entry with zxid > z (binary search). */
static size_t upper_bound(const struct txnwin *w, int64_t z)
{
    size_t lo = 0, hi = w->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (txnwin_at(w, mid)->zxid <= z)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

enum txnwin_plan txnwin_plan(const struct txnwin *w, int64_t peer, size_t *from, int64_t *trunc)
{
    if (peer < w->base)
        return TXNWIN_SNAP;
    size_t i = upper_bound(w, peer);
    *from = i;
    /* entries [0, i) have zxid <= peer */
    int64_t prev = i ? txnwin_at(w, i - 1)->zxid : w->base;
    if (prev == peer)
        return TXNWIN_DIFF;
    /* The peer holds transactions we do not: it drops back to the last zxid
     * we share below its end, then takes ours. */
    *trunc = prev;
    return TXNWIN_TRUNC;
}
