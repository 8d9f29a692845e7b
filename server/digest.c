/*
 * digest.c - see digest.h.
 */
#include "digest.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "db.h"
#include "zk/jute.h"

#define ZK_SUBTREE "/zookeeper/"

uint32_t digest_node(const char *path, size_t plen, const struct znode *n)
{
    if (plen >= strlen(ZK_SUBTREE) && !memcmp(path, ZK_SUBTREE, strlen(ZK_SUBTREE)))
        return 0;
    if (plen == 1 && path[0] == '/')
        plen = 0; /* Apache keys the root as "" (and "/" as its alias) */
    uint8_t st[60];
    zk_be64_put(st, (uint64_t)n->czxid);
    zk_be64_put(st + 8, (uint64_t)n->mzxid);
    zk_be64_put(st + 16, (uint64_t)tree_pzxid(n));
    zk_be64_put(st + 24, (uint64_t)n->ctime);
    zk_be64_put(st + 32, (uint64_t)n->mtime);
    zk_be32_put(st + 40, (uint32_t)n->version);
    zk_be32_put(st + 44, (uint32_t)tree_cversion(n));
    zk_be32_put(st + 48, (uint32_t)n->aversion);
    zk_be64_put(st + 52, (uint64_t)tree_owner(n));
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, (const Bytef *)path, (uInt)plen);
    if (n->datalen > 0)
        crc = crc32(crc, (const Bytef *)tree_data(n), (uInt)n->datalen);
    crc = crc32(crc, st, sizeof st);
    return (uint32_t)crc;
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
    size_t need = at + 1 + n->namelen + 1;
    if (need > w->cap) {
        w->cap = need * 2;
        w->path = zk_xrealloc(w->path, w->cap);
    }
    w->path[at] = '/';
    memcpy(w->path + at + 1, n->name, n->namelen);
    w->len = at + 1 + n->namelen;
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
        db->digest = digest_tree(db->tree);
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
    if (db->digest_of == db->tree)
        db->digest = (int64_t)((uint64_t)db->digest - node_term(n));
}

void digest_add(struct db *db, const struct znode *n)
{
    if (db->digest_of == db->tree)
        db->digest = (int64_t)((uint64_t)db->digest + node_term(n));
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
