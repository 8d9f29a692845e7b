/*
 * nodepool.h - a size-classed allocator for the tree's znodes.
 *
 * Ten million small znodes are most of zkd's memory, and glibc's malloc adds
 * a chunk header and 16-byte rounding to each (a 167-byte znode takes a
 * 192-byte chunk).  A pool hands out blocks of NODEPOOL_GRAIN-byte size
 * classes carved from large slabs, with no header per block: the caller
 * passes the size back to nodepool_free.  Freed blocks go on their class's
 * free list and are reused for blocks of the same class; slabs are returned
 * to the system only by nodepool_destroy.  Requests above NODEPOOL_MAX go to
 * malloc.
 *
 * Under AddressSanitizer every block is a malloc of its own, so that
 * use-after-free and overflows of znodes are still caught; the sizes the
 * pool reports are the same in both builds.
 *
 * Not thread-safe: a pool belongs to one tree, used on one thread.
 */
#ifndef ZKD_NODEPOOL_H
#define ZKD_NODEPOOL_H

#include <stddef.h>

#define NODEPOOL_GRAIN 8
#define NODEPOOL_MAX 1024

struct nodepool {
    void *free[NODEPOOL_MAX / NODEPOOL_GRAIN + 1]; /* per class: a list linked
                                                     * through each block's first word */
    char *next, *end;                               /* unused tail of the newest slab */
    void *slabs;                                    /* slab list, linked through their first word */
    void *spare;                                    /* the next slab, being faulted in (prefault.h) */
    unsigned nslabs;                                /* in the list */
};

/* The size of the block a request of n bytes gets (n rounded up to the
 * grain): the caller may use all of it, and passes it to nodepool_free. */
static inline size_t nodepool_size(size_t n)
{
    return (n + NODEPOOL_GRAIN - 1) & ~(size_t)(NODEPOOL_GRAIN - 1);
}

/* A zero-filled block of `size` bytes (size == nodepool_size(size) > 0),
 * aligned for any znode field.  Never NULL (aborts like zk_xmalloc). */
void *nodepool_alloc(struct nodepool *p, size_t size);
/* Returns a block from nodepool_alloc(p, size). */
void nodepool_free(struct nodepool *p, void *block, size_t size);
/* Frees every slab: all blocks of the pool become invalid.  The pool can
 * be used again afterwards (it is then empty, as a zeroed one is). */
void nodepool_destroy(struct nodepool *p);

#endif
