/*
 * quota.c - see quota.h.
 */
#include "quota.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "zk/proto.h"
#include "zk/statstrack.h"

#define QUOTA_ROOT "/zookeeper/quota"
#define QUOTA_ROOT_LEN (sizeof QUOTA_ROOT - 1)
#define LIMITS_NODE "zookeeper_limits"
#define STATS_NODE "zookeeper_stats"

static struct znode *child(const struct znode *n, const char *name)
{
    return n ? tree_child(n, name, strlen(name)) : NULL;
}

/*
 * The /zookeeper/quota/<P> node of the quota covering `path`: the deepest
 * prefix P of `path` (path itself included, "/" excluded) whose quota node
 * has a zookeeper_limits child.  OUT: *plen, the length of P.  NULL when no
 * quota covers the path, after a single lookup when there is no quota at all.
 */
static struct znode *covering(struct db *db, const char *path, size_t len, size_t *plen)
{
    if (!db->quota_nodes)
        return NULL; /* the common case, without a lookup */
    struct znode *q = tree_lookup(db->tree, QUOTA_ROOT, QUOTA_ROOT_LEN);
    if (!q || tree_nkids(q) == 0)
        return NULL;
    struct znode *best = NULL;
    size_t i = 1;
    while (i < len) {
        size_t e = i;
        while (e < len && path[e] != '/')
            e++;
        if (!(q = tree_child(q, path + i, e - i)))
            break;
        if (child(q, LIMITS_NODE)) {
            best = q;
            *plen = e;
        }
        i = e + 1;
    }
    return best;
}

static int64_t data_bytes(int32_t datalen)
{
    return datalen > 0 ? datalen : 0;
}

/* Rewrites a stats node's data in place (no version change), through `j`
 * when given (a transaction) or directly (recounting a loaded tree). */
static void put_stats(struct db *db, struct znode *stats, const struct statstrack *st,
                      struct journal *j)
{
    char buf[STATSTRACK_FMT_MAX];
    int n = statstrack_format(st, buf, sizeof buf);
    if (j)
        journal_replace_data(db, stats, buf, n, j);
    else {
        db_write_lock(db); /* no transaction holds it here (db.h) */
        tree_set_data(db->tree, stats, buf, n);
        db_write_unlock(db);
    }
}

/* Apache's updateQuotaStat: adds the differences to the quota's usage. */
static void account(struct db *db, struct znode *q, const char *prefix, size_t plen,
                    int64_t bytes_diff, int count_diff, struct journal *j)
{
    struct znode *stats = child(q, STATS_NODE);
    if (!stats) {
        log_error("Missing node for stat %s%.*s/%s", QUOTA_ROOT, (int)plen, prefix, STATS_NODE);
        return;
    }
    struct statstrack st;
    if (statstrack_parse(&st, tree_data(stats), stats->datalen)) {
        log_error("quota usage of %.*s not updated: %s%.*s/%s holds no StatsTrack", (int)plen,
                  prefix, QUOTA_ROOT, (int)plen, prefix, STATS_NODE);
        return;
    }
    statstrack_set(&st, STATSTRACK_COUNT, statstrack_get(&st, STATSTRACK_COUNT) + count_diff);
    statstrack_set(&st, STATSTRACK_BYTES, statstrack_get(&st, STATSTRACK_BYTES) + bytes_diff);
    put_stats(db, stats, &st, j);
}

static void update(struct db *db, const char *path, size_t len, int64_t bytes_diff, int count_diff,
                   struct journal *j)
{
    size_t plen = 0;
    struct znode *q = covering(db, path, len, &plen);
    if (q)
        account(db, q, path, plen, bytes_diff, count_diff, j);
}

/* Node count and data bytes of the subtree at n (n included); iterative, so
 * a deep tree cannot exhaust the stack. */
static void count_subtree(const struct znode *n, int64_t *count, int64_t *bytes)
{
    size_t cap = 64, top = 0;
    const struct znode **stack = zk_xmalloc(cap * sizeof *stack);
    stack[top++] = n;
    while (top) {
        const struct znode *x = stack[--top];
        *count += 1;
        *bytes += data_bytes(x->datalen);
        for (uint32_t i = 0; i < tree_kid_slots(x); i++) {
            if (!tree_kid(x, i))
                continue;
            if (top == cap)
                stack = zk_xrealloc(stack, (cap *= 2) * sizeof *stack);
            stack[top++] = tree_kid(x, i);
        }
    }
    free(stack);
}

/* Apache's updateQuotaForPath: the usage of `real` (NULL: none, count 0)
 * written whole into `stats`, dropping any other keys it held. */
static void recount(struct db *db, const struct znode *real, struct znode *stats,
                    struct journal *j)
{
    int64_t count = 0, bytes = 0;
    if (real)
        count_subtree(real, &count, &bytes);
    struct statstrack st;
    statstrack_init(&st);
    statstrack_set(&st, STATSTRACK_BYTES, bytes);
    statstrack_set(&st, STATSTRACK_COUNT, count);
    put_stats(db, stats, &st, j);
}

void quota_on_create(struct db *db, const struct znode *n, const char *path, size_t len,
                     struct journal *j)
{
    /* A new zookeeper_stats node under /zookeeper/quota<P> gets P's usage.
     * As in Apache the test is a string prefix, and a P that names no node
     * counts zero. */
    size_t plen = path_parent_len(path, len);
    if (len > QUOTA_ROOT_LEN && path[QUOTA_ROOT_LEN] == '/' && !memcmp(path, QUOTA_ROOT, QUOTA_ROOT_LEN))
        db->quota_nodes = 1; /* from now on writes look for a covering quota */
    if (plen >= QUOTA_ROOT_LEN && !memcmp(path, QUOTA_ROOT, QUOTA_ROOT_LEN) &&
        tree_namelen(n) == strlen(STATS_NODE) && !memcmp(n->name, STATS_NODE, strlen(STATS_NODE))) {
        const char *real = path + QUOTA_ROOT_LEN;
        size_t rlen = plen - QUOTA_ROOT_LEN;
        recount(db, rlen && real[0] == '/' ? tree_lookup(db->tree, real, rlen) : NULL,
                (struct znode *)n, j);
    }
    update(db, path, len, data_bytes(n->datalen), 1, j);
}

void quota_on_delete(struct db *db, const char *path, size_t len, int32_t datalen,
                     struct journal *j)
{
    update(db, path, len, -data_bytes(datalen), -1, j);
}

void quota_on_setdata(struct db *db, const char *path, size_t len, int32_t oldlen,
                      int32_t newlen, struct journal *j)
{
    update(db, path, len, data_bytes(newlen) - data_bytes(oldlen), 0, j);
}

/* ---- enforcement ---- */

/*
 * Apache's RateLogger (100 ms): a message is logged when it differs from the
 * previous one; repeats within the interval are counted and logged as
 * "[N times] Message: ..." when the interval has passed or another message
 * comes.
 */
static struct {
    char msg[512];
    int64_t at;
    int count;
} rate;

static void rate_flush(void)
{
    if (rate.msg[0] && rate.count > 0) {
        if (rate.count > 1)
            log_warn("[%d times] Message: %s", rate.count, rate.msg);
        else
            log_warn("Message: %s", rate.msg);
    }
    rate.msg[0] = 0;
    rate.count = 0;
}

static void rate_log(const char *msg)
{
    int64_t now = clock_mono_ms();
    if (!strcmp(msg, rate.msg)) {
        rate.count++;
        if (now - rate.at >= 100) {
            rate_flush();
            snprintf(rate.msg, sizeof rate.msg, "%s", msg);
            rate.at = now;
        }
        return;
    }
    rate_flush();
    snprintf(rate.msg, sizeof rate.msg, "%s", msg);
    rate.at = now;
    log_warn("Message:%s Value:null", msg);
}

/* One limit (count or bytes): the hard one when set, else the soft one. */
static int over_limit(const char *prefix, size_t plen, const char *what, const char *cap_what,
                      int64_t now, int64_t soft, int64_t hard)
{
    int is_hard = hard > -1;
    int64_t limit = is_hard ? hard : soft;
    if (now <= limit)
        return 0;
    char msg[512];
    snprintf(msg, sizeof msg, "Quota exceeded: %.*s [current %s=%lld, %s%sLimit=%lld]", (int)plen,
             prefix, what, (long long)now, is_hard ? "hard" : "soft", cap_what, (long long)limit);
    rate_log(msg);
    return is_hard ? ZK_QUOTAEXCEEDED : 0;
}

int quota_check(struct db *db, const char *path, size_t len, int create, int32_t oldlen,
                int32_t newlen)
{
    if (!db->enforce_quota)
        return 0;
    size_t plen = 0;
    struct znode *q = covering(db, path, len, &plen);
    if (!q)
        return 0;
    int count_diff = create ? 1 : 0;
    int64_t bytes_diff = data_bytes(newlen) - (create ? 0 : data_bytes(oldlen));
    const struct znode *limits = child(q, LIMITS_NODE);
    struct statstrack lim, use;
    if (statstrack_parse(&lim, tree_data(limits), limits->datalen))
        return ZK_MARSHALLINGERROR;
    int check_count = count_diff != 0 && (statstrack_get(&lim, STATSTRACK_COUNT) > -1 ||
                                          statstrack_get(&lim, STATSTRACK_COUNT_HARD) > -1);
    int check_bytes = bytes_diff != 0 && (statstrack_get(&lim, STATSTRACK_BYTES) > -1 ||
                                          statstrack_get(&lim, STATSTRACK_BYTES_HARD) > -1);
    if (!check_count && !check_bytes)
        return 0;
    const struct znode *stats = child(q, STATS_NODE);
    if (!stats) {
        log_error("Missing node for stat %s%.*s/%s", QUOTA_ROOT, (int)plen, path, STATS_NODE);
        return 0;
    }
    if (statstrack_parse(&use, tree_data(stats), stats->datalen))
        return ZK_MARSHALLINGERROR;
    int rc = 0;
    if (check_count)
        rc = over_limit(path, plen, "count", "Count",
                        statstrack_get(&use, STATSTRACK_COUNT) + count_diff,
                        statstrack_get(&lim, STATSTRACK_COUNT),
                        statstrack_get(&lim, STATSTRACK_COUNT_HARD));
    if (!rc && check_bytes)
        rc = over_limit(path, plen, "bytes", "Byte",
                        statstrack_get(&use, STATSTRACK_BYTES) + bytes_diff,
                        statstrack_get(&lim, STATSTRACK_BYTES),
                        statstrack_get(&lim, STATSTRACK_BYTES_HARD));
    return rc;
}

/* ---- recounting a loaded tree ---- */

void quota_recount(struct db *db)
{
    struct znode *root = tree_lookup(db->tree, QUOTA_ROOT, QUOTA_ROOT_LEN);
    db->quota_nodes = root && tree_nkids(root) > 0;
    if (!db->quota_nodes)
        return;
    size_t cap = 64, top = 0, pcap = 256;
    struct znode **stack = zk_xmalloc(cap * sizeof *stack);
    char *buf = zk_xmalloc(pcap);
    for (uint32_t i = 0; i < tree_kid_slots(root); i++)
        if (tree_kid(root, i)) {
            if (top == cap)
                stack = zk_xrealloc(stack, (cap *= 2) * sizeof *stack);
            stack[top++] = tree_kid(root, i);
        }
    while (top) {
        struct znode *q = stack[--top];
        const struct znode *limits = child(q, LIMITS_NODE);
        /* Apache's traverseNode takes a zookeeper_limits leaf as a quota. */
        if (limits && tree_nkids(limits) == 0) {
            size_t len = tree_path(q, buf, pcap);
            if (len + 1 > pcap) {
                buf = zk_xrealloc(buf, pcap = 2 * (len + 1));
                len = tree_path(q, buf, pcap);
            }
            struct znode *stats = child(q, STATS_NODE);
            if (stats)
                recount(db, tree_lookup(db->tree, buf + QUOTA_ROOT_LEN, len - QUOTA_ROOT_LEN),
                        stats, NULL);
            else
                log_warn("Missing quota stat node %s/%s", buf, STATS_NODE);
        }
        for (uint32_t i = 0; i < tree_kid_slots(q); i++) {
            if (!tree_kid(q, i))
                continue;
            if (top == cap)
                stack = zk_xrealloc(stack, (cap *= 2) * sizeof *stack);
            stack[top++] = tree_kid(q, i);
        }
    }
    free(stack);
    free(buf);
}
