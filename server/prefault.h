/*
 * prefault.h - have fresh memory faulted in by a helper thread before use.
 *
 * The first write to a page of fresh heap takes a page fault, and the kernel
 * zeroes the page (2 MiB at once on zkd's huge-page heap, hugepage.h); on a
 * virtual machine the host may fault behind it too.  In a load of 2 million
 * creates that zeroing was 11-16% of the loop thread's samples, all of it in
 * the node pool's new slabs (nodepool.c).  The loop thread is the serial
 * part of the write path, so the pool hands the slab it will need next to
 * this module, whose thread faults it in (MADV_POPULATE_WRITE) while the loop
 * goes on with the current one.
 *
 * Populating never changes memory contents, so a request needs no reply and
 * a range may be in use by its owner while it is populated.  Requests are
 * dropped, not waited for, when the queue is full, and all of them when the
 * kernel lacks MADV_POPULATE_WRITE (Linux < 5.14): the owner then faults
 * the pages itself, as before.
 */
#ifndef ZKD_PREFAULT_H
#define ZKD_PREFAULT_H

#include <stddef.h>

/* Queues [p, p + len) to be faulted in writable.  Thread-safe; starts the
 * thread on first use. */
void prefault_async(void *p, size_t len);

/* Returns once every range queued so far is done: call it before freeing
 * memory that was queued. */
void prefault_drain(void);

/* Ranges populated and dropped so far (for tests and metrics). */
void prefault_counts(unsigned long *done, unsigned long *dropped);

#endif
