/*
 * statstrack.h - Apache ZooKeeper's quota record (org.apache.zookeeper.
 * StatsTrack), the text kept in /zookeeper/quota/<path>/zookeeper_limits and
 * .../zookeeper_stats.  Shared by zkd (server/quota.c) and zkcli's
 * setquota/listquota/delquota so both read and write it one way.
 *
 * Text.  Pairs "key=value" separated by runs of ',' or ';'.  Apache 3.8
 * writes "count=C,bytes=B" and, when other keys are present (the hard limits
 * since 3.7), appends "=" and then ";key=value" per other key in sorted
 * order, e.g. "count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=10" (the
 * extra "=" makes pre-3.7 parsers ignore the new keys).  An absent key reads
 * as -1, meaning no limit.
 *
 * Parsing follows Java's String.split as StatsTrack uses it, so data Apache
 * accepts means the same here and data Apache throws on is an error here:
 * empty text is an empty record; trailing separators are dropped; a pair
 * needs a '=' followed by something other than '=' ("count" and "count="
 * are errors, "count==5" is count=-1); the value is Long.parseLong's
 * (optional sign, decimal digits, 64-bit range).  A later duplicate key
 * wins.  zkd limits: at most STATSTRACK_MAX distinct keys shorter than
 * STATSTRACK_KEYMAX bytes, without NUL bytes; beyond that the text is an error.
 */
#ifndef ZK_STATSTRACK_H
#define ZK_STATSTRACK_H

#include <stddef.h>
#include <stdint.h>

#define STATSTRACK_MAX 16
#define STATSTRACK_KEYMAX 64
/* Room for any formatted record (with its NUL). */
#define STATSTRACK_FMT_MAX (64 + STATSTRACK_MAX * (STATSTRACK_KEYMAX + 24))

#define STATSTRACK_COUNT "count"
#define STATSTRACK_BYTES "bytes"
#define STATSTRACK_COUNT_HARD "countHardLimit"
#define STATSTRACK_BYTES_HARD "byteHardLimit"

struct statstrack {
    int n;
    struct {
        char key[STATSTRACK_KEYMAX];
        int64_t val;
    } kv[STATSTRACK_MAX];
};

/* An empty record (every key reads -1). */
void statstrack_init(struct statstrack *st);
/* Parses `len` bytes of `data` into *st.  len -1 (null data) is an error, as
 * in Apache.  Returns 0, or -1 for text Apache's StatsTrack would throw on. */
int statstrack_parse(struct statstrack *st, const char *data, int32_t len);
/* The value of `key`, or -1 when absent. */
int64_t statstrack_get(const struct statstrack *st, const char *key);
/* Sets `key` (shorter than STATSTRACK_KEYMAX) to v, adding it when absent;
 * returns -1 when the record is full. */
int statstrack_set(struct statstrack *st, const char *key, int64_t v);
/* Writes Apache's toString() of *st into buf (NUL-terminated, truncated to
 * cap) and returns its length (snprintf's count). */
int statstrack_format(const struct statstrack *st, char *buf, size_t cap);

#endif
