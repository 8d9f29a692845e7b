/*
 * summary.c - see summary.h.  Bucket layout: values below 2*SUB have a bucket
 * each; above, a value whose top bit is e goes to the bucket named by its
 * top log2(SUB)+1 bits, so bucket widths double with every power of two.
 */
#include "summary.h"

#include <string.h>

static unsigned bucket_of(uint64_t v)
{
    if (v < 2 * SUMMARY_SUB)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v); /* >= log2(2*SUB) */
    unsigned shift = e - 5u;                          /* keeps 6 bits: SUB..2*SUB-1 */
    unsigned idx = shift * SUMMARY_SUB + (unsigned)(v >> shift);
    return idx < SUMMARY_BUCKETS ? idx : SUMMARY_BUCKETS - 1;
}

/* The middle of bucket idx, as the value it stands for. */
static uint64_t bucket_value(unsigned idx)
{
    if (idx < 2 * SUMMARY_SUB)
        return idx;
    unsigned shift = idx / SUMMARY_SUB - 1u;
    uint64_t lo = (uint64_t)(idx - shift * SUMMARY_SUB) << shift;
    return lo + ((1ull << shift) >> 1);
}

void summary_add(struct summary *s, uint64_t v)
{
    if (!s->count || v < s->min)
        s->min = v;
    if (v > s->max)
        s->max = v;
    s->count++;
    s->sum += v;
    s->buckets[bucket_of(v)]++;
}

void summary_reset(struct summary *s)
{
    memset(s, 0, sizeof *s);
}

uint64_t summary_quantile(const struct summary *s, double q)
{
    if (!s->count)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)s->count + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank >= s->count)
        return s->max; /* known exactly, and beyond the last bucket's reach */
    uint64_t seen = 0;
    for (unsigned i = 0; i < SUMMARY_BUCKETS; i++) {
        seen += s->buckets[i];
        if (seen >= rank) {
            uint64_t v = bucket_value(i);
            /* The exact extremes are known: never report outside them. */
            return v < s->min ? s->min : v > s->max ? s->max : v;
        }
    }
    return s->max;
}
