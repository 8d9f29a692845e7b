/*
 * audit.c - see audit.h.
 *
 * One process-wide log, like Apache's static ZKAuditProvider: the loop
 * thread stages compact records (struct rec) in a buffer and, once per loop
 * iteration, queues that whole buffer for the writer and takes a spare one
 * (no copy); the writer thread takes the queue, formats the records into
 * Apache's lines and writes them out without holding the mutex, then hands
 * the emptied buffers back as spares.
 */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "acl.h"
#include "config.h"
#include "log.h"
#include "prep.h"
#include "zk/jute.h"
#include "zk/proto.h"

int audit_on;

/* A growable byte buffer. */
struct line {
    char *p;
    size_t len, cap;
    uint64_t lines;
};

/* Buffers queued for the writer at most; past that the loop appends to the
 * last one (a copy) until the writer comes back. */
#define AUDIT_QUEUE 64

static struct {
    int fd;          /* the file, or -1 for syslog */
    int sessions;    /* audit.sessionEvents */
    char user[256];  /* the server's user (Apache: user.name) */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* Staged buffers of records not yet written, oldest first, and emptied
     * ones for the loop to stage into next (all guarded by mu). */
    struct line queue[AUDIT_QUEUE], spare[AUDIT_QUEUE];
    int nqueue, nspare;
    size_t len; /* bytes in the queue */
    uint64_t dropped; /* lines dropped since the writer last said so (mu) */
    int stopping;    /* (mu) */
    int idle;        /* the writer waits for a first line (mu) */
    /* The formatted second, reused while it does not change (writer). */
    time_t ts_sec;
    char ts[32];
    size_t ts_len;
} A = {.fd = -1};

/* A busy writer writes what is buffered every AUDIT_FLUSH_MS. */
#define AUDIT_FLUSH_MS 20

/* ---- staging (loop thread) ---- */

/* Makes room for n more bytes and returns where they go. */
static char *line_reserve(struct line *l, size_t n)
{
    if (l->len + n > l->cap) {
        l->cap = 2 * (l->len + n) > 4096 ? 2 * (l->len + n) : 4096;
        l->p = zk_xrealloc(l->p, l->cap);
    }
    char *at = l->p + l->len;
    l->len += n;
    return at;
}

static void line_add(struct line *l, const char *s, size_t n)
{
    memcpy(line_reserve(l, n), s, n);
}

static void line_str(struct line *l, const char *s)
{
    line_add(l, s, strlen(s));
}

/* Appends "key=val" with Apache's TAB before every pair but the first. */
static void line_field(struct line *l, const char *key, const char *val, size_t n)
{
    if (l->len)
        line_add(l, "\t", 1);
    line_str(l, key);
    line_add(l, "=", 1);
    line_add(l, val, n);
}

/*
 * What the loop stages per line: a compact record, formatted into text by
 * the writer thread (so the loop pays two short copies, not a dozen field
 * appends and a clock read).  The record is followed by its `head` bytes
 * (the line's first fields, already "session=..\tuser=..\tip=.." text: they
 * are cached per connection), then the znode's bytes, then the ACL's text.
 * `op` and `znode_type` point at string literals, so they stay valid
 * after the loop has moved on.
 */
struct rec {
    uint32_t len; /* of the record and its bytes, padded to 8 */
    uint32_t head_len, znode_len, acl_len;
    uint8_t result;    /* enum audit_result */
    uint8_t has_znode; /* (an empty znode still prints "znode=") */
    uint8_t has_acl;
    uint8_t op_len, type_len; /* strlen of op, znode_type (short names) */
    int64_t ms;               /* wall clock, ms */
    const char *op;
    const char *znode_type; /* NULL: left out */
};

/* The records staged since the last audit_flush (loop thread). */
static struct line stage;
/* Scratch buffers of the loop thread for the rare fields built per line. */
static struct line scratch_head, scratch_acl;

/* The wall clock read for the current loop iteration (stage_valid: read
 * since the last audit_flush).  One read per iteration, not per line: a
 * line's time is its iteration's, within the iteration's length. */
static int64_t stage_ms;
static int stage_ms_valid;

/* Hand the stage to the writer once it holds this much, even before the
 * loop goes to sleep. */
#define AUDIT_STAGE_MAX (64u << 10)

static int64_t wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* A string literal as a slice, its length known at compile time. */
#define LITERAL(s) ((struct zk_slice){(s), (int32_t)(sizeof(s) - 1)})

static struct zk_slice slice_of(const char *s)
{
    return (struct zk_slice){s, s ? (int32_t)strlen(s) : 0};
}

static struct zk_slice slice_line(const struct line *l)
{
    return (struct zk_slice){l->p, (int32_t)l->len};
}

/* Stages one line.  `znode.p` NULL, `znode_type` NULL and `acl` NULL leave
 * their fields out. */
static void stage_line(enum audit_result result, struct zk_slice head, struct zk_slice op,
                       struct zk_slice znode, const char *znode_type, const struct line *acl)
{
    size_t zlen = znode.p ? (size_t)znode.len : 0, alen = acl ? acl->len : 0;
    size_t n = (sizeof(struct rec) + (size_t)head.len + zlen + alen + 7) & ~(size_t)7;
    if (!stage_ms_valid) {
        stage_ms = wall_ms();
        stage_ms_valid = 1;
    }
    /* (Written in place: stage records start 8-aligned, as malloc'd
     * buffers and padded lengths keep them.) */
    char *at = line_reserve(&stage, n);
    struct rec *r = (struct rec *)(void *)at;
    r->len = (uint32_t)n;
    r->head_len = (uint32_t)head.len;
    r->znode_len = (uint32_t)zlen;
    r->acl_len = (uint32_t)alen;
    r->result = (uint8_t)result;
    r->has_znode = znode.p != NULL;
    r->has_acl = acl != NULL;
    r->op_len = (uint8_t)op.len;
    r->type_len = znode_type ? (uint8_t)strlen(znode_type) : 0;
    r->ms = stage_ms;
    r->op = op.p;
    r->znode_type = znode_type;
    at += sizeof *r;
    if (head.len)
        memcpy(at, head.p, (size_t)head.len);
    at += head.len;
    if (zlen)
        memcpy(at, znode.p, zlen);
    if (alen)
        memcpy(at + zlen, acl->p, alen);
    stage.lines++;
    if (stage.len >= AUDIT_STAGE_MAX)
        audit_flush();
}

void audit_flush(void)
{
    stage_ms_valid = 0; /* the next iteration reads the clock again */
    if (!stage.len)
        return;
    pthread_mutex_lock(&A.mu);
    if (A.len + stage.len > AUDIT_MAX_BUFFER) {
        A.dropped += stage.lines;
    } else if (A.nqueue < AUDIT_QUEUE) {
        /* The usual case: queue the buffer as it is and stage into a
         * spare one, so the loop copies nothing. */
        A.queue[A.nqueue++] = stage;
        A.len += stage.len;
        stage = A.nspare ? A.spare[--A.nspare] : (struct line){0};
    } else {
        struct line *last = &A.queue[AUDIT_QUEUE - 1];
        memcpy(line_reserve(last, stage.len), stage.p, stage.len);
        A.len += stage.len;
    }
    /* Only an idle writer is woken: a busy one comes back every
     * AUDIT_FLUSH_MS, so a stream of writes costs the loop no context
     * switch per line. */
    if (A.idle && (A.len || A.dropped)) {
        A.idle = 0;
        pthread_cond_signal(&A.cv);
    }
    pthread_mutex_unlock(&A.mu);
    stage.len = 0;
    stage.lines = 0;
}

/* A server event (no client): the fields that are not NULL, in Apache's
 * order (AuditEvent.addEntry ignores nulls). */
static void emit(const char *session, const char *user, const char *op, const char *znode,
                 enum audit_result result)
{
    struct line *h = &scratch_head;
    h->len = 0;
    if (session)
        line_field(h, "session", session, strlen(session));
    if (user)
        line_field(h, "user", user, strlen(user));
    stage_line(result, slice_line(h), slice_of(op), slice_of(znode), NULL, NULL);
}

/* Apache's ServerCnxn.getSessionIdHex: "0x" and Long.toHexString (no
 * leading zeros). */
static void session_hex(char out[20], int64_t id)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[16];
    int n = 0;
    uint64_t v = (uint64_t)id;
    do {
        tmp[n++] = hex[v & 15];
        v >>= 4;
    } while (v);
    out[0] = '0';
    out[1] = 'x';
    for (int i = 0; i < n; i++)
        out[2 + i] = tmp[n - 1 - i];
    out[2 + n] = '\0';
}

/* Java's String.hashCode over the bytes (exact for ASCII ids). */
static int32_t java_hash(const char *s)
{
    uint32_t h = 0;
    for (; *s; s++)
        h = 31 * h + (unsigned char)*s;
    return (int32_t)h;
}

/*
 * Apache keeps a connection's ids in a ConcurrentHashMap-backed set, so
 * AuthUtil.getUsers lists them in the map's bin order, not in the order they
 * were added ("alice,127.0.0.1").  The bin of an Id: jute's Id.hashCode
 * (17*37 + scheme, *37 + id), spread as ConcurrentHashMap.spread, masked by
 * the table size (16, doubling past 3/4 full); within a bin, insertion order.
 */
static uint32_t apache_bin(const struct auth_id *a, uint32_t cap)
{
    int32_t h = (int32_t)((uint32_t)(37 * 17) + (uint32_t)java_hash(a->scheme));
    h = (int32_t)(37u * (uint32_t)h + (uint32_t)java_hash(a->id));
    uint32_t u = (uint32_t)h;
    return ((u ^ (u >> 16)) & 0x7fffffffu) & (cap - 1);
}

/* AuthUtil.getUsers: each auth id's user name (digest: the part before ':';
 * "super" has no provider, so no name), joined with ',' in Apache's bin
 * order; NULL when none. */
static char *users(const struct auth_info *auth, char *buf, size_t cap)
{
    enum { MAX_IDS = 64 }; /* an absurd number of ids: the line names the first ones */
    if (!auth || auth->n == 0)
        return NULL;
    int n = auth->n < MAX_IDS ? auth->n : MAX_IDS;
    uint32_t tcap = 16;
    while ((uint32_t)auth->n > tcap / 4 * 3)
        tcap *= 2;
    uint32_t bin[MAX_IDS];
    int order[MAX_IDS];
    for (int i = 0; i < n; i++) { /* a stable insertion sort by bin */
        bin[i] = apache_bin(&auth->ids[i], tcap);
        int k = i;
        for (; k > 0 && bin[order[k - 1]] > bin[i]; k--)
            order[k] = order[k - 1];
        order[k] = i;
    }
    size_t len = 0;
    for (int j = 0; j < n; j++) {
        const struct auth_id *a = &auth->ids[order[j]];
        if (!strcmp(a->scheme, "super") || !a->id[0])
            continue;
        const char *colon = strcmp(a->scheme, "digest") ? NULL : strchr(a->id, ':');
        size_t m = colon ? (size_t)(colon - a->id) : strlen(a->id);
        if (len + m + 2 > cap)
            break;
        if (len)
            buf[len++] = ',';
        memcpy(buf + len, a->id, m);
        len += m;
    }
    buf[len] = '\0';
    return len ? buf : NULL;
}

static const char *auth_ip(const struct auth_info *auth)
{
    for (int i = 0; auth && i < auth->n; i++)
        if (!strcmp(auth->ids[i].scheme, "ip"))
            return auth->ids[i].id;
    return NULL;
}

/*
 * A client's first fields, "session=0x..\tuser=..\tip=..".  They change
 * only with the connection's ids or session, while the user field costs a
 * hash and a sort of every id: so they are built once and kept in `auth`
 * (acl.h: auth_info_add and auth_info_free drop them), and each later line
 * of the connection copies them (client_head, below).
 */
static struct zk_slice build_client_head(int64_t session, struct auth_info *auth)
{
    struct line *h = &scratch_head;
    h->len = 0;
    char sid[20], ubuf[1024];
    session_hex(sid, session);
    line_field(h, "session", sid, strlen(sid));
    const char *user = users(auth, ubuf, sizeof ubuf), *ip = auth_ip(auth);
    if (user)
        line_field(h, "user", user, strlen(user));
    if (ip)
        line_field(h, "ip", ip, strlen(ip));
    if (!auth)
        return slice_line(h);
    free(auth->audit_prefix);
    auth->audit_prefix = zk_xstrndup(h->p, h->len);
    auth->audit_prefix_len = h->len;
    auth->audit_session = session;
    return (struct zk_slice){auth->audit_prefix, (int32_t)auth->audit_prefix_len};
}

static inline struct zk_slice client_head(int64_t session, struct auth_info *auth)
{
    if (auth && auth->audit_prefix && auth->audit_session == session)
        return (struct zk_slice){auth->audit_prefix, (int32_t)auth->audit_prefix_len};
    return build_client_head(session, auth);
}

/* ZKUtil.aclToString: "scheme:id:perms" per entry, perms in Apache's
 * c, d, r, w, a order, entries run together without a separator. */
static void acl_text(struct line *l, const struct acl_list *acl)
{
    static const struct {
        int32_t bit;
        char c;
    } perms[] = {{ZK_PERM_CREATE, 'c'}, {ZK_PERM_DELETE, 'd'}, {ZK_PERM_READ, 'r'},
                 {ZK_PERM_WRITE, 'w'}, {ZK_PERM_ADMIN, 'a'}};
    for (int i = 0; i < acl->n; i++) {
        line_str(l, acl->e[i].scheme);
        line_add(l, ":", 1);
        line_str(l, acl->e[i].id);
        line_add(l, ":", 1);
        for (size_t k = 0; k < sizeof perms / sizeof perms[0]; k++)
            if (acl->e[i].perms & perms[k].bit)
                line_add(l, &perms[k].c, 1);
    }
}

/* One client line.  `znode.p` NULL, `znode_type` NULL and `acl` NULL leave
 * their fields out. */
static void client_line(int64_t session, struct auth_info *auth, struct zk_slice op,
                        struct zk_slice znode, const char *znode_type,
                        const struct acl_list *acl, enum audit_result result)
{
    struct line *a = NULL;
    if (acl) { /* (setAcl only: rare enough to format here) */
        a = &scratch_acl;
        a->len = 0;
        acl_text(a, acl);
    }
    stage_line(result, client_head(session, auth), op, znode, znode_type, a);
}

/* ---- events ---- */

void audit_server(const char *operation, enum audit_result result)
{
    if (!audit_on)
        return;
    stage_ms_valid = 0; /* (outside the loop: read the clock now) */
    emit(NULL, A.user, operation, NULL, result);
}

void audit_request(int64_t session, struct auth_info *auth, const char *operation,
                   const char *znode, const char *znode_type, enum audit_result result)
{
    if (audit_on)
        client_line(session, auth, slice_of(operation), slice_of(znode), znode_type, NULL,
                    result);
}

void audit_ephemeral_deleted(int64_t session, const char *path)
{
    if (!audit_on)
        return;
    char sid[20];
    session_hex(sid, session);
    emit(sid, A.user, "ephemeralZNodeDeletionOnSessionCloseOrExpire", path, AUDIT_SUCCESS);
}

void audit_session_event(int64_t session, struct auth_info *auth, const char *operation,
                         enum audit_result result)
{
    if (audit_on && A.sessions)
        audit_request(session, auth, operation, NULL, NULL, result);
}

const char *audit_create_mode(int32_t flags)
{
    static const char *const modes[] = {
        "persistent", "ephemeral", "persistent_sequential", "ephemeral_sequential",
        "container", "persistent_with_ttl", "persistent_sequential_with_ttl",
    };
    return flags >= 0 && flags < (int32_t)(sizeof modes / sizeof modes[0]) ? modes[flags] : NULL;
}

/* Steps over a create's ACL to its flags: only the mode is logged, so the
 * entries are not decoded (no allocation per audited create). */
static void skip_acl(struct jute_in *in)
{
    int32_t n = jute_get_count(in, 12);
    for (int32_t i = 0; i < n && !in->err; i++) {
        (void)jute_get_int(in);
        (void)jute_get_string(in);
        (void)jute_get_string(in);
    }
}

/* A write's operation name in Apache's lines; `.p` NULL for a type that
 * is not logged this way. */
static struct zk_slice write_op_name(int32_t type)
{
    switch (type) {
    case ZK_OP_CREATE:
    case ZK_OP_CREATE2:
    case ZK_OP_CREATECONTAINER:
    case ZK_OP_CREATETTL:
        return LITERAL("create");
    case ZK_OP_DELETE:
    case ZK_OP_DELETECONTAINER:
        return LITERAL("delete");
    case ZK_OP_SETDATA:
        return LITERAL("setData");
    case ZK_OP_SETACL:
        return LITERAL("setAcl");
    default:
        return (struct zk_slice){0};
    }
}

static int is_create(int32_t type)
{
    return type == ZK_OP_CREATE || type == ZK_OP_CREATE2 || type == ZK_OP_CREATECONTAINER ||
           type == ZK_OP_CREATETTL;
}

void audit_write_op(int64_t session, struct auth_info *auth, int32_t type, struct jute_in body,
                    const char *done_path, int err, int in_multi)
{
    struct zk_slice op = audit_on ? write_op_name(type) : (struct zk_slice){0};
    if (!op.p)
        return;
    /* A done write logs the path it did (a sequential create's name);
     * otherwise the requested path, straight from the request's bytes,
     * which a create or setAcl also reads on for its other fields. */
    int reads_body = is_create(type) || type == ZK_OP_SETACL;
    struct zk_slice path = {0};
    if (err || !done_path || reads_body) {
        path = jute_get_string(&body);
        if (body.err)
            return;
    }
    struct zk_slice znode = !err && done_path ? slice_of(done_path) : path;
    const char *mode = NULL;
    struct acl_list acl = {0};
    int have_acl = 0;
    if (is_create(type)) {
        (void)jute_get_buffer(&body);
        skip_acl(&body);
        int32_t flags = jute_get_int(&body);
        if (!body.err)
            mode = audit_create_mode(flags);
        /* In a multi Apache finds the mode by the path created, which a
         * sequential or TTL create does not match. */
        if (in_multi && (type == ZK_OP_CREATETTL ||
                         (done_path && (znode.len != path.len ||
                                        memcmp(znode.p, path.p, (size_t)path.len)))))
            mode = NULL;
    } else if (type == ZK_OP_SETACL) {
        have_acl = acl_list_decode(&body, &acl) == 0;
    }
    client_line(session, auth, op, znode, mode, have_acl ? &acl : NULL,
                err ? AUDIT_FAILURE : AUDIT_SUCCESS);
    if (have_acl)
        acl_list_free(&acl);
}

/* ---- a learner's forwarded requests ---- */

/* A multi's results: 1 if one of them is an error (the multi failed), 0
 * if none, -1 if they do not decode. */
static int multi_failed(struct jute_in r)
{
    for (;;) {
        int32_t type = jute_get_int(&r);
        int done = jute_get_bool(&r);
        (void)jute_get_int(&r);
        if (r.err)
            return -1;
        if (done)
            return 0;
        if (type == -1)
            return 1;
        struct zk_stat st;
        if (type == ZK_OP_CREATE || type == ZK_OP_CREATE2)
            (void)jute_get_string(&r);
        if (type == ZK_OP_CREATE2 || type == ZK_OP_SETDATA)
            jute_get_stat(&r, &st);
    }
}

/* A forwarded multi, as the leader would have logged it (request.c): one
 * line per write op of a multi that succeeded, with each created path from
 * the results, or one multiOperation failure. */
static void forwarded_multi(int64_t session, struct auth_info *auth, struct jute_in rq,
                            struct jute_in rp)
{
    int failed = multi_failed(rp);
    if (failed) {
        if (failed > 0)
            client_line(session, auth, LITERAL("multiOperation"), (struct zk_slice){0}, NULL, NULL,
                        AUDIT_FAILURE);
        return;
    }
    for (;;) {
        int32_t type = jute_get_int(&rq);
        int done = jute_get_bool(&rq);
        (void)jute_get_int(&rq);
        int32_t rtype = jute_get_int(&rp);
        int rdone = jute_get_bool(&rp);
        (void)jute_get_int(&rp);
        if (rq.err || rp.err || done || rdone)
            return;
        char *created = NULL;
        struct zk_stat st;
        if (rtype == ZK_OP_CREATE || rtype == ZK_OP_CREATE2) {
            struct zk_slice p = jute_get_string(&rp);
            if (!rp.err)
                created = zk_xstrndup(p.p, (size_t)p.len);
        }
        if (rtype == ZK_OP_CREATE2 || rtype == ZK_OP_SETDATA)
            jute_get_stat(&rp, &st);
        audit_write_op(session, auth, type, rq, created, 0, 1);
        free(created);
        if (prep_skip_op(type, &rq))
            return;
    }
}

void audit_forwarded(int64_t session, struct auth_info *auth, const uint8_t *req, size_t req_len,
                     const uint8_t *reply, size_t reply_len)
{
    if (!audit_on)
        return;
    struct jute_in rq, rp;
    jute_in_init(&rq, req, req_len);
    jute_in_init(&rp, reply, reply_len);
    (void)jute_get_int(&rq);
    int32_t type = jute_get_int(&rq);
    (void)jute_get_int(&rp);
    (void)jute_get_long(&rp);
    int32_t err = jute_get_int(&rp);
    if (rq.err || rp.err)
        return;
    if (type == ZK_OP_MULTI) {
        if (!err) /* (MARSHALLINGERROR for the whole multi logs nothing) */
            forwarded_multi(session, auth, rq, rp);
        return;
    }
    if (type == ZK_OP_RECONFIG) {
        if (err != ZK_MARSHALLINGERROR)
            audit_request(session, auth, "reconfig", err ? NULL : "/zookeeper/config", NULL,
                          err ? AUDIT_FAILURE : AUDIT_SUCCESS);
        return;
    }
    char *created = NULL;
    if (!err && is_create(type)) {
        struct zk_slice p = jute_get_string(&rp);
        if (!rp.err)
            created = zk_xstrndup(p.p, (size_t)p.len);
    }
    audit_write_op(session, auth, type, rq, created, err, 0);
    free(created);
}

int audit_forwarded_type(int32_t type)
{
    return write_op_name(type).p || type == ZK_OP_MULTI || type == ZK_OP_RECONFIG;
}

/* ---- the writer thread ---- */

static void write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(A.fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            /* A full or failing disk: say so once per batch and go on; the
             * loop is never held up by the audit file. */
            log_error("audit log: write failed: %s", w < 0 ? strerror(errno) : "short write");
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

/* The text of a literal, copied at a fixed length (no strlen). */
#define PUT_LIT(at, lit) (memcpy((at), (lit), sizeof(lit) - 1), (at) += sizeof(lit) - 1)

static char *put(char *at, const char *s, size_t n)
{
    memcpy(at, s, n);
    return at + n;
}

/* log4j's ISO8601 date, "2026-12-05 18:20:01,123" (23 bytes), in local
 * time; the formatted second is kept while it does not change. */
static char *put_timestamp(char *at, int64_t ms)
{
    time_t sec = (time_t)(ms / 1000);
    if (sec != A.ts_sec) {
        struct tm tm;
        localtime_r(&sec, &tm);
        strftime(A.ts, sizeof A.ts, "%Y-%m-%d %H:%M:%S", &tm);
        A.ts_len = strlen(A.ts);
        A.ts_sec = sec;
    }
    at = put(at, A.ts, A.ts_len);
    int m = (int)(ms % 1000);
    *at++ = ',';
    *at++ = (char)('0' + m / 100);
    *at++ = (char)('0' + m / 10 % 10);
    *at++ = (char)('0' + m % 10);
    return at;
}

/* Appends the text of one staged record, Apache's line: log4j's timestamp,
 * level and logger name (not for syslog, which stamps its own), then the
 * fields in Apache's order and the result.  The line's bytes are reserved
 * at once: this runs once per audited write, on the writer thread. */
static void format_rec(struct line *l, const struct rec *r)
{
    static const char *const results[] = {"success", "failure", "invoked"};
    const char *head = (const char *)(r + 1), *znode = head + r->head_len;
    size_t max = 128 /* timestamp, level, logger, keys, result */ + r->head_len + r->op_len +
                 r->znode_len + r->type_len + r->acl_len;
    char *at = line_reserve(l, max), *begin = at;
    if (A.fd >= 0) {
        at = put_timestamp(at, r->ms);
        if (r->result == AUDIT_FAILURE)
            PUT_LIT(at, " ERROR audit.Slf4jAuditLogger: ");
        else
            PUT_LIT(at, " INFO audit.Slf4jAuditLogger: ");
    }
    at = put(at, head, r->head_len);
    if (r->head_len)
        *at++ = '\t';
    PUT_LIT(at, "operation=");
    at = put(at, r->op, r->op_len);
    if (r->has_znode) {
        PUT_LIT(at, "\tznode=");
        at = put(at, znode, r->znode_len);
    }
    if (r->znode_type) {
        PUT_LIT(at, "\tznode_type=");
        at = put(at, r->znode_type, r->type_len);
    }
    if (r->has_acl) {
        PUT_LIT(at, "\tacl=");
        at = put(at, znode + r->znode_len, r->acl_len);
    }
    PUT_LIT(at, "\tresult=");
    at = put(at, results[r->result], 7); /* (all three are 7 bytes) */
    l->len -= max - (size_t)(at - begin);
}

/* Writes a batch of records: formatted into `out`, written in pieces of
 * AUDIT_WRITE_CHUNK (one write(2) for many lines, as log4j's buffered
 * appender does), or one syslog(3) call per line. */
#define AUDIT_WRITE_CHUNK (256u << 10)

static void write_batch(struct line *out, const char *p, size_t n)
{
    out->len = 0;
    for (size_t off = 0; off < n;) {
        const struct rec *r = (const struct rec *)(p + off);
        off += r->len;
        format_rec(out, r);
        if (A.fd < 0) {
            line_add(out, "", 1);
            syslog(r->result == AUDIT_FAILURE ? LOG_ERR : LOG_INFO, "%s", out->p);
            out->len = 0;
            continue;
        }
        line_add(out, "\n", 1);
        if (out->len >= AUDIT_WRITE_CHUNK) {
            write_all(out->p, out->len);
            out->len = 0;
        }
    }
    if (out->len)
        write_all(out->p, out->len);
}

static void *writer(void *arg)
{
    (void)arg;
    struct line batch[AUDIT_QUEUE];
    struct line out = {0}; /* the text of a batch's records */
    pthread_mutex_lock(&A.mu);
    for (;;) {
        while (A.nqueue == 0 && !A.dropped && !A.stopping) {
            A.idle = 1;
            pthread_cond_wait(&A.cv, &A.mu);
        }
        A.idle = 0;
        if (A.nqueue == 0 && !A.dropped && A.stopping)
            break;
        /* Take the whole queue: the loop goes on queueing behind it. */
        int n = A.nqueue;
        memcpy(batch, A.queue, (size_t)n * sizeof batch[0]);
        uint64_t dropped = A.dropped;
        A.nqueue = 0;
        A.len = 0;
        A.dropped = 0;
        pthread_mutex_unlock(&A.mu);
        for (int i = 0; i < n; i++)
            write_batch(&out, batch[i].p, batch[i].len);
        if (dropped) {
            log_error("audit log: %" PRIu64 " lines dropped: the audit file fell %u bytes "
                      "behind", dropped, AUDIT_MAX_BUFFER);
            char msg[128];
            int m = snprintf(msg, sizeof msg, "# zkd: %" PRIu64 " audit lines dropped\n", dropped);
            if (A.fd >= 0)
                write_all(msg, (size_t)m);
            else
                syslog(LOG_ERR, "%s", msg);
        }
        pthread_mutex_lock(&A.mu);
        for (int i = 0; i < n; i++) {
            batch[i].len = 0;
            batch[i].lines = 0;
            if (A.nspare < AUDIT_QUEUE)
                A.spare[A.nspare++] = batch[i];
            else
                free(batch[i].p);
        }
        pthread_mutex_unlock(&A.mu);
        /* Let lines gather: one write(2) per period under a stream of writes. */
        struct timespec period = {0, AUDIT_FLUSH_MS * 1000000L};
        nanosleep(&period, NULL);
        pthread_mutex_lock(&A.mu);
    }
    pthread_mutex_unlock(&A.mu);
    free(out.p);
    return NULL;
}

/* ---- open, close ---- */

static void default_path(const struct zkd_config *cfg, char *out, size_t cap)
{
    const char *dir = getenv("ZOO_LOG_DIR");
    snprintf(out, cap, "%s/zookeeper_audit.log", dir && dir[0] ? dir : cfg->data_dir);
}

int audit_open(const struct zkd_config *cfg)
{
    if (!cfg->audit_enable || audit_on)
        return 0;
    char path[4200];
    if (cfg->audit_log_file[0])
        snprintf(path, sizeof path, "%s", cfg->audit_log_file);
    else
        default_path(cfg, path, sizeof path);
    if (!strcmp(path, "syslog")) {
        openlog("zkd-audit", LOG_PID, LOG_AUTH);
        A.fd = -1;
    } else {
        A.fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (A.fd < 0) {
            log_error("audit.enable: cannot open the audit log %s: %s", path, strerror(errno));
            return -1;
        }
    }
    const struct passwd *pw = getpwuid(getuid());
    snprintf(A.user, sizeof A.user, "%s", pw ? pw->pw_name : "<NA>");
    A.sessions = cfg->audit_session_events;
    A.nqueue = A.nspare = 0;
    A.len = 0;
    A.dropped = 0;
    A.stopping = 0;
    A.ts_sec = 0;
    stage_ms_valid = 0;
    pthread_mutex_init(&A.mu, NULL);
    pthread_cond_init(&A.cv, NULL);
    if (pthread_create(&A.thread, NULL, writer, NULL)) {
        log_error("audit.enable: cannot start the audit writer thread");
        if (A.fd >= 0)
            close(A.fd);
        A.fd = -1;
        return -1;
    }
    audit_on = 1;
    log_info("ZooKeeper audit is enabled: %s", path);
    return 0;
}

void audit_close(void)
{
    if (!audit_on)
        return;
    audit_flush();
    audit_on = 0;
    pthread_mutex_lock(&A.mu);
    A.stopping = 1;
    pthread_cond_signal(&A.cv);
    pthread_mutex_unlock(&A.mu);
    pthread_join(A.thread, NULL);
    for (int i = 0; i < A.nspare; i++)
        free(A.spare[i].p);
    A.nspare = 0;
    free(stage.p);
    stage = (struct line){0};
    free(scratch_head.p);
    scratch_head = (struct line){0};
    free(scratch_acl.p);
    scratch_acl = (struct line){0};
    if (A.fd >= 0)
        close(A.fd);
    else
        closelog();
    A.fd = -1;
    pthread_mutex_destroy(&A.mu);
    pthread_cond_destroy(&A.cv);
}
