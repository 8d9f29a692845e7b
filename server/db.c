/*
 * db.c - see db.h.
 */
#include "db.h"

#include <sched.h>
#include <string.h>

#include "digest.h"
#include "zk/jute.h"

void db_init(struct db *db, int tick_ms, int server_id)
{
    memset(db, 0, sizeof *db);
    db->tick_ms = tick_ms;
    db->server_id = server_id;
    sessions_init(&db->sessions, tick_ms, server_id);
    db->data_watches = watches_new();
    db->child_watches = watches_new();
    pthread_mutex_init(&db->write_lock, NULL);
}

void db_write_lock(struct db *db)
{
    if (db->write_depth++ == 0)
        pthread_mutex_lock(&db->write_lock);
}

void db_write_unlock(struct db *db)
{
    if (--db->write_depth == 0)
        pthread_mutex_unlock(&db->write_lock);
}

int db_write_trylock(struct db *db)
{
    if (db->write_depth == 0 && pthread_mutex_trylock(&db->write_lock)) {
        __atomic_store_n(&db->loop_waits, 1, __ATOMIC_RELEASE);
        return 0;
    }
    db->write_depth++;
    db_write_wait_over(db);
    return 1;
}

void db_write_wait_over(struct db *db)
{
    if (__atomic_load_n(&db->loop_waits, __ATOMIC_RELAXED))
        __atomic_store_n(&db->loop_waits, 0, __ATOMIC_RELEASE);
}

void db_walk_lock(struct db *db)
{
    /* At most one loop turn: the loop takes the lock in its next one, or
     * has no write left that wants it and says so. */
    while (__atomic_load_n(&db->loop_waits, __ATOMIC_ACQUIRE))
        sched_yield();
    pthread_mutex_lock(&db->write_lock);
}
void db_walk_unlock(struct db *db) { pthread_mutex_unlock(&db->write_lock); }

void db_free(struct db *db)
{
    tree_free(db->tree);
    db->tree = NULL;
    db->digest_of = NULL;
    sessions_free(&db->sessions);
    watches_free(db->data_watches);
    watches_free(db->child_watches);
    db->data_watches = db->child_watches = NULL;
    pthread_mutex_destroy(&db->write_lock);
}

void db_reset(struct db *db)
{
    db_write_lock(db);
    tree_free(db->tree);
    db->tree = tree_new_empty();
    db->digest_of = NULL; /* a new tree (maybe at the old address) */
    db->acl_zxid = 0;
    sessions_free(&db->sessions);
    sessions_init(&db->sessions, db->tick_ms, db->server_id);
    db_write_unlock(db);
}

void db_put_sessions(const struct db *db, struct jute_out *out)
{
    jute_put_int(out, (int32_t)sessions_count(&db->sessions));
    int64_t id;
    void *v;
    I64MAP_FOREACH(&db->sessions.map, id, v)
    {
        struct session *se = v;
        jute_put_long(out, se->id);
        jute_put_int(out, se->timeout);
    }
}

int db_snapshot_body(struct db *db, int (*put)(const void *p, size_t len, void *d), void *d)
{
    struct jute_out out;
    jute_out_init(&out);
    db_put_sessions(db, &out);
    int rc = put(out.p, out.len, d);
    jute_out_free(&out);
    return rc ? rc : tree_serialize_apache(db->tree, put, d);
}

struct image_digest {
    struct digest_follow *follow;
    int exact; /* no node replaced another: the image's digest is the tree's */
};

/* Apache's DataTree.deserialize sums the digest node by node as it loads;
 * here a second thread hashes the records behind the loader, which spares
 * recovery a walk of the whole tree afterwards. */
static void sum_digest(const struct tree_image_node *node, void *d)
{
    struct image_digest *dg = d;
    digest_follow_add(dg->follow, node->rec, node->end);
    if (node->replaced && node->plen) /* the root always replaces tree_new_empty's */
        dg->exact = 0;
}

int db_load_snapshot_body(struct db *db, const void *p, size_t len, size_t *used,
                          int64_t now_ms)
{
    db->loaded_digest_ok = 0;
    struct jute_in in;
    jute_in_init(&in, p, len);
    int32_t n = jute_get_count(&in, 12);
    for (int32_t i = 0; i < n && !in.err; i++) {
        int64_t id = jute_get_long(&in);
        int32_t timeout = jute_get_int(&in);
        if (id == 0) /* 0 is no session: the table cannot hold it */
            return -1;
        if (!in.err)
            sessions_add(&db->sessions, id, timeout, now_ms);
    }
    if (in.err)
        return -1;
    struct image_digest dg = {digest_follow_start(), 1};
    int rc = tree_load_apache(db->tree, &in, sum_digest, &dg);
    if (digest_follow_finish(dg.follow, &db->loaded_digest))
        dg.exact = 0;
    if (rc)
        return -1;
    db->loaded_digest_ok = dg.exact;
    *used = in.off;
    return 0;
}
