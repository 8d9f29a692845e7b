/*
 * reconfig.c - dynamic reconfiguration (see reconfig.h).
 */
#include "reconfig.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "apply.h"
#include "audit.h"
#include "conn.h"
#include "election.h"
#include "log.h"
#include "quorum.h"
#include "quorum_verifier.h"
#include "server.h"
#include "write.h"
#include "zk/proto.h"

#define CONFIG_PATH "/zookeeper/config"

struct member_list {
    struct zkd_server_line v[ZKD_MAX_SERVERS];
    int n;
};

static void list_put(struct member_list *l, const struct zkd_server_line *sl)
{
    for (int i = 0; i < l->n; i++)
        if (l->v[i].id == sl->id) {
            l->v[i] = *sl;
            return;
        }
    if (l->n < ZKD_MAX_SERVERS)
        l->v[l->n++] = *sl;
}

static int cmp_id(const void *a, const void *b)
{
    return ((const struct zkd_server_line *)a)->id - ((const struct zkd_server_line *)b)->id;
}

/* "server.N=spec" -> line.  Returns 0 or -1. */
static int parse_entry(const char *s, size_t len, struct zkd_server_line *out)
{
    char buf[1024];
    while (len && (*s == ' ' || *s == '\t'))
        s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'))
        len--;
    if (len >= sizeof buf || len < 8 || strncmp(s, "server.", 7))
        return -1;
    memcpy(buf, s, len);
    buf[len] = 0;
    char *eq = strchr(buf, '=');
    if (!eq)
        return -1;
    *eq = 0;
    char *end;
    long id = strtol(buf + 7, &end, 10);
    const char *why;
    if (*end || end == buf + 7 || id < 0 || id > ZKD_MAX_SERVER_ID)
        return -1;
    return config_parse_server((int)id, eq + 1, out, &why);
}

/* The hex zxid of "version=<hex>", `len` bytes at `p` (the node's data is
 * not NUL-terminated: strtoull alone would read on past the entry). */
static int64_t parse_version(const char *p, size_t len)
{
    char buf[24];
    if (len >= sizeof buf)
        len = sizeof buf - 1;
    memcpy(buf, p, len);
    buf[len] = 0;
    return (int64_t)strtoull(buf, NULL, 16);
}

/* Parses entries separated by ',' or newlines; "version=..." entries are
 * skipped (OUT: *version when given).  Returns 0 or -1. */
static int parse_list(const char *p, size_t len, struct member_list *l, int64_t *version)
{
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && p[j] != ',' && p[j] != '\n')
            j++;
        if (j > i) {
            if (j - i > 8 && !strncmp(p + i, "version=", 8)) {
                if (version)
                    *version = parse_version(p + i + 8, j - i - 8);
            } else if ((j - i > 6 && !strncmp(p + i, "group.", 6)) ||
                       (j - i > 7 && !strncmp(p + i, "weight.", 7))) {
                /* A hierarchical quorum's lines: the groups stay zoo.cfg's
                 * (adopt() puts them back on the new lines). */
            } else {
                struct zkd_server_line sl;
                if (parse_entry(p + i, j - i, &sl))
                    return -1;
                list_put(l, &sl);
            }
        }
        i = j + 1;
    }
    return 0;
}

static void format_list(const struct member_list *l, int64_t version, struct jute_out *out)
{
    struct member_list sorted = *l;
    qsort(sorted.v, (size_t)sorted.n, sizeof sorted.v[0], cmp_id);
    char line[1024];
    for (int i = 0; i < sorted.n; i++) {
        int n = config_format_server(&sorted.v[i], line, sizeof line);
        jute_put_raw(out, line, (size_t)n);
        jute_put_raw(out, "\n", 1);
    }
    /* A hierarchical quorum's group.G and weight.S lines, as Apache's
     * QuorumHierarchical.toString writes them into the node. */
    char groups[ZKD_MAX_SERVERS * 48];
    int g = qv_format_lines(sorted.v, sorted.n, groups, sizeof groups);
    if (g > 0 && g < (int)sizeof groups)
        jute_put_raw(out, groups, (size_t)g);
    int n = snprintf(line, sizeof line, "version=%" PRIx64, (uint64_t)version);
    jute_put_raw(out, line, (size_t)n);
}

static struct znode *config_node(struct server *s)
{
    return tree_lookup(s->db.tree, CONFIG_PATH, strlen(CONFIG_PATH));
}

const char *reconfig_text(struct server *s, int32_t *len)
{
    struct znode *n = config_node(s);
    *len = n ? n->datalen : -1;
    return n && n->datalen > 0 ? tree_data(n) : NULL;
}

/* The membership the node describes.  Returns 0 (with a version > 0) or -1. */
static int node_members(struct server *s, struct member_list *l, int64_t *version)
{
    struct znode *n = config_node(s);
    *version = 0;
    l->n = 0;
    if (!n || n->datalen <= 0 || parse_list(tree_data(n), (size_t)n->datalen, l, version) || !l->n)
        return -1;
    return *version > 0 ? 0 : -1;
}

static void adopt(struct server *s, const struct member_list *l, int64_t version, int64_t zxid)
{
    struct member_list old;
    memcpy(old.v, s->cfg.servers, (size_t)s->cfg.nservers * sizeof old.v[0]);
    old.n = s->cfg.nservers;
    memcpy(s->cfg.servers, l->v, (size_t)l->n * sizeof l->v[0]);
    s->cfg.nservers = l->n;
    char why[300];
    if (qv_resolve(&s->cfg, why, sizeof why)) {
        /* Only a membership written elsewhere (an Apache data tree) can
         * get here: zkd refuses reconfig with groups.  Keep the quorum
         * rule rather than fall back to majorities silently. */
        log_error("configuration 0x%" PRIx64 " ignored: %s", (uint64_t)version, why);
        memcpy(s->cfg.servers, old.v, (size_t)old.n * sizeof old.v[0]);
        s->cfg.nservers = old.n;
        return;
    }
    s->config_version = version;
    char ids[512] = "";
    size_t k = 0;
    for (int i = 0; i < l->n; i++)
        k += (size_t)snprintf(ids + k, k < sizeof ids ? sizeof ids - k : 0, " %d%s", l->v[i].id,
                              l->v[i].observer ? "(observer)" : "");
    log_info("configuration 0x%" PRIx64 ": members%s", (uint64_t)version, ids);
    if (s->q)
        quorum_reconfigured(s->q, old.v, old.n, zxid);
}

void reconfig_init(struct server *s)
{
    struct member_list l;
    int64_t version;
    if (!node_members(s, &l, &version)) {
        adopt(s, &l, version, 0);
        return;
    }
    /* No reconfig yet: publish zoo.cfg's membership, as Apache does. */
    struct member_list cur;
    memcpy(cur.v, s->cfg.servers, (size_t)s->cfg.nservers * sizeof cur.v[0]);
    cur.n = s->cfg.nservers;
    struct jute_out o;
    jute_out_init(&o);
    format_list(&cur, 0, &o);
    struct znode *n = config_node(s);
    if (n) {
        db_write_lock(&s->db); /* outside any transaction (db.h) */
        tree_set_data(s->db.tree, n, o.p, (int32_t)o.len);
        db_write_unlock(&s->db);
    }
    jute_out_free(&o);
    s->config_version = 0;
}

void reconfig_applied(struct server *s, int64_t zxid)
{
    struct member_list l;
    int64_t version;
    if (node_members(s, &l, &version)) {
        log_error("reconfig 0x%" PRIx64 ": /zookeeper/config does not parse; membership unchanged",
                  (uint64_t)zxid);
        return;
    }
    adopt(s, &l, version, zxid);
}

void reconfig_refresh(struct server *s)
{
    struct member_list l;
    int64_t version;
    if (!node_members(s, &l, &version) && version != s->config_version)
        adopt(s, &l, version, 0);
}

/* ---- the request ---- */

static int remove_ids(struct member_list *l, const char *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && p[j] != ',')
            j++;
        if (j > i) {
            char buf[16];
            if (j - i >= sizeof buf)
                return -1;
            memcpy(buf, p + i, j - i);
            buf[j - i] = 0;
            char *end;
            long id = strtol(buf, &end, 10);
            if (*end || end == buf)
                return -1;
            for (int k = 0; k < l->n; k++)
                if (l->v[k].id == id) {
                    l->v[k] = l->v[--l->n];
                    break;
                }
        }
        i = j + 1;
    }
    return 0;
}

/* The membership the request asks for.  Returns 0 or a ZK error. */
static int requested(struct server *s, struct zk_slice joining, struct zk_slice leaving,
                     struct zk_slice members, struct member_list *l)
{
    l->n = 0;
    if (members.len > 0)
        return parse_list(members.p, (size_t)members.len, l, NULL) ? ZK_BADARGUMENTS : 0;
    memcpy(l->v, s->cfg.servers, (size_t)s->cfg.nservers * sizeof l->v[0]);
    l->n = s->cfg.nservers;
    if (leaving.len > 0 && remove_ids(l, leaving.p, (size_t)leaving.len))
        return ZK_BADARGUMENTS;
    if (joining.len > 0 && parse_list(joining.p, (size_t)joining.len, l, NULL))
        return ZK_BADARGUMENTS;
    return 0;
}

void reconfig_request(struct server *s, struct conn *c, int32_t xid, struct jute_in *in)
{
    struct zk_slice joining = jute_get_buffer(in), leaving = jute_get_buffer(in),
                    members = jute_get_buffer(in);
    int64_t cur = jute_get_long(in);
    int rc = 0;
    struct znode *node = config_node(s);
    struct member_list l;
    /* The checks in the order of Apache's PrepRequestProcessor: disabled, no
     * ensemble (its standalone server is no leader: UNIMPLEMENTED, a code
     * every client knows), in progress, version, the request's own syntax,
     * quorum, and only then the ACL of /zookeeper/config. */
    if (in->err)
        rc = ZK_MARSHALLINGERROR;
    else if (!s->cfg.reconfig_enabled)
        rc = ZK_RECONFIGDISABLED;
    else if (!s->q)
        rc = ZK_UNIMPLEMENTED;
    else if (!quorum_is_leader(s->q) || !node)
        rc = ZK_SYSTEMERROR;
    else if (quorum_reconfig_pending(s->q))
        rc = ZK_RECONFIGINPROGRESS;
    else if (cur != -1 && cur != s->config_version)
        rc = ZK_BADVERSION;
    else if ((rc = requested(s, joining, leaving, members, &l)))
        ;
    else if (!quorum_new_config_ok(s->q, l.v, l.n))
        rc = ZK_NEWCONFIGNOQUORUM;
    else if (acl_check(acl_get(tree_acls(s->db.tree), node->acl), ZK_PERM_WRITE, &c->auth))
        rc = ZK_NOAUTH;
    if (rc) {
        if (rc != ZK_MARSHALLINGERROR && !conn_is_proxy(c))
            audit_request(c->session_id, &c->auth, "reconfig", NULL, NULL, AUDIT_FAILURE);
        /* Apache gives a reconfig its zxid once its body decoded, so a failure
         * after that is logged as an ErrorTxn (write.h); only the leader (or a
         * standalone server) may log. */
        int64_t zxid = s->db.last_zxid;
        if (rc != ZK_MARSHALLINGERROR && rc != ZK_SYSTEMERROR) {
            struct write w;
            write_begin(s, &w, ZK_OP_RECONFIG, c->session_id, xid);
            zxid = write_commit_failed(s, &w, rc, -1, 0);
        }
        conn_reply_header(c, xid, zxid, rc, zxid);
        return;
    }
    struct write w;
    write_begin(s, &w, ZK_OP_RECONFIG, c->session_id, xid);
    struct jute_out text;
    jute_out_init(&text);
    format_list(&l, w.zxid, &text);
    struct txn_op *op = txn_add_op(&w.txn, ZK_OP_SETDATA);
    op->path = zk_xstrndup(CONFIG_PATH, strlen(CONFIG_PATH));
    op->data = (struct zk_slice){(const char *)text.p, (int32_t)text.len};
    op->version = node->version + 1;
    if ((rc = apply_op(&s->db, &w.txn, op, w.zxid, &w.journal))) {
        int64_t zxid = write_commit_failed(s, &w, rc, -1, 0);
        if (!conn_is_proxy(c))
            audit_request(c->session_id, &c->auth, "reconfig", NULL, NULL, AUDIT_FAILURE);
        conn_reply_header(c, xid, zxid, rc, zxid);
    } else {
        int64_t zxid = write_commit(s, &w); /* activates the new membership */
        if (!conn_is_proxy(c))
            audit_request(c->session_id, &c->auth, "reconfig", CONFIG_PATH, NULL,
                          AUDIT_SUCCESS);
        size_t at = conn_reply_begin(c, xid, zxid, 0);
        jute_put_buffer(&c->out, text.p, (int32_t)text.len);
        struct zk_stat st;
        tree_stat(node, &st);
        jute_put_stat(&c->out, &st);
        conn_frame_end(c, at, zxid, xid);
    }
    jute_out_free(&text);
}
