/*
 * datatool.c - `zkd snapshot-dump`, `zkd log-dump`, `zkd verify-datadir`:
 * offline tools for a data directory, in the spirit of Apache's
 * SnapshotFormatter, TxnLogToolkit and zkSnapShotToolkit.  They read files
 * through the server's own loaders (snapshot_load_file, txnlog_scan_file,
 * db_load_snapshot_body, txn_decode) and never change anything on disk.
 */
#include "datatool.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "apply.h"
#include "datadir.h"
#include "db.h"
#include "digest.h"
#include "hset.h"
#include "snapshot.h"
#include "txn.h"
#include "txnlog.h"
#include "zk/proto.h"

static const char *const snap_suffixes[] = {".gz", ".snappy", NULL};

/* ---- loading a snapshot into a scratch state ---- */

static int load_body(const void *p, size_t len, size_t *used, void *d)
{
    return db_load_snapshot_body(d, p, len, used, 0);
}

/* Loads `path` into a fresh `db`.  Returns 0 or -errno; prints what failed. */
static int load_snapshot(const char *path, struct db *db, struct snapshot_info *info)
{
    db_init(db, 2000, 0);
    db->tree = tree_new_empty();
    const char *why = NULL;
    size_t at = 0;
    int rc = snapshot_load_file(path, load_body, db, info, &why, &at);
    if (rc == -ENODATA)
        fprintf(stderr, "%s: incomplete: %s at offset %zu (its writing was cut short, as by a "
                "crash; recovery skips it, as Apache's does)\n", path, why ? why : "?", at);
    else if (rc == -EINVAL)
        fprintf(stderr, "%s: damaged: %s at offset %zu\n", path, why ? why : "?", at);
    else if (rc == -EPROTO)
        fprintf(stderr, "%s: unknown snapshot format version\n", path);
    else if (rc)
        fprintf(stderr, "%s: %s\n", path, strerror(-rc));
    return rc;
}

/* ---- snapshot-dump ---- */

static void put_time(FILE *f, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char buf[32];
    gmtime_r(&t, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(f, "%s.%03dZ", buf, (int)(ms % 1000 + 1000) % 1000);
}

static void put_json_string(FILE *f, const char *s, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

struct kids {
    struct znode **v;
    size_t n, cap;
};

static void add_kid(struct znode *c, void *d)
{
    struct kids *k = d;
    if (k->n == k->cap)
        k->v = zk_xrealloc(k->v, (k->cap = k->cap ? 2 * k->cap : 8) * sizeof *k->v);
    k->v[k->n++] = c;
}

static int by_name(const void *a, const void *b)
{
    const struct znode *x = *(struct znode *const *)a, *y = *(struct znode *const *)b;
    size_t xl = tree_namelen(x), yl = tree_namelen(y);
    int c = memcmp(x->name, y->name, xl < yl ? xl : yl);
    return c ? c : (xl > yl) - (xl < yl);
}

struct dump {
    FILE *f;
    struct tree *tree;
    int json;
    int first;
    char *path;
    size_t cap;
    uint64_t nodes;
};

static void dump_node(struct dump *d, struct znode *n, size_t plen)
{
    struct zk_stat st;
    tree_stat(n, &st);
    const char *path = plen ? d->path : "/";
    size_t len = plen ? plen : 1;
    d->nodes++;
    if (d->json) {
        fprintf(d->f, "%s\n  {\"path\": ", d->first ? "" : ",");
        d->first = 0;
        put_json_string(d->f, path, len);
        fprintf(d->f,
                ", \"czxid\": %" PRId64 ", \"mzxid\": %" PRId64 ", \"pzxid\": %" PRId64
                ", \"ctime\": %" PRId64 ", \"mtime\": %" PRId64 ", \"version\": %d"
                ", \"cversion\": %d, \"aversion\": %d, \"ephemeralOwner\": %" PRId64
                ", \"dataLength\": %d, \"numChildren\": %d, \"acl\": [",
                st.czxid, st.mzxid, st.pzxid, st.ctime, st.mtime, st.version, st.cversion,
                st.aversion, st.ephemeral_owner, st.data_length, st.num_children);
        const struct acl_list *acl = acl_get(tree_acls(d->tree), n->acl);
        for (int i = 0; acl && i < acl->n; i++) {
            fprintf(d->f, "%s{\"perms\": %d, \"scheme\": ", i ? ", " : "", acl->e[i].perms);
            put_json_string(d->f, acl->e[i].scheme, strlen(acl->e[i].scheme));
            fputs(", \"id\": ", d->f);
            put_json_string(d->f, acl->e[i].id, strlen(acl->e[i].id));
            fputc('}', d->f);
        }
        fputs("]}", d->f);
    } else {
        fprintf(d->f, "%.*s\n  cZxid = 0x%" PRIx64 "\n  ctime = ", (int)len, path,
                (uint64_t)st.czxid);
        put_time(d->f, st.ctime);
        fprintf(d->f, "\n  mZxid = 0x%" PRIx64 "\n  mtime = ", (uint64_t)st.mzxid);
        put_time(d->f, st.mtime);
        fprintf(d->f,
                "\n  pZxid = 0x%" PRIx64 "\n  cversion = %d\n  dataVersion = %d\n"
                "  aclVersion = %d\n  ephemeralOwner = 0x%" PRIx64 "\n  dataLength = %d\n",
                (uint64_t)st.pzxid, st.cversion, st.version, st.aversion,
                (uint64_t)st.ephemeral_owner, st.data_length);
    }
    struct kids k = {0};
    tree_foreach_child(n, add_kid, &k);
    if (k.n)
        qsort(k.v, k.n, sizeof *k.v, by_name);
    for (size_t i = 0; i < k.n; i++) {
        struct znode *c = k.v[i];
        size_t nlen = tree_namelen(c);
        size_t need = plen + 2 + nlen;
        if (need > d->cap)
            d->path = zk_xrealloc(d->path, d->cap = 2 * need);
        d->path[plen] = '/';
        memcpy(d->path + plen + 1, c->name, nlen);
        dump_node(d, c, plen + 1 + nlen);
    }
    free(k.v);
}

static int snapshot_dump(const char *path, int json)
{
    struct db db;
    struct snapshot_info info;
    int rc = load_snapshot(path, &db, &info);
    if (!rc) {
        struct dump d = {stdout, db.tree, json, 1, zk_xmalloc(256), 256, 0};
        if (json)
            fputs("{\"nodes\": [", stdout);
        else
            puts("ZNode Details:\n----");
        dump_node(&d, tree_root(db.tree), 0);
        free(d.path);
        fputs(json ? "\n ],\n \"sessions\": [" : "----\nSession Details (sid, timeout, "
                                                 "ephemeralCount):\n",
              stdout);
        int64_t id;
        void *v;
        int first = 1;
        I64MAP_FOREACH(&db.sessions.map, id, v)
        {
            struct session *se = v;
            size_t eph = tree_ephemeral_count(db.tree, id);
            if (json)
                printf("%s{\"id\": %" PRId64 ", \"timeout\": %d, \"ephemerals\": %zu}",
                       first ? "" : ", ", id, se->timeout, eph);
            else
                printf("0x%" PRIx64 ", %d, %zu\n", (uint64_t)id, se->timeout, eph);
            first = 0;
        }
        if (json)
            printf("],\n \"znodes\": %" PRIu64 ", \"digest\": %s}\n", d.nodes,
                   info.digest_zxid >= 0 ? "true" : "false");
        else
            printf("----\n%" PRIu64 " znodes, %u sessions%s\n", d.nodes,
                   sessions_count(&db.sessions),
                   info.digest_zxid >= 0 ? "; has a digest (zkd checks it at start-up, this tool does not)" : "");
    }
    db_free(&db);
    return rc ? 1 : 0;
}

/* ---- log-dump ---- */

static const char *op_name(int32_t type)
{
    switch (type) {
    case ZK_OP_CREATE: return "create";
    case ZK_OP_CREATE2: return "create2";
    case ZK_OP_CREATECONTAINER: return "createContainer";
    case ZK_OP_CREATETTL: return "createTTL";
    case ZK_OP_DELETE: return "delete";
    case ZK_OP_DELETECONTAINER: return "deleteContainer";
    case ZK_OP_SETDATA: return "setData";
    case ZK_OP_SETACL: return "setACL";
    case ZK_OP_CHECK: return "check";
    case ZK_OP_MULTI: return "multi";
    case ZK_OP_RECONFIG: return "reconfig";
    case ZK_OP_CREATESESSION: return "createSession";
    case ZK_OP_CLOSESESSION: return "closeSession";
    case ZK_OP_ERROR: return "error";
    case TXN_NEWEPOCH: return "newEpoch";
    default: return "?";
    }
}

struct scan {
    int print;
    uint64_t n;
    int64_t first, last;
};

static int print_txn(int64_t zxid, const void *rec, size_t len, void *data)
{
    struct scan *s = data;
    if (!s->n)
        s->first = zxid;
    s->n++;
    s->last = zxid;
    if (!s->print)
        return 0;
    struct txn t;
    if (txn_decode(rec, len, &t)) {
        printf("zxid 0x%" PRIx64 ": undecodable record of type %d (%zu bytes)\n", (uint64_t)zxid,
               txn_peek_type(rec), len);
        return 0;
    }
    put_time(stdout, t.time);
    printf(" session 0x%" PRIx64 " cxid 0x%x zxid 0x%" PRIx64 " %s", (uint64_t)t.session,
           (unsigned)t.cxid, (uint64_t)zxid,
           op_name(t.type == TXN_NEWEPOCH ? t.type : txn_peek_type(rec)));
    if (t.type == ZK_OP_CREATESESSION)
        printf(" timeout %d", t.timeout);
    if (t.type == TXN_NEWEPOCH)
        printf(" %" PRId64, t.epoch);
    if (t.type == ZK_OP_ERROR) /* the ErrorTxn's code, as Apache's LogFormatter shows it */
        printf(" %d", t.err);
    /* A multi's ops and a closeSession's paths2Delete carry their own op names. */
    int named = t.type == ZK_OP_MULTI || t.type == ZK_OP_CLOSESESSION;
    for (int i = 0; i < t.nops; i++) {
        const struct txn_op *op = &t.ops[i];
        printf("%s%s%s ", i ? ";" : "", named ? " " : "", named ? op_name(op->type) : "");
        if (op->type == ZK_OP_ERROR) /* a failed multi's op: its code */
            printf("%d", op->version);
        else
            printf("%s", op->path);
    }
    putchar('\n');
    txn_free(&t);
    return 0;
}

/* Scans one log file.  Returns 0 if it ends cleanly, 1 if damaged, -errno. */
static int scan_log(const char *path, struct scan *s)
{
    const char *why = NULL;
    int64_t at = 0;
    int rc = txnlog_scan_file(path, print_txn, s, &why, &at);
    if (rc) {
        fprintf(stderr, "%s: %s\n", path, rc == -EPROTO ? "unknown log format version"
                                                        : strerror(-rc));
        return rc;
    }
    if (why)
        fprintf(stderr, "%s: %s at offset %" PRId64 "\n", path, why, at);
    return why ? 1 : 0;
}

static int log_dump(const char *path)
{
    struct scan s = {.print = 1};
    int rc = scan_log(path, &s);
    if (rc >= 0)
        printf("%" PRIu64 " txns, zxids 0x%" PRIx64 " - 0x%" PRIx64 "%s\n", s.n,
               (uint64_t)s.first, (uint64_t)s.last, rc ? "; the rest is damaged" : "");
    return rc ? 1 : 0;
}

/* ---- verify-datadir ---- */

/* A snapshot whose digest is of its own zxid is compared at once, for the
 * report; a fuzzy one's only by the replay (verify_digests).  A difference
 * is not damage (see below). */
static void check_snapshot_digest(const char *name, struct db *db, const struct snapshot_info *info,
                                  int64_t zxid)
{
    if (info->digest_zxid <= 0 || info->digest_version != DIGEST_VERSION)
        return;
    if (info->digest_zxid != zxid) {
        printf("%s: digest of zxid 0x%" PRIx64 " (a fuzzy snapshot: checked by the log replay "
               "if it is the newest)\n", name, (uint64_t)info->digest_zxid);
        return;
    }
    int64_t have = digest_tree(db->tree);
    if (have == info->digest) {
        printf("%s: digest ok\n", name);
        return;
    }
    /* Not damage: Apache writes the digest last logged after the tree, and
     * a txn applied meanwhile can be in the tree before its digest is
     * logged (server.c recover).  The replay compares the log's digests. */
    printf("%s: digest of zxid 0x%" PRIx64 " is %" PRId64 ", its tree hashes to %" PRId64
           " (a write applied while the snapshot was taken; checked by the log replay if it is "
           "the newest)\n", name, (uint64_t)zxid, info->digest, have);
}

static int verify_snapshots(const char *vdir, int64_t *newest_ok, char *newest_path, size_t cap)
{
    struct datafile *files;
    int n = datadir_list(vdir, "snapshot.", snap_suffixes, 1, &files), bad = 0;
    *newest_ok = -1;
    for (int i = 0; i < n; i++) {
        char path[PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/%s", vdir, files[i].name);
        struct db db;
        struct snapshot_info info;
        int rc = load_snapshot(path, &db, &info);
        if (rc == 0) {
            printf("%s: ok, %" PRIu64 " znodes, %u sessions\n", files[i].name,
                   tree_node_count(db.tree), sessions_count(&db.sessions));
            check_snapshot_digest(files[i].name, &db, &info, files[i].zxid);
            if (*newest_ok < 0) {
                *newest_ok = files[i].zxid;
                snprintf(newest_path, cap, "%s", path);
            }
        } else if (rc == -ENODATA) {
            /* Not damage: what a crash while writing leaves (snapshot.h). */
            printf("%s: incomplete, skipped\n", files[i].name);
        } else {
            bad++;
        }
        db_free(&db);
    }
    if (n > 0 && *newest_ok < 0) {
        printf("no snapshot is usable: a server will not start from this dataDir\n");
        bad++;
    }
    free(files);
    if (n < 0)
        fprintf(stderr, "%s: %s\n", vdir, strerror(-n));
    return n < 0 ? 1 : bad;
}

static int verify_logs(const char *vdir, int64_t from)
{
    struct datafile *files;
    int n = datadir_list(vdir, "log.", NULL, 0, &files), bad = n < 0;
    int64_t prev = -1;
    int covered = from <= 0;
    for (int i = 0; i < n; i++) {
        char path[PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/%s", vdir, files[i].name);
        struct scan s = {0};
        int rc = scan_log(path, &s);
        if (rc)
            bad++;
        if (!s.n) {
            printf("%s: empty\n", files[i].name);
            continue;
        }
        printf("%s: %" PRIu64 " txns, 0x%" PRIx64 " - 0x%" PRIx64 "%s\n", files[i].name, s.n,
               (uint64_t)s.first, (uint64_t)s.last, rc ? ", then damaged" : "");
        if (prev >= 0 && (s.first >> 32) == (prev >> 32) && s.first != prev + 1 &&
            s.first - 1 > from) {
            printf("%s: gap: txns 0x%" PRIx64 " - 0x%" PRIx64 " are missing\n", files[i].name,
                   (uint64_t)prev + 1, (uint64_t)s.first - 1);
            bad++;
        }
        if (s.first <= from + 1 && s.last >= from)
            covered = 1;
        prev = s.last;
    }
    if (n > 0 && prev > from && !covered) {
        printf("the log does not continue from the newest valid snapshot (0x%" PRIx64 ")\n",
               (uint64_t)from);
        bad++;
    }
    free(files);
    return bad;
}

/*
 * The log's TxnDigests, as a server checks them on recovery: the newest
 * valid snapshot with every logged txn above it applied (apply_committed,
 * the server's own replay), the tree digest kept per change (digest_db) and
 * compared with each entry's TxnDigest once past a fuzzy snapshot's digest
 * zxid, where the snapshot's digest is compared.  Returns the mismatches.
 */
struct replay {
    struct db db;
    int64_t last, digest_zxid, digest_want;
    int fuzzy; /* the snapshot's tree is past its own digest: compare from
                * the first TxnDigest the tree matches, as the server does */
    uint64_t checked, bad;
};

static int replay_txn(int64_t zxid, const void *rec, size_t len, void *d)
{
    struct replay *r = d;
    struct txn t;
    if (zxid <= r->last || txn_decode(rec, len, &t))
        return 0; /* below the snapshot; or undecodable, which the scan reports */
    struct journal j = {0};
    if (apply_committed(&r->db, &t, zxid, &j) == 0)
        journal_commit(&r->db, &j, zxid);
    journal_free(&j);
    r->db.last_zxid = r->last = zxid;
    if (zxid == r->digest_zxid) {
        r->digest_zxid = -1;
        if (digest_db(&r->db) != r->digest_want) {
            printf("snapshot digest MISMATCH at zxid 0x%" PRIx64 "\n", (uint64_t)zxid);
            r->bad++;
        }
    }
    if (r->digest_zxid < 0 && t.has_digest && t.digest_version == DIGEST_VERSION) {
        int64_t have = digest_db(&r->db);
        if (r->fuzzy && have != t.digest) {
            txn_free(&t);
            return 0;
        }
        r->fuzzy = 0;
        r->checked++;
        if (have != t.digest && r->bad++ < 10)
            printf("txn 0x%" PRIx64 ": digest MISMATCH: the log says %" PRId64 ", the tree "
                   "hashes to %" PRId64 "\n", (uint64_t)zxid, t.digest, have);
    }
    txn_free(&t);
    return 0;
}

static int verify_digests(const char *vdir, const char *snap_path, int64_t snap)
{
    struct replay r = {.last = snap, .digest_zxid = -1};
    struct snapshot_info info;
    if (load_snapshot(snap_path, &r.db, &info)) {
        db_free(&r.db);
        return 1;
    }
    if (info.digest_zxid > snap && info.digest_version == DIGEST_VERSION) {
        r.digest_zxid = info.digest_zxid;
        r.digest_want = info.digest;
    }
    if (info.digest_zxid == snap && info.digest_version == DIGEST_VERSION)
        r.fuzzy = digest_db(&r.db) != info.digest;
    r.db.last_zxid = snap;
    struct datafile *files;
    int n = datadir_list(vdir, "log.", NULL, 0, &files);
    for (int i = 0; i < n; i++) {
        char path[PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/%s", vdir, files[i].name);
        const char *why;
        int64_t at;
        txnlog_scan_file(path, replay_txn, &r, &why, &at); /* damage: verify_logs says */
    }
    if (n >= 0)
        free(files);
    printf("log digests: %" PRIu64 " checked from snapshot 0x%" PRIx64 ", %" PRIu64
           " mismatched\n", r.checked, (uint64_t)snap, r.bad);
    db_free(&r.db);
    return r.bad ? 1 : 0;
}

static int verify_datadir(const char *dir)
{
    char vdir[PATH_MAX];
    struct stat st;
    snprintf(vdir, sizeof vdir, "%s/%s", dir, DATADIR_VERSION_DIR);
    if (stat(vdir, &st) || !S_ISDIR(st.st_mode))
        snprintf(vdir, sizeof vdir, "%s", dir);
    int64_t newest = -1;
    char newest_path[PATH_MAX + 300] = "";
    int bad = verify_snapshots(vdir, &newest, newest_path, sizeof newest_path);
    bad += verify_logs(vdir, newest);
    if (newest >= 0)
        bad += verify_digests(vdir, newest_path, newest);
    if (newest >= 0)
        printf("recovery would start from snapshot 0x%" PRIx64 "\n", (uint64_t)newest);
    printf("%s\n", bad ? "PROBLEMS FOUND" : "ok");
    return bad ? 1 : 0;
}

/* ---- entry ---- */

int datatool_main(int argc, char **argv)
{
    const char *cmd = argv[1];
    if (!strcmp(cmd, "snapshot-dump") && (argc == 3 || (argc == 4 && !strcmp(argv[3], "--json"))))
        return snapshot_dump(argv[2], argc == 4);
    if (!strcmp(cmd, "log-dump") && argc == 3)
        return log_dump(argv[2]);
    if (!strcmp(cmd, "verify-datadir") && argc == 3)
        return verify_datadir(argv[2]);
    fprintf(stderr, "usage: zkd snapshot-dump FILE [--json] | zkd log-dump FILE | "
                    "zkd verify-datadir DIR\n");
    return 2;
}

int datatool_is_command(const char *arg)
{
    return !strcmp(arg, "snapshot-dump") || !strcmp(arg, "log-dump") ||
           !strcmp(arg, "verify-datadir");
}
