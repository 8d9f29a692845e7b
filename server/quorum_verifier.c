/*
 * quorum_verifier.c - majority and hierarchical quorums (see quorum_verifier.h).
 *
 * The hierarchical rule is evaluated the way Apache's
 * QuorumHierarchical.containsQuorum does it: sum the weights of the set's
 * members per group, count the groups whose sum is more than half of their
 * total weight, and compare with half of the groups of positive weight.
 * With at most ZKD_MAX_SERVERS members everything is a linear scan over the
 * server lines; no tables are kept beside them.
 */
#include "quorum_verifier.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void qv_set_add(struct qv_set *s, int id)
{
    for (int i = 0; i < s->n; i++)
        if (s->id[i] == id)
            return;
    if (s->n < ZKD_MAX_SERVERS)
        s->id[s->n++] = id;
}

static int in_set(const struct qv_set *s, int id)
{
    for (int i = 0; i < s->n; i++)
        if (s->id[i] == id)
            return 1;
    return 0;
}

int qv_hierarchical(const struct zkd_server_line *v, int n)
{
    for (int i = 0; i < n; i++)
        if (!v[i].observer && v[i].grouped)
            return 1;
    return 0;
}

static int majority(const struct zkd_server_line *v, int n, const struct qv_set *set)
{
    int voters = 0, in = 0;
    for (int i = 0; i < n; i++) {
        if (v[i].observer)
            continue;
        voters++;
        in += in_set(set, v[i].id);
    }
    return voters > 0 && in > voters / 2;
}

/* Whether group v[first].group was seen at an index below `first`. */
static int group_seen_before(const struct zkd_server_line *v, int first)
{
    for (int j = 0; j < first; j++)
        if (!v[j].observer && v[j].grouped && v[j].group == v[first].group)
            return 1;
    return 0;
}

static int hierarchical(const struct zkd_server_line *v, int n, const struct qv_set *set)
{
    int counted = 0, won = 0;
    for (int i = 0; i < n; i++) {
        if (v[i].observer || !v[i].grouped || group_seen_before(v, i))
            continue;
        /* v[i] is the first member of its group: weigh the whole group. */
        int64_t total = 0, acked = 0;
        for (int j = i; j < n; j++) {
            if (v[j].observer || !v[j].grouped || v[j].group != v[i].group)
                continue;
            total += v[j].weight;
            if (in_set(set, v[j].id))
                acked += v[j].weight;
        }
        if (total == 0)
            continue; /* Apache: "Do not consider groups with weight zero" */
        counted++;
        won += acked > total / 2;
    }
    return set->n > 0 && won > counted / 2;
}

int qv_is_quorum(const struct zkd_server_line *v, int n, const struct qv_set *set)
{
    return qv_hierarchical(v, n) ? hierarchical(v, n, set) : majority(v, n, set);
}

int qv_cfg_is_quorum(const struct zkd_config *cfg, const struct qv_set *set)
{
    return qv_is_quorum(cfg->servers, cfg->nservers, set);
}

int qv_can_lead(const struct zkd_config *cfg, int id)
{
    const struct zkd_server_line *l = config_server(cfg, id);
    if (!l || l->observer)
        return 0;
    return !qv_hierarchical(cfg->servers, cfg->nservers) || l->weight > 0;
}

int64_t qv_quorum_value(const struct zkd_server_line *v, int n, const int *ids,
                        const int64_t *vals, int k)
{
    /* Quorums are upward closed, so lower the bar one distinct value at a
     * time, from the highest, until the members at or above it suffice. */
    int64_t bar = INT64_MAX;
    for (;;) {
        int64_t next = -1;
        for (int i = 0; i < k; i++)
            if (vals[i] < bar && vals[i] > next)
                next = vals[i];
        if (next < 0)
            return -1;
        bar = next;
        struct qv_set set = {0};
        for (int i = 0; i < k; i++)
            if (vals[i] >= bar)
                qv_set_add(&set, ids[i]);
        if (qv_is_quorum(v, n, &set))
            return bar;
    }
}

/* ---- configuration ---- */

/* Long.parseLong for the range zkd takes: a decimal in [lo, hi]. */
static int parse_num(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long x = *s ? strtoll(s, &end, 10) : 0;
    if (!*s || *end || errno == ERANGE || x < lo || x > hi || *s == ' ' || *s == '\t')
        return -1;
    *out = x;
    return 0;
}

int qv_parse_group(struct zkd_config *cfg, const char *gid, const char *list, const char **why)
{
    struct zkd_qv_input *in = &cfg->qv_input;
    int64_t g;
    if (parse_num(gid, INT64_MIN, INT64_MAX, &g) < 0) {
        *why = "the group id after 'group.' must be an integer";
        return -1;
    }
    cfg->hierarchical = 1;
    /* A repeated key replaces the earlier line (java.util.Properties). */
    int keep = 0;
    for (int i = 0; i < in->nmembers; i++)
        if (in->member[i].gid != g)
            in->member[keep++] = in->member[i];
    in->nmembers = keep;
    const char *p = list;
    for (;;) {
        char num[32];
        size_t len = strcspn(p, ":");
        int64_t sid;
        if (len >= sizeof num) {
            *why = "a server id is too long";
            return -1;
        }
        memcpy(num, p, len);
        num[len] = 0;
        if (parse_num(num, 0, ZKD_MAX_SERVER_ID, &sid) < 0) {
            *why = "expected server ids separated by ':'";
            return -1;
        }
        for (int i = 0; i < in->nmembers; i++)
            if (in->member[i].sid == sid) {
                *why = "a server is in more than one group";
                return -1;
            }
        if (in->nmembers == ZKD_MAX_SERVERS) {
            *why = "more group members than servers zkd supports";
            return -1;
        }
        in->member[in->nmembers].sid = (int)sid;
        in->member[in->nmembers++].gid = g;
        if (!p[len])
            return 0;
        p += len + 1;
    }
}

int qv_parse_weight(struct zkd_config *cfg, const char *sid, const char *w, const char **why)
{
    struct zkd_qv_input *in = &cfg->qv_input;
    int64_t id, weight;
    if (parse_num(sid, 0, ZKD_MAX_SERVER_ID, &id) < 0) {
        *why = "the server id after 'weight.' must be an integer 0..2147483647";
        return -1;
    }
    if (parse_num(w, 0, INT32_MAX, &weight) < 0) {
        *why = "a weight is an integer 0..2147483647";
        return -1;
    }
    cfg->hierarchical = 1;
    int i = 0;
    while (i < in->nweights && in->weight[i].sid != id)
        i++;
    if (i == ZKD_MAX_SERVERS) {
        *why = "more weights than servers zkd supports";
        return -1;
    }
    in->weight[i].sid = (int)id;
    in->weight[i].weight = weight;
    if (i == in->nweights)
        in->nweights++;
    return 0;
}

static int64_t weight_of(const struct zkd_qv_input *in, int sid)
{
    for (int i = 0; i < in->nweights; i++)
        if (in->weight[i].sid == sid)
            return in->weight[i].weight;
    return 1;
}

int qv_resolve(struct zkd_config *cfg, char *err, int errlen)
{
    const struct zkd_qv_input *in = &cfg->qv_input;
    for (int i = 0; i < cfg->nservers; i++) {
        cfg->servers[i].grouped = 0;
        cfg->servers[i].weight = 1;
    }
    if (!cfg->hierarchical)
        return 0;
    for (int i = 0; i < in->nmembers; i++) {
        struct zkd_server_line *l = NULL;
        for (int j = 0; j < cfg->nservers; j++)
            if (cfg->servers[j].id == in->member[i].sid)
                l = &cfg->servers[j];
        if (!l || l->observer) {
            snprintf(err, (size_t)errlen, "group.%lld lists server %d, which is %s",
                     (long long)in->member[i].gid, in->member[i].sid,
                     l ? "an observer (only participants are in groups)" : "not a server.N line");
            return -1;
        }
        l->grouped = 1;
        l->group = in->member[i].gid;
        l->weight = weight_of(in, l->id);
    }
    int64_t total = 0;
    for (int i = 0; i < cfg->nservers; i++) {
        const struct zkd_server_line *l = &cfg->servers[i];
        if (l->observer)
            continue;
        if (!l->grouped) {
            snprintf(err, (size_t)errlen,
                     "server.%d is not in a group (with group.N lines, every participant must "
                     "be in one)", l->id);
            return -1;
        }
        total += l->weight;
    }
    if (total == 0) {
        snprintf(err, (size_t)errlen, "every group weighs 0: no quorum could ever form");
        return -1;
    }
    if (cfg->reconfig_enabled) {
        snprintf(err, (size_t)errlen,
                 "reconfigEnabled=true with group.N/weight.N lines: zkd does not reconfigure "
                 "hierarchical quorums");
        return -1;
    }
    return 0;
}

int qv_format(const struct zkd_config *cfg, char *buf, int cap)
{
    return qv_format_lines(cfg->servers, cfg->nservers, buf, cap);
}

int qv_format_lines(const struct zkd_server_line *v, int n, char *buf, int cap)
{
    int len = 0;
#define PUT(...)                                                                      \
    len += snprintf(buf + (len < cap ? len : cap), (size_t)(len < cap ? cap - len : 0), \
                    __VA_ARGS__)
    if (cap > 0)
        buf[0] = 0;
    if (!qv_hierarchical(v, n))
        return 0;
    for (int i = 0; i < n; i++) {
        if (v[i].observer || !v[i].grouped || group_seen_before(v, i))
            continue;
        PUT("group.%lld=", (long long)v[i].group);
        for (int j = i, first = 1; j < n; j++)
            if (!v[j].observer && v[j].grouped && v[j].group == v[i].group) {
                PUT("%s%d", first ? "" : ":", v[j].id);
                first = 0;
            }
        PUT("\n");
    }
    for (int i = 0; i < n; i++)
        if (!v[i].observer)
            PUT("weight.%d=%lld\n", v[i].id, (long long)v[i].weight);
#undef PUT
    return len;
}
