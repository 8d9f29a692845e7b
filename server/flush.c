/*
 * flush.c - see flush.h.
 *
 * The notify queue is a list threaded through the connections (fifo.h, conn
 * nq), so a closing connection leaves it in O(1).  A connection is in it
 * at most once; one that turns out to have a reply while queued is written
 * with the replies and leaves it.
 */
#include "flush.h"

#include <stdint.h>
#include <stdlib.h>

#include "conn.h"
#include "server.h"

/* Rounds of step 1 per call: writing a connection may let it read again
 * (conn.c maybe_resume), and the frames it holds may be answered at once. */
#define REPLY_ROUNDS 8

static void noop_idle(uv_idle_t *h) { (void)h; }

void flush_init(struct server *s)
{
    uv_idle_init(s->loop, &s->notify_idle);
    s->notify_idle.data = s;
}

void flush_close(struct server *s) { uv_close((uv_handle_t *)&s->notify_idle, NULL); }

size_t flush_queued(const struct server *s) { return s->notify.n; }

static void enqueue(struct server *s, struct conn *c) { fifo_push(&s->notify, &c->nq); }

void flush_forget(struct server *s, struct conn *c) { fifo_remove(&s->notify, &c->nq); }

static void write_out(struct server *s, struct conn *c)
{
    flush_forget(s, c);
    if (c->state != CONN_CLOSING)
        conn_flush(c);
}

/* Step 1: writes the dirty connections that have a reply to send; queues
 * those with only notifications (all of them when `queue` is 0). */
static void flush_replies(struct server *s, int queue)
{
    for (int round = 0; round < REPLY_ROUNDS && s->dirty.n; round++) {
        struct conn **v = zk_xmalloc(s->dirty.n * sizeof *v);
        size_t n = 0;
        void *p;
        PSET_FOREACH(&s->dirty, p) v[n++] = p;
        pset_free(&s->dirty);
        for (size_t i = 0; i < n; i++) {
            if (v[i]->state == CONN_CLOSING)
                continue;
            if (queue && conn_only_notifications(v[i]))
                enqueue(s, v[i]);
            else
                write_out(s, v[i]);
        }
        free(v);
    }
}

/* Step 2: the oldest `max` queued connections. */
static void flush_notifications(struct server *s, size_t max)
{
    while (max-- && s->notify.head)
        write_out(s, FIFO_ENTRY(s->notify.head, struct conn, nq));
}

static void keep_awake(struct server *s)
{
    if (s->notify.n)
        uv_idle_start(&s->notify_idle, noop_idle);
    else
        uv_idle_stop(&s->notify_idle);
}

void flush_turn(struct server *s, int share)
{
    int cap = s->cfg.notify_writes_per_turn;
    flush_replies(s, 1);
    if (share) {
        flush_notifications(s, cap > 0 ? (size_t)cap : SIZE_MAX);
        flush_replies(s, 1); /* what the share's connections answered (maybe_resume) */
    }
    keep_awake(s);
}

void flush_all(struct server *s)
{
    flush_replies(s, 0);
    flush_notifications(s, SIZE_MAX);
    flush_replies(s, 0);
    keep_awake(s);
}
