/*
 * nodepool.c - see nodepool.h.
 *
 * A slab is NODEPOOL_SLAB bytes from malloc (so it follows zkd's malloc
 * settings); its first NODEPOOL_GRAIN bytes link it to the previous slab.
 * 4 MiB aligned to 2 MiB, because glibc with glibc.malloc.hugetlb=1
 * (hugepage.c) asks for transparent huge pages only for mappings of at least
 * one huge page, and the kernel backs only aligned ranges with them: with
 * 1 MiB slabs, 90% of a 1M-znode tree sat on 4 KiB pages, and a snapshot's
 * fork() copies one page-table entry per page.  Once a pool has
 * PREFAULT_FROM slabs it keeps the next one allocated ahead, faulted in by
 * prefault.h's thread, so that a growing tree's page faults (a sixth of a
 * load's loop thread) are taken off the loop; a small tree touches only the
 * pages it has handed out.  Blocks are cut from the newest slab's tail in
 * allocation order; a tail too short for a request is given to the free list
 * of its own size class rather than wasted.
 */
#include "nodepool.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "prefault.h"
#include "zk/jute.h"

#define NODEPOOL_SLAB (4u << 20)
#define NODEPOOL_ALIGN (2u << 20) /* a huge page on x86-64 and arm64 (4 KiB base pages) */
#define PREFAULT_FROM 2           /* slabs in use before the next is made ahead (8 MiB) */

#if defined(__SANITIZE_ADDRESS__)
#define NODEPOOL_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NODEPOOL_SANITIZED 1
#endif
#endif
#ifndef NODEPOOL_SANITIZED
#define NODEPOOL_SANITIZED 0
#endif

static void *pop(struct nodepool *p, size_t size)
{
    void **head = &p->free[size / NODEPOOL_GRAIN];
    void *b = *head;
    if (b) {
        memcpy(head, b, sizeof *head);
        memset(b, 0, size);
    }
    return b;
}

static void push(struct nodepool *p, void *b, size_t size)
{
    void **head = &p->free[size / NODEPOOL_GRAIN];
    memcpy(b, head, sizeof *head);
    *head = b;
}

static void *slab_alloc(void)
{
    void *mem;
    if (posix_memalign(&mem, NODEPOOL_ALIGN, NODEPOOL_SLAB))
        mem = zk_xmalloc(NODEPOOL_SLAB); /* aborts on the same failure */
    return mem;
}

/* A new slab becomes the tail (the spare made ahead, if any); the old
 * tail's rest goes to its class. */
static void new_slab(struct nodepool *p)
{
    size_t rest = (size_t)(p->end - p->next);
    if (rest >= NODEPOOL_GRAIN)
        push(p, p->next, rest);
    char *s = p->spare ? p->spare : slab_alloc();
    p->spare = NULL;
    if (++p->nslabs >= PREFAULT_FROM) {
        p->spare = slab_alloc();
        prefault_async(p->spare, NODEPOOL_SLAB);
    }
    memcpy(s, &p->slabs, sizeof p->slabs);
    p->slabs = s;
    p->next = s + NODEPOOL_GRAIN;
    p->end = s + NODEPOOL_SLAB;
}

void *nodepool_alloc(struct nodepool *p, size_t size)
{
    assert(size > 0 && size == nodepool_size(size));
    if (NODEPOOL_SANITIZED || size > NODEPOOL_MAX)
        return zk_xcalloc(1, size);
    void *b = pop(p, size);
    if (b)
        return b;
    if ((size_t)(p->end - p->next) < size)
        new_slab(p);
    b = p->next;
    p->next += size;
    memset(b, 0, size); /* slabs come from malloc, not calloc */
    return b;
}

void nodepool_free(struct nodepool *p, void *block, size_t size)
{
    if (!block)
        return;
    if (NODEPOOL_SANITIZED || size > NODEPOOL_MAX) {
        free(block);
        return;
    }
    push(p, block, size);
}

void nodepool_destroy(struct nodepool *p)
{
    if (p->spare)
        prefault_drain(); /* it may still be populating the spare */
    free(p->spare);
    while (p->slabs) {
        void *s = p->slabs;
        memcpy(&p->slabs, s, sizeof p->slabs);
        free(s);
    }
    memset(p, 0, sizeof *p);
}
