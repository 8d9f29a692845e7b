/*
 * digest.c - see digest.h.
 */
#include "digest.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "checksum.h"
#include "db.h"
#include "zk/jute.h"

#define ZK_SUBTREE "/zookeeper/"
#define DIGEST_SMALL 512
#define DIGEST_STAT 60 /* czxid mzxid pzxid ctime mtime, 3 versions, owner */

/* The digest of path || data || st, st being the 60 stat bytes in the
 * digest's order. */
static uint32_t digest_parts(const char *path, size_t plen, const void *data, size_t dlen,
                             const uint8_t *st)
{
    if (plen >= strlen(ZK_SUBTREE) && !memcmp(path, ZK_SUBTREE, strlen(ZK_SUBTREE)))
        return 0;
    if (plen == 1 && path[0] == '/')
        plen = 0; /* Apache keys the root as "" (and "/" as its alias) */
    uint32_t crc = CKSUM_CRC32_START;
    /* Small nodes are hashed in one call: the per-call set-up of the SIMD
     * routine costs as much as the bytes of a short path, and every create
     * hashes three nodes. */
    uint8_t buf[DIGEST_SMALL];
    if (plen + dlen + DIGEST_STAT <= sizeof buf) {
        memcpy(buf, path, plen);
        if (dlen)
            memcpy(buf + plen, data, dlen);
        memcpy(buf + plen + dlen, st, DIGEST_STAT);
        return cksum_crc32(crc, buf, plen + dlen + DIGEST_STAT);
    }
    crc = cksum_crc32(crc, path, plen);
    if (dlen)
        crc = cksum_crc32(crc, data, dlen);
    return cksum_crc32(crc, st, DIGEST_STAT);
}

uint32_t digest_node(const char *path, size_t plen, const struct znode *n)
{
    uint8_t st[DIGEST_STAT];
    zk_be64_put(st, (uint64_t)n->czxid);
    zk_be64_put(st + 8, (uint64_t)n->mzxid);
    zk_be64_put(st + 16, (uint64_t)tree_pzxid(n));
    zk_be64_put(st + 24, (uint64_t)n->ctime);
    zk_be64_put(st + 32, (uint64_t)tree_mtime(n));
    zk_be32_put(st + 40, (uint32_t)n->version);
    zk_be32_put(st + 44, (uint32_t)tree_cversion(n));
    zk_be32_put(st + 48, (uint32_t)tree_aversion(n));
    zk_be64_put(st + 52, (uint64_t)tree_owner(n));
    return digest_parts(path, plen, tree_data(n), n->datalen > 0 ? (size_t)n->datalen : 0, st);
}

/* A length field of a record the loader has parsed: -1 (null) reads as 0. */
static size_t rec_len(const uint8_t *p)
{
    int32_t v = (int32_t)zk_be32_get(p);
    return v > 0 ? (size_t)v : 0;
}

uint32_t digest_record(const uint8_t *rec, const uint8_t **end)
{
    size_t plen = rec_len(rec);
    const char *path = (const char *)rec + 4;
    const uint8_t *d = rec + 4 + plen;
    size_t dlen = rec_len(d);
    const uint8_t *img = d + 4 + dlen + 8; /* StatPersisted, after the ACL index */
    /* The image's czxid mzxid ctime mtime version cversion aversion owner
     * pzxid, in the digest's order: czxid mzxid pzxid ctime mtime version
     * cversion aversion owner. */
    uint8_t st[DIGEST_STAT];
    memcpy(st, img, 16);
    memcpy(st + 16, img + 52, 8);
    memcpy(st + 24, img + 16, 16);
    memcpy(st + 40, img + 32, 12);
    memcpy(st + 52, img + 44, 8);
    *end = img + DIGEST_STAT;
    return digest_parts(path, plen, d + 4, dlen, st);
}

/* ---- following a loader on a second thread ---- */

#define FOLLOW_BATCH 1024 /* records per hand-over */

struct digest_follow {
    pthread_t thread;
    int threaded;
    pthread_mutex_t lock;
    pthread_cond_t more;
    const uint8_t *upto;   /* under lock: records before it are complete */
    int done;              /* under lock: no more records will come */
    const uint8_t *at;     /* the worker's: the next record to hash */
    uint64_t sum;          /* the worker's */
    const uint8_t *last;   /* the loader's: end of the last record added */
    unsigned pending;      /* the loader's: records added since the hand-over */
    int broken;            /* the loader's: records were not contiguous */
};

/* Hashes the records in [f->at, upto). */
static void follow_hash(struct digest_follow *f, const uint8_t *upto)
{
    while (f->at && f->at < upto)
        f->sum += digest_record(f->at, &f->at);
}

static void *follow_run(void *arg)
{
    struct digest_follow *f = arg;
    pthread_mutex_lock(&f->lock);
    for (;;) {
        while (f->upto == f->at && !f->done)
            pthread_cond_wait(&f->more, &f->lock);
        const uint8_t *upto = f->upto;
        int done = f->done;
        pthread_mutex_unlock(&f->lock);
        follow_hash(f, upto);
        pthread_mutex_lock(&f->lock);
        if (done && f->at == f->upto)
            break;
    }
    pthread_mutex_unlock(&f->lock);
    return NULL;
}

struct digest_follow *digest_follow_start(void)
{
    struct digest_follow *f = zk_xcalloc(1, sizeof *f);
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->more, NULL);
    f->threaded = !pthread_create(&f->thread, NULL, follow_run, f);
    return f;
}

/* Publishes the records added so far. */
static void follow_publish(struct digest_follow *f, int done)
{
    pthread_mutex_lock(&f->lock);
    f->upto = f->last;
    f->done |= done;
    pthread_cond_signal(&f->more);
    pthread_mutex_unlock(&f->lock);
    f->pending = 0;
}

void digest_follow_add(struct digest_follow *f, const uint8_t *rec, const uint8_t *end)
{
    if (f->broken)
        return;
    if (!f->last) {
        pthread_mutex_lock(&f->lock); /* the worker reads `at` after taking it */
        f->at = f->upto = rec;
        pthread_mutex_unlock(&f->lock);
    } else if (rec != f->last) {
        f->broken = 1; /* the records must follow one another */
        return;
    }
    f->last = end;
    if (++f->pending == FOLLOW_BATCH)
        follow_publish(f, 0);
}

int digest_follow_finish(struct digest_follow *f, int64_t *sum)
{
    follow_publish(f, 1);
    if (f->threaded)
        pthread_join(f->thread, NULL);
    else
        follow_hash(f, f->last);
    int ok = !f->broken;
    *sum = (int64_t)f->sum;
    pthread_cond_destroy(&f->more);
    pthread_mutex_destroy(&f->lock);
    free(f);
    return ok ? 0 : -1;
}

struct walk {
    char *path; /* the current node's path, grown as the walk descends */
    size_t len, cap;
    uint64_t sum;
};

static void visit(struct znode *n, void *d)
{
    struct walk *w = d;
    size_t at = w->len;
    size_t nlen = tree_namelen(n);
    size_t need = at + 1 + nlen + 1;
    if (need > w->cap) {
        w->cap = need * 2;
        w->path = zk_xrealloc(w->path, w->cap);
    }
    w->path[at] = '/';
    memcpy(w->path + at + 1, n->name, nlen);
    w->len = at + 1 + nlen;
    w->sum += digest_node(w->path, w->len, n);
    tree_foreach_child(n, visit, w);
    w->len = at;
}

int64_t digest_tree(struct tree *t)
{
    struct walk w = {.path = zk_xmalloc(256), .cap = 256};
    struct znode *root = tree_root(t);
    w.sum = digest_node("", 0, root);
    tree_foreach_child(root, visit, &w);
    free(w.path);
    return (int64_t)w.sum;
}

int64_t digest_db(struct db *db)
{
    if (db->digest_of != db->tree) {
        /* Right after a load, the sum taken while loading (db.h) spares the walk. */
        db->digest = db->loaded_digest_ok ? db->loaded_digest : digest_tree(db->tree);
        db->digest_of = db->tree;
    }
    return db->digest;
}

/* n's term of the sum; n must be linked (its path is walked up). */
static uint32_t node_term(const struct znode *n)
{
    char buf[512];
    size_t len = tree_path(n, buf, sizeof buf);
    if (len < sizeof buf)
        return digest_node(buf, len, n);
    char *path = zk_xmalloc(len + 1);
    tree_path(n, path, len + 1);
    uint32_t h = digest_node(path, len, n);
    free(path);
    return h;
}

void digest_sub(struct db *db, const struct znode *n)
{
    digest_sub_at(db, n, NULL, 0);
}

void digest_add(struct db *db, const struct znode *n)
{
    digest_add_at(db, n, NULL, 0);
}

/* n's term, from its path when the caller has it. */
static uint32_t term_at(const struct znode *n, const char *path, size_t len)
{
    return path ? digest_node(path, len, n) : node_term(n);
}

void digest_sub_at(struct db *db, const struct znode *n, const char *path, size_t len)
{
    db->loaded_digest_ok = 0; /* the tree is no longer the one loaded */
    if (db->digest_of == db->tree)
        db->digest = (int64_t)((uint64_t)db->digest - term_at(n, path, len));
}

void digest_add_at(struct db *db, const struct znode *n, const char *path, size_t len)
{
    db->loaded_digest_ok = 0;
    if (db->digest_of == db->tree)
        db->digest = (int64_t)((uint64_t)db->digest + term_at(n, path, len));
}

void digest_log_note(struct digest_log *l, int64_t zxid, int64_t digest)
{
    if (zxid % DIGEST_LOG_INTERVAL)
        return;
    if (!l->v)
        l->v = zk_xmalloc(DIGEST_LOG_LIMIT * sizeof *l->v);
    int at = (l->head + l->n) % DIGEST_LOG_LIMIT;
    if (l->n == DIGEST_LOG_LIMIT)
        l->head = (l->head + 1) % DIGEST_LOG_LIMIT; /* the oldest goes */
    else
        l->n++;
    l->v[at] = (struct digest_entry){zxid, digest};
}

const struct digest_entry *digest_log_at(const struct digest_log *l, int i)
{
    return &l->v[(l->head + i) % DIGEST_LOG_LIMIT];
}

void digest_log_free(struct digest_log *l)
{
    free(l->v);
    memset(l, 0, sizeof *l);
}
