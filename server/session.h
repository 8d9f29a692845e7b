/*
 * session.h - the session table and Apache's bucketed expiry queue.
 *
 * Expiry (Apache's ExpiryQueue): a session due at time T sits in the bucket
 * for T rounded up to the next multiple of tickTime; touching a session moves
 * it to a later bucket; every tick the server expires whole buckets whose time
 * has passed.  Touch and expire are O(1) per session.
 *
 * Session ids and passwords are Apache's (SessionTrackerImpl,
 * ZooKeeperServer.generatePasswd): an id is the monotonic time in ms with the
 * server id in the top byte; the password is a function of the id alone,
 * recomputed on reconnect, so a session opened on Apache reconnects to zkd on
 * the same dataDir and back.  (Apache's password is no secret: anyone who
 * knows a session id can compute it; that is Apache's protocol.)
 */
#ifndef ZKD_SESSION_H
#define ZKD_SESSION_H

#include <stdint.h>

#include "hset.h"

struct conn;

/* Where a session lives (localsess.h). */
enum session_kind {
    SESSION_GLOBAL = 0,    /* in the db's table, known to every member */
    SESSION_LOCAL = 1,     /* in the server's local table, not db's */
    SESSION_STAND_IN = 2,  /* a stand-in for another member's local session */
    SESSION_UPGRADING = 3, /* in the local table, its createSession not yet committed */
};

struct session {
    int64_t id;
    int32_t timeout;        /* negotiated, ms */
    int64_t bucket;         /* expiry bucket time, ms (monotonic clock) */
    struct session *bprev, *bnext;
    struct conn *conn;      /* attached connection, or NULL */
    int closing;            /* close or expiry is in progress */
    enum session_kind local; /* which table holds it (localsess.h) */
};

struct sessions {
    struct i64map map;      /* id -> struct session* */
    struct i64map buckets;  /* bucket time -> struct session* (list head) */
    int64_t tick;           /* ms */
    int64_t next_expiration;
    int64_t next_id;
};

/* server_id: the member's myid, 0 standalone (numbered as Apache does: 1). */
void sessions_init(struct sessions *s, int tick_ms, int server_id);
void sessions_free(struct sessions *s);

/* A fresh, unused session id (Apache's layout: server id in the top byte). */
int64_t sessions_next_id(struct sessions *s);
/* Adds a session with a known id (from a createSession txn) and schedules it. */
struct session *sessions_add(struct sessions *s, int64_t id, int32_t timeout, int64_t now);
struct session *sessions_get(const struct sessions *s, int64_t id);
/* Unschedules and frees a session. */
void sessions_remove(struct sessions *s, struct session *se);
/* Unschedules a session and drops it from the table without freeing it: the
 * caller owns it (and hands it to sessions_put of another table). */
void sessions_take(struct sessions *s, struct session *se);
/* Adds a session taken from another table (the struct, so pointers to it
 * stay valid) and schedules it; the table owns it again.  Its id must not
 * be in this table. */
void sessions_put(struct sessions *s, struct session *se, int64_t now);
/* Moves the session's deadline to now + timeout. */
void sessions_touch(struct sessions *s, struct session *se, int64_t now);
/* The 16-byte password of a session id, as Apache computes it. OUT: pw */
void sessions_password(const struct sessions *s, int64_t id, uint8_t pw[16]);
/* Calls fn for each session whose deadline passed (they stay in the table,
 * marked closing, until the caller removes them). */
void sessions_expire(struct sessions *s, int64_t now, void (*fn)(struct session *se, void *d),
                     void *d);
uint32_t sessions_count(const struct sessions *s);

#endif
