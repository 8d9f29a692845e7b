/*
 * digest.c - see digest.h.
 */
#include "digest.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

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
