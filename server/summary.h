/*
 * summary.h - a latency summary: count, sum, min, max and percentiles of a
 * stream of values, as Apache's AvgMinMaxPercentileCounter reports them.
 *
 * Values go into a log-linear histogram (32 buckets per power of two, so a
 * percentile is off by at most 1/32 = 3% of its value), which makes adding
 * one value a handful of instructions with no allocation: cheap enough for
 * every request on the loop thread.  Percentiles are computed only when read
 * (mntr, the admin monitor command, a Prometheus scrape).
 *
 * Not thread-safe: a summary is written and read on one thread (zkd's loop).
 */
#ifndef ZKD_SUMMARY_H
#define ZKD_SUMMARY_H

#include <stdint.h>

#define SUMMARY_SUB 32     /* buckets per power of two */
#define SUMMARY_BUCKETS (SUMMARY_SUB * 40) /* values up to 2^40 */

struct summary {
    uint64_t count, sum, min, max;
    uint64_t buckets[SUMMARY_BUCKETS];
};

/* Adds one value (any unit; zkd uses microseconds). */
void summary_add(struct summary *s, uint64_t v);
/* Forgets every value (srst, stat_reset). */
void summary_reset(struct summary *s);
/* The value at quantile q (0 < q <= 1), 0 for an empty summary. */
uint64_t summary_quantile(const struct summary *s, double q);

#endif
