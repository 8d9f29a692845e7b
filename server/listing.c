/*
 * listing.c - getChildren of a wide parent in slices (see listing.h).
 */
#include "listing.h"

#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "log.h"
#include "quorum.h"
#include "server.h"
#include "tree.h"
#include "zk/proto.h"

struct listing {
    struct server *s;
    struct conn *c;
    int32_t xid, type;
    int watch;
    int restarts;
    struct tree_kid_walk walk;
    struct jute_out body;  /* CONN_REPLY_HEAD bytes of room, the int32 count,
                            * then the names walked so far */
    uint32_t names;        /* names in body */
    int sized;             /* body was reserved for the rest (see run) */
    size_t plen;
    char path[];           /* the request's path, copied (plen bytes) */
};

static struct zk_slice path_of(const struct listing *l)
{
    return (struct zk_slice){l->path, (int32_t)l->plen};
}

static void put_name(struct znode *c, void *d)
{
    struct listing *l = d;
    jute_put_buffer(&l->body, c->name, (int32_t)tree_namelen(c));
    l->names++;
}

/* Starts the body over for `n`: room for the reply's head (conn_put_body
 * then takes the buffer instead of copying it), the count. */
static void body_reset(struct listing *l, const struct znode *n)
{
    l->body.len = 0;
    l->names = 0;
    l->sized = 0;
    jute_out_reserve(&l->body, CONN_REPLY_HEAD);
    l->body.len = CONN_REPLY_HEAD;
    jute_put_int(&l->body, (int32_t)tree_nkids(n));
}

/* After a first slice, reserves what the rest will take at the names'
 * size so far (+1/8): growing a body of megabytes by doubling copied it
 * whole inside one slice, the longest piece of the listing. */
static void body_size(struct listing *l, const struct znode *n)
{
    if (l->sized || !l->names)
        return;
    l->sized = 1;
    size_t per = (l->body.len - CONN_REPLY_HEAD - 4) / l->names + 1;
    size_t left = tree_nkids(n) > l->names ? tree_nkids(n) - l->names : 0;
    jute_out_reserve(&l->body, left * per + left * per / 8 + 256); /* (+ the Stat) */
}

int listing_wanted(const struct server *s, const struct conn *c, const struct znode *n)
{
    int slice = s->cfg.children_slice;
    return slice > 0 && !conn_is_proxy(c) && tree_nkids(n) > (uint32_t)slice;
}

static void listing_free(struct listing *l)
{
    l->s->listings--;
    tree_kid_walk_close(&l->walk);
    jute_out_free(&l->body);
    free(l);
}

/* Queues the reply (as of now: listing.h) and frees l. */
static void answer(struct listing *l, int rc, const struct znode *n)
{
    l->c->listing = NULL;
    server_read_answer(l->s, l->c, l->xid, l->type, rc, n, path_of(l), l->watch,
                       rc ? NULL : &l->body);
    listing_free(l);
}

/* (Re)starts on the node now at l's path.  Returns 0, or 1 when that
 * answered the request (the node is gone or may no longer be read). */
static int begin(struct listing *l)
{
    tree_kid_walk_close(&l->walk);
    struct znode *n;
    int rc = server_read_lookup(l->s, l->c, path_of(l), &n);
    if (rc) {
        answer(l, rc, n);
        return 1;
    }
    body_reset(l, n);
    tree_kid_walk_open(l->s->db.tree, &l->walk, n);
    return 0;
}

/* Encodes this turn's slice.  Returns 1 while l goes on (l is freed
 * otherwise). */
static int run(struct listing *l)
{
    for (;;) {
        uint32_t max = l->restarts >= LISTING_MAX_RESTARTS ? UINT32_MAX
                                                          : (uint32_t)l->s->cfg.children_slice;
        int st = tree_kid_walk_step(&l->walk, max, put_name, l);
        if (st == TREE_WALK_MORE) {
            body_size(l, l->walk.parent);
            return 1;
        }
        if (st == TREE_WALK_DONE) {
            /* The READ check as of now.  The lookup also finds whether the
             * node at the path is still the one walked: a delete that
             * unlinks without freeing yet leaves the walk exact but the
             * node gone (a childless one only: not one of ours, unless
             * its children went first, which made the walk stale). */
            struct znode *n;
            int rc = server_read_lookup(l->s, l->c, path_of(l), &n);
            if (!rc && n != l->walk.parent) {
                l->restarts++;
                if (begin(l))
                    return 0;
                continue;
            }
            answer(l, rc, n);
            return 0;
        }
        /* Stale: the children changed (or the node went) since the start. */
        if (++l->restarts == LISTING_MAX_RESTARTS)
            log_info("getChildren of %.*s by session 0x%llx: its children changed during %d "
                     "attempts in slices; answering in one piece", (int)l->plen, l->path,
                     (unsigned long long)l->c->session_id, LISTING_MAX_RESTARTS);
        if (begin(l))
            return 0;
    }
}

void listing_start(struct server *s, struct conn *c, int32_t xid, int32_t type,
                   struct zk_slice path, int watch, struct znode *n)
{
    size_t plen = path.len > 0 ? (size_t)path.len : 0;
    struct listing *l = zk_xcalloc(1, sizeof *l + plen + 1);
    *l = (struct listing){.s = s, .c = c, .xid = xid, .type = type, .watch = watch, .plen = plen};
    memcpy(l->path, path.p, plen);
    jute_out_init(&l->body);
    body_reset(l, n);
    tree_kid_walk_open(s->db.tree, &l->walk, n);
    c->listing = l;
    s->listings++;
    if (run(l))
        conn_wait_turn(c);
}

int listing_continue(struct conn *c)
{
    struct server *s = c->srv;
    struct listing *l = c->listing;
    if (s->q && !c->readonly && !quorum_serving(s->q)) {
        conn_close(c); /* as server_request: the client must go to a member that serves */
        return 0;
    }
    if (l && run(l))
        return 1;
    quorum_conn_resume(s, c); /* what a learner held behind it (may start a listing) */
    return c->listing != NULL;
}

void listing_cancel(struct conn *c)
{
    if (!c->listing)
        return;
    listing_free(c->listing);
    c->listing = NULL;
}
