/*
 * txnwin.h - the recent history window: the last transactions this server
 * logged, kept in memory so a leader can bring a follower that is slightly
 * behind up to date with a diff instead of a whole snapshot.
 *
 * The window holds every transaction with zxid in (base, last] in order; it
 * forgets the oldest half when it passes its count or byte budget, moving
 * `base` up.  Every member keeps one (any member may become leader): filled
 * by log replay at start-up, by the leader as it proposes, and by a follower
 * as it logs proposals.
 */
#ifndef ZKD_TXNWIN_H
#define ZKD_TXNWIN_H

#include <stddef.h>
#include <stdint.h>

struct txnwin_entry {
    int64_t zxid;
    uint32_t len;
    uint8_t *rec;
};

struct txnwin {
    int64_t base;              /* history up to base is not in the window */
    struct txnwin_entry *v;
    size_t head, n, cap;       /* ring */
    size_t bytes;
    size_t max_count, max_bytes;
};

void txnwin_init(struct txnwin *w, int64_t base, size_t max_count, size_t max_bytes);
void txnwin_free(struct txnwin *w);
/* Forgets everything; the history now starts after `base`. */
void txnwin_reset(struct txnwin *w, int64_t base);
/* Appends a transaction (copied); zxids must increase. */
void txnwin_push(struct txnwin *w, int64_t zxid, const void *rec, size_t len);
/* Highest zxid held, or base when empty. */
int64_t txnwin_last(const struct txnwin *w);
/* The i-th entry (0 = oldest). */
const struct txnwin_entry *txnwin_at(const struct txnwin *w, size_t i);

/*
 * How to bring a member whose history ends at `peer` in line with this one:
 *   TXNWIN_DIFF  send entries from index *from on (peer's history is a prefix)
 *   TXNWIN_TRUNC the peer must first drop everything after *trunc (not in our
 *                history), then take entries from *from on
 *   TXNWIN_SNAP  the window does not reach back far enough: send a snapshot
 */
enum txnwin_plan { TXNWIN_DIFF, TXNWIN_TRUNC, TXNWIN_SNAP };
enum txnwin_plan txnwin_plan(const struct txnwin *w, int64_t peer, size_t *from, int64_t *trunc);

#endif
