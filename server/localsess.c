/*
 * localsess.c - see localsess.h.
 */
#include "localsess.h"

#include <string.h>

#include "audit.h"
#include "conn.h"
#include "log.h"
#include "prep.h"
#include "server.h"
#include "zk/proto.h"

int localsess_enabled(const struct server *s) { return s->cfg.local_sessions && s->q; }

struct session *localsess_create(struct server *s, int32_t timeout)
{
    /* Ids come from the db's generator (server id in the top byte, as
     * Apache's LocalSessionTracker), so they never meet a global one. */
    int64_t id;
    do
        id = sessions_next_id(&s->db.sessions);
    while (sessions_get(&s->local_sessions, id));
    struct session *se = sessions_add(&s->local_sessions, id, timeout, clock_mono_ms());
    se->local = SESSION_LOCAL;
    return se;
}

struct session *localsess_find(struct server *s, int64_t id)
{
    struct session *se = sessions_get(&s->db.sessions, id);
    return se ? se : sessions_get(&s->local_sessions, id);
}

void localsess_touch(struct server *s, struct session *se, int64_t now)
{
    if (se->local == SESSION_STAND_IN)
        return;
    sessions_touch(se->local != SESSION_GLOBAL ? &s->local_sessions : &s->db.sessions, se, now);
}

void localsess_close(struct server *s, struct session *se)
{
    if (se->conn)
        se->conn->session = NULL;
    sessions_remove(&s->local_sessions, se);
}

static void expire_local(struct session *se, void *d)
{
    struct server *s = d;
    struct conn *c = se->conn;
    log_info("expiring local session 0x%llx, timeout of %d ms exceeded", (unsigned long long)se->id,
             se->timeout);
    audit_session_event(se->id, c ? &c->auth : NULL, "expireSession", AUDIT_SUCCESS);
    localsess_close(s, se);
    if (c)
        conn_close_after_flush(c);
}

void localsess_expire(struct server *s, int64_t now)
{
    sessions_expire(&s->local_sessions, now, expire_local, s);
}

static void drop_one(struct session *se, void *d) { localsess_close(d, se); }

void localsess_drop_all(struct server *s)
{
    /* Everything is due: expiry's walk with a time past every bucket. */
    sessions_expire(&s->local_sessions, INT64_MAX, drop_one, s);
}

uint32_t localsess_count(const struct server *s) { return sessions_count(&s->local_sessions); }

/* CreateRequest: path, data, acl, flags; 1 for EPHEMERAL(1) or
 * EPHEMERAL_SEQUENTIAL(3).  An undecodable body is no ephemeral: prep
 * answers it. */
static int create_is_ephemeral(struct jute_in *in)
{
    (void)jute_get_string(in);
    (void)jute_get_buffer(in);
    int32_t n = jute_get_count(in, 12);
    for (int32_t i = 0; i < n && !in->err; i++) {
        (void)jute_get_int(in);
        (void)jute_get_string(in);
        (void)jute_get_string(in);
    }
    int32_t flags = jute_get_int(in);
    return !in->err && (flags == ZK_EPHEMERAL || flags == ZK_EPHEMERAL_SEQUENTIAL);
}

static int multi_has_ephemeral(struct jute_in *in)
{
    for (;;) {
        int32_t type = jute_get_int(in);
        int done = jute_get_bool(in);
        (void)jute_get_int(in);
        if (in->err || done)
            return 0;
        if (type == ZK_OP_CREATE || type == ZK_OP_CREATE2) {
            if (create_is_ephemeral(in))
                return 1;
        } else if (prep_skip_op(type, in)) {
            return 0;
        }
    }
}

int localsess_wants_global(const uint8_t *p, size_t len)
{
    struct jute_in in;
    jute_in_init(&in, p, len);
    (void)jute_get_int(&in); /* xid */
    int32_t type = jute_get_int(&in);
    if (in.err)
        return 0;
    if (type == ZK_OP_CREATE || type == ZK_OP_CREATE2)
        return create_is_ephemeral(&in);
    return type == ZK_OP_MULTI && multi_has_ephemeral(&in);
}

static void make_global(struct server *s, struct session *se)
{
    sessions_take(&s->local_sessions, se);
    se->local = SESSION_GLOBAL;
    sessions_put(&s->db.sessions, se, clock_mono_ms());
}

int32_t localsess_upgrade(struct server *s, struct session *se)
{
    log_info("upgrading session 0x%llx", (unsigned long long)se->id);
    make_global(s, se);
    return se->timeout;
}

int32_t localsess_begin_upgrade(struct server *s, struct session *se)
{
    (void)s;
    log_info("upgrading session 0x%llx", (unsigned long long)se->id);
    se->local = SESSION_UPGRADING;
    return se->timeout;
}

void localsess_committed(struct server *s, int64_t id)
{
    struct session *se = sessions_get(&s->local_sessions, id);
    if (!se)
        return;
    log_info("committing global session 0x%llx", (unsigned long long)id);
    make_global(s, se);
}

int localsess_in_local_table(const struct session *se)
{
    return se->local == SESSION_LOCAL || se->local == SESSION_UPGRADING;
}

int localsess_leader_tracks(const struct session *se) { return se->local == SESSION_GLOBAL || se->local == SESSION_UPGRADING; }

struct session *localsess_for_forwarded(struct server *s, int64_t id, struct session *stub)
{
    struct session *se = sessions_get(&s->db.sessions, id);
    if (se || !s->cfg.local_sessions || !id || (int)((uint64_t)id >> 56) == s->myid)
        return se;
    memset(stub, 0, sizeof *stub);
    stub->id = id;
    stub->local = SESSION_STAND_IN;
    stub->timeout = s->cfg.max_session_timeout;
    return stub;
}
