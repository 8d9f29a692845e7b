/*
 * test_quota.c - the StatsTrack codec (zk/statstrack.h) read as Apache's
 * StatsTrack reads it, and quota usage through the undo journal
 * (server/quota.h): a multi that fails leaves zookeeper_stats as it was.
 */
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "db.h"
#include "quota.h"
#include "txn.h"
#include "zk/proto.h"
#include "zk/statstrack.h"
#include "ztest.h"

static const char *reformat(const char *text)
{
    static char out[STATSTRACK_FMT_MAX];
    struct statstrack st;
    if (statstrack_parse(&st, text, (int32_t)strlen(text)))
        return "ERROR";
    statstrack_format(&st, out, sizeof out);
    return out;
}

static void test_statstrack_like_apache(void)
{
    ASSERT_STR_EQ(reformat(""), "count=-1,bytes=-1");
    ASSERT_STR_EQ(reformat("count=3,bytes=5"), "count=3,bytes=5");
    ASSERT_STR_EQ(reformat("bytes=5;count=2"), "count=2,bytes=5");
    ASSERT_STR_EQ(reformat("count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=10"),
                  "count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=10");
    ASSERT_STR_EQ(reformat("zeta=1,count=1,,alpha=+2;;"), "count=1,bytes=-1=;alpha=2;zeta=1");
    ASSERT_STR_EQ(reformat("count==5"), "count=-1,bytes=-1"); /* kv[1] is "" */
    ASSERT_STR_EQ(reformat("count=4,count=6"), "count=6,bytes=-1");
    ASSERT_STR_EQ(reformat(",;,"), "count=-1,bytes=-1");
    ASSERT_STR_EQ(reformat("count=-9223372036854775808"), "count=-9223372036854775808,bytes=-1");
    const char *bad[] = {"count", "count=", "count==", "=", ",count=1", "count=x", "count=1 ",
                         "count=9223372036854775808", "count=0x10", NULL};
    for (int i = 0; bad[i]; i++)
        ASSERT_STR_EQ(reformat(bad[i]), "ERROR");
    struct statstrack st;
    ASSERT_INT_EQ(statstrack_parse(&st, NULL, -1), -1); /* null data */
}

/* ---- usage through the journal ---- */

static int64_t zxid;

/* Applies and commits a one-op transaction; returns apply_txn's result. */
static int apply1(struct db *db, int32_t type, const char *path, const char *data)
{
    struct txn t;
    txn_init(&t, type, 0x100, 1, 5000);
    struct txn_op *op = txn_add_op(&t, type);
    op->path = strdup(path);
    op->data = (struct zk_slice){data, data ? (int32_t)strlen(data) : -1};
    struct journal j = {0};
    int rc = apply_txn(db, &t, ++zxid, &j);
    if (!rc)
        journal_commit(db, &j, zxid);
    journal_free(&j);
    txn_free(&t);
    return rc;
}

static const char *stats_of(struct db *db)
{
    static char buf[128];
    const char *p = "/zookeeper/quota/a/zookeeper_stats";
    struct znode *n = tree_lookup(db->tree, p, strlen(p));
    ASSERT_TRUE(n != NULL);
    snprintf(buf, sizeof buf, "%.*s", n->datalen, tree_data(n));
    return buf;
}

static void test_usage_follows_the_journal(void)
{
    struct db db;
    db_init(&db, 2000, 1);
    db.tree = tree_new();
    ASSERT_INT_EQ(apply1(&db, ZK_OP_CREATE, "/a", "xy"), 0);
    ASSERT_INT_EQ(apply1(&db, ZK_OP_CREATE, "/zookeeper/quota/a", NULL), 0);
    ASSERT_INT_EQ(apply1(&db, ZK_OP_CREATE, "/zookeeper/quota/a/zookeeper_limits",
                         "count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=2"), 0);
    ASSERT_INT_EQ(apply1(&db, ZK_OP_CREATE, "/zookeeper/quota/a/zookeeper_stats", "junk"), 0);
    ASSERT_STR_EQ(stats_of(&db), "count=1,bytes=2"); /* recounted on creation */

    /* A multi whose second op fails: the first op's usage is undone too. */
    struct txn t;
    txn_init(&t, ZK_OP_MULTI, 0x100, 1, 5000);
    struct txn_op *op = txn_add_op(&t, ZK_OP_CREATE);
    op->path = strdup("/a/x");
    op->data = (struct zk_slice){"abc", 3};
    op = txn_add_op(&t, ZK_OP_SETDATA);
    op->path = strdup("/missing");
    struct journal j = {0};
    ASSERT_INT_EQ(apply_txn(&db, &t, ++zxid, &j), ZK_NONODE);
    journal_free(&j);
    txn_free(&t);
    ASSERT_STR_EQ(stats_of(&db), "count=1,bytes=2");

    ASSERT_INT_EQ(apply1(&db, ZK_OP_CREATE, "/a/x", "abc"), 0);
    ASSERT_STR_EQ(stats_of(&db), "count=2,bytes=5");
    ASSERT_INT_EQ(apply1(&db, ZK_OP_SETDATA, "/a", NULL), 0);
    ASSERT_STR_EQ(stats_of(&db), "count=2,bytes=3");

    /* The hard count limit (2) is reached: only with enforcement is it refused. */
    ASSERT_INT_EQ(quota_check(&db, "/a/y", 4, 1, -1, 0), 0);
    db.enforce_quota = 1;
    ASSERT_INT_EQ(quota_check(&db, "/a/y", 4, 1, -1, 0), ZK_QUOTAEXCEEDED);
    ASSERT_INT_EQ(quota_check(&db, "/a/x", 4, 0, 3, 100), 0); /* no byte limit */
    ASSERT_INT_EQ(quota_check(&db, "/b", 2, 1, -1, 0), 0);    /* not covered */

    ASSERT_INT_EQ(apply1(&db, ZK_OP_DELETE, "/a/x", NULL), 0);
    ASSERT_STR_EQ(stats_of(&db), "count=1,bytes=0");
    db_free(&db);
}

ZTEST_MAIN(ZT(test_statstrack_like_apache), ZT(test_usage_follows_the_journal))
