/*
 * request.c - the request dispatcher: handshake, reads, writes, watches,
 * auth.  Reads are answered from the tree at once; writes go through the
 * write pipeline (write.h: prep.c checks and applies, write_commit logs and
 * proposes); every reply is queued with the durability tag of the
 * state it reflects (server.h).
 */
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "conn.h"
#include "listing.h"
#include "localsess.h"
#include "log.h"
#include "monitor.h"
#include "prep.h"
#include "quorum.h"
#include "reconfig.h"
#include "sasl.h"
#include "server.h"
#include "write.h"
#include "zk/proto.h"

/* ---- handshake ---- */

static void send_connect_response_ro(struct server *s, struct conn *c, int32_t timeout, int64_t id,
                                     const uint8_t pw[16], int64_t tag, int readonly);

static void send_connect_response(struct server *s, struct conn *c, int32_t timeout, int64_t id,
                                  const uint8_t pw[16], int64_t tag)
{
    send_connect_response_ro(s, c, timeout, id, pw, tag, 0);
}

static void send_connect_response_ro(struct server *s, struct conn *c, int32_t timeout, int64_t id,
                                     const uint8_t pw[16], int64_t tag, int readonly)
{
    size_t at = conn_frame_begin(c);
    jute_put_int(&c->out, 0);
    jute_put_int(&c->out, timeout);
    jute_put_long(&c->out, id);
    jute_put_buffer(&c->out, pw, 16);
    jute_put_bool(&c->out, readonly);
    conn_frame_end(c, at, tag, 0);
    (void)s;
}

void server_attach(struct server *s, struct conn *c, struct session *se)
{
    if (se->conn && se->conn != c) {
        log_info("session 0x%llx moved from %s:%d to %s:%d", (unsigned long long)se->id,
                 se->conn->remote, se->conn->remote_port, c->remote, c->remote_port);
        struct conn *old = se->conn;
        old->session = NULL;
        conn_close(old);
    }
    se->conn = c;
    c->session = se;
    c->session_id = se->id;
    c->timeout = se->timeout;
    c->state = CONN_READY;
    (void)s;
}

/*
 * Read-only mode (readonlymode.enabled): a member cut off from its quorum
 * serves clients that asked for it (the ConnectRequest's trailing readOnly
 * flag).  Their sessions are local to this connection, never logged, and
 * they may only read; Apache's clients present such a session id to no
 * read-write server (they connect afresh once they find one).
 */
static void accept_readonly(struct server *s, struct conn *c, int32_t timeout)
{
    struct session *se = zk_xcalloc(1, sizeof *se);
    se->id = sessions_next_id(&s->db.sessions);
    se->timeout = timeout;
    se->conn = c;
    c->readonly = 1;
    c->session = se;
    c->session_id = se->id;
    c->timeout = timeout;
    c->state = CONN_READY;
    static const uint8_t zero[16];
    log_info("read-only session 0x%llx for %s:%d (no quorum)", (unsigned long long)se->id,
             c->remote, c->remote_port);
    send_connect_response_ro(s, c, timeout, se->id, zero, s->db.last_zxid, 1);
}

static int is_update(int32_t type)
{
    return prep_is_write(type) || type == ZK_OP_MULTI || type == ZK_OP_SYNC ||
           type == ZK_OP_RECONFIG;
}

void server_connect(struct server *s, struct conn *c, const uint8_t *p, size_t len)
{
    struct jute_in in;
    jute_in_init(&in, p, len);
    (void)jute_get_int(&in); /* protocolVersion */
    int64_t last_seen = jute_get_long(&in);
    int32_t timeout = jute_get_int(&in);
    int64_t id = jute_get_long(&in);
    struct zk_slice pw = jute_get_buffer(&in);
    int readonly = !in.err && jute_in_left(&in) ? jute_get_bool(&in) : 0;
    if (in.err) {
        log_warn("closing connection from %s:%d: malformed ConnectRequest", c->remote, c->remote_port);
        s->stats.bad_frames++;
        conn_close(c);
        return;
    }
    if (s->q && !quorum_serving(s->q)) {
        /* Not part of a working quorum: the client should try another member. */
        if (readonly && s->cfg.readonly_mode && quorum_readonly_ready(s->q)) {
            if (timeout < s->cfg.min_session_timeout)
                timeout = s->cfg.min_session_timeout;
            if (timeout > s->cfg.max_session_timeout)
                timeout = s->cfg.max_session_timeout;
            accept_readonly(s, c, timeout);
            return;
        }
        conn_close(c);
        return;
    }
    if (last_seen > s->db.last_zxid) {
        log_info("refusing session request from %s:%d: it has seen zxid 0x%llx, ours is 0x%llx",
                 c->remote, c->remote_port, (unsigned long long)last_seen,
                 (unsigned long long)s->db.last_zxid);
        conn_close(c);
        return;
    }
    if (timeout < s->cfg.min_session_timeout)
        timeout = s->cfg.min_session_timeout;
    if (timeout > s->cfg.max_session_timeout)
        timeout = s->cfg.max_session_timeout;
    uint8_t expected[16];
    if (id == 0 && localsess_enabled(s)) {
        /* A local session: no txn, no zxid, leader or learner alike. */
        struct session *se = localsess_create(s, timeout);
        audit_session_event(se->id, &c->auth, "createSession", AUDIT_SUCCESS);
        server_attach(s, c, se);
        sessions_password(&s->db.sessions, se->id, expected);
        send_connect_response(s, c, timeout, se->id, expected, s->db.last_zxid);
        return;
    }
    if (id == 0 && s->q && quorum_is_learner(s->q)) {
        quorum_forward_connect(s, c, sessions_next_id(&s->db.sessions), timeout);
        return;
    }
    if (id == 0) {
        int64_t session = sessions_next_id(&s->db.sessions);
        int64_t zxid = write_session(s, ZK_OP_CREATESESSION, session, 0, timeout);
        audit_session_event(session, &c->auth, "createSession", AUDIT_SUCCESS);
        struct session *se = sessions_get(&s->db.sessions, session);
        server_attach(s, c, se);
        sessions_password(&s->db.sessions, se->id, expected);
        send_connect_response(s, c, timeout, se->id, expected, zxid);
        return;
    }
    sessions_password(&s->db.sessions, id, expected);
    int pw_ok = pw.len == 16 && !memcmp(pw.p, expected, 16);
    /* A global session: a learner of an Apache leader asks it, as Apache's
     * learners do (its own local sessions it knows best). */
    struct session *se = localsess_find(s, id);
    if (pw_ok && !(se && localsess_in_local_table(se)) && !quorum_revalidate(s, c, id, timeout))
        return;
    server_reconnect(s, c, id, timeout, pw_ok);
}

void server_reconnect(struct server *s, struct conn *c, int64_t id, int32_t timeout, int valid)
{
    /* (another member's local session is unknown here: expired) */
    struct session *se = localsess_find(s, id);
    uint8_t expected[16];
    sessions_password(&s->db.sessions, id, expected);
    if (!se || se->closing || !valid) {
        static const uint8_t zero[16];
        log_info("session 0x%llx from %s:%d is %s", (unsigned long long)id, c->remote,
                 c->remote_port, se && !se->closing ? "refused (wrong password, or the leader "
                 "does not know it)" : "expired or unknown");
        send_connect_response(s, c, 0, 0, zero, s->db.last_zxid);
        conn_close_after_flush(c);
        return;
    }
    se->timeout = timeout;
    localsess_touch(s, se, clock_mono_ms());
    server_attach(s, c, se);
    send_connect_response(s, c, timeout, se->id, expected, s->db.last_zxid);
}

/* ---- reply helpers ---- */

static void put_stat(struct conn *c, const struct znode *n)
{
    struct zk_stat st;
    tree_stat(n, &st);
    jute_put_stat(&c->out, &st);
}

static void put_child_name(struct znode *c, void *out)
{
    jute_put_buffer(out, c->name, (int32_t)tree_namelen(c));
}

static void put_children(struct jute_out *out, const struct znode *n)
{
    jute_put_int(out, (int32_t)tree_nkids(n));
    tree_foreach_child(n, put_child_name, out);
}

static int node_acl_check(struct server *s, struct conn *c, const struct znode *n, int32_t perm)
{
    return acl_check(acl_get(tree_acls(s->db.tree), n->acl), perm, &c->auth);
}

/* ---- reads ---- */

/* Finds the node at `path`; returns 0, or an error: NONODE, or NOAUTH (with
 * *n set) when the caller lacks every bit of `perm` on it. */
static int lookup_target(struct server *s, struct conn *c, struct zk_slice path, struct znode **n,
                         int perm)
{
    *n = tree_lookup(s->db.tree, path.p, (size_t)path.len);
    if (!*n)
        return ZK_NONODE;
    return node_acl_check(s, c, *n, perm);
}

int server_read_lookup(struct server *s, struct conn *c, struct zk_slice path, struct znode **n)
{
    return lookup_target(s, c, path, n, ZK_PERM_READ);
}

/* Decodes path (+ watch flag when with_watch) and finds the node, as
 * lookup_target. */
static int read_target(struct server *s, struct conn *c, struct jute_in *in, int with_watch,
                       struct zk_slice *path, int *watch, struct znode **n, int perm)
{
    *path = jute_get_string(in);
    *watch = with_watch ? jute_get_bool(in) : 0;
    if (in->err)
        return ZK_MARSHALLINGERROR;
    return lookup_target(s, c, *path, n, perm);
}

/* Encodes the body of a getData or getChildren(2) reply for `n`. */
static void put_read_body(struct conn *c, int32_t type, const struct znode *n)
{
    if (type == ZK_OP_GETDATA) {
        jute_put_buffer(&c->out, tree_data(n), n->datalen);
        put_stat(c, n);
    } else {
        put_children(&c->out, n);
        if (type == ZK_OP_GETCHILDREN2)
            put_stat(c, n);
    }
}

/*
 * getData / getChildren / getChildren2 / exists: decodes the request and
 * returns error or 0, leaving the node in *out, the path in *pathp and the
 * watch flag in *watch.  All four need READ on an existing node: exists
 * too, as since Apache 3.8.4/3.9.2 (ZOOKEEPER-2590; before, its stat -- and
 * a watch -- went to anyone, docs/zkd.md).
 */
static int decode_read(struct server *s, struct conn *c, int32_t type, struct jute_in *in,
                       struct znode **out, struct zk_slice *pathp, int *watch)
{
    int rc = read_target(s, c, in, 1, pathp, watch, out, ZK_PERM_READ);
    if (rc == ZK_MARSHALLINGERROR)
        return rc;
    if (type == ZK_OP_EXISTS && pathp->len > 0 && memchr(pathp->p, 0, (size_t)pathp->len))
        return ZK_BADARGUMENTS; /* Apache's exists rejects NUL; other reads say NONODE */
    return rc;
}

static int is_children_read(int32_t type)
{
    return type == ZK_OP_GETCHILDREN || type == ZK_OP_GETCHILDREN2;
}

/* Sets the watch a read asked for, at the moment the read takes its state:
 * a refused read sets none; exists on a missing node still does. */
static void arm_read_watch(struct server *s, struct conn *c, int32_t type, int rc,
                           struct zk_slice path, int watch)
{
    if (watch && (rc == 0 || (rc == ZK_NONODE && type == ZK_OP_EXISTS)))
        watches_add(is_children_read(type) ? s->db.child_watches : s->db.data_watches, path.p,
                    (size_t)path.len, &c->watches, WATCH_STANDARD);
}

/* decode_read, then arm_read_watch (a read answered at once). */
static int do_read(struct server *s, struct conn *c, int32_t type, struct jute_in *in,
                   struct znode **out, struct zk_slice *pathp)
{
    int watch;
    int rc = decode_read(s, c, type, in, out, pathp, &watch);
    arm_read_watch(s, c, type, rc, *pathp, watch);
    return rc;
}

static inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* The pzxid of the nearest existing ancestor of the absent `path`: the
 * last transaction that could have removed it (or not yet created it). */
static int64_t absent_since(const struct server *s, struct zk_slice path)
{
    size_t len = path.len > 0 ? (size_t)path.len : 0;
    for (;;) {
        while (len > 0 && path.p[len - 1] != '/')
            len--;
        if (len > 1)
            len--; /* the '/' before the last name */
        if (len <= 1)
            break;
        const struct znode *a = tree_lookup(s->db.tree, path.p, len);
        if (a)
            return tree_pzxid(a);
    }
    const struct znode *root = tree_lookup(s->db.tree, "/", 1);
    return root ? tree_pzxid(root) : s->db.last_zxid;
}

/*
 * The durability tag of a read's reply (server.h): the last transaction
 * that changed what the reply shows, not the last one applied, so a read of
 * a node nobody is writing goes out at once instead of waiting for the
 * fsync of other clients' writes.  A node's data and stat changed last at
 * max(mzxid, pzxid) (version, dataLength, ctime/mtime at mzxid; numChildren,
 * cversion at pzxid); its ACL and aversion at a setACL, which no stat field
 * records (db.acl_zxid, all nodes at once); an absent node's absence at its
 * nearest ancestor's pzxid.  /zookeeper (quota stats, config) is changed
 * without zxids of its own: last_zxid.  Never below the connection's own
 * highest tag (tags never decrease, server.h), so its own earlier writes stay
 * ahead.  The tag stays inside the server: the reply's header says the last
 * zxid applied, as Apache's says its last processed one, lowered to what is
 * durable when the reply leaves (conn.h conn_reply_begin).
 */
static int64_t read_tag(const struct server *s, const struct conn *c, int rc,
                        const struct znode *n, struct zk_slice path)
{
    int64_t dep = s->db.acl_zxid;
    if (path.len >= 10 && !memcmp(path.p, "/zookeeper", 10))
        dep = s->db.last_zxid;
    else if (n && (rc == 0 || rc == ZK_NOAUTH))
        dep = max64(dep, max64(n->mzxid, tree_pzxid(n)));
    else if (rc == ZK_NONODE)
        dep = max64(dep, absent_since(s, path));
    else if (rc != ZK_BADARGUMENTS)
        dep = s->db.last_zxid;
    if (dep > s->db.last_zxid)
        dep = s->db.last_zxid; /* an acl_zxid from before a truncation */
    return max64(dep, c->max_tag);
}

void server_read_answer(struct server *s, struct conn *c, int32_t xid, int32_t type, int rc,
                        const struct znode *n, struct zk_slice path, int watch,
                        struct jute_out *children)
{
    arm_read_watch(s, c, type, rc, path, watch);
    int64_t tag = rc == ZK_MARSHALLINGERROR ? s->db.last_zxid : read_tag(s, c, rc, n, path);
    /* The header says the last zxid applied, as Apache's; the gate waits
     * only for `tag` (conn.h conn_reply_begin). */
    size_t at = conn_reply_begin(c, xid, s->db.last_zxid, rc);
    if (!rc) {
        if (type == ZK_OP_EXISTS) {
            put_stat(c, n);
        } else if (children) {
            conn_put_body(c, at, children, CONN_REPLY_HEAD);
            if (type == ZK_OP_GETCHILDREN2)
                put_stat(c, n);
        } else {
            put_read_body(c, type, n);
        }
    }
    conn_frame_end(c, at, tag, xid);
}

static void reply_read(struct server *s, struct conn *c, int32_t xid, int32_t type,
                       struct jute_in *in)
{
    struct znode *n = NULL;
    struct zk_slice path = {0};
    int watch = 0;
    int rc = decode_read(s, c, type, in, &n, &path, &watch);
    if (!rc && is_children_read(type) && listing_wanted(s, c, n)) {
        listing_start(s, c, xid, type, path, watch, n); /* answers in a later turn */
        return;
    }
    server_read_answer(s, c, xid, type, rc, n, path, watch, NULL);
}

static void reply_getacl(struct server *s, struct conn *c, int32_t xid, struct jute_in *in)
{
    struct zk_slice path;
    int watch;
    struct znode *n;
    int rc = read_target(s, c, in, 0, &path, &watch, &n, ZK_PERM_READ | ZK_PERM_ADMIN);
    /* What it shows (the ACL list, set at create or setACL, and the stat) is
     * what getData's tag covers. */
    int64_t tag = rc == ZK_MARSHALLINGERROR ? s->db.last_zxid : read_tag(s, c, rc, n, path);
    size_t at = conn_reply_begin(c, xid, s->db.last_zxid, rc);
    if (!rc) {
        const struct acl_list *l = acl_get(tree_acls(s->db.tree), n->acl);
        /* Without ADMIN, digest hashes are redacted (Apache, ZOOKEEPER-1392). */
        int redact = node_acl_check(s, c, n, ZK_PERM_ADMIN) != 0;
        jute_put_int(&c->out, l ? l->n : 0);
        for (int i = 0; l && i < l->n; i++) {
            jute_put_int(&c->out, l->e[i].perms);
            jute_put_string(&c->out, l->e[i].scheme);
            const char *colon = strchr(l->e[i].id, ':');
            if (redact && !strcmp(l->e[i].scheme, "digest") && colon) {
                struct jute_out tmp;
                jute_out_init(&tmp);
                jute_put_raw(&tmp, l->e[i].id, (size_t)(colon - l->e[i].id));
                jute_put_raw(&tmp, ":x", 3);
                jute_put_string(&c->out, (char *)tmp.p);
                jute_out_free(&tmp);
            } else {
                jute_put_string(&c->out, l->e[i].id);
            }
        }
        put_stat(c, n);
    }
    conn_frame_end(c, at, tag, xid);
}

static void reply_all_children_number(struct server *s, struct conn *c, int32_t xid,
                                      struct jute_in *in)
{
    struct zk_slice path;
    int watch;
    struct znode *n;
    int rc = read_target(s, c, in, 0, &path, &watch, &n, ZK_PERM_READ);
    size_t at = conn_reply_begin(c, xid, s->db.last_zxid, rc);
    if (!rc)
        jute_put_int(&c->out, (int32_t)tree_count_descendants(n));
    conn_frame_end(c, at, s->db.last_zxid, xid);
}

struct eph_ctx {
    struct jute_out *out;
    const char *prefix;
    size_t plen;
    int32_t count;
    char buf[4096];
};

static void add_ephemeral(struct znode *n, void *d)
{
    struct eph_ctx *e = d;
    size_t len = tree_path(n, e->buf, sizeof e->buf);
    if (len >= sizeof e->buf)
        return;
    if (e->plen > 1 && (len < e->plen || memcmp(e->buf, e->prefix, e->plen)))
        return;
    jute_put_buffer(e->out, e->buf, (int32_t)len);
    e->count++;
}

static void reply_ephemerals(struct server *s, struct conn *c, int32_t xid, struct jute_in *in)
{
    struct zk_slice prefix = jute_get_string(in);
    int rc = in->err ? ZK_MARSHALLINGERROR : prep_validate_path(prefix.p, (size_t)prefix.len);
    size_t at = conn_reply_begin(c, xid, s->db.last_zxid, rc);
    if (!rc) {
        char pre[4096];
        size_t pl = (size_t)prefix.len < sizeof pre ? (size_t)prefix.len : sizeof pre - 1;
        memcpy(pre, prefix.p, pl);
        pre[pl] = 0;
        struct eph_ctx *e = zk_xcalloc(1, sizeof *e);
        e->out = &c->out;
        e->prefix = pre;
        e->plen = pl;
        size_t count_at = c->out.len;
        jute_put_int(&c->out, 0);
        tree_foreach_ephemeral(s->db.tree, c->session_id, add_ephemeral, e);
        jute_patch_int(&c->out, count_at, e->count);
        free(e);
    }
    conn_frame_end(c, at, s->db.last_zxid, xid);
}

static void reply_whoami(struct server *s, struct conn *c, int32_t xid)
{
    size_t at = conn_reply_begin(c, xid, s->db.last_zxid, 0);
    int n = 0;
    size_t count_at = c->out.len;
    jute_put_int(&c->out, 0);
    for (int i = 0; i < c->auth.n; i++) {
        const struct auth_id *a = &c->auth.ids[i];
        if (!strcmp(a->scheme, "super"))
            continue;
        jute_put_string(&c->out, a->scheme);
        /* Apache shows the provider's user name: for digest, the part before ':'. */
        const char *colon = strcmp(a->scheme, "digest") ? NULL : strchr(a->id, ':');
        jute_put_buffer(&c->out, a->id, (int32_t)(colon ? (size_t)(colon - a->id) : strlen(a->id)));
        n++;
    }
    jute_patch_int(&c->out, count_at, n);
    conn_frame_end(c, at, s->db.last_zxid, xid);
}

static void reply_multiread(struct server *s, struct conn *c, int32_t xid, struct jute_in *in)
{
    size_t at = conn_reply_begin(c, xid, s->db.last_zxid, 0);
    for (;;) {
        int32_t type = jute_get_int(in);
        int done = jute_get_bool(in);
        (void)jute_get_int(in);
        if (in->err || done)
            break;
        struct znode *n = NULL;
        struct zk_slice path;
        int rc = type == ZK_OP_GETCHILDREN || type == ZK_OP_GETDATA
                     ? do_read(s, c, type, in, &n, &path)
                     : ZK_UNIMPLEMENTED;
        if (rc == ZK_UNIMPLEMENTED || rc == ZK_MARSHALLINGERROR) {
            in->err = ZK_MARSHALLINGERROR;
            break;
        }
        jute_put_int(&c->out, rc ? -1 : type);
        jute_put_bool(&c->out, 0);
        jute_put_int(&c->out, rc);
        if (rc)
            jute_put_int(&c->out, rc);
        else
            put_read_body(c, type, n);
    }
    if (in->err) {
        c->out.len = at + 4;
        jute_put_int(&c->out, xid);
        jute_put_long(&c->out, s->db.last_zxid);
        jute_put_int(&c->out, ZK_MARSHALLINGERROR);
    } else {
        jute_put_int(&c->out, -1);
        jute_put_bool(&c->out, 1);
        jute_put_int(&c->out, -1);
    }
    conn_frame_end(c, at, s->db.last_zxid, xid);
}

/* ---- watch management ---- */

static void event_now(struct server *s, struct conn *c, int32_t type, struct zk_slice path)
{
    /* Changes made while the client was away: no one transaction fired it. */
    conn_put_event(c, type, path.p, (size_t)path.len, -1, s->db.last_zxid);
}

/* Apache's DataTree.addWatch and setWatches put a persistent or recursive
 * watch in both tables.  A recursive entry in the child table never fires
 * NodeChildrenChanged, and for NodeDeleted it is suppressed by its data-table
 * twin; but once removeWatches(Data) or a one-time getData/exists watch on the
 * same path has removed or re-moded that twin, it alone keeps NodeDeleted
 * coming for the path and its subtree, and removeWatches(Children) finds it. */
static void add_persistent(struct server *s, struct conn *c, struct zk_slice p, enum watch_mode mode)
{
    watches_add(s->db.data_watches, p.p, (size_t)p.len, &c->watches, mode);
    watches_add(s->db.child_watches, p.p, (size_t)p.len, &c->watches, mode);
}

/* A data or child watch being re-armed: fire at once if the node is gone or
 * changed after `rel` (the client's last zxid), else arm it again. */
static void rearm(struct server *s, struct conn *c, struct zk_slice p, const struct znode *node,
                  int64_t changed_zxid, int64_t rel, int32_t changed_event, struct watches *table)
{
    if (!node)
        event_now(s, c, ZK_EVENT_DELETED, p);
    else if (changed_zxid > rel)
        event_now(s, c, changed_event, p);
    else
        watches_add(table, p.p, (size_t)p.len, &c->watches, WATCH_STANDARD);
}

/* Apache's DataTree.setWatches: re-arm, or fire at once what was missed. */
static void reply_setwatches(struct server *s, struct conn *c, int32_t xid, struct jute_in *in,
                             int v2)
{
    int64_t rel = jute_get_long(in);
    int nlists = v2 ? 5 : 3;
    for (int list = 0; list < nlists && !in->err; list++) {
        int32_t n = jute_get_count(in, 4);
        for (int32_t i = 0; i < n && !in->err; i++) {
            struct zk_slice p = jute_get_string(in);
            if (in->err)
                break;
            struct znode *node = tree_lookup(s->db.tree, p.p, (size_t)p.len);
            switch (list) {
            case 0: /* data */
                rearm(s, c, p, node, node ? node->mzxid : 0, rel, ZK_EVENT_CHANGED, s->db.data_watches);
                break;
            case 1: /* exist */
                if (node)
                    event_now(s, c, ZK_EVENT_CREATED, p);
                else
                    watches_add(s->db.data_watches, p.p, (size_t)p.len, &c->watches, WATCH_STANDARD);
                break;
            case 2: /* child */
                rearm(s, c, p, node, node ? tree_pzxid(node) : 0, rel, ZK_EVENT_CHILD, s->db.child_watches);
                break;
            case 3: /* persistent */
                add_persistent(s, c, p, WATCH_PERSISTENT);
                break;
            case 4: /* persistent recursive */
                add_persistent(s, c, p, WATCH_RECURSIVE);
                break;
            }
        }
    }
    conn_reply_header(c, ZK_XID_SETWATCHES, s->db.last_zxid, in->err ? ZK_MARSHALLINGERROR : 0,
                      s->db.last_zxid);
    (void)xid;
}

/* checkWatches (remove = 0) and removeWatches (remove = 1).  Apache 3.8.0
 * knows WatcherType Children (1), Data (2) and Any (3); each removes the
 * connection's watch of any mode from that table.  Other values fail in
 * Apache's WatcherType.fromInt, which clients see as MARSHALLINGERROR. */
static void reply_watch_query(struct server *s, struct conn *c, int32_t xid, struct jute_in *in,
                              int remove)
{
    struct zk_slice p = jute_get_string(in);
    int32_t type = jute_get_int(in);
    int rc = in->err ? ZK_MARSHALLINGERROR : 0;
    struct watches *tables[2];
    int nt = 0;
    if (!rc && (type == ZK_WATCH_CHILDREN || type == ZK_WATCH_ANY))
        tables[nt++] = s->db.child_watches;
    if (!rc && (type == ZK_WATCH_DATA || type == ZK_WATCH_ANY))
        tables[nt++] = s->db.data_watches;
    if (!rc && !nt)
        rc = ZK_MARSHALLINGERROR;
    int found = 0;
    for (int i = 0; i < nt; i++)
        found |= remove ? watches_remove(tables[i], p.p, (size_t)p.len, &c->watches, -1)
                        : watches_has(tables[i], p.p, (size_t)p.len, &c->watches, -1);
    if (!rc && !found)
        rc = ZK_NOWATCHER;
    conn_reply_header(c, xid, s->db.last_zxid, rc, s->db.last_zxid);
}

static void reply_addwatch(struct server *s, struct conn *c, int32_t xid, struct jute_in *in)
{
    struct zk_slice p = jute_get_string(in);
    int32_t mode = jute_get_int(in);
    int rc = in->err ? ZK_MARSHALLINGERROR : 0;
    if (!rc && mode == ZK_ADDWATCH_PERSISTENT) {
        add_persistent(s, c, p, WATCH_PERSISTENT);
    } else if (!rc && mode == ZK_ADDWATCH_PERSISTENT_RECURSIVE) {
        add_persistent(s, c, p, WATCH_RECURSIVE);
    } else if (!rc) {
        rc = ZK_MARSHALLINGERROR; /* Apache: WatcherMode.fromZooKeeperMode throws */
    }
    /* Apache answers addWatch with an ErrorResponse body, which its Java
     * client reads; other clients ignore it. */
    size_t at = conn_reply_begin(c, xid, s->db.last_zxid, rc);
    if (!rc)
        jute_put_int(&c->out, 0);
    conn_frame_end(c, at, s->db.last_zxid, xid);
}

/* ---- auth ---- */

static void reply_auth(struct server *s, struct conn *c, struct jute_in *in)
{
    (void)jute_get_int(in);
    struct zk_slice scheme = jute_get_string(in);
    struct zk_slice auth = jute_get_buffer(in);
    int ok = 0;
    /* DigestAuthenticationProvider.enabled=false: no digest provider, so
     * "digest" is an unknown scheme as in Apache (AUTHFAILED). */
    if (!in->err && scheme.len == 6 && !memcmp(scheme.p, "digest", 6) && auth.len > 0 &&
        s->cfg.digest_auth_enabled) {
        char *id;
        if (acl_digest(auth.p, (size_t)auth.len, &id) == 0) {
            if (s->cfg.super_digest[0] && !strcmp(id, s->cfg.super_digest))
                auth_info_add(&c->auth, "super", "");
            auth_info_add(&c->auth, "digest", id);
            free(id);
            ok = 1;
        }
    } else if (!in->err && scheme.len == 2 && !memcmp(scheme.p, "ip", 2)) {
        ok = 1; /* the connection's ip identity is always present */
    }
    audit_session_event(c->session_id, &c->auth, "addAuth", ok ? AUDIT_SUCCESS : AUDIT_FAILURE);
    if (ok) {
        conn_reply_header(c, ZK_XID_AUTH, 0, 0, s->db.last_zxid);
        return;
    }
    log_warn("authentication failed for %s:%d, session 0x%llx (scheme '%.*s')", c->remote,
             c->remote_port, (unsigned long long)c->session_id,
             scheme.len > 0 ? (int)scheme.len : 0, scheme.p ? scheme.p : "");
    conn_reply_header(c, ZK_XID_AUTH, 0, ZK_AUTHFAILED, s->db.last_zxid);
    conn_close_after_flush(c);
}

static void reply_sasl(struct server *s, struct conn *c, int32_t xid, struct jute_in *in)
{
    struct zk_slice token = jute_get_buffer(in);
    const char *out = NULL, *user = NULL;
    unsigned outlen = 0;
    int rc = in->err ? -1 : zkd_sasl_step(c, token.p, token.len > 0 ? (size_t)token.len : 0, &out,
                                          &outlen, &user);
    if (rc < 0) {
        /* Apache tells a client that had to authenticate with SASL why it
         * is turned away; others get AUTHFAILED. */
        int required = s->cfg.enforce_auth_enabled &&
                       auth_scheme_listed(s->cfg.enforce_auth_schemes, "sasl");
        conn_reply_header(c, xid, 0, required ? ZK_SESSIONCLOSEDREQUIRESASLAUTH : ZK_AUTHFAILED,
                          s->db.last_zxid);
        conn_close_after_flush(c);
        return;
    }
    if (rc == 1) {
        /* zookeeper.superUser: that SASL user is super, as in Apache. */
        if (s->cfg.sasl_super_user[0] && !strcmp(user, s->cfg.sasl_super_user))
            auth_info_add(&c->auth, "super", "");
        auth_info_add(&c->auth, "sasl", user);
        log_info("SASL user %s authenticated from %s:%d", user, c->remote, c->remote_port);
    }
    size_t at = conn_reply_begin(c, xid, 0, 0);
    jute_put_buffer(&c->out, out, (int32_t)outlen);
    conn_frame_end(c, at, s->db.last_zxid, xid);
}

/* ---- writes ---- */

/* The result record of a write op; `type` is the wire result type. */
static void put_write_result(struct conn *c, int32_t type, const struct prep_result *r)
{
    switch (type) {
    case ZK_OP_CREATE:
        jute_put_string(&c->out, r->path);
        break;
    case ZK_OP_CREATE2:
    case ZK_OP_CREATETTL:
    case ZK_OP_CREATECONTAINER:
        jute_put_string(&c->out, r->path);
        jute_put_stat(&c->out, &r->stat);
        break;
    case ZK_OP_SETDATA:
    case ZK_OP_SETACL:
        jute_put_stat(&c->out, &r->stat);
        break;
    default:
        break;
    }
}

/* Apache's result type inside a multi: the txn's type, so create2 answers
 * like create (no Stat) while container and TTL creates carry one. */
static int32_t multi_result_type(int32_t req_type)
{
    switch (req_type) {
    case ZK_OP_CREATE2:
        return ZK_OP_CREATE;
    case ZK_OP_CREATETTL:
    case ZK_OP_CREATECONTAINER:
        return ZK_OP_CREATE2;
    default:
        return req_type;
    }
}

static void reply_write(struct server *s, struct conn *c, int32_t xid, int32_t type,
                        struct jute_in *in)
{
    struct write w;
    struct prep_result r;
    write_begin(s, &w, type, c->session_id, xid);
    struct jute_in body = *in; /* for the audit log */
    int rc = prep_apply_op(&s->db, &c->auth, type, in, &w.txn, w.zxid, &w.journal, &r);
    if (!in->err && !conn_is_proxy(c))
        audit_write_op(c->session_id, &c->auth, type, body, rc ? NULL : r.path, rc, 0);
    if (rc) {
        /* Logged at its zxid as an ErrorTxn, as Apache does (write.h). */
        int64_t zxid = write_commit_failed(s, &w, rc, -1, 0);
        conn_reply_header(c, xid, zxid, rc, zxid);
    } else if (w.txn.nops == 0) {
        write_abort(s, &w); /* defensive: every op prep accepts logs a record */
        conn_reply_header(c, xid, s->db.last_zxid, 0, s->db.last_zxid);
    } else {
        w.txn.type = w.txn.ops[0].type;
        int64_t zxid = write_commit(s, &w);
        size_t at = conn_reply_begin(c, xid, zxid, 0);
        put_write_result(c, type, &r);
        conn_frame_end(c, at, zxid, xid);
    }
    free(r.path);
    if (in->err) /* not MARSHALLINGERROR from the state (bad quota nodes): Apache keeps those */
        conn_close_after_flush(c);
}

#define MULTI_MAX_OPS 10000

static int multi_may_hold(int32_t type)
{
    return type == ZK_OP_CREATE || type == ZK_OP_CREATE2 || type == ZK_OP_CREATETTL ||
           type == ZK_OP_CREATECONTAINER || type == ZK_OP_DELETE || type == ZK_OP_SETDATA ||
           type == ZK_OP_CHECK;
}

/* The reply to a multi: every result, or (failed >= 0) an error result per
 * op, the failed op's own code at its place, ops before it 0, after it
 * RUNTIMEINCONSISTENCY, as Apache answers. */
static void put_multi_reply(struct conn *c, int32_t xid, int64_t tag, const struct prep_result *res,
                            int n, int failed)
{
    size_t at = conn_reply_begin(c, xid, tag, 0);
    for (int i = 0; i < n; i++) {
        const struct prep_result *r = &res[i];
        if (failed >= 0) {
            int32_t err = i < failed ? 0 : i == failed ? r->err : ZK_RUNTIMEINCONSISTENCY;
            jute_put_int(&c->out, -1);
            jute_put_bool(&c->out, 0);
            jute_put_int(&c->out, err);
            jute_put_int(&c->out, err);
            continue;
        }
        int32_t type = multi_result_type(r->type);
        jute_put_int(&c->out, type);
        jute_put_bool(&c->out, 0);
        jute_put_int(&c->out, 0);
        put_write_result(c, type, r);
    }
    jute_put_int(&c->out, -1);
    jute_put_bool(&c->out, 1);
    jute_put_int(&c->out, -1);
    conn_frame_end(c, at, tag, xid);
}

static void reply_multi(struct server *s, struct conn *c, int32_t xid, struct jute_in *in)
{
    struct write w;
    write_begin(s, &w, ZK_OP_MULTI, c->session_id, xid);
    struct prep_result *res = NULL;
    struct jute_in *bodies = NULL; /* each op's body, for the audit log */
    int audit = audit_on && !conn_is_proxy(c);
    int n = 0, failed = -1, wrong_kind = 0;
    for (;;) {
        int32_t type = jute_get_int(in);
        int done = jute_get_bool(in);
        (void)jute_get_int(in);
        if (in->err || done)
            break;
        if (n == MULTI_MAX_OPS) {
            in->err = ZK_MARSHALLINGERROR;
            break;
        }
        if ((n & (n - 1)) == 0) { /* full at powers of two: amortized growth */
            res = zk_xrealloc(res, (size_t)(n ? 2 * n : 1) * sizeof *res);
            if (audit)
                bodies = zk_xrealloc(bodies, (size_t)(n ? 2 * n : 1) * sizeof *bodies);
        }
        if (audit)
            bodies[n] = *in;
        struct prep_result *r = &res[n++];
        memset(r, 0, sizeof *r);
        r->type = type;
        if (!multi_may_hold(type)) {
            if (type == ZK_OP_GETDATA || type == ZK_OP_GETCHILDREN) {
                /* Parsable, but not a write: Apache answers MARSHALLINGERROR
                 * for the whole multi and keeps the session. */
                (void)jute_get_string(in);
                (void)jute_get_bool(in);
                wrong_kind = 1;
                continue;
            }
            in->err = ZK_MARSHALLINGERROR; /* we can't skip a body we can't parse */
            break;
        }
        if (failed >= 0) {
            /* After a failure the ops are only decoded: their results are
             * RUNTIMEINCONSISTENCY whatever the tree holds. */
            if (prep_skip_op(type, in))
                break;
            r->err = ZK_RUNTIMEINCONSISTENCY;
            continue;
        }
        if (prep_apply_op(&s->db, &c->auth, type, in, &w.txn, w.zxid, &w.journal, r)) {
            if (r->err == ZK_MARSHALLINGERROR) {
                /* Bytes that do not decode close the session; quota nodes that do
                 * not parse (quota.h) fail the whole multi as in Apache, no more. */
                if (!in->err)
                    wrong_kind = 1;
                break;
            }
            failed = n - 1;
        }
    }
    /* Failures take a zxid and are logged, as Apache's PrepRequestProcessor
     * does (write.h): a multi that does not decode as an ErrorTxn; one whose
     * op failed as a multi of the ops prepared before it and ErrorTxns. */
    if (in->err || wrong_kind) {
        int64_t zxid = write_commit_failed(s, &w, ZK_MARSHALLINGERROR, -1, 0);
        conn_reply_header(c, xid, zxid, ZK_MARSHALLINGERROR, zxid);
        if (in->err)
            conn_close_after_flush(c);
    } else if (failed >= 0) {
        int64_t zxid = write_commit_failed(s, &w, res[failed].err, failed, n);
        put_multi_reply(c, xid, zxid, res, n, failed);
        if (audit)
            audit_request(c->session_id, &c->auth, "multiOperation", NULL, NULL,
                          AUDIT_FAILURE);
    } else if (w.txn.nops == 0) {
        /* An empty multi: Apache logs an empty MultiTxn (zxid taken). */
        int64_t zxid = write_commit(s, &w);
        put_multi_reply(c, xid, zxid, res, n, failed);
    } else {
        int64_t zxid = write_commit(s, &w);
        put_multi_reply(c, xid, zxid, res, n, failed);
        for (int i = 0; audit && i < n; i++)
            audit_write_op(c->session_id, &c->auth, res[i].type, bodies[i], res[i].path, 0, 1);
    }
    for (int i = 0; i < n; i++)
        free(res[i].path);
    free(res);
    free(bodies);
}

static void close_session(struct server *s, struct conn *c, int32_t xid)
{
    if (!conn_is_proxy(c)) /* (else the learner logged it when forwarding) */
        audit_session_event(c->session_id, &c->auth, "closeSession", AUDIT_SUCCESS);
    if (c->session->local == SESSION_LOCAL) { /* no txn (localsess.h) */
        localsess_close(s, c->session);
        conn_reply_header(c, xid, s->db.last_zxid, 0, s->db.last_zxid);
        conn_close_after_flush(c);
        return;
    }
    int64_t zxid = write_session(s, ZK_OP_CLOSESESSION, c->session_id, xid, 0);
    conn_reply_header(c, xid, zxid, 0, zxid);
    conn_close_after_flush(c);
}

/* ---- dispatch ---- */

/*
 * enforce.auth.enabled / sessionRequireClientSASLAuth, as Apache's
 * AuthenticationHelper.enforceAuthentication: any request but auth and sasl
 * -- pings and closeSession included -- from a connection holding no identity
 * of an enforced scheme is answered SESSIONCLOSEDREQUIRESASLAUTH (zxid 0) and
 * the connection closed.  The session is not closed: like any session whose
 * client went away, it expires unless the client comes back (authenticated).
 * Checked on the member the client is connected to, before routing, as
 * Apache's processPacket does.  Returns 1 when the request was refused.
 */
static int refuse_unauthenticated(struct server *s, struct conn *c, const uint8_t *p, size_t len)
{
    if (!s->cfg.enforce_auth_enabled || len < 8)
        return 0;
    int32_t type = (int32_t)zk_be32_get(p + 4);
    if (type == ZK_OP_AUTH || type == ZK_OP_SASL ||
        auth_info_has_scheme_in(&c->auth, s->cfg.enforce_auth_schemes))
        return 0;
    log_warn("session 0x%llx from %s:%d has not authenticated with any of the schemes '%s'; "
             "closing its connection",
             (unsigned long long)c->session_id, c->remote, c->remote_port,
             s->cfg.enforce_auth_schemes);
    conn_reply_header(c, (int32_t)zk_be32_get(p), 0, ZK_SESSIONCLOSEDREQUIRESASLAUTH,
                      s->db.last_zxid);
    conn_close_after_flush(c);
    return 1;
}

int server_batch_lock(struct server *s, const uint8_t *p, size_t len)
{
    if (len < 8 || !is_update((int32_t)zk_be32_get(p + 4)) || (s->q && !quorum_is_leader(s->q)))
        return 0; /* a read, or a write a learner forwards: no tree change here */
    if (s->db.write_depth)
        return 0; /* this batch already holds it */
    if (db_write_trylock(&s->db))
        return 1;
    s->stats.walker_waits++;
    s->walker_waited = 1;
    return -1;
}

void server_batch_unlock(struct server *s) { db_write_unlock(&s->db); }

void server_request(struct server *s, struct conn *c, const uint8_t *p, size_t len)
{
    c->active_ms = clock_mono_ms();
    if (refuse_unauthenticated(s, c, p, len))
        return;
    if (s->q && !c->readonly && !quorum_serving(s->q)) {
        /* This member just lost its leader or quorum: the client must go to
         * one that has them (it is closed with the others in a moment). */
        conn_close(c);
        return;
    }
    if (s->q && len >= 8) {
        int32_t type = (int32_t)zk_be32_get(p + 4);
        if (c->session && !c->session->closing && !c->readonly &&
            quorum_route(s, c, p, len, type)) {
            localsess_touch(s, c->session, c->active_ms);
            s->stats.requests++;
            return;
        }
    }
    server_request_local(s, c, p, len);
}

/* An ephemeral create from one of our local sessions, with
 * localSessionsUpgradingEnabled: its createSession is logged first (the
 * leader's path; a learner upgrades as it forwards, quorum.c). */
static void upgrade_if_needed(struct server *s, struct conn *c, const uint8_t *p, size_t len)
{
    if (c->session->local != SESSION_LOCAL || !s->cfg.local_sessions_upgrading ||
        !localsess_wants_global(p, len))
        return;
    int64_t id = c->session->id;
    int32_t timeout = localsess_upgrade(s, c->session);
    write_session(s, ZK_OP_CREATESESSION, id, 0, timeout);
}

void server_request_local(struct server *s, struct conn *c, const uint8_t *p, size_t len)
{
    struct jute_in in;
    jute_in_init(&in, p, len);
    int32_t xid = jute_get_int(&in);
    int32_t type = jute_get_int(&in);
    if (in.err) {
        conn_close(c);
        return;
    }
    uint64_t t0 = uv_hrtime();
    c->last_cxid = xid;
    c->last_op = type;
    s->stats.requests++;
    if (!c->session || c->session->closing) {
        /* The session expired under this connection. */
        conn_reply_header(c, xid, s->db.last_zxid, ZK_SESSIONEXPIRED, s->db.last_zxid);
        conn_close_after_flush(c);
        return;
    }
    if (c->readonly) {
        if (type == ZK_OP_CLOSESESSION) {
            conn_reply_header(c, xid, s->db.last_zxid, 0, s->db.last_zxid);
            conn_close_after_flush(c);
            return;
        }
        if (is_update(type)) {
            conn_reply_header(c, xid, s->db.last_zxid, ZK_NOTREADONLY, s->db.last_zxid);
            return;
        }
    } else {
        localsess_touch(s, c->session, (int64_t)(t0 / 1000000)); /* clock_mono_ms's clock */
        upgrade_if_needed(s, c, p, len);
    }
    switch (type) {
    case ZK_OP_PING:
        conn_reply_header(c, ZK_XID_PING, s->db.last_zxid, 0, s->db.last_zxid);
        return;
    case ZK_OP_EXISTS:
    case ZK_OP_GETDATA:
    case ZK_OP_GETCHILDREN:
    case ZK_OP_GETCHILDREN2:
        s->stats.reads++;
        reply_read(s, c, xid, type, &in);
        break;
    case ZK_OP_GETACL:
        reply_getacl(s, c, xid, &in);
        break;
    case ZK_OP_SYNC: {
        struct zk_slice path = jute_get_string(&in);
        size_t at = conn_reply_begin(c, xid, s->db.last_zxid, in.err ? ZK_MARSHALLINGERROR : 0);
        if (!in.err)
            jute_put_slice(&c->out, path);
        conn_frame_end(c, at, s->db.last_zxid, xid);
        break;
    }
    case ZK_OP_GETALLCHILDRENNUMBER:
        reply_all_children_number(s, c, xid, &in);
        break;
    case ZK_OP_GETEPHEMERALS:
        reply_ephemerals(s, c, xid, &in);
        break;
    case ZK_OP_WHOAMI:
        reply_whoami(s, c, xid);
        break;
    case ZK_OP_MULTIREAD:
        reply_multiread(s, c, xid, &in);
        break;
    case ZK_OP_SETWATCHES:
    case ZK_OP_SETWATCHES2:
        reply_setwatches(s, c, xid, &in, type == ZK_OP_SETWATCHES2);
        break;
    case ZK_OP_CHECKWATCHES:
    case ZK_OP_REMOVEWATCHES:
        reply_watch_query(s, c, xid, &in, type == ZK_OP_REMOVEWATCHES);
        break;
    case ZK_OP_ADDWATCH:
        reply_addwatch(s, c, xid, &in);
        break;
    case ZK_OP_AUTH:
        reply_auth(s, c, &in);
        break;
    case ZK_OP_SASL:
        reply_sasl(s, c, xid, &in);
        break;
    case ZK_OP_CLOSESESSION:
        close_session(s, c, xid);
        break;
    case ZK_OP_MULTI:
        s->stats.writes++;
        reply_multi(s, c, xid, &in);
        break;
    case ZK_OP_RECONFIG:
        reconfig_request(s, c, xid, &in);
        break;
    default:
        if (prep_is_write(type)) {
            s->stats.writes++;
            reply_write(s, c, xid, type, &in);
            break;
        }
        log_warn("unknown request type %d from %s:%d (session 0x%llx); closing", type, c->remote,
                 c->remote_port, (unsigned long long)c->session_id);
        conn_reply_header(c, xid, s->db.last_zxid, ZK_UNIMPLEMENTED, s->db.last_zxid);
        conn_close_after_flush(c);
        return;
    }
    if (in.err && c->state != CONN_CLOSING && !c->close_after_flush) {
        log_warn("malformed request (type %d) from %s:%d (session 0x%llx); closing", type, c->remote,
                 c->remote_port, (unsigned long long)c->session_id);
        s->stats.bad_frames++;
        conn_close_after_flush(c);
    }
    uint64_t us = (uv_hrtime() - t0) / 1000;
    c->last_latency_us = (int64_t)us;
    c->lat_total_us += us;
    c->lat_count++;
    if (!c->lat_min_us || us < c->lat_min_us)
        c->lat_min_us = us;
    if (us > c->lat_max_us)
        c->lat_max_us = us;
    s->stats.latency_total_us += us;
    s->stats.latency_count++;
    if (!s->stats.latency_min_us || us < s->stats.latency_min_us)
        s->stats.latency_min_us = us;
    if (us > s->stats.latency_max_us)
        s->stats.latency_max_us = us;
    monitor_note_request(s, c, type, prep_is_write(type), p + 8, len - 8, us);
}
