/*
 * digest.c - see digest.h.
 */
#include "digest.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "zk/jute.h"

#define ZK_SUBTREE "/zookeeper/"
#define DIGEST_SMALL 512
#define DIGEST_STAT 60 /* czxid mzxid pzxid ctime mtime, 3 versions, owner */

uint32_t digest_node(const char *path, size_t plen, const struct znode *n)
{
    if (plen >= strlen(ZK_SUBTREE) && !memcmp(path, ZK_SUBTREE, strlen(ZK_SUBTREE)))
        return 0;
    if (plen == 1 && path[0] == '/')
        plen = 0; /* Apache keys the root as "" (and "/" as its alias) */
    /* Small nodes are hashed in one crc32() call: zlib's per-call set-up
     * costs as much as the bytes of a short path or value (ten million
     * nodes are hashed at every start-up and snapshot). */
    uint8_t buf[DIGEST_SMALL];
    size_t dlen = n->datalen > 0 ? (size_t)n->datalen : 0;
    int small = plen + dlen + DIGEST_STAT <= sizeof buf;
    uint8_t *st = small ? buf + plen + dlen : buf;
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
    if (small) {
        memcpy(buf, path, plen);
        if (dlen)
            memcpy(buf + plen, tree_data(n), dlen);
        return (uint32_t)crc32_z(crc, buf, plen + dlen + DIGEST_STAT);
    }
    crc = crc32_z(crc, (const Bytef *)path, plen);
    if (dlen)
        crc = crc32_z(crc, (const Bytef *)tree_data(n), dlen);
    crc = crc32_z(crc, st, DIGEST_STAT);
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
