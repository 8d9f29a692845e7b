/*
 * fifo.h - an intrusive FIFO: a queue threaded through its members (a
 * `struct fifo_link` embedded in each), so a member leaves it in O(1) from
 * anywhere (a closing connection) and queueing allocates nothing.  A member
 * is in a given queue at most once: pushing a queued member does nothing.
 */
#ifndef ZKD_FIFO_H
#define ZKD_FIFO_H

#include <stddef.h>

struct fifo_link {
    struct fifo_link *prev, *next;
    int queued;
};

struct fifo {
    struct fifo_link *head, *tail;
    size_t n;
};

/* The member holding link `l` (a `type` whose `member` is the link). */
#define FIFO_ENTRY(l, type, member) ((type *)(void *)((char *)(l) - offsetof(type, member)))

static inline void fifo_push(struct fifo *q, struct fifo_link *l)
{
    if (l->queued)
        return;
    l->queued = 1;
    l->next = NULL;
    l->prev = q->tail;
    if (q->tail)
        q->tail->next = l;
    else
        q->head = l;
    q->tail = l;
    q->n++;
}

static inline void fifo_remove(struct fifo *q, struct fifo_link *l)
{
    if (!l->queued)
        return;
    if (l->prev)
        l->prev->next = l->next;
    else
        q->head = l->next;
    if (l->next)
        l->next->prev = l->prev;
    else
        q->tail = l->prev;
    l->prev = l->next = NULL;
    l->queued = 0;
    q->n--;
}

/* The oldest member, taken off the queue; NULL when empty. */
static inline struct fifo_link *fifo_pop(struct fifo *q)
{
    struct fifo_link *l = q->head;
    if (l)
        fifo_remove(q, l);
    return l;
}

#endif
