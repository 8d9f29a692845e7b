/*
 * nodes.c - node and inode tables, and the zkfs-side cache of stat and data.
 *
 * Two chained hash tables: nodes by path, inodes by number.  Neither is ever
 * shrunk during the mount: a node is a few dozen bytes plus its path, and
 * keeping it is what keeps inode numbers stable.  Cached data is dropped
 * when the kernel forgets the last inode of a node, so memory for data
 * follows what the kernel holds.
 */
#include "nodes.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "zconn.h"

#define NBUCKETS (1u << 16)

struct inode;

struct node {
    char *path;
    struct node *next;          /* hash chain */
    int64_t czxid;              /* incarnation of the current inodes; 0 unknown */
    int was_dir;                /* shown as a directory by this mount */
    struct inode *cur[KIND_COUNT]; /* current inode per kind, or NULL */
    uint64_t gen;               /* bumped by every invalidation */
    int stat_valid;
    int info_known;             /* info holds a reply, valid or not (nodes_held) */
    struct node_info info;
    int data_valid;
    char *data;                 /* cached data (NULL when empty or null) */
    int32_t data_len;
};

struct inode {
    fuse_ino_t ino;
    int kind;
    struct node *node;
    uint64_t nlookup;
    struct inode *next; /* hash chain */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct node **node_tab;
static struct inode **inode_tab;
static fuse_ino_t next_ino = FUSE_ROOT_ID;
static int caching;
static struct timespec mounted_at; /* shown for times the server leaves at 0 */

static uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static struct node *node_find(const char *path, int make)
{
    uint32_t h = hash_str(path) & (NBUCKETS - 1);
    for (struct node *n = node_tab[h]; n; n = n->next)
        if (strcmp(n->path, path) == 0)
            return n;
    if (!make)
        return NULL;
    struct node *n = calloc(1, sizeof *n);
    if (!n || !(n->path = strdup(path))) {
        free(n);
        return NULL;
    }
    n->next = node_tab[h];
    node_tab[h] = n;
    return n;
}

static struct inode *inode_find(fuse_ino_t ino)
{
    for (struct inode *i = inode_tab[ino & (NBUCKETS - 1)]; i; i = i->next)
        if (i->ino == ino)
            return i;
    return NULL;
}

static struct inode *inode_make(struct node *n, int kind)
{
    struct inode *i = calloc(1, sizeof *i);
    if (!i)
        return NULL;
    i->ino = next_ino++;
    i->kind = kind;
    i->node = n;
    size_t h = i->ino & (NBUCKETS - 1);
    i->next = inode_tab[h];
    inode_tab[h] = i;
    n->cur[kind] = i;
    return i;
}

static void node_drop_cache(struct node *n)
{
    n->gen++;
    n->stat_valid = 0;
    n->data_valid = 0;
    free(n->data);
    n->data = NULL;
}

int nodes_init(void)
{
    clock_gettime(CLOCK_REALTIME, &mounted_at);
    node_tab = calloc(NBUCKETS, sizeof *node_tab);
    inode_tab = calloc(NBUCKETS, sizeof *inode_tab);
    struct node *root = node_tab && inode_tab ? node_find("/", 1) : NULL;
    if (!root || !inode_make(root, KIND_DIR))
        return -ENOMEM;
    root->was_dir = 1;
    root->cur[KIND_DIR]->nlookup = 1;
    return 0;
}

void nodes_fini(void)
{
    for (size_t h = 0; node_tab && h < NBUCKETS; h++) {
        for (struct node *n = node_tab[h], *nx; n; n = nx) {
            nx = n->next;
            free(n->data);
            free(n->path);
            free(n);
        }
    }
    for (size_t h = 0; inode_tab && h < NBUCKETS; h++) {
        for (struct inode *i = inode_tab[h], *nx; i; i = nx) {
            nx = i->next;
            free(i);
        }
    }
    free(node_tab);
    free(inode_tab);
    node_tab = NULL;
    inode_tab = NULL;
}

void nodes_set_caching(int on)
{
    pthread_mutex_lock(&mu);
    caching = on;
    for (size_t h = 0; h < NBUCKETS; h++)
        for (struct node *n = node_tab[h]; n; n = n->next)
            node_drop_cache(n);
    pthread_mutex_unlock(&mu);
}

char *nodes_path(fuse_ino_t ino, int *kind)
{
    pthread_mutex_lock(&mu);
    struct inode *i = inode_find(ino);
    char *p = i ? strdup(i->node->path) : NULL;
    if (i)
        *kind = i->kind;
    pthread_mutex_unlock(&mu);
    return p;
}

/* The kind a znode's state alone gives (the rule of nodes.h, without this
 * mount's memory). */
static int stat_kind(const struct zk_stat *st, int null_data)
{
    if (st->num_children > 0)
        return KIND_DIR;
    if (st->ephemeral_owner != 0)
        return KIND_FILE; /* can never have children */
    if (null_data || (st->data_length == 0 && st->version == 0))
        return KIND_DIR; /* made by mkdir, or a parent-to-be never written */
    return KIND_FILE;
}

/* Decides the kind by the rule of nodes.h.  Called with mu held. */
static int node_kind(struct node *n, const struct zk_stat *st, int null_data)
{
    if (n->was_dir && (n->czxid == 0 || n->czxid == st->czxid)) /* 0: just moved here */
        return KIND_DIR;
    return stat_kind(st, null_data);
}

/* The generation of `path`'s node (made if needed, so that an invalidation
 * from now on is seen), for fetch_store.  OUT n. */
static uint64_t fetch_begin(const char *path, struct node **n)
{
    pthread_mutex_lock(&mu);
    *n = node_find(path, 1);
    uint64_t gen = *n ? (*n)->gen : 0;
    pthread_mutex_unlock(&mu);
    return gen;
}

/* Handles the getData reply `res` (status rc) for node `n`: stores it into
 * the cache unless an event invalidated the node since `gen`, and fills the
 * OUT parameters (each may be NULL) as nodes_read does.  Returns rc, or
 * ZK_SYSTEMERROR when out of memory. */
static int fetch_store(struct node *n, uint64_t gen, int rc, struct zk_result *res, char **data,
                       int32_t *len, struct node_info *info)
{
    if (rc)
        return rc;
    struct node_info in = {.st = res->stat, .null_data = res->data_len < 0};
    pthread_mutex_lock(&mu);
    if (n && n->czxid != 0 && n->czxid != in.st.czxid)
        n->was_dir = 0; /* another incarnation of the path */
    in.kind = n ? node_kind(n, &in.st, in.null_data) : stat_kind(&in.st, in.null_data);
    if (n && caching && n->gen == gen) {
        free(n->data);
        n->data = NULL;
        n->data_len = in.st.data_length;
        if (res->data_len > 0) {
            n->data = res->data; /* take the buffer */
            res->data = NULL;
        }
        n->info = in;
        n->stat_valid = n->data_valid = n->info_known = 1;
        if (data && n->data) {
            *data = malloc((size_t)n->data_len + 1);
            if (*data)
                memcpy(*data, n->data, (size_t)n->data_len + 1);
            else
                rc = ZK_SYSTEMERROR;
        }
    } else if (data && res->data_len > 0) {
        *data = res->data;
        res->data = NULL;
    }
    pthread_mutex_unlock(&mu);
    if (len)
        *len = res->data_len > 0 ? res->data_len : 0;
    if (info)
        *info = in;
    return rc;
}

/* getData on the server; stores into the cache unless invalidated meanwhile. */
static int fetch_remote(struct zkfs_conn *c, const char *path, char **data, int32_t *len,
                        struct node_info *info)
{
    struct node *n;
    uint64_t gen = fetch_begin(path, &n);
    struct zk_request r = {.op = ZK_OP_GETDATA, .path = path};
    struct zk_result *res = NULL;
    int rc = zconn_submit(c, &r, &res);
    rc = fetch_store(n, gen, rc, res, data, len, info);
    zk_result_free(res);
    return rc;
}

int nodes_fetch(struct zkfs_conn *c, const char *path, struct node_info *info)
{
    pthread_mutex_lock(&mu);
    struct node *n = node_find(path, 0);
    if (n && n->stat_valid) {
        *info = n->info;
        pthread_mutex_unlock(&mu);
        return 0;
    }
    pthread_mutex_unlock(&mu);
    return fetch_remote(c, path, NULL, NULL, info);
}

int nodes_fetch_many(struct zkfs_conn *c, const char *const *paths, size_t count,
                     struct node_info *infos, int *rcs)
{
    struct zk_request *reqs = calloc(count, sizeof *reqs);
    struct node **ns = calloc(count, sizeof *ns);
    uint64_t *gens = calloc(count, sizeof *gens);
    size_t *idx = calloc(count, sizeof *idx);
    int *st = calloc(count, sizeof *st);
    struct zk_result **res = calloc(count, sizeof *res);
    int ret = 0;
    if (count && !(reqs && ns && gens && idx && st && res)) {
        ret = ZK_SYSTEMERROR;
        goto out;
    }
    size_t m = 0; /* requests to send */
    for (size_t i = 0; i < count; i++) {
        pthread_mutex_lock(&mu);
        struct node *n = node_find(paths[i], 0);
        int hit = n && n->stat_valid;
        if (hit)
            infos[i] = n->info;
        pthread_mutex_unlock(&mu);
        if (hit) {
            rcs[i] = 0;
            continue;
        }
        gens[m] = fetch_begin(paths[i], &ns[m]);
        reqs[m] = (struct zk_request){.op = ZK_OP_GETDATA, .path = paths[i]};
        idx[m++] = i;
    }
    ret = zconn_submit_many(c, reqs, m, st, res);
    for (size_t k = 0; ret == 0 && k < m; k++)
        rcs[idx[k]] = fetch_store(ns[k], gens[k], st[k], res[k], NULL, NULL, &infos[idx[k]]);
    for (size_t k = 0; ret == 0 && k < m; k++)
        zk_result_free(res[k]);
out:
    free(reqs);
    free(ns);
    free(gens);
    free(idx);
    free(st);
    free(res);
    return ret;
}

int nodes_read(struct zkfs_conn *c, const char *path, char **data, int32_t *len,
               struct node_info *info)
{
    *data = NULL;
    *len = 0;
    pthread_mutex_lock(&mu);
    struct node *n = node_find(path, 0);
    if (n && n->data_valid) {
        if (n->data) {
            *data = malloc((size_t)n->data_len + 1);
            if (!*data) {
                pthread_mutex_unlock(&mu);
                return ZK_SYSTEMERROR;
            }
            memcpy(*data, n->data, (size_t)n->data_len + 1);
            *len = n->data_len;
        }
        if (info)
            *info = n->info;
        pthread_mutex_unlock(&mu);
        return 0;
    }
    pthread_mutex_unlock(&mu);
    return fetch_remote(c, path, data, len, info);
}

/* Detaches the inodes of `n`.  Called with mu held. */
static void node_detach(struct node *n, fuse_ino_t inos[KIND_COUNT])
{
    for (int k = 0; k < KIND_COUNT; k++) {
        if (inos)
            inos[k] = n->cur[k] && n->cur[k]->nlookup ? n->cur[k]->ino : 0;
        if (n->cur[k] && n->cur[k]->ino != FUSE_ROOT_ID)
            n->cur[k] = NULL;
    }
    n->was_dir = 0;
    n->czxid = 0;
}

fuse_ino_t nodes_ref(const char *path, int kind, int64_t czxid)
{
    pthread_mutex_lock(&mu);
    fuse_ino_t ino = 0;
    struct node *n = node_find(path, 1);
    if (!n)
        goto out;
    if (czxid && n->czxid && n->czxid != czxid)
        node_detach(n, NULL);
    if (czxid)
        n->czxid = czxid;
    if (kind == KIND_DIR && n->cur[KIND_FILE]) /* a file turned into a directory */
        n->cur[KIND_FILE] = NULL;
    if (kind == KIND_DIR)
        n->was_dir = 1;
    struct inode *i = n->cur[kind];
    if (!i && !(i = inode_make(n, kind)))
        goto out;
    i->nlookup++;
    ino = i->ino;
out:
    pthread_mutex_unlock(&mu);
    return ino;
}

void nodes_forget(fuse_ino_t ino, uint64_t count)
{
    pthread_mutex_lock(&mu);
    struct inode *i = inode_find(ino);
    if (i && i->ino != FUSE_ROOT_ID) {
        i->nlookup = i->nlookup > count ? i->nlookup - count : 0;
        struct node *n = i->node;
        int held = 0;
        for (int k = 0; k < KIND_COUNT; k++)
            held |= n->cur[k] && n->cur[k]->nlookup;
        if (!held && n->data_valid) { /* nothing in the kernel: drop the data */
            n->data_valid = 0;
            free(n->data);
            n->data = NULL;
        }
    }
    pthread_mutex_unlock(&mu);
}

fuse_ino_t nodes_current(const char *path, int kind)
{
    pthread_mutex_lock(&mu);
    struct node *n = node_find(path, 0);
    fuse_ino_t ino = n && n->cur[kind] && n->cur[kind]->nlookup ? n->cur[kind]->ino : 0;
    pthread_mutex_unlock(&mu);
    return ino;
}

fuse_ino_t nodes_held(const char *path, int kind, struct node_info *info)
{
    pthread_mutex_lock(&mu);
    struct node *n = node_find(path, 0);
    fuse_ino_t ino = 0;
    if (n && n->info_known && n->cur[kind] && n->cur[kind]->nlookup) {
        ino = n->cur[kind]->ino;
        n->cur[kind]->nlookup++;
        *info = n->info;
    }
    pthread_mutex_unlock(&mu);
    return ino;
}

void nodes_invalidate(const char *path)
{
    pthread_mutex_lock(&mu);
    struct node *n = node_find(path, 0);
    if (n)
        node_drop_cache(n);
    pthread_mutex_unlock(&mu);
}

void nodes_detach(const char *path, fuse_ino_t inos[KIND_COUNT])
{
    pthread_mutex_lock(&mu);
    struct node *n = node_find(path, 0);
    if (n) {
        node_drop_cache(n);
        node_detach(n, inos);
    } else {
        memset(inos, 0, sizeof(fuse_ino_t) * KIND_COUNT);
    }
    pthread_mutex_unlock(&mu);
}

void nodes_invalidate_all(fuse_ino_t **inos, size_t *count)
{
    size_t cap = 64, n = 0;
    fuse_ino_t *v = malloc(cap * sizeof *v);
    pthread_mutex_lock(&mu);
    for (size_t h = 0; h < NBUCKETS; h++)
        for (struct node *nd = node_tab[h]; nd; nd = nd->next)
            node_drop_cache(nd);
    for (size_t h = 0; v && h < NBUCKETS; h++) {
        for (struct inode *i = inode_tab[h]; i; i = i->next) {
            if (!i->nlookup)
                continue;
            if (n == cap) {
                fuse_ino_t *nv = realloc(v, 2 * cap * sizeof *v);
                if (!nv)
                    break;
                v = nv;
                cap *= 2;
            }
            v[n++] = i->ino;
        }
    }
    pthread_mutex_unlock(&mu);
    *inos = v;
    *count = v ? n : 0;
}

void nodes_attr(fuse_ino_t ino, int kind, const struct node_info *info, struct stat *out)
{
    memset(out, 0, sizeof *out);
    const struct zk_stat *st = &info->st;
    out->st_ino = ino;
    if (kind == KIND_DIR) {
        out->st_mode = S_IFDIR | 0755;
        /* At least 2 + subdirectories: an overcount is safe for find(1). */
        out->st_nlink = 2 + (nlink_t)(st->num_children > 0 ? st->num_children : 0);
    } else {
        out->st_mode = S_IFREG | 0644;
        out->st_nlink = 1;
    }
    out->st_size = st->data_length > 0 ? st->data_length : 0;
    out->st_blksize = 4096;
    out->st_blocks = (out->st_size + 511) / 512;
    out->st_uid = getuid();
    out->st_gid = getgid();
    out->st_mtim.tv_sec = st->mtime / 1000;
    out->st_mtim.tv_nsec = (st->mtime % 1000) * 1000000;
    if (st->mtime == 0) /* ZooKeeper's root znode "/" has no times */
        out->st_mtim = mounted_at;
    out->st_atim = out->st_mtim;
    out->st_ctim = out->st_mtim;
}

void nodes_move(const char *from, const char *to)
{
    pthread_mutex_lock(&mu);
    struct node *f = node_find(from, 0), *t = node_find(to, 1);
    if (t) {
        node_drop_cache(t);
        node_detach(t, NULL);
    }
    if (f && t) {
        for (int k = 0; k < KIND_COUNT; k++) {
            if (f->cur[k])
                f->cur[k]->node = t;
            t->cur[k] = f->cur[k];
            f->cur[k] = NULL;
        }
        t->czxid = 0; /* the moved znode is a new incarnation at `to` */
        t->was_dir = f->was_dir && t->cur[KIND_DIR];
        node_drop_cache(f);
        f->czxid = 0;
        f->was_dir = 0;
    }
    pthread_mutex_unlock(&mu);
}
