/*
 * test_statemachine.c - unit tests of the state machine (db.h) without a
 * server: prep (requests -> checked, applied ops), apply (whole transactions,
 * undo, the journal's watch events), sessions (creation, closing, expiry
 * buckets) and watches (standard, persistent, recursive), through the same
 * calls the server makes.  Watch events arrive through the db's hook, which
 * here records them instead of writing frames.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "apply.h"
#include "db.h"
#include "dbwalk.h"
#include "digest.h"
#include "localsess.h"
#include "prep.h"
#include "txn.h"
#include "zk/jute.h"
#include "zk/proto.h"
#include "ztest.h"

/* ---- fixture: a db whose hooks record what they are told ---- */

struct seen_event {
    struct watch_owner *owner;
    int32_t type;
    char path[128];
    int64_t zxid;
    /* The ACL the hook was given: entry count and the first entry. */
    int acl_n;
    int32_t acl_perms;
    char acl_scheme[16];
};

static struct seen_event events[64];
static int nevents;
static int64_t closed_sessions[8];
static int nclosed;

static void record_event(struct watch_owner *o, int32_t type, const char *path, int64_t zxid,
                         const struct acl_list *acl, void *d)
{
    (void)d;
    ASSERT_TRUE(nevents < 64);
    ASSERT_TRUE(acl != NULL);
    struct seen_event *e = &events[nevents++];
    memset(e, 0, sizeof *e);
    e->owner = o;
    e->type = type;
    snprintf(e->path, sizeof e->path, "%s", path);
    e->zxid = zxid;
    e->acl_n = acl->n;
    if (acl->n) {
        e->acl_perms = acl->e[0].perms;
        snprintf(e->acl_scheme, sizeof e->acl_scheme, "%s", acl->e[0].scheme);
    }
}

static void record_close(struct session *se, void *d)
{
    (void)d;
    closed_sessions[nclosed++] = se->id;
}

/* When set, write_op and session_txn append every transaction they commit
 * here (long zxid, buffer record), as a log would hold it. */
static struct jute_out *txn_log;

static void log_txn(struct txn *t, int64_t zxid)
{
    if (!txn_log)
        return;
    struct jute_out rec;
    jute_out_init(&rec);
    t->zxid = zxid;
    txn_encode(&rec, t);
    jute_put_long(txn_log, zxid);
    jute_put_buffer(txn_log, rec.p, (int32_t)rec.len);
    jute_out_free(&rec);
}

static void db_open(struct db *db)
{
    db_init(db, 2000, 1);
    db->tree = tree_new();
    db->extended_types = 1;
    db->max_data = 1 << 20;
    db->hooks = (struct db_hooks){record_event, record_close, NULL};
    nevents = nclosed = 0;
}

/* ---- request bodies, encoded as a client sends them ---- */

static void put_acl(struct jute_out *o, const struct acl_list *acl)
{
    acl_list_encode(o, acl);
}

static struct jute_out create_body(const char *path, const char *data, int32_t flags,
                                   const struct acl_list *acl)
{
    struct jute_out o;
    jute_out_init(&o);
    jute_put_string(&o, path);
    jute_put_buffer(&o, data, data ? (int32_t)strlen(data) : -1);
    put_acl(&o, acl ? acl : &acl_open_unsafe);
    jute_put_int(&o, flags);
    return o;
}

static struct jute_out path_data_version(const char *path, const char *data, int32_t version)
{
    struct jute_out o;
    jute_out_init(&o);
    jute_put_string(&o, path);
    if (data)
        jute_put_buffer(&o, data, (int32_t)strlen(data));
    jute_put_int(&o, version);
    return o;
}

/* One write op through prep, as request.c runs it: a txn and a journal at
 * `zxid`; commits (events fire, last_zxid advances) unless it fails or
 * `keep_open` is set.  Returns the ZK code; OUT: *res when res != NULL. */
static int write_op(struct db *db, const struct auth_info *auth, int32_t type, struct jute_out *body,
                    int64_t zxid, struct prep_result *res)
{
    struct jute_in in;
    jute_in_init(&in, body->p, body->len);
    struct txn t;
    txn_init(&t, type, 0x100, 1, 5000);
    struct journal j = {0};
    struct prep_result r;
    int rc = prep_apply_op(db, auth, type, &in, &t, zxid, &j, &r);
    if (!rc) {
        ASSERT_INT_EQ(jute_in_left(&in), 0); /* the whole body was read */
        log_txn(&t, zxid);
        journal_commit(db, &j, zxid);
        db->last_zxid = zxid;
    } else {
        ASSERT_INT_EQ(j.nundo, 0); /* a failed op leaves nothing to undo */
        ASSERT_INT_EQ(t.nops, 0);
    }
    journal_free(&j);
    txn_free(&t);
    jute_out_free(body);
    if (res)
        *res = r;
    else
        free(r.path);
    return rc;
}

static int create(struct db *db, const char *path, const char *data, int32_t flags, int64_t zxid)
{
    struct jute_out b = create_body(path, data, flags, NULL);
    return write_op(db, NULL, ZK_OP_CREATE, &b, zxid, NULL);
}

static struct znode *node(struct db *db, const char *path)
{
    return tree_lookup(db->tree, path, strlen(path));
}

/* ---- prep ---- */

static void test_prep_create_applies_and_fires_in_order(void)
{
    struct db db;
    db_open(&db);
    struct watch_owner exists_w = {0}, child_w = {0};
    watches_add(db.data_watches, "/a", 2, &exists_w, WATCH_STANDARD);
    watches_add(db.child_watches, "/", 1, &child_w, WATCH_STANDARD);
    ASSERT_INT_EQ(create(&db, "/a", "one", 0, 7), 0);
    struct znode *n = node(&db, "/a");
    ASSERT_TRUE(n != NULL);
    struct zk_stat st;
    tree_stat(n, &st);
    ASSERT_INT_EQ(st.czxid, 7);
    ASSERT_INT_EQ(st.mzxid, 7);
    ASSERT_INT_EQ(st.data_length, 3);
    ASSERT_INT_EQ(db.last_zxid, 7);
    /* NodeCreated on the path, then NodeChildrenChanged on the parent. */
    ASSERT_INT_EQ(nevents, 2);
    ASSERT_TRUE(events[0].owner == &exists_w);
    ASSERT_INT_EQ(events[0].type, ZK_EVENT_CREATED);
    ASSERT_STR_EQ(events[0].path, "/a");
    ASSERT_INT_EQ(events[0].zxid, 7);
    ASSERT_TRUE(events[1].owner == &child_w);
    ASSERT_INT_EQ(events[1].type, ZK_EVENT_CHILD);
    ASSERT_STR_EQ(events[1].path, "/");
    /* Standard watches are consumed. */
    ASSERT_INT_EQ(create(&db, "/b", "two", 0, 8), 0);
    ASSERT_INT_EQ(nevents, 2);
    db_free(&db);
}

static void test_prep_rejects_without_applying(void)
{
    struct db db;
    db_open(&db);
    uint64_t before = tree_node_count(db.tree);
    ASSERT_INT_EQ(create(&db, "/x/y", "d", 0, 2), ZK_NONODE);
    ASSERT_INT_EQ(create(&db, "bad", "d", 0, 2), ZK_BADARGUMENTS);
    ASSERT_INT_EQ(create(&db, "/a\x01", "d", 0, 2), ZK_BADARGUMENTS);
    ASSERT_INT_EQ(create(&db, "/a", "d", 0, 2), 0);
    ASSERT_INT_EQ(create(&db, "/a", "d", 0, 3), ZK_NODEEXISTS);
    struct jute_out b = path_data_version("/a", "new", 5);
    ASSERT_INT_EQ(write_op(&db, NULL, ZK_OP_SETDATA, &b, 3, NULL), ZK_BADVERSION);
    b = path_data_version("/a", NULL, 0);
    ASSERT_INT_EQ(write_op(&db, NULL, ZK_OP_DELETE, &b, 3, NULL), 0);
    ASSERT_INT_EQ(tree_node_count(db.tree), before);
    ASSERT_INT_EQ(nevents, 0);
    db_free(&db);
}

static void test_prep_checks_acl_against_the_given_identities(void)
{
    struct db db;
    db_open(&db);
    char *id;
    ASSERT_INT_EQ(acl_digest("alice:secret", 12, &id), 0);
    struct acl_entry e = {ZK_PERM_ALL, "digest", id};
    struct acl_list only_alice = {1, &e};
    struct jute_out b = create_body("/p", "x", 0, &only_alice);
    ASSERT_INT_EQ(write_op(&db, NULL, ZK_OP_CREATE, &b, 2, NULL), 0);
    struct auth_info nobody = {0}, alice = {0}, bob = {0};
    auth_info_add(&alice, "digest", id);
    auth_info_add(&bob, "digest", "bob:xxxx");
    b = path_data_version("/p", "y", -1);
    ASSERT_INT_EQ(write_op(&db, &nobody, ZK_OP_SETDATA, &b, 3, NULL), ZK_NOAUTH);
    b = path_data_version("/p", "y", -1);
    ASSERT_INT_EQ(write_op(&db, &bob, ZK_OP_SETDATA, &b, 3, NULL), ZK_NOAUTH);
    struct prep_result r;
    b = path_data_version("/p", "y", -1);
    ASSERT_INT_EQ(write_op(&db, &alice, ZK_OP_SETDATA, &b, 3, &r), 0);
    ASSERT_INT_EQ(r.stat.version, 1);
    ASSERT_INT_EQ(r.stat.mzxid, 3);
    /* CREATE under /p needs CREATE on /p. */
    b = create_body("/p/c", "z", 0, NULL);
    ASSERT_INT_EQ(write_op(&db, &nobody, ZK_OP_CREATE, &b, 4, NULL), ZK_NOAUTH);
    auth_info_free(&alice);
    auth_info_free(&bob);
    free(id);
    db_free(&db);
}

static void test_prep_resolves_sequential_names(void)
{
    struct db db;
    db_open(&db);
    ASSERT_INT_EQ(create(&db, "/q", NULL, 0, 2), 0);
    struct prep_result r;
    struct jute_out b = create_body("/q/item-", "1", ZK_PERSISTENT_SEQUENTIAL, NULL);
    ASSERT_INT_EQ(write_op(&db, NULL, ZK_OP_CREATE, &b, 3, &r), 0);
    ASSERT_STR_EQ(r.path, "/q/item-0000000000");
    free(r.path);
    ASSERT_INT_EQ(create(&db, "/q/other", "x", 0, 4), 0);
    b = create_body("/q/item-", "2", ZK_PERSISTENT_SEQUENTIAL, NULL);
    ASSERT_INT_EQ(write_op(&db, NULL, ZK_OP_CREATE, &b, 5, &r), 0);
    ASSERT_STR_EQ(r.path, "/q/item-0000000002"); /* the parent's cversion */
    free(r.path);
    db_free(&db);
}

static void test_prep_skip_op_consumes_exactly_the_body(void)
{
    struct jute_out b = create_body("/a", "data", 0, NULL);
    jute_put_int(&b, 0x5eed);
    struct jute_in in;
    jute_in_init(&in, b.p, b.len);
    ASSERT_INT_EQ(prep_skip_op(ZK_OP_CREATE, &in), 0);
    ASSERT_INT_EQ(jute_get_int(&in), 0x5eed);
    jute_out_free(&b);
    b = path_data_version("/a", "d", 3);
    jute_in_init(&in, b.p, b.len - 1); /* truncated */
    ASSERT_INT_EQ(prep_skip_op(ZK_OP_SETDATA, &in), ZK_MARSHALLINGERROR);
    jute_in_init(&in, b.p, b.len);
    ASSERT_INT_EQ(prep_skip_op(ZK_OP_GETDATA, &in), ZK_MARSHALLINGERROR);
    jute_out_free(&b);
}

/* ---- apply and the journal ---- */

static void test_journal_undo_restores_every_field(void)
{
    struct db db;
    db_open(&db);
    ASSERT_INT_EQ(create(&db, "/m", "orig", 0, 2), 0);
    /* Zeroed first: memcmp below also compares the struct's padding. */
    struct zk_stat root_before, m_before, root_after, m_after;
    memset(&root_before, 0, sizeof root_before);
    memset(&m_before, 0, sizeof m_before);
    memset(&root_after, 0, sizeof root_after);
    memset(&m_after, 0, sizeof m_after);
    tree_stat(tree_root(db.tree), &root_before);
    tree_stat(node(&db, "/m"), &m_before);
    /* A multi: create, setData, delete of another node, then undo all. */
    ASSERT_INT_EQ(create(&db, "/gone", "g", 0, 3), 0);
    tree_stat(tree_root(db.tree), &root_before);
    struct txn t;
    txn_init(&t, ZK_OP_MULTI, 0x100, 1, 5000);
    struct journal j = {0};
    struct prep_result r;
    struct jute_out b1 = create_body("/new", "n", 0, NULL), b2 = path_data_version("/m", "changed", 0),
                    b3 = path_data_version("/gone", NULL, -1);
    struct jute_in in;
    jute_in_init(&in, b1.p, b1.len);
    ASSERT_INT_EQ(prep_apply_op(&db, NULL, ZK_OP_CREATE, &in, &t, 4, &j, &r), 0);
    free(r.path);
    jute_in_init(&in, b2.p, b2.len);
    ASSERT_INT_EQ(prep_apply_op(&db, NULL, ZK_OP_SETDATA, &in, &t, 4, &j, &r), 0);
    jute_in_init(&in, b3.p, b3.len);
    ASSERT_INT_EQ(prep_apply_op(&db, NULL, ZK_OP_DELETE, &in, &t, 4, &j, &r), 0);
    ASSERT_TRUE(node(&db, "/new") && !node(&db, "/gone"));
    ASSERT_INT_EQ(t.nops, 3);
    journal_undo(&db, &j);
    ASSERT_TRUE(!node(&db, "/new") && node(&db, "/gone"));
    tree_stat(tree_root(db.tree), &root_after);
    tree_stat(node(&db, "/m"), &m_after);
    ASSERT_TRUE(memcmp(&root_before, &root_after, sizeof root_after) == 0);
    ASSERT_TRUE(memcmp(&m_before, &m_after, sizeof m_after) == 0);
    ASSERT_INT_EQ(tree_data(node(&db, "/m"))[0], 'o');
    ASSERT_INT_EQ(nevents, 0); /* an undone journal fires nothing */
    journal_free(&j);
    txn_free(&t);
    jute_out_free(&b1);
    jute_out_free(&b2);
    jute_out_free(&b3);
    db_free(&db);
}

static void test_apply_txn_bad_record_changes_nothing(void)
{
    struct db db;
    db_open(&db);
    uint64_t before = tree_node_count(db.tree);
    struct txn t;
    txn_init(&t, ZK_OP_MULTI, 0x100, 1, 5000);
    struct txn_op *op = txn_add_op(&t, ZK_OP_CREATE);
    op->path = strdup("/ok");
    op->acl = acl_open_unsafe;
    op = txn_add_op(&t, ZK_OP_CREATE);
    op->path = strdup("/missing/child");
    op->acl = acl_open_unsafe;
    struct journal j = {0};
    ASSERT_INT_EQ(apply_txn(&db, &t, 9, &j), ZK_NONODE);
    ASSERT_INT_EQ(j.nundo, 0);
    ASSERT_INT_EQ(j.nev, 0);
    ASSERT_INT_EQ(tree_node_count(db.tree), before);
    ASSERT_TRUE(node(&db, "/ok") == NULL);
    journal_free(&j);
    for (int i = 0; i < t.nops; i++)
        t.ops[i].acl = (struct acl_list){0, NULL}; /* borrowed */
    txn_free(&t);
    db_free(&db);
}

/* ---- sessions ---- */

static void add_ephemeral(struct znode *n, void *d)
{
    char path[256];
    ASSERT_TRUE(tree_path(n, path, sizeof path) < sizeof path);
    txn_add_op(d, ZK_OP_DELETE)->path = strdup(path);
}

static void session_txn(struct db *db, int32_t type, int64_t id, int64_t zxid)
{
    struct txn t;
    txn_init(&t, type, id, 0, 5000);
    t.timeout = 4000;
    if (type == ZK_OP_CLOSESESSION) /* paths2Delete, as write_session lists them */
        tree_foreach_ephemeral(db->tree, id, add_ephemeral, &t);
    log_txn(&t, zxid);
    struct journal j = {0};
    ASSERT_INT_EQ(apply_txn(db, &t, zxid, &j), 0);
    journal_commit(db, &j, zxid);
    journal_free(&j);
    txn_free(&t);
}

static void test_session_close_deletes_its_ephemerals(void)
{
    struct db db;
    db_open(&db);
    session_txn(&db, ZK_OP_CREATESESSION, 0x100, 2);
    ASSERT_TRUE(sessions_get(&db.sessions, 0x100) != NULL);
    ASSERT_INT_EQ(create(&db, "/e", NULL, 0, 3), 0);
    struct jute_out b = create_body("/e/mine", "x", ZK_EPHEMERAL, NULL);
    ASSERT_INT_EQ(write_op(&db, NULL, ZK_OP_CREATE, &b, 4, NULL), 0); /* owner 0x100 */
    ASSERT_INT_EQ(tree_owner(node(&db, "/e/mine")), 0x100);
    struct watch_owner w = {0};
    watches_add(db.data_watches, "/e/mine", 7, &w, WATCH_STANDARD);
    watches_add(db.child_watches, "/e", 2, &w, WATCH_STANDARD);
    session_txn(&db, ZK_OP_CLOSESESSION, 0x100, 5);
    ASSERT_TRUE(node(&db, "/e/mine") == NULL);
    ASSERT_TRUE(sessions_get(&db.sessions, 0x100) == NULL);
    ASSERT_INT_EQ(nclosed, 1);
    ASSERT_INT_EQ(closed_sessions[0], 0x100);
    ASSERT_INT_EQ(nevents, 2);
    ASSERT_INT_EQ(events[0].type, ZK_EVENT_DELETED);
    ASSERT_STR_EQ(events[0].path, "/e/mine");
    ASSERT_INT_EQ(events[0].zxid, 5);
    ASSERT_INT_EQ(events[1].type, ZK_EVENT_CHILD);
    ASSERT_STR_EQ(events[1].path, "/e");
    db_free(&db);
}

static int64_t expired[8];
static int nexpired;
static void on_expire(struct session *se, void *d)
{
    (void)d;
    expired[nexpired++] = se->id;
}

static void test_session_expiry_follows_touches(void)
{
    struct sessions ss;
    sessions_init(&ss, 100, 1);
    struct session *a = sessions_add(&ss, 1, 1000, 0);
    sessions_add(&ss, 2, 1000, 0);
    nexpired = 0;
    sessions_expire(&ss, 900, on_expire, NULL);
    ASSERT_INT_EQ(nexpired, 0);
    sessions_touch(&ss, a, 800); /* a now lives to 1800 and a bit */
    sessions_expire(&ss, 1200, on_expire, NULL);
    ASSERT_INT_EQ(nexpired, 1);
    ASSERT_INT_EQ(expired[0], 2);
    sessions_expire(&ss, 1950, on_expire, NULL);
    ASSERT_INT_EQ(nexpired, 2);
    ASSERT_INT_EQ(expired[1], 1);
    /* Passwords derive from the id only. */
    uint8_t p1[16], p2[16];
    sessions_password(&ss, 1, p1);
    sessions_password(&ss, 1, p2);
    ASSERT_TRUE(memcmp(p1, p2, 16) == 0);
    sessions_password(&ss, 2, p2);
    ASSERT_TRUE(memcmp(p1, p2, 16) != 0);
    sessions_free(&ss);
}

/* An upgrade moves a local session's struct into the db's table
 * (localsess.h): the pointer stays, the old queue forgets it, the new one
 * expires it. */
static void test_sessions_move_between_tables(void)
{
    struct sessions from, to;
    sessions_init(&from, 100, 1);
    sessions_init(&to, 100, 1);
    struct session *a = sessions_add(&from, 7, 1000, 0);
    sessions_take(&from, a);
    ASSERT_TRUE(sessions_get(&from, 7) == NULL);
    ASSERT_INT_EQ(sessions_count(&from), 0);
    nexpired = 0;
    sessions_expire(&from, 5000, on_expire, NULL);
    ASSERT_INT_EQ(nexpired, 0);
    sessions_put(&to, a, 0);
    ASSERT_TRUE(sessions_get(&to, 7) == a);
    ASSERT_INT_EQ(sessions_count(&to), 1);
    sessions_expire(&to, 900, on_expire, NULL);
    ASSERT_INT_EQ(nexpired, 0);
    sessions_expire(&to, 1200, on_expire, NULL);
    ASSERT_INT_EQ(nexpired, 1);
    ASSERT_INT_EQ(expired[0], 7);
    sessions_free(&from);
    sessions_free(&to);
}

/* prep refuses an ephemeral of a session the db does not hold (a local
 * one), nothing applied; once global it may.  write_op's session 0x100 has
 * server id 0, not the db's (1): another member's local session, which
 * Apache's leader refuses SESSIONEXPIRED (checkGlobalSession). */
static void test_prep_ephemeral_needs_a_global_session(void)
{
    struct db db;
    db_open(&db); /* write_op's session 0x100 is not in the table */
    uint64_t before = tree_node_count(db.tree);
    struct jute_out b = create_body("/eph", "x", ZK_EPHEMERAL_SEQUENTIAL, NULL);
    ASSERT_INT_EQ(write_op(&db, NULL, ZK_OP_CREATE2, &b, 2, NULL), ZK_SESSIONEXPIRED);
    ASSERT_INT_EQ(tree_node_count(db.tree), before);
    ASSERT_INT_EQ(create(&db, "/persistent", "x", 0, 2), 0);
    session_txn(&db, ZK_OP_CREATESESSION, 0x100, 3);
    b = create_body("/eph", "x", ZK_EPHEMERAL, NULL);
    ASSERT_INT_EQ(write_op(&db, NULL, ZK_OP_CREATE, &b, 4, NULL), 0);
    db_free(&db);
}

/* Which requests need a global session: QuorumZooKeeperServer's test. */
static int wants_global(int32_t type, const struct jute_out *body)
{
    struct jute_out f;
    jute_out_init(&f);
    jute_put_int(&f, 1);
    jute_put_int(&f, type);
    jute_put_raw(&f, body->p, body->len);
    int r = localsess_wants_global(f.p, f.len);
    jute_out_free(&f);
    return r;
}

static void put_multi_op(struct jute_out *m, int32_t type, const struct jute_out *body)
{
    jute_put_int(m, type);
    jute_put_bool(m, 0);
    jute_put_int(m, -1);
    jute_put_raw(m, body->p, body->len);
}

static void test_local_session_requests_needing_a_global_one(void)
{
    struct jute_out eph = create_body("/e", "x", ZK_EPHEMERAL, NULL);
    struct jute_out seq = create_body("/e", "x", ZK_EPHEMERAL_SEQUENTIAL, NULL);
    struct jute_out plain = create_body("/p", "x", ZK_PERSISTENT, NULL);
    struct jute_out set = path_data_version("/p", "y", -1);
    ASSERT_INT_EQ(wants_global(ZK_OP_CREATE, &eph), 1);
    ASSERT_INT_EQ(wants_global(ZK_OP_CREATE2, &seq), 1);
    ASSERT_INT_EQ(wants_global(ZK_OP_CREATE, &plain), 0);
    ASSERT_INT_EQ(wants_global(ZK_OP_SETDATA, &set), 0);
    /* A multi: the ephemeral after a setData and a persistent create. */
    struct jute_out m;
    jute_out_init(&m);
    put_multi_op(&m, ZK_OP_SETDATA, &set);
    put_multi_op(&m, ZK_OP_CREATE, &plain);
    struct jute_out end;
    jute_out_init(&end);
    jute_put_int(&end, -1);
    jute_put_bool(&end, 1);
    jute_put_int(&end, -1);
    struct jute_out without = {0};
    jute_out_init(&without);
    jute_put_raw(&without, m.p, m.len);
    jute_put_raw(&without, end.p, end.len);
    ASSERT_INT_EQ(wants_global(ZK_OP_MULTI, &without), 0);
    put_multi_op(&m, ZK_OP_CREATE2, &eph);
    jute_put_raw(&m, end.p, end.len);
    ASSERT_INT_EQ(wants_global(ZK_OP_MULTI, &m), 1);
    /* Truncated: no ephemeral found, prep answers it. */
    ASSERT_INT_EQ(localsess_wants_global(m.p, 6), 0);
    struct jute_out cut = {0};
    jute_out_init(&cut);
    jute_put_raw(&cut, eph.p, eph.len - 2);
    ASSERT_INT_EQ(wants_global(ZK_OP_CREATE, &cut), 0);
    struct jute_out *all[] = {&eph, &seq, &plain, &set, &m, &end, &without, &cut};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        jute_out_free(all[i]);
}

/* Apache's passwords, as printed by OpenJDK 17 for
 * new java.util.Random(id ^ 0xB3415C00L).nextBytes(new byte[16]). */
static void test_session_passwords_are_apaches(void)
{
    static const struct {
        int64_t id;
        const char *hex;
    } want[] = {
        {1, "054cc74a37327db215e702e20c73f005"},
        {2, "cce8d84a574fdfe3361ecd5f91d8b29e"},
        /* Random keeps 48 bits of its seed: Apache's ids differing only in
         * the server-id byte share a password. */
        {0x100000000000001LL, "054cc74a37327db215e702e20c73f005"},
        {0x1ff8e2c3a4b50000LL, "8139e79f7a939e80c7327da453b1037c"},
        {-1, "20f62cb5648dc2d771471c8a2486a9ee"},
    };
    struct sessions ss;
    sessions_init(&ss, 100, 1);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        uint8_t pw[16];
        char hex[33];
        sessions_password(&ss, want[i].id, pw);
        for (int b = 0; b < 16; b++)
            snprintf(hex + 2 * b, 3, "%02x", pw[b]);
        ASSERT_STR_EQ(hex, want[i].hex);
    }
    /* The server id sits in the top byte of the ids it hands out. */
    ASSERT_INT_EQ((uint64_t)sessions_next_id(&ss) >> 56, 1);
    sessions_free(&ss);
}

/* ---- watches through the state machine ---- */

static void test_persistent_and_recursive_watches(void)
{
    struct db db;
    db_open(&db);
    struct watch_owner pers = {0}, rec = {0};
    watches_add(db.data_watches, "/r", 2, &pers, WATCH_PERSISTENT);
    watches_add(db.child_watches, "/r", 2, &pers, WATCH_PERSISTENT);
    watches_add(db.data_watches, "/r", 2, &rec, WATCH_RECURSIVE);
    ASSERT_INT_EQ(create(&db, "/r", "x", 0, 2), 0);
    ASSERT_INT_EQ(create(&db, "/r/a", "x", 0, 3), 0);
    ASSERT_INT_EQ(create(&db, "/r/a/b", "x", 0, 4), 0);
    struct jute_out b = path_data_version("/r", "y", -1);
    ASSERT_INT_EQ(write_op(&db, NULL, ZK_OP_SETDATA, &b, 5, NULL), 0);
    int pers_events = 0, rec_events = 0, rec_child = 0;
    for (int i = 0; i < nevents; i++) {
        if (events[i].owner == &pers)
            pers_events++;
        if (events[i].owner == &rec) {
            rec_events++;
            rec_child += events[i].type == ZK_EVENT_CHILD;
        }
    }
    /* persistent on /r: created, children changed (/r/a), data changed. */
    ASSERT_INT_EQ(pers_events, 3);
    /* recursive: created /r, /r/a, /r/a/b and changed /r; never child events. */
    ASSERT_INT_EQ(rec_events, 4);
    ASSERT_INT_EQ(rec_child, 0);
    ASSERT_TRUE(watches_has(db.data_watches, "/r", 2, &pers, -1));
    db_free(&db);
}

/* Every event carries the ACL Apache (ZOOKEEPER-4799) checks READ against
 * before delivering it: the node's own as it was when the op applied, the
 * parent's for NodeChildrenChanged.  The hook is what filters; here it only
 * records. */
static void test_events_carry_the_acl_of_their_node(void)
{
    struct db db;
    db_open(&db);
    struct watch_owner exists_w = {0}, child_w = {0}, rec = {0};
    ASSERT_INT_EQ(create(&db, "/p", "", 0, 2), 0); /* world:anyone:cdrwa */
    struct acl_entry digest_e = {ZK_PERM_ALL, "digest", "u1:x"};
    struct acl_list digest = {1, &digest_e};
    watches_add(db.data_watches, "/p/s", 4, &exists_w, WATCH_STANDARD);
    watches_add(db.child_watches, "/p", 2, &child_w, WATCH_STANDARD);
    watches_add(db.data_watches, "/p", 2, &rec, WATCH_RECURSIVE);
    nevents = 0;
    struct jute_out b = create_body("/p/s", "x", 0, &digest);
    ASSERT_INT_EQ(write_op(&db, NULL, ZK_OP_CREATE, &b, 3, NULL), 0);
    /* NodeCreated (exists_w and rec, the new node's ACL), then the parent's. */
    ASSERT_INT_EQ(nevents, 3);
    for (int i = 0; i < 2; i++) {
        ASSERT_INT_EQ(events[i].type, ZK_EVENT_CREATED);
        ASSERT_INT_EQ(events[i].acl_n, 1);
        ASSERT_STR_EQ(events[i].acl_scheme, "digest");
    }
    ASSERT_TRUE(events[2].owner == &child_w);
    ASSERT_STR_EQ(events[2].acl_scheme, "world");

    /* setACL fires nothing; a later setData carries the new list. */
    struct jute_out a;
    jute_out_init(&a);
    jute_put_string(&a, "/p/s");
    struct acl_entry read_then_u1_e[2] = {{ZK_PERM_READ, "world", "anyone"},
                                          {ZK_PERM_ALL, "digest", "u1:x"}};
    struct acl_list read_then_u1 = {2, read_then_u1_e};
    acl_list_encode(&a, &read_then_u1);
    jute_put_int(&a, -1);
    nevents = 0;
    struct auth_info u1 = {0};
    auth_info_add(&u1, "digest", "u1:x");
    ASSERT_INT_EQ(write_op(&db, &u1, ZK_OP_SETACL, &a, 4, NULL), 0);
    ASSERT_INT_EQ(nevents, 0);
    b = path_data_version("/p/s", "y", -1);
    ASSERT_INT_EQ(write_op(&db, &u1, ZK_OP_SETDATA, &b, 5, NULL), 0);
    ASSERT_INT_EQ(nevents, 1);
    ASSERT_TRUE(events[0].owner == &rec);
    ASSERT_INT_EQ(events[0].acl_n, 2);
    ASSERT_STR_EQ(events[0].acl_scheme, "world");
    ASSERT_INT_EQ(events[0].acl_perms, ZK_PERM_READ);

    /* Delete: the node's list (its last user goes with the node, yet the
     * event still holds it), then the parent's. */
    nevents = 0;
    struct jute_out d;
    jute_out_init(&d);
    jute_put_string(&d, "/p/s");
    jute_put_int(&d, -1);
    ASSERT_INT_EQ(write_op(&db, NULL, ZK_OP_DELETE, &d, 6, NULL), 0);
    ASSERT_INT_EQ(nevents, 1); /* rec; exists_w and child_w were used up */
    ASSERT_INT_EQ(events[0].type, ZK_EVENT_DELETED);
    ASSERT_INT_EQ(events[0].acl_perms, ZK_PERM_READ);
    auth_info_free(&u1);
    db_free(&db);
}

static int image_put(const void *p, size_t len, void *d)
{
    jute_put_raw(d, p, len);
    return 0;
}

/* A snapshot body (what a SNAP sync carries too) loads back into a reset
 * db: its sessions, with their ephemerals, and the tree. */
static void test_image_round_trip(void)
{
    struct db a, b;
    db_open(&a);
    session_txn(&a, ZK_OP_CREATESESSION, 0x100, 2);
    ASSERT_INT_EQ(create(&a, "/img", "data", 0, 3), 0);
    db_open(&b);
    db_reset(&b);
    struct jute_out body;
    jute_out_init(&body);
    ASSERT_INT_EQ(db_snapshot_body(&a, image_put, &body), 0);
    size_t used = 0;
    ASSERT_INT_EQ(db_load_snapshot_body(&b, body.p, body.len, &used, 0), 0);
    ASSERT_INT_EQ(used, body.len);
    ASSERT_TRUE(sessions_get(&b.sessions, 0x100) != NULL);
    ASSERT_TRUE(node(&b, "/img") != NULL);
    ASSERT_INT_EQ(tree_node_count(b.tree), tree_node_count(a.tree));
    jute_out_free(&body);
    db_free(&a);
    db_free(&b);
}

/* The running digest (digest_db) after each kind of change, and after an
 * undone multi, equals a fresh walk of the tree. */
static void test_running_digest_follows_every_change(void)
{
    struct db db;
    db_open(&db);
    int64_t empty = digest_db(&db);
    ASSERT_TRUE(empty == digest_tree(db.tree));
    session_txn(&db, ZK_OP_CREATESESSION, 0x100, 2);
    ASSERT_INT_EQ(create(&db, "/d", "data", 0, 3), 0);
    ASSERT_INT_EQ(create(&db, "/d/kid", NULL, ZK_PERSISTENT_SEQUENTIAL, 4), 0);
    struct jute_out b = create_body("/d/eph", "e", ZK_EPHEMERAL, NULL);
    ASSERT_INT_EQ(write_op(&db, NULL, ZK_OP_CREATE, &b, 5, NULL), 0);
    ASSERT_TRUE(digest_db(&db) == digest_tree(db.tree));
    b = path_data_version("/d", "changed", 0);
    ASSERT_INT_EQ(write_op(&db, NULL, ZK_OP_SETDATA, &b, 6, NULL), 0);
    ASSERT_TRUE(digest_db(&db) == digest_tree(db.tree));
    jute_out_init(&b);
    jute_put_string(&b, "/d");
    acl_list_encode(&b, &acl_open_unsafe);
    jute_put_int(&b, 0);
    ASSERT_INT_EQ(write_op(&db, NULL, ZK_OP_SETACL, &b, 7, NULL), 0);
    ASSERT_TRUE(digest_db(&db) == digest_tree(db.tree));
    /* A multi that changes three nodes, undone. */
    int64_t before = digest_db(&db);
    struct txn t;
    txn_init(&t, ZK_OP_MULTI, 0x100, 1, 5000);
    struct journal j = {0};
    struct prep_result r;
    struct jute_out b1 = create_body("/d/new", "n", 0, NULL), b2 = path_data_version("/d", "x", 1),
                    b3 = path_data_version("/d/kid0000000000", NULL, -1);
    struct jute_in in;
    jute_in_init(&in, b1.p, b1.len);
    ASSERT_INT_EQ(prep_apply_op(&db, NULL, ZK_OP_CREATE, &in, &t, 8, &j, &r), 0);
    free(r.path);
    jute_in_init(&in, b2.p, b2.len);
    ASSERT_INT_EQ(prep_apply_op(&db, NULL, ZK_OP_SETDATA, &in, &t, 8, &j, &r), 0);
    jute_in_init(&in, b3.p, b3.len);
    ASSERT_INT_EQ(prep_apply_op(&db, NULL, ZK_OP_DELETE, &in, &t, 8, &j, &r), 0);
    ASSERT_TRUE(digest_db(&db) == digest_tree(db.tree));
    ASSERT_TRUE(digest_db(&db) != before);
    journal_undo(&db, &j);
    ASSERT_TRUE(digest_db(&db) == before);
    ASSERT_TRUE(digest_tree(db.tree) == before);
    journal_free(&j);
    txn_free(&t);
    jute_out_free(&b1);
    jute_out_free(&b2);
    jute_out_free(&b3);
    /* Deletes: one node, then a session's ephemerals. */
    b = path_data_version("/d/kid0000000000", NULL, -1);
    ASSERT_INT_EQ(write_op(&db, NULL, ZK_OP_DELETE, &b, 9, NULL), 0);
    ASSERT_TRUE(digest_db(&db) == digest_tree(db.tree));
    session_txn(&db, ZK_OP_CLOSESESSION, 0x100, 10);
    ASSERT_TRUE(node(&db, "/d/eph") == NULL);
    ASSERT_TRUE(digest_db(&db) == digest_tree(db.tree));
    /* db_reset forgets the running digest: the next call walks the new tree. */
    db_reset(&db);
    ASSERT_TRUE(digest_db(&db) == digest_tree(db.tree));
    db_free(&db);
}

/* ---- fuzzy images (dbwalk.h) ---- */

/* Every node of a and b the same: path, value, ACL, persisted stat. */
static void assert_same_tree(struct db *a, struct db *b)
{
    struct jute_out ia, ib;
    jute_out_init(&ia);
    jute_out_init(&ib);
    /* An exact image of each: the same bytes iff the same trees (both
     * walk their child tables in table order, so compare as sets). */
    ASSERT_INT_EQ(tree_node_count(a->tree), tree_node_count(b->tree));
    struct dbwalk *wa = dbwalk_new(a), *wb = dbwalk_new(b);
    while (!dbwalk_step(wa, &ia, SIZE_MAX))
        ;
    while (!dbwalk_step(wb, &ib, SIZE_MAX))
        ;
    dbwalk_free(wa);
    dbwalk_free(wb);
    for (int k = 0; k < 2; k++) {
        struct db *x = k ? a : b, *y = k ? b : a;
        (void)y;
        /* Each of x's nodes, looked up in the other tree. */
        struct jute_in in;
        jute_in_init(&in, k ? ia.p : ib.p, k ? ia.len : ib.len);
        int32_t ns = jute_get_int(&in);
        for (int32_t i = 0; i < ns; i++) {
            int64_t id = jute_get_long(&in);
            jute_get_int(&in);
            ASSERT_TRUE(sessions_get(&(k ? b : a)->sessions, id) != NULL);
        }
        int32_t nacl = jute_get_int(&in);
        for (int32_t i = 0; i < nacl; i++) {
            jute_get_long(&in);
            struct acl_list l;
            ASSERT_INT_EQ(acl_list_decode(&in, &l), 0);
            acl_list_free(&l);
        }
        (void)x;
        for (;;) {
            struct zk_slice path = jute_get_string(&in);
            ASSERT_TRUE(!in.err);
            if (path.len == 1 && path.p[0] == '/')
                break;
            struct zk_slice data = jute_get_buffer(&in);
            int64_t acl = jute_get_long(&in);
            const uint8_t *st = in.p + in.off;
            in.off += 60;
            struct znode *o = tree_lookup((k ? b : a)->tree, path.p, (size_t)path.len);
            if (!o) {
                fprintf(stderr, "missing: %.*s\n", (int)path.len, path.p);
                ASSERT_TRUE(o != NULL);
            }
            ASSERT_INT_EQ(o->datalen, data.len);
            ASSERT_TRUE(data.len <= 0 || !memcmp(tree_data(o), data.p, (size_t)data.len));
            const struct acl_list *la = acl_get(tree_acls((k ? a : b)->tree), (uint32_t)acl);
            const struct acl_list *lb = acl_get(tree_acls((k ? b : a)->tree), o->acl);
            ASSERT_INT_EQ(la->n, lb->n);
            struct jute_out os;
            jute_out_init(&os);
            tree_put_pstat(&os, o);
            if (memcmp(os.p, st, 60)) {
                fprintf(stderr, "stat differs: %.*s\n", (int)path.len, path.p);
                ASSERT_TRUE(0);
            }
            jute_out_free(&os);
        }
    }
    jute_out_free(&ia);
    jute_out_free(&ib);
}

/* Replays the logged transactions onto db, as recovery does. */
static void replay(struct db *db, const struct jute_out *log)
{
    struct jute_in in;
    jute_in_init(&in, log->p, log->len);
    while (jute_in_left(&in)) {
        int64_t zxid = jute_get_long(&in);
        struct zk_slice rec = jute_get_buffer(&in);
        ASSERT_TRUE(!in.err);
        struct txn t;
        ASSERT_INT_EQ(txn_decode(rec.p, (size_t)rec.len, &t), 0);
        struct journal j = {0};
        if (!apply_committed(db, &t, zxid, &j))
            journal_commit(db, &j, zxid);
        journal_free(&j);
        txn_free(&t);
        db->last_zxid = zxid;
    }
}

static int64_t fuzzy_zxid;

/* Whether the image so far holds the record of `path`. */
static int in_image(const struct jute_out *image, const char *path)
{
    uint8_t pat[64];
    size_t n = strlen(path);
    zk_be32_put(pat, (uint32_t)n);
    memcpy(pat + 4, path, n);
    return memmem(image->p, image->len, pat, n + 4) != NULL;
}

/* Changes between steps: every kind the walk must survive, around the
 * node being visited and elsewhere. */
static void mutate(struct db *db, int round, const struct jute_out *image)
{
    char p[64];
    /* /b only loses children: nothing later moves its pzxid past a delete
     * the image missed. */
    for (int k = 0; image && in_image(image, "/b") && k < 40; k++) {
        /* /b is written: one of its children still to come goes */
        snprintf(p, sizeof p, "/b/k%d", k);
        if (in_image(image, p) || !tree_lookup(db->tree, p, strlen(p)))
            continue;
        struct jute_out del = path_data_version(p, NULL, -1);
        ASSERT_INT_EQ(write_op(db, NULL, ZK_OP_DELETE, &del, ++fuzzy_zxid, NULL), 0);
        break;
    }
    int64_t z = ++fuzzy_zxid;
    switch (round % 7) {
    case 0: /* grow a table under a node not yet visited, and one visited */
        for (int i = 0; i < 40; i++) {
            snprintf(p, sizeof p, "/a%d/new%d_%d", round % 5, round, i);
            ASSERT_INT_EQ(create(db, p, "n", 0, z), 0);
            z = ++fuzzy_zxid;
        }
        break;
    case 1: /* delete children, of parents written and to come (the walk
             * is in the middle of one of them) */
        for (int i = 0; i < 10; i++) {
            snprintf(p, sizeof p, "/a%d/k%d", i % 5, (round / 7 * 2 + i / 5) % 30);
            struct jute_out b = path_data_version(p, NULL, -1);
            if (write_op(db, NULL, ZK_OP_DELETE, &b, z, NULL) == 0)
                z = ++fuzzy_zxid;
        }
        break;
    case 2: { /* set data */
        snprintf(p, sizeof p, "/a%d/k%d", round % 5, round % 30);
        struct jute_out b = path_data_version(p, "changed", -1);
        write_op(db, NULL, ZK_OP_SETDATA, &b, z, NULL);
        break;
    }
    case 3: /* delete a whole subtree, then create it again smaller */
        snprintf(p, sizeof p, "/a%d/deep", round % 5);
        for (int i = 0; i < 4; i++) {
            char q[80];
            snprintf(q, sizeof q, "%s/x%d", p, i);
            struct jute_out b = path_data_version(q, NULL, -1);
            if (write_op(db, NULL, ZK_OP_DELETE, &b, z, NULL) == 0)
                z = ++fuzzy_zxid;
        }
        {
            struct jute_out b = path_data_version(p, NULL, -1);
            if (write_op(db, NULL, ZK_OP_DELETE, &b, z, NULL) == 0)
                z = ++fuzzy_zxid;
        }
        ASSERT_INT_EQ(create(db, p, "again", 0, z), 0);
        break;
    case 4: /* an ephemeral owner goes away */
        session_txn(db, ZK_OP_CLOSESESSION, 0x200 + round % 3, z);
        z = ++fuzzy_zxid;
        session_txn(db, ZK_OP_CREATESESSION, 0x200 + round % 3, z);
        db->last_zxid = z;
        break;
    case 5: { /* an ephemeral created under a visited parent */
        snprintf(p, sizeof p, "/a%d/e%d", round % 5, round);
        struct jute_out b = create_body(p, "e", ZK_EPHEMERAL, NULL);
        struct jute_in in;
        jute_in_init(&in, b.p, b.len);
        struct txn t;
        txn_init(&t, ZK_OP_CREATE, 0x200 + round % 3, 1, 5000);
        struct journal j = {0};
        struct prep_result r;
        if (!prep_apply_op(db, NULL, ZK_OP_CREATE, &in, &t, z, &j, &r)) {
            log_txn(&t, z);
            journal_commit(db, &j, z);
            db->last_zxid = z;
            free(r.path);
        }
        journal_free(&j);
        txn_free(&t);
        jute_out_free(&b);
        break;
    }
    default: /* a node deleted and created again under the same name */
        snprintf(p, sizeof p, "/a%d/k%d", (round + 2) % 5, (round * 7) % 30);
        {
            struct jute_out b = path_data_version(p, NULL, -1);
            if (write_op(db, NULL, ZK_OP_DELETE, &b, z, NULL) == 0)
                z = ++fuzzy_zxid;
        }
        create(db, p, "reborn", 0, z);
        break;
    }
}

/* The fuzzy tests' starting tree, from zxid 2 on (fuzzy_zxid): three
 * sessions, then /a0../a4, each with 30 children (every other one with
 * data) and a /deep child of 4. */
static void fuzzy_base_tree(struct db *a)
{
    fuzzy_zxid = 1;
    for (int s = 0; s < 3; s++)
        session_txn(a, ZK_OP_CREATESESSION, 0x200 + s, ++fuzzy_zxid);
    char p[64];
    for (int i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "/a%d", i);
        ASSERT_INT_EQ(create(a, p, "top", 0, ++fuzzy_zxid), 0);
        for (int k = 0; k < 30; k++) {
            snprintf(p, sizeof p, "/a%d/k%d", i, k);
            ASSERT_INT_EQ(create(a, p, k % 2 ? "odd" : NULL, 0, ++fuzzy_zxid), 0);
        }
        snprintf(p, sizeof p, "/a%d/deep", i);
        ASSERT_INT_EQ(create(a, p, NULL, 0, ++fuzzy_zxid), 0);
        for (int k = 0; k < 4; k++) {
            snprintf(p, sizeof p, "/a%d/deep/x%d", i, k);
            ASSERT_INT_EQ(create(a, p, "x", 0, ++fuzzy_zxid), 0);
        }
    }
}

/* A fuzzy image taken in steps while the tree changes between them, loaded,
 * plus the transactions applied since its start, is exactly the tree at
 * the end: every node, value and stat (pzxid and cversion included) and
 * the digest. */
static void test_fuzzy_image_plus_replay_is_exact(void)
{
    for (size_t step_nodes = 1; step_nodes <= 64; step_nodes *= 8) {
        struct db a, b;
        db_open(&a);
        fuzzy_base_tree(&a);
        char p[64];
        ASSERT_INT_EQ(create(&a, "/b", NULL, 0, ++fuzzy_zxid), 0);
        for (int k = 0; k < 40; k++) {
            snprintf(p, sizeof p, "/b/k%d", k);
            ASSERT_INT_EQ(create(&a, p, NULL, 0, ++fuzzy_zxid), 0);
        }
        a.hooks = (struct db_hooks){0}; /* record_* keep only a few */
        int64_t z = a.last_zxid;
        struct jute_out log, image;
        jute_out_init(&log);
        jute_out_init(&image);
        txn_log = &log;
        struct dbwalk *w = dbwalk_new(&a);
        int rc, round = 0;
        while ((rc = dbwalk_step(w, &image, step_nodes)) == 0)
            mutate(&a, round++, &image);
        ASSERT_INT_EQ(rc, 1);
        ASSERT_TRUE(round >= 3); /* the tree changed between steps */
        dbwalk_free(w);
        for (int extra = 0; extra < 5; extra++)
            mutate(&a, round++, NULL); /* after the image: the log's tail */
        txn_log = NULL;
        /* The image loads, the log since z replays onto it. */
        db_open(&b);
        db_reset(&b);
        size_t used = 0;
        ASSERT_INT_EQ(db_load_snapshot_body(&b, image.p, image.len, &used, 0), 0);
        ASSERT_INT_EQ(used, image.len);
        b.last_zxid = z;
        b.hooks = (struct db_hooks){0};
        replay(&b, &log);
        ASSERT_INT_EQ(b.last_zxid, a.last_zxid);
        assert_same_tree(&a, &b);
        ASSERT_TRUE(digest_tree(a.tree) == digest_tree(b.tree));
        ASSERT_INT_EQ(sessions_count(&a.sessions), sessions_count(&b.sessions));
        jute_out_free(&log);
        jute_out_free(&image);
        db_free(&a);
        db_free(&b);
    }
}

/* An ACL list first interned after the walk began cannot be in the
 * image's ACL section: the walk says so (-EAGAIN) instead of writing a
 * node that refers to an index the image does not define. */
static void test_fuzzy_image_refuses_a_new_acl_list(void)
{
    struct db a;
    db_open(&a);
    ASSERT_INT_EQ(create(&a, "/x", NULL, 0, 2), 0);
    struct jute_out image;
    jute_out_init(&image);
    struct dbwalk *w = dbwalk_new(&a);
    ASSERT_INT_EQ(dbwalk_step(w, &image, 1), 0); /* sessions, ACLs, root */
    /* (world:anyone READ is /zookeeper/config's: not new) */
    struct acl_entry e = {ZK_PERM_READ | ZK_PERM_WRITE, (char *)"world", (char *)"anyone"};
    struct acl_list read_write = {1, &e};
    struct jute_out b = create_body("/x/y", "d", 0, &read_write);
    ASSERT_INT_EQ(write_op(&a, NULL, ZK_OP_CREATE, &b, 3, NULL), 0);
    int rc;
    while ((rc = dbwalk_step(w, &image, 1)) == 0)
        ;
    ASSERT_INT_EQ(rc, -EAGAIN);
    dbwalk_free(w);
    jute_out_free(&image);
    db_free(&a);
}

/* ---- the walk on its own thread (db.h's tree write lock) ---- */

/* A walker thread as server.c's snapshot runs it: one step at a time
 * under db_walk_lock.  For its first `lockstep` steps it hands over to the
 * writer after each one (turn), so those steps surely see changes between
 * them; after that both run freely, as in the server. */
struct walker {
    struct db *db;
    struct dbwalk *w;
    struct jute_out image;
    size_t step_nodes;
    int lockstep;
    int rc;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int turn;      /* under mu: 1 the walker's, 0 the writer's */
    int done;      /* under mu */
};

static void *walker_main(void *arg)
{
    struct walker *k = arg;
    int rc;
    for (int n = 0;; n++) {
        if (n < k->lockstep) {
            pthread_mutex_lock(&k->mu);
            while (!k->turn)
                pthread_cond_wait(&k->cv, &k->mu);
            pthread_mutex_unlock(&k->mu);
        }
        db_walk_lock(k->db);
        rc = dbwalk_step(k->w, &k->image, k->step_nodes);
        db_walk_unlock(k->db);
        pthread_mutex_lock(&k->mu);
        k->turn = 0;
        k->done = rc != 0;
        pthread_cond_broadcast(&k->cv);
        pthread_mutex_unlock(&k->mu);
        if (rc)
            break;
    }
    k->rc = rc;
    return NULL;
}

static struct jute_out setacl_body(const char *path, const struct acl_list *acl)
{
    struct jute_out o;
    jute_out_init(&o);
    jute_put_string(&o, path);
    acl_list_encode(&o, acl);
    jute_put_int(&o, -1);
    return o;
}

/* The walker's changes plus more: ACL lists old and new, a wide parent
 * whose child table grows and whose children go and come back, a deep
 * chain's bottom deleted and created again.  Run by the "loop" under
 * db_write_lock. */
static void mutate_more(struct db *db, int round, int wide)
{
    mutate(db, round, NULL);
    char p[128];
    static struct acl_entry ro = {ZK_PERM_READ, (char *)"world", (char *)"anyone"};
    struct acl_list read_only = {1, &ro};
    char id[32];
    snprintf(id, sizeof id, "u%d:x", round);
    struct acl_entry fresh_e[2] = {{ZK_PERM_ALL, (char *)"world", (char *)"anyone"},
                                   {ZK_PERM_READ, (char *)"digest", id}};
    struct acl_list fresh = {2, fresh_e};
    snprintf(p, sizeof p, "/a%d/k%d", round % 5, (round * 3) % 30);
    /* A new list now and then (the walk may have to start over: -EAGAIN),
     * else one the image's section has. */
    const struct acl_list *acl = round % 9 == 4 ? &fresh
                                 : round % 2 ? &read_only : &acl_open_unsafe;
    struct jute_out b = setacl_body(p, acl);
    write_op(db, NULL, ZK_OP_SETACL, &b, ++fuzzy_zxid, NULL);
    for (int i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "/w/n%d_%d", round, i);
        ASSERT_INT_EQ(create(db, p, NULL, 0, ++fuzzy_zxid), 0);
    }
    for (int i = 0; i < 20; i++) {
        snprintf(p, sizeof p, "/w/c%d", (round * 20 + i) * 7 % wide);
        struct jute_out d = path_data_version(p, NULL, -1);
        if (write_op(db, NULL, ZK_OP_DELETE, &d, ++fuzzy_zxid, NULL) == 0 && i % 2)
            create(db, p, "again", 0, ++fuzzy_zxid);
    }
    /* deep: delete the bottom of the chain and create it again */
    snprintf(p, sizeof p, "/d");
    for (int i = 0; i < 39; i++)
        strcat(p, "/d");
    struct jute_out d = path_data_version(p, NULL, -1);
    if (write_op(db, NULL, ZK_OP_DELETE, &d, ++fuzzy_zxid, NULL) == 0)
        ASSERT_INT_EQ(create(db, p, "bottom", 0, ++fuzzy_zxid), 0);
}

/* Many fuzzy images, each walked on a thread under the tree write lock
 * while this thread writes; each image plus the log since its start
 * replays to the exact tree (every node, value, stat, the digest).  Run it
 * under -fsanitize=thread too (docs/zkd.md). */
static void test_fuzzy_images_walked_on_a_thread_while_writing(void)
{
    struct db a;
    db_open(&a);
    a.hooks = (struct db_hooks){0};
    fuzzy_base_tree(&a);
    char p[320];
    ASSERT_INT_EQ(create(&a, "/b", NULL, 0, ++fuzzy_zxid), 0);
    ASSERT_INT_EQ(create(&a, "/w", NULL, 0, ++fuzzy_zxid), 0);
    /* A few thousand children.  (A parent near the small-table limit, whose
     * table would then be rebuilt incrementally during the walks, makes
     * every image load take tens of seconds here: see the report of
     * issue 20; kids_move_step runs under the write lock like any add.) */
    int wide = 2000;
    for (int k = 0; k < wide; k++) {
        snprintf(p, sizeof p, "/w/c%d", k);
        ASSERT_INT_EQ(create(&a, p, NULL, 0, ++fuzzy_zxid), 0);
    }
    p[0] = 0;
    for (int i = 0; i < 40; i++) {
        strcat(p, "/d");
        ASSERT_INT_EQ(create(&a, p, "chain", 0, ++fuzzy_zxid), 0);
    }
    a.last_zxid = fuzzy_zxid;
    struct jute_out log;
    jute_out_init(&log);
    txn_log = &log;
    int round = 0, images = 0, restarts = 0, changed = 0;
    for (int attempt = 0; images < 8; attempt++) {
        ASSERT_TRUE(attempt < 40);
        int64_t z = a.last_zxid;
        size_t log_from = log.len;
        struct walker k = {.db = &a, .step_nodes = (size_t)1 << (attempt % 4 * 3),
                           .lockstep = 20};
        jute_out_init(&k.image);
        pthread_mutex_init(&k.mu, NULL);
        pthread_cond_init(&k.cv, NULL);
        k.w = dbwalk_new(&a); /* on the "loop", outside a write */
        pthread_t t;
        ASSERT_INT_EQ(pthread_create(&t, NULL, walker_main, &k), 0);
        for (int n = 0;; n++) {
            pthread_mutex_lock(&k.mu);
            if (n < k.lockstep) {
                k.turn = 1;
                pthread_cond_broadcast(&k.cv);
                while (k.turn && !k.done)
                    pthread_cond_wait(&k.cv, &k.mu);
            }
            /* Free-running writes are bounded, or the tree would grow
             * faster than a one-node-a-step walk ends. */
            while (n >= k.lockstep + 100 && !k.done)
                pthread_cond_wait(&k.cv, &k.mu);
            int done = k.done;
            pthread_mutex_unlock(&k.mu);
            if (done)
                break;
            db_write_lock(&a);
            mutate_more(&a, round++, wide);
            changed++;
            db_write_unlock(&a);
        }
        ASSERT_INT_EQ(pthread_join(t, NULL), 0);
        dbwalk_free(k.w);
        pthread_mutex_destroy(&k.mu);
        pthread_cond_destroy(&k.cv);
        if (k.rc == -EAGAIN) { /* a new ACL list met: start over, as server.c does */
            restarts++;
            jute_out_free(&k.image);
            continue;
        }
        ASSERT_INT_EQ(k.rc, 1);
        mutate_more(&a, round++, wide); /* after the image: the log's tail */
        struct db b;
        db_open(&b);
        db_reset(&b);
        size_t used = 0;
        ASSERT_INT_EQ(db_load_snapshot_body(&b, k.image.p, k.image.len, &used, 0), 0);
        ASSERT_INT_EQ(used, k.image.len);
        b.last_zxid = z;
        b.hooks = (struct db_hooks){0};
        struct jute_out tail = {log.p + log_from, log.len - log_from, 0};
        replay(&b, &tail);
        ASSERT_INT_EQ(b.last_zxid, a.last_zxid);
        assert_same_tree(&a, &b);
        ASSERT_TRUE(digest_tree(a.tree) == digest_tree(b.tree));
        ASSERT_INT_EQ(sessions_count(&a.sessions), sessions_count(&b.sessions));
        db_free(&b);
        jute_out_free(&k.image);
        images++;
    }
    txn_log = NULL;
    fprintf(stderr, "%d images, %d restarts for new ACL lists, %d rounds of writes\n", images,
            restarts, changed);
    /* The first step writes only what dbwalk_new took, and the writer
     * goes next: every walk saw writes between its steps. */
    ASSERT_TRUE(changed >= images + restarts);
    jute_out_free(&log);
    db_free(&a);
}

/* prep_validate_path's word-at-a-time fast path agrees with the rules
 * byte by byte: a bad byte at every offset of paths around the word size,
 * and the components Apache refuses. */
static void test_validate_path_fast_path(void)
{
    static const char *const ok[] = {"/", "/a", "/a/b", "/.a", "/a./b", "/...", "/a/.../b",
                                     "/zkbench/d001/n000123", "/caf\xc3\xa9/x", "/ ~",
                                     "/\xc3\xa9/.x/..y"};
    static const char *const bad[] = {"", "a", "//", "/a/", "/a//b", "/.", "/..", "/a/.", "/a/..",
                                      "/a/./b", "/a/../b", "/\x7f", "/a\037b", "/\xff",
                                      "/\xc3", "/a\xed\xa0\x80",
                                      /* non-ASCII paths: the same component rules */
                                      "/\xc3\xa9//x", "/\xc3\xa9/./x", "/x/\xc3\xa9/..",
                                      "/\xc3\xa9\x01"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        ASSERT_INT_EQ(prep_validate_path(ok[i], strlen(ok[i])), 0);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ASSERT_INT_EQ(prep_validate_path(bad[i], strlen(bad[i])), ZK_BADARGUMENTS);
    static const unsigned char wrong[] = {0x01, 0x1f, 0x7f, 0x80, 0xff};
    char p[40];
    for (size_t len = 2; len < sizeof p; len++) {
        p[0] = '/';
        memset(p + 1, 'x', len - 1);
        ASSERT_INT_EQ(prep_validate_path(p, len), 0);
        for (size_t at = 1; at < len; at++)
            for (size_t k = 0; k < sizeof wrong; k++) {
                p[at] = (char)wrong[k];
                ASSERT_INT_EQ(prep_validate_path(p, len), ZK_BADARGUMENTS);
                p[at] = 'x';
            }
    }
    /* a NUL inside the length is refused too */
    ASSERT_INT_EQ(prep_validate_path("/a\0b", 4), ZK_BADARGUMENTS);
}

ZTEST_MAIN(ZT(test_validate_path_fast_path), ZT(test_prep_create_applies_and_fires_in_order), ZT(test_prep_rejects_without_applying),
           ZT(test_prep_checks_acl_against_the_given_identities),
           ZT(test_prep_resolves_sequential_names), ZT(test_prep_skip_op_consumes_exactly_the_body),
           ZT(test_journal_undo_restores_every_field), ZT(test_apply_txn_bad_record_changes_nothing),
           ZT(test_session_close_deletes_its_ephemerals), ZT(test_session_expiry_follows_touches),
           ZT(test_session_passwords_are_apaches), ZT(test_sessions_move_between_tables),
           ZT(test_prep_ephemeral_needs_a_global_session),
           ZT(test_local_session_requests_needing_a_global_one),
           ZT(test_persistent_and_recursive_watches), ZT(test_events_carry_the_acl_of_their_node),
           ZT(test_image_round_trip), ZT(test_running_digest_follows_every_change),
           ZT(test_fuzzy_image_plus_replay_is_exact), ZT(test_fuzzy_image_refuses_a_new_acl_list),
           ZT(test_fuzzy_images_walked_on_a_thread_while_writing))
