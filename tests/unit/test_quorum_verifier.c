/*
 * test_quorum_verifier.c - majority and hierarchical quorums
 * (server/quorum_verifier.c), table-driven.
 *
 * A layout is written as a string: one token per server, "<id>:<group>:<weight>",
 * group 0 meaning "no group" (majority rule), "o" after the id an observer
 * ("4o").  Each row gives a set of acking ids and the answer Apache's
 * QuorumMaj / QuorumHierarchical.containsQuorum gives for it (worked out by
 * hand from its arithmetic: a group is won when acked > total/2, the set is a
 * quorum when won > counted/2, groups of total weight 0 not counted).
 */
#include "quorum_verifier.h"
#include "ztest.h"

static int layout(const char *text, struct zkd_server_line *v)
{
    int n = 0;
    const char *p = text;
    while (*p) {
        memset(&v[n], 0, sizeof v[n]);
        char *end;
        v[n].id = (int)strtol(p, &end, 10);
        p = end;
        if (*p == 'o') {
            v[n].observer = 1;
            p++;
        } else {
            long long g = 0, w = 1;
            ASSERT_TRUE(sscanf(p, ":%lld:%lld", &g, &w) == 2);
            v[n].grouped = g != 0;
            v[n].group = g;
            v[n].weight = w;
            p = strchr(p, ' ') ? strchr(p, ' ') : p + strlen(p);
        }
        while (*p == ' ')
            p++;
        n++;
    }
    return n;
}

static void set_of(const char *ids, struct qv_set *s)
{
    qv_set_clear(s);
    for (const char *p = ids; *p;) {
        char *end;
        long id = strtol(p, &end, 10);
        if (end == p)
            break;
        qv_set_add(s, (int)id);
        p = end;
    }
}

struct row {
    const char *layout;
    const char *acks;
    int quorum;
};

static void check_rows(const struct row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct zkd_server_line v[ZKD_MAX_SERVERS];
        struct qv_set s;
        int nv = layout(rows[i].layout, v);
        set_of(rows[i].acks, &s);
        int got = qv_is_quorum(v, nv, &s);
        if (got != rows[i].quorum)
            ZT_FAIL("row %zu: layout '%s', acks {%s}: quorum %d, want %d", i, rows[i].layout,
                    rows[i].acks, got, rows[i].quorum);
    }
}

#define MAJ5 "1:0:1 2:0:1 3:0:1 4:0:1 5:0:1"
#define MAJ4O "1:0:1 2:0:1 3:0:1 4o"

static void test_majority(void)
{
    static const struct row rows[] = {
        {MAJ5, "", 0},
        {MAJ5, "1 2", 0},
        {MAJ5, "1 2 3", 1},
        {MAJ5, "3 4 5", 1},
        {MAJ5, "1 2 3 4 5", 1},
        {MAJ5, "1 1 2", 0},              /* duplicates count once */
        {MAJ5, "1 2 9", 0},              /* strangers count for nothing */
        {MAJ4O, "1 4", 0},               /* observers count for nothing */
        {MAJ4O, "1 2", 1},
        {"1:0:1 2:0:1 3:0:1 4:0:1", "1 2", 0}, /* even: exactly half is not a majority */
        {"1:0:1 2:0:1 3:0:1 4:0:1", "1 2 3", 1},
        {"1:0:1", "1", 1},
    };
    check_rows(rows, sizeof rows / sizeof rows[0]);
}

/* Groups {1,2} {3,4} {5}: three groups, two must be won; a two-member group
 * is won only by both. */
#define G221 "1:1:1 2:1:1 3:2:1 4:2:1 5:3:1"

static void test_hierarchical_groups(void)
{
    static const struct row rows[] = {
        {G221, "", 0},
        {G221, "1 2 5", 1},     /* groups 1 and 3 */
        {G221, "1 2 3 4", 1},   /* groups 1 and 2 */
        {G221, "1 3 5", 0},     /* only group 3: half of a group is not a majority of it */
        {G221, "1 2", 0},       /* one group of three */
        {G221, "3 4 5", 1},
        {G221, "1 3 4", 0},     /* group {1,2} half acked is lost: 1 of 3 groups */
        {G221, "2 4 5", 0},     /* three of five members, only one group */
        {"1:1:1 2:1:1 3:1:1 4:2:1 5:3:1", "4 5", 1}, /* 2 of 5 members: 2 of 3 groups */
        {G221, "1 2 3 4 5", 1},
        {G221 " 6o", "1 2 6", 0}, /* an observer's ack counts for nothing */
    };
    check_rows(rows, sizeof rows / sizeof rows[0]);
}

/* Weights: the group is won by weight, not by head count. */
static void test_hierarchical_weights(void)
{
    static const struct row rows[] = {
        /* group 1 = {1 w3, 2 w1, 3 w1}: total 5, won with > 2 */
        {"1:1:3 2:1:1 3:1:1", "1", 1},
        {"1:1:3 2:1:1 3:1:1", "2 3", 0},
        /* total 4, won with > 2: w2 alone is exactly half */
        {"1:1:2 2:1:1 3:1:1", "1", 0},
        {"1:1:2 2:1:1 3:1:1", "1 2", 1},
        /* Weight 0 members: in the group, but their acks weigh nothing. */
        {"1:1:1 2:1:1 3:1:0", "1 3", 0},
        {"1:1:1 2:1:1 3:1:0", "1 2", 1},
        {"1:1:1 2:1:1 3:1:0", "3", 0},
        /* A group of weight 0 is not counted: of groups {1,2} {3,4} {5 w0},
         * two are counted, so both must be won. */
        {"1:1:1 2:1:1 3:2:1 4:2:1 5:3:0", "1 2 5", 0},
        {"1:1:1 2:1:1 3:2:1 4:2:1 5:3:0", "1 2 3 4", 1},
        {"1:1:1 2:1:1 3:2:1 4:2:1 5:3:0", "1 2 3 4 5", 1},
        /* Uneven groups: {1} {2,3,4,5,6} {7,8,9}: 2 of 3 groups. */
        {"1:1:1 2:2:1 3:2:1 4:2:1 5:2:1 6:2:1 7:3:1 8:3:1 9:3:1", "1 7 8", 1},
        {"1:1:1 2:2:1 3:2:1 4:2:1 5:2:1 6:2:1 7:3:1 8:3:1 9:3:1", "2 3 4 5 6 7", 0},
        {"1:1:1 2:2:1 3:2:1 4:2:1 5:2:1 6:2:1 7:3:1 8:3:1 9:3:1", "2 3 4 7 8", 1},
        {"1:1:1 2:2:1 3:2:1 4:2:1 5:2:1 6:2:1 7:3:1 8:3:1 9:3:1", "1 2 3", 0},
        /* Four groups: three must be won (won > 4/2). */
        {"1:1:1 2:2:1 3:3:1 4:4:1", "1 2", 0},
        {"1:1:1 2:2:1 3:3:1 4:4:1", "1 2 3", 1},
        /* Negative and large group ids are ids like any other. */
        {"1:-5:1 2:-5:1 3:9000000000:1", "1 2", 0},
        {"1:-5:1 2:-5:1 3:9000000000:1", "1 2 3", 1},
    };
    check_rows(rows, sizeof rows / sizeof rows[0]);
}

/* The commit point: the highest zxid the members at or above it make a
 * quorum with. */
static void test_quorum_value(void)
{
    struct zkd_server_line v[ZKD_MAX_SERVERS];
    int n = layout(MAJ5, v);
    int ids[] = {1, 2, 3, 4, 5};
    int64_t vals[] = {50, 40, 30, 20, 10};
    ASSERT_INT_EQ(qv_quorum_value(v, n, ids, vals, 5), 30);
    ASSERT_INT_EQ(qv_quorum_value(v, n, ids, vals, 3), 30);
    ASSERT_INT_EQ(qv_quorum_value(v, n, ids, vals, 2), -1);
    ASSERT_INT_EQ(qv_quorum_value(v, n, ids, vals, 0), -1);

    n = layout(G221, v);
    /* {1,2} at 50/40 and {5} at 10: groups 1 and 3 meet at 10; {3,4} at
     * 30/20 meet group 1 at 20. */
    ASSERT_INT_EQ(qv_quorum_value(v, n, ids, vals, 5), 20);
    int ids2[] = {1, 2, 5};
    int64_t vals2[] = {7, 9, 8};
    ASSERT_INT_EQ(qv_quorum_value(v, n, ids2, vals2, 3), 7);
    int ids3[] = {1, 3, 5};
    ASSERT_INT_EQ(qv_quorum_value(v, n, ids3, vals2, 3), -1);
    /* A weight-0 member's high zxid does not carry the commit. */
    n = layout("1:1:1 2:1:1 3:1:0", v);
    int ids4[] = {1, 2, 3};
    int64_t vals4[] = {5, 3, 100};
    ASSERT_INT_EQ(qv_quorum_value(v, n, ids4, vals4, 3), 3);
}

static void test_can_lead(void)
{
    static struct zkd_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.nservers = layout("1:1:1 2:1:0 3:2:1 4o", cfg.servers);
    ASSERT_INT_EQ(qv_can_lead(&cfg, 1), 1);
    ASSERT_INT_EQ(qv_can_lead(&cfg, 2), 0); /* weight 0 */
    ASSERT_INT_EQ(qv_can_lead(&cfg, 4), 0); /* observer */
    ASSERT_INT_EQ(qv_can_lead(&cfg, 9), 0); /* stranger */
    cfg.nservers = layout("1:0:0 2:0:0", cfg.servers); /* majority: weight unused */
    ASSERT_INT_EQ(qv_can_lead(&cfg, 1), 1);
}

/* Apache's notifications carry QuorumHierarchical.toString's lines. */
static void test_format(void)
{
    static struct zkd_config cfg;
    char buf[512];
    memset(&cfg, 0, sizeof cfg);
    cfg.nservers = layout("1:1:1 2:2:1 3:1:2 4o 5:2:0", cfg.servers);
    ASSERT_INT_EQ(qv_format(&cfg, buf, sizeof buf), (int)strlen(buf));
    ASSERT_STR_EQ(buf, "group.1=1:3\ngroup.2=2:5\nweight.1=1\nweight.2=1\nweight.3=2\n"
                       "weight.5=0\n");
    /* Too small a buffer: the needed length, a truncated NUL-terminated text. */
    ASSERT_INT_EQ(qv_format(&cfg, buf, 8), 68);
    ASSERT_STR_EQ(buf, "group.1");
    cfg.nservers = layout(MAJ5, cfg.servers);
    ASSERT_INT_EQ(qv_format(&cfg, buf, sizeof buf), 0);
    ASSERT_STR_EQ(buf, "");
}

ZTEST_MAIN(ZT(test_majority), ZT(test_hierarchical_groups), ZT(test_hierarchical_weights),
           ZT(test_quorum_value), ZT(test_can_lead), ZT(test_format))
