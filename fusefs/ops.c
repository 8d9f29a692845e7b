/*
 * ops.c - the FUSE low-level handlers: the mapping of docs/zkfs.md.
 *
 * Each handler is thin: it resolves inode numbers to znode paths
 * (nodes.h), makes the ZooKeeper calls through the blocking session
 * (conn.h), and replies exactly once.  Requests that come from the
 * notifier thread (notify.h) replay a change that already happened on the
 * server: they are answered from the server's state without changing it.
 *
 * Files are written whole: an open file handle for writing holds the
 * content in a buffer, write() edits the buffer, flush/fsync/close send it
 * with one setData (an atomic replace).  Read-only handles read the node
 * cache, which watches keep fresh.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "zconn.h"
#include "log.h"
#include "names.h"
#include "nodes.h"
#include "notify.h"
#include "slice.h"
#include "xattr.h"
#include "zkfs.h"

/* An open file. */
struct fh {
    pthread_mutex_t mu; /* guards buf, len, dirty */
    char *path;
    int writable;
    int dirty;
    char *buf;
    size_t len, cap;
    char *ephemeral; /* znode to delete on release (@eph, @eseq) */
};

static struct zkfs *fs(fuse_req_t req)
{
    return fuse_req_userdata(req);
}

/* 1 if `req` is a replay of a remote change (notify.h).  The worker that
 * answers one is then asked to take short time slices (slice.h): the
 * replay thread waits for it, and in a burst for it again right after. */
static int from_replay(fuse_req_t req)
{
    if (!notify_is_self(req))
        return 0;
    slice_short();
    return 1;
}

static void reply_zk(fuse_req_t req, int zk_status)
{
    fuse_reply_err(req, names_errno(zk_status));
}

/* The path of a directory inode.  Returns NULL and replies on error. */
static char *dir_path(fuse_req_t req, fuse_ino_t ino)
{
    int kind;
    char *p = nodes_path(ino, &kind);
    if (!p)
        fuse_reply_err(req, ENOENT);
    else if (kind != KIND_DIR) {
        free(p);
        p = NULL;
        fuse_reply_err(req, ENOTDIR);
    }
    return p;
}

static void fill_entry(struct fuse_entry_param *e, fuse_ino_t ino, int kind,
                       const struct node_info *info, double timeout)
{
    memset(e, 0, sizeof *e);
    e->ino = ino;
    e->attr_timeout = timeout;
    e->entry_timeout = timeout;
    nodes_attr(ino, kind, info, &e->attr);
}

/* Replies an entry for znode `path` shown as `kind` (-1: by its state). */
static void reply_node_entry(fuse_req_t req, const char *path, int kind)
{
    struct node_info info;
    int rc = nodes_fetch(fs(req)->conn, path, &info);
    if (rc) {
        reply_zk(req, rc);
        return;
    }
    if (kind < 0)
        kind = info.kind;
    fuse_ino_t ino = nodes_ref(path, kind, info.st.czxid);
    if (!ino) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    struct fuse_entry_param e;
    fill_entry(&e, ino, kind, &info, fs(req)->timeout);
    if (fuse_reply_entry(req, &e) != 0)
        nodes_forget(ino, 1);
}

/* The notifier's lookup of a znode it is about to unlink: it is gone from
 * the server, but the kernel must still find it to raise IN_DELETE. */
static void reply_ghost_entry(fuse_req_t req, const char *path, int kind)
{
    struct node_info info = {.kind = kind};
    fuse_ino_t ino = nodes_ref(path, kind, 0);
    if (!ino) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    struct fuse_entry_param e;
    fill_entry(&e, ino, kind, &info, 0);
    fuse_reply_entry(req, &e);
}

/*
 * The replay thread's lookup of a directory on the way to the path it
 * replays (its entry expired in the kernel, cache_timeout): answered with
 * the inode the kernel holds and the last stat read, marked already stale
 * (attribute timeout 0), without asking the server.  Every event in the
 * directory invalidates zkfs's cached stat of it, so in a burst each such
 * lookup would otherwise be a getData queued behind the burst's watch
 * events, stalling the replays for that long.  The directory existed when
 * the replayed event happened; if it is gone since, its deletion is
 * replayed later in order.  Returns 0 (nothing replied) when the kernel
 * holds no directory inode for `path`.
 */
static int reply_held_dir(fuse_req_t req, const char *path)
{
    struct node_info info;
    fuse_ino_t ino = nodes_held(path, KIND_DIR, &info);
    if (!ino)
        return 0;
    struct fuse_entry_param e;
    fill_entry(&e, ino, KIND_DIR, &info, fs(req)->timeout);
    e.attr_timeout = 0;
    if (fuse_reply_entry(req, &e) != 0)
        nodes_forget(ino, 1);
    return 1;
}

static void zkfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    char *ppath = dir_path(req, parent);
    if (!ppath)
        return;
    size_t base;
    if (strcmp(name, ZKFS_DATA_ENTRY) == 0) {
        reply_node_entry(req, ppath, KIND_DATA);
    } else if (names_marker(name, &base) != MARK_NONE || !names_valid(name, strlen(name))) {
        fuse_reply_err(req, ENOENT); /* markers always create */
    } else {
        char *path = names_join(ppath, name, strlen(name));
        const char *cur;
        int op = from_replay(req) ? notify_current(&cur) : NOP_NONE;
        if (!path)
            fuse_reply_err(req, ENOMEM);
        else if (op != NOP_NONE && op != NOP_MODIFY && strcmp(cur, path) == 0) {
            if (op == NOP_CREATE)
                fuse_reply_err(req, ENOENT);
            else
                reply_ghost_entry(req, path, op == NOP_DELETE_DIR ? KIND_DIR : KIND_FILE);
        } else if (op != NOP_NONE && reply_held_dir(req, path)) {
            /* an ancestor of the replayed path, answered without the server */
        } else {
            reply_node_entry(req, path, -1);
        }
        free(path);
    }
    free(ppath);
}

static void zkfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
    nodes_forget(ino, nlookup);
    fuse_reply_none(req);
}

static void zkfs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *v)
{
    for (size_t i = 0; i < count; i++)
        nodes_forget(v[i].ino, v[i].nlookup);
    fuse_reply_none(req);
}

/* Replies the attributes of `ino`; `size` >= 0 overrides the size (a
 * handle with unsent writes). */
static void reply_attr(fuse_req_t req, fuse_ino_t ino, off_t size)
{
    int kind;
    char *path = nodes_path(ino, &kind);
    if (!path) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    struct node_info info;
    int rc = nodes_fetch(fs(req)->conn, path, &info);
    free(path);
    if (rc) {
        reply_zk(req, rc);
        return;
    }
    struct stat st;
    nodes_attr(ino, kind, &info, &st);
    if (size >= 0)
        st.st_size = size;
    fuse_reply_attr(req, &st, fs(req)->timeout);
}

static void zkfs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct fh *h = fi ? (struct fh *)(uintptr_t)fi->fh : NULL;
    off_t size = -1;
    if (h && h->writable) {
        pthread_mutex_lock(&h->mu);
        if (h->dirty)
            size = (off_t)h->len;
        pthread_mutex_unlock(&h->mu);
    }
    reply_attr(req, ino, size);
}

/* Sends a whole new content of `path` with one setData. Returns 0 or errno. */
static int put_data(struct zkfs *z, const char *path, const char *buf, size_t len)
{
    if (len > (size_t)z->max_data)
        return EFBIG;
    notify_expect(ZK_EVENT_CHANGED, path);
    struct zk_request r = {.op = ZK_OP_SETDATA, .path = path, .data = buf ? buf : "",
                           .data_len = (int32_t)len, .version = -1};
    int rc = zconn_submit(z->conn, &r, NULL);
    if (rc)
        notify_unexpect(ZK_EVENT_CHANGED, path);
    nodes_invalidate(path);
    return rc == ZK_BADARGUMENTS ? EFBIG : names_errno(rc);
}

/* Grows or shrinks a handle's buffer to `size`, zero-filling.  Returns 0 or errno. */
static int fh_resize(struct zkfs *z, struct fh *h, size_t size)
{
    if (size > (size_t)z->max_data)
        return EFBIG;
    if (size > h->cap) {
        size_t cap = h->cap ? h->cap : 64;
        while (cap < size)
            cap *= 2;
        char *nb = realloc(h->buf, cap);
        if (!nb)
            return ENOMEM;
        h->buf = nb;
        h->cap = cap;
    }
    if (size > h->len)
        memset(h->buf + h->len, 0, size - h->len);
    h->len = size;
    return 0;
}

/* truncate(2) on a path with no open handle: read, resize, write back. */
static int truncate_path(struct zkfs *z, const char *path, off_t size)
{
    if (size > z->max_data)
        return EFBIG;
    char *data;
    int32_t len;
    int rc = nodes_read(z->conn, path, &data, &len, NULL);
    if (rc)
        return names_errno(rc);
    if ((off_t)len == size) {
        free(data);
        return 0;
    }
    char *nb = realloc(data, (size_t)size + 1);
    if (!nb) {
        free(data);
        return ENOMEM;
    }
    if (size > len)
        memset(nb + len, 0, (size_t)(size - len));
    int err = put_data(z, path, nb, (size_t)size);
    free(nb);
    return err;
}

/* 1 if the mode, owner and group asked for (if any) are the ones zkfs
 * shows (nodes_attr), so that `chmod 644 f`, `cp -p` of such a file or a
 * `chown` to the mounting user change nothing and succeed. */
static int setattr_noop_ids(int kind, const struct stat *attr, int to_set)
{
    mode_t shown = kind == KIND_DIR ? 0755 : 0644;
    if ((to_set & FUSE_SET_ATTR_MODE) && (attr->st_mode & 07777) != shown)
        return 0;
    if ((to_set & FUSE_SET_ATTR_UID) && attr->st_uid != getuid())
        return 0;
    if ((to_set & FUSE_SET_ATTR_GID) && attr->st_gid != getgid())
        return 0;
    return 1;
}

static void zkfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                         struct fuse_file_info *fi)
{
    struct zkfs *z = fs(req);
    int kind;
    char *path = nodes_path(ino, &kind);
    if (!path) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    off_t size = -1;
    int err = 0;
    if (from_replay(req)) {
        /* Replaying a remote change: nothing to do.  The notifier read the
         * znode after the event, so the cached attributes are current. */
    } else if (!setattr_noop_ids(kind, attr, to_set)) {
        err = EPERM; /* znodes have no mode or owner: ACLs are user.zk.acl */
    } else if (to_set & FUSE_SET_ATTR_SIZE) {
        struct fh *h = fi ? (struct fh *)(uintptr_t)fi->fh : NULL;
        if (kind == KIND_DIR)
            err = EISDIR;
        else if (z->read_only)
            err = EROFS;
        else if (h && h->writable) {
            pthread_mutex_lock(&h->mu);
            err = fh_resize(z, h, (size_t)attr->st_size);
            if (!err) {
                h->dirty = 1;
                size = (off_t)h->len;
            }
            pthread_mutex_unlock(&h->mu);
        } else {
            err = truncate_path(z, path, attr->st_size);
        }
    }
    /* Times have no znode counterpart: accepted, unchanged (touch works). */
    free(path);
    if (err)
        fuse_reply_err(req, err);
    else
        reply_attr(req, ino, size);
}

static struct fh *fh_new(const char *path, int writable)
{
    struct fh *h = calloc(1, sizeof *h);
    if (!h || !(h->path = strdup(path))) {
        free(h);
        return NULL;
    }
    pthread_mutex_init(&h->mu, NULL);
    h->writable = writable;
    return h;
}

static void fh_free(struct fh *h)
{
    pthread_mutex_destroy(&h->mu);
    free(h->path);
    free(h->buf);
    free(h->ephemeral);
    free(h);
}

/* Makes a handle for an existing znode: content loaded unless truncated. */
static int open_existing(struct zkfs *z, const char *path, struct fuse_file_info *fi, struct fh **out)
{
    int writable = (fi->flags & O_ACCMODE) != O_RDONLY;
    if (writable && z->read_only)
        return EROFS;
    struct fh *h = fh_new(path, writable);
    if (!h)
        return ENOMEM;
    int rc = 0;
    if (writable && (fi->flags & O_TRUNC)) {
        h->dirty = 1; /* one setData of the new content on close */
    } else {
        char *data;
        int32_t len;
        struct node_info info;
        rc = nodes_read(z->conn, path, &data, &len, &info);
        if (!rc && writable) {
            h->buf = data;
            h->len = h->cap = (size_t)len;
        } else {
            free(data);
        }
    }
    if (rc) {
        fh_free(h);
        return names_errno(rc);
    }
    fi->keep_cache = 1; /* remote changes invalidate the page cache */
    *out = h;
    return 0;
}

static void zkfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    int kind;
    char *path = nodes_path(ino, &kind);
    if (!path) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    struct fh *h = NULL;
    int err = kind == KIND_DIR ? EISDIR : open_existing(fs(req), path, fi, &h);
    free(path);
    if (err) {
        fuse_reply_err(req, err);
        return;
    }
    fi->fh = (uintptr_t)h;
    if (fuse_reply_open(req, fi) != 0)
        fh_free(h);
}

/* mkdir: a znode with null data.  OUT res: its create2 result (path, stat).
 * Returns a ZK_* status. */
static int create_dir(struct zkfs *z, const char *path, struct zk_result **res)
{
    struct zk_request r = {.op = ZK_OP_CREATE2, .path = path, .data = NULL, .data_len = -1,
                           .create_mode = ZK_PERSISTENT};
    return zconn_submit(z->conn, &r, res);
}

/*
 * A file: a znode with empty data that is marked as written (data version
 * 1), so that every mount, now and after a remount, shows it as a file and
 * not as a parent-to-be (empty data never written, see nodes.h).  A plain
 * name is one multi [create, setData] (atomic: no other client ever sees
 * the znode at version 0); a sequential name is known only after its
 * create, so it is a create then a setData (another mount may show it as a
 * directory in between; this one is told, NOTIFY_SEQ_FILE); an ephemeral
 * is a file anyway and needs no mark.
 * OUT res: a result with the created path and its stat.  Returns a ZK_*
 * status (the first failing op's for the multi).
 */
static int create_file(struct zkfs *z, const char *path, int mode, struct zk_result **res)
{
    if (mode == ZK_EPHEMERAL || mode == ZK_EPHEMERAL_SEQUENTIAL) {
        struct zk_request r = {.op = ZK_OP_CREATE2, .path = path, .data = "", .data_len = 0,
                               .create_mode = mode};
        return zconn_submit(z->conn, &r, res);
    }
    if (mode == ZK_PERSISTENT_SEQUENTIAL) {
        struct zk_request r = {.op = ZK_OP_CREATE2, .path = path, .data = "", .data_len = 0,
                               .create_mode = mode};
        notify_expect(NOTIFY_SEQ_FILE, path); /* our own watch event may come first */
        int rc = zconn_submit(z->conn, &r, res);
        if (rc) {
            notify_unexpect(NOTIFY_SEQ_FILE, path);
            return rc;
        }
        const char *made = (*res)->path ? (*res)->path : path;
        notify_expect(ZK_EVENT_CHANGED, made);
        struct zk_request set = {.op = ZK_OP_SETDATA, .path = made, .data = "", .data_len = 0,
                                 .version = 0};
        struct zk_result *sres = NULL;
        rc = zconn_submit(z->conn, &set, &sres);
        if (rc)
            notify_unexpect(ZK_EVENT_CHANGED, made);
        else
            (*res)->stat = sres->stat;
        zk_result_free(sres);
        return 0; /* created; unmarked only if the setData failed */
    }
    zk_txn_t *txn = zk_txn_new();
    if (!txn)
        return ZK_SYSTEMERROR;
    zk_txn_create(txn, path, "", 0, NULL, 0, mode, 0);
    zk_txn_set(txn, path, "", 0, 0);
    notify_expect(ZK_EVENT_CHANGED, path);
    struct zk_request m = {.op = ZK_OP_MULTI, .txn = txn};
    struct zk_result *mres = NULL;
    int rc = zconn_submit(z->conn, &m, &mres);
    zk_txn_free(txn);
    if (rc) {
        notify_unexpect(ZK_EVENT_CHANGED, path);
        zk_result_free(mres);
        return rc;
    }
    /* The create's result carries the path, the setData's the final stat. */
    struct zk_result *out = calloc(1, sizeof *out);
    if (out && mres->nresults == 2 && (out->path = strdup(path))) {
        out->stat = mres->results[1].stat;
        out->has_stat = 1;
    } else if (out) {
        free(out);
        out = NULL;
        rc = ZK_SYSTEMERROR;
    }
    zk_result_free(mres);
    *res = out;
    return rc;
}

/* create, mknod, mkdir.  `fi` is set for create; `dir` for mkdir. */
static void do_create(fuse_req_t req, fuse_ino_t parent, const char *name, int dir,
                      struct fuse_file_info *fi)
{
    struct zkfs *z = fs(req);
    char *ppath = dir_path(req, parent);
    if (!ppath)
        return;
    size_t base;
    int mark = names_marker(name, &base);
    char *path = names_join(ppath, name, base);
    free(ppath);
    if (!path) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    if (from_replay(req)) { /* replaying a creation by another client */
        notify_test_pause();
        struct node_info info;
        if (nodes_fetch(z->conn, path, &info) == ZK_NONODE)
            reply_ghost_entry(req, path, dir ? KIND_DIR : KIND_FILE); /* deleted since */
        else
            reply_node_entry(req, path, dir ? KIND_DIR : KIND_FILE);
        free(path);
        return;
    }
    static const int modes[] = {[MARK_NONE] = ZK_PERSISTENT, [MARK_EPH] = ZK_EPHEMERAL,
                                [MARK_SEQ] = ZK_PERSISTENT_SEQUENTIAL,
                                [MARK_ESEQ] = ZK_EPHEMERAL_SEQUENTIAL};
    int err = 0;
    struct zk_result *res = NULL;
    if (z->read_only)
        err = EROFS;
    else if ((dir && mark != MARK_NONE) || strcmp(name, ZKFS_DATA_ENTRY) == 0 ||
             !(names_valid(name, base) || (base == 0 && (mark == MARK_SEQ || mark == MARK_ESEQ))))
        err = EINVAL;
    if (err)
        goto out;
    /* A marker name shows up in the kernel under its marker; let the
     * notifier raise IN_CREATE for the real name as well. */
    if (mark == MARK_NONE)
        notify_expect(ZK_EVENT_CREATED, path);
    int rc = dir ? create_dir(z, path, &res) : create_file(z, path, modes[mark], &res);
    if (rc && mark == MARK_NONE)
        notify_unexpect(ZK_EVENT_CREATED, path);
    if (rc == ZK_NODEEXISTS && fi && mark == MARK_NONE && !(fi->flags & O_EXCL)) {
        /* Created by someone else since our lookup: open it as O_CREAT would. */
        struct fh *h;
        err = open_existing(z, path, fi, &h);
        if (!err) {
            struct node_info info;
            rc = nodes_fetch(z->conn, path, &info);
            fuse_ino_t ino = rc ? 0 : nodes_ref(path, KIND_FILE, info.st.czxid);
            if (!ino) {
                fh_free(h);
                err = rc ? names_errno(rc) : ENOMEM;
                goto out;
            }
            struct fuse_entry_param e;
            fill_entry(&e, ino, KIND_FILE, &info, z->timeout);
            fi->fh = (uintptr_t)h;
            if (fuse_reply_create(req, &e, fi) != 0)
                fh_free(h);
            goto done;
        }
        goto out;
    }
    if (rc) {
        err = rc == ZK_NOCHILDRENFOREPHEMERALS ? ENOTDIR : names_errno(rc);
        goto out;
    }
    const char *created = res->path ? res->path : path;
    struct node_info info = {.st = res->stat, .null_data = dir, .kind = dir ? KIND_DIR : KIND_FILE};
    fuse_ino_t ino = nodes_ref(created, info.kind, info.st.czxid);
    if (!ino) {
        err = ENOMEM;
        goto out;
    }
    struct fuse_entry_param e;
    fill_entry(&e, ino, info.kind, &info, z->timeout);
    if (mark != MARK_NONE)
        e.entry_timeout = 0; /* the marker name must create again next time */
    if (!fi) {
        fuse_reply_entry(req, &e);
        goto done;
    }
    struct fh *h = fh_new(created, (fi->flags & O_ACCMODE) != O_RDONLY);
    if (h && (mark == MARK_EPH || mark == MARK_ESEQ) && !(h->ephemeral = strdup(created))) {
        fh_free(h);
        h = NULL;
    }
    if (!h) {
        err = ENOMEM;
        goto out;
    }
    fi->fh = (uintptr_t)h;
    if (fuse_reply_create(req, &e, fi) != 0) {
        if (h->ephemeral)
            zconn_submit(z->conn, &(struct zk_request){.op = ZK_OP_DELETE, .path = h->ephemeral,
                                                      .version = -1}, NULL);
        fh_free(h);
    }
    goto done;
out:
    fuse_reply_err(req, err);
done:
    zk_result_free(res);
    free(path);
}

static void zkfs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                        struct fuse_file_info *fi)
{
    do_create(req, parent, name, 0, fi);
}

static void zkfs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                       dev_t rdev)
{
    if (!S_ISREG(mode))
        fuse_reply_err(req, EPERM); /* only regular files are znodes */
    else
        do_create(req, parent, name, 0, NULL);
}

static void zkfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
    do_create(req, parent, name, 1, NULL);
}

static void do_remove(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct zkfs *z = fs(req);
    char *ppath = dir_path(req, parent);
    if (!ppath)
        return;
    char *path = names_join(ppath, name, strlen(name));
    free(ppath);
    int err = 0;
    if (!path)
        err = ENOMEM;
    else if (from_replay(req))
        err = 0; /* replaying a deletion by another client */
    else if (strcmp(name, ZKFS_DATA_ENTRY) == 0)
        err = EPERM;
    else if (z->read_only)
        err = EROFS;
    else {
        notify_expect(ZK_EVENT_DELETED, path);
        struct zk_request r = {.op = ZK_OP_DELETE, .path = path, .version = -1};
        int rc = zconn_submit(z->conn, &r, NULL);
        if (rc)
            notify_unexpect(ZK_EVENT_DELETED, path);
        err = names_errno(rc);
        if (!rc) {
            fuse_ino_t inos[KIND_COUNT];
            nodes_detach(path, inos);
        }
    }
    free(path);
    fuse_reply_err(req, err);
}

static void zkfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    do_remove(req, parent, name);
}

static void zkfs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    do_remove(req, parent, name);
}

/* mv of a leaf: one multi of [delete target,] create new, delete old.
 * Returns 0 or errno; EXDEV (mv then copies) for a znode with children
 * or an ephemeral one. */
static int rename_leaf(struct zkfs *z, const char *from, const char *to, unsigned flags)
{
    struct zk_result *old = NULL, *acl = NULL;
    zk_txn_t *txn = NULL;
    struct zk_request get = {.op = ZK_OP_GETDATA, .path = from};
    struct zk_request getacl = {.op = ZK_OP_GETACL, .path = from};
    int rc = zconn_submit(z->conn, &get, &old);
    if (!rc)
        rc = zconn_submit(z->conn, &getacl, &acl);
    int err = names_errno(rc);
    if (err)
        goto out;
    if (old->stat.num_children > 0 || old->stat.ephemeral_owner != 0) {
        err = EXDEV;
        goto out;
    }
    struct zk_stat tst;
    struct zk_request ex = {.op = ZK_OP_EXISTS, .path = to};
    struct zk_result *tres = NULL;
    rc = zconn_submit(z->conn, &ex, &tres);
    tst = tres ? tres->stat : (struct zk_stat){0};
    zk_result_free(tres);
    if (rc && rc != ZK_NONODE) {
        err = names_errno(rc);
        goto out;
    }
    int replace = rc == 0;
    if (replace && (flags & RENAME_NOREPLACE)) {
        err = EEXIST;
        goto out;
    }
    if (replace && tst.num_children > 0) {
        err = ENOTEMPTY;
        goto out;
    }
    txn = zk_txn_new();
    if (!txn) {
        err = ENOMEM;
        goto out;
    }
    if (replace)
        zk_txn_delete(txn, to, tst.version);
    zk_txn_create(txn, to, old->data_len < 0 ? NULL : old->data, old->data_len, acl->acl, acl->nacl,
                  ZK_PERSISTENT, 0);
    /* An empty file keeps its written mark (nodes.h), so it stays a file. */
    int mark = old->data_len == 0 && old->stat.version > 0;
    if (mark)
        zk_txn_set(txn, to, "", 0, 0);
    zk_txn_delete(txn, from, old->stat.version);
    if (replace)
        notify_expect(ZK_EVENT_DELETED, to);
    notify_expect(ZK_EVENT_CREATED, to);
    if (mark)
        notify_expect(ZK_EVENT_CHANGED, to);
    notify_expect(ZK_EVENT_DELETED, from);
    struct zk_request m = {.op = ZK_OP_MULTI, .txn = txn};
    rc = zconn_submit(z->conn, &m, NULL);
    if (rc) {
        if (mark)
            notify_unexpect(ZK_EVENT_CHANGED, to);
        if (replace)
            notify_unexpect(ZK_EVENT_DELETED, to);
        notify_unexpect(ZK_EVENT_CREATED, to);
        notify_unexpect(ZK_EVENT_DELETED, from);
        err = rc == ZK_BADVERSION ? EAGAIN : names_errno(rc);
    } else {
        nodes_move(from, to);
    }
out:
    zk_txn_free(txn);
    zk_result_free(old);
    zk_result_free(acl);
    return err;
}

static void zkfs_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                        const char *newname, unsigned int flags)
{
    struct zkfs *z = fs(req);
    char *pp = dir_path(req, parent);
    if (!pp)
        return;
    char *np = dir_path(req, newparent);
    if (!np) {
        free(pp);
        return;
    }
    char *from = names_join(pp, name, strlen(name));
    char *to = names_join(np, newname, strlen(newname));
    size_t base;
    int err;
    if (!from || !to)
        err = ENOMEM;
    else if (z->read_only)
        err = EROFS;
    else if (flags & RENAME_EXCHANGE)
        err = EINVAL;
    else if (strcmp(name, ZKFS_DATA_ENTRY) == 0 || strcmp(newname, ZKFS_DATA_ENTRY) == 0 ||
             names_marker(newname, &base) != MARK_NONE || !names_valid(newname, strlen(newname)))
        err = EINVAL;
    else
        err = rename_leaf(z, from, to, flags);
    fuse_reply_err(req, err);
    free(from);
    free(to);
    free(pp);
    free(np);
}

static void zkfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                      struct fuse_file_info *fi)
{
    struct fh *h = (struct fh *)(uintptr_t)fi->fh;
    if (h->writable) {
        pthread_mutex_lock(&h->mu);
        size_t n = (size_t)off < h->len ? h->len - (size_t)off : 0;
        fuse_reply_buf(req, n ? h->buf + off : NULL, n < size ? n : size);
        pthread_mutex_unlock(&h->mu);
        return;
    }
    char *data;
    int32_t len;
    int rc = nodes_read(fs(req)->conn, h->path, &data, &len, NULL);
    if (rc) {
        reply_zk(req, rc);
        return;
    }
    size_t n = off < len ? (size_t)(len - off) : 0;
    fuse_reply_buf(req, n ? data + off : NULL, n < size ? n : size);
    free(data);
}

static void zkfs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
    struct fh *h = (struct fh *)(uintptr_t)fi->fh;
    if (!h->writable) {
        fuse_reply_err(req, EBADF);
        return;
    }
    pthread_mutex_lock(&h->mu);
    size_t end = (size_t)off + size;
    int err = end > h->len ? fh_resize(fs(req), h, end) : 0;
    if (!err) {
        memcpy(h->buf + off, buf, size);
        h->dirty = 1;
    }
    pthread_mutex_unlock(&h->mu);
    if (err)
        fuse_reply_err(req, err);
    else
        fuse_reply_write(req, size);
}

/* Sends a dirty handle's content.  Returns 0 or errno. */
static int fh_push(struct zkfs *z, struct fh *h)
{
    pthread_mutex_lock(&h->mu);
    int err = 0;
    if (h->writable && h->dirty) {
        err = put_data(z, h->path, h->buf, h->len);
        if (!err)
            h->dirty = 0;
    }
    pthread_mutex_unlock(&h->mu);
    return err;
}

static void zkfs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    fuse_reply_err(req, fh_push(fs(req), (struct fh *)(uintptr_t)fi->fh));
}

static void zkfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
    fuse_reply_err(req, fh_push(fs(req), (struct fh *)(uintptr_t)fi->fh));
}

static void zkfs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct zkfs *z = fs(req);
    struct fh *h = (struct fh *)(uintptr_t)fi->fh;
    int err = fh_push(z, h);
    if (err)
        zkfs_log(LOG_WARNING, "%s: content lost on close: %s", h->path, strerror(err));
    if (h->ephemeral) { /* the lease ends with the last descriptor */
        struct zk_request r = {.op = ZK_OP_DELETE, .path = h->ephemeral, .version = -1};
        int rc = zconn_submit(z->conn, &r, NULL);
        if (rc && rc != ZK_NONODE)
            zkfs_log(LOG_WARNING, "%s: ephemeral not deleted: %s", h->ephemeral, zk_strerror(rc));
    }
    fh_free(h);
    fuse_reply_err(req, 0);
}

static void zkfs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    char *path = dir_path(req, ino);
    if (!path)
        return;
    struct zk_request r = {.op = ZK_OP_GETCHILDREN, .path = path};
    struct zk_result *res = NULL;
    int rc = zconn_submit(fs(req)->conn, &r, &res);
    free(path);
    if (rc) {
        zk_result_free(res);
        reply_zk(req, rc);
        return;
    }
    fi->fh = (uintptr_t)res; /* the reply is the listing, paged by readdir */
    if (fuse_reply_open(req, fi) != 0)
        zk_result_free(res);
}

static void zkfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                         struct fuse_file_info *fi)
{
    struct zk_result *res = (struct zk_result *)(uintptr_t)fi->fh;
    char *buf = malloc(size);
    if (!buf) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    size_t pos = 0;
    for (off_t i = off; i < (off_t)res->nchildren + 2; i++) {
        const char *name = i == 0 ? "." : i == 1 ? ".." : res->children[i - 2];
        struct stat st = {.st_ino = i == 0 ? ino : FUSE_ROOT_ID};
        if (i >= 2)
            st.st_ino = 0xffffffffu; /* unknown until looked up */
        size_t n = fuse_add_direntry(req, buf + pos, size - pos, name, &st, i + 1);
        if (n > size - pos)
            break;
        pos += n;
    }
    fuse_reply_buf(req, buf, pos);
    free(buf);
}

static void zkfs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    zk_result_free((struct zk_result *)(uintptr_t)fi->fh);
    fuse_reply_err(req, 0);
}

/* Free "inodes" shown by statfs: ZooKeeper sets no limit on the number of
 * znodes, so a constant that never looks full (docs/zkfs.md, df). */
#define STATFS_FREE_FILES 2147483647u

/* df: the znodes of the mounted tree (getAllChildrenNumber of the root,
 * plus the root) as used inodes; no size (no server keeps a byte count of
 * a subtree). */
static void zkfs_statfs(fuse_req_t req, fuse_ino_t ino)
{
    struct statvfs st = {.f_bsize = 4096, .f_frsize = 4096, .f_namemax = 255};
    struct zk_request r = {.op = ZK_OP_GETALLCHILDRENNUMBER, .path = "/"};
    struct zk_result *res = NULL;
    int rc = zconn_submit(fs(req)->conn, &r, &res);
    if (rc == 0) {
        st.f_ffree = st.f_favail = STATFS_FREE_FILES;
        st.f_files = (fsfilcnt_t)res->number + 1 + STATFS_FREE_FILES;
    }
    zk_result_free(res);
    if (rc)
        reply_zk(req, rc);
    else
        fuse_reply_statfs(req, &st);
}

static void zkfs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
    int kind;
    char *path = nodes_path(ino, &kind);
    if (!path) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    char *v = NULL;
    size_t len = 0;
    int rc = xattr_get(fs(req)->conn, path, name, &v, &len);
    if (rc)
        fuse_reply_err(req, -rc);
    else if (size == 0)
        fuse_reply_xattr(req, len);
    else if (size < len)
        fuse_reply_err(req, ERANGE);
    else
        fuse_reply_buf(req, v, len);
    free(v);
    free(path);
}

static void zkfs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
    const char *list;
    size_t len;
    xattr_list(&list, &len);
    if (size == 0)
        fuse_reply_xattr(req, len);
    else if (size < len)
        fuse_reply_err(req, ERANGE);
    else
        fuse_reply_buf(req, list, len);
}

static void zkfs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
                          size_t size, int flags)
{
    int kind;
    char *path = nodes_path(ino, &kind);
    if (!path) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    int rc = fs(req)->read_only ? -EROFS : xattr_set(fs(req)->conn, path, name, value, size);
    free(path);
    fuse_reply_err(req, -rc);
}

static void zkfs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
    fuse_reply_err(req, strncmp(name, "user.zk.", 8) == 0 ? EPERM : ENODATA);
}

/*
 * Locks: znodes have no byte-range or whole-file locks, and a lock kept
 * only in this kernel would not exclude another mount or client, so
 * fcntl and flock locks fail with ENOLCK instead of seeming to work.
 * Unlocking (nothing is ever held) succeeds; F_GETLK fails like the rest.
 * Leases across mounts are ephemeral files (NAME@eph, docs/zkfs.md).
 */
static void zkfs_getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
                       struct flock *lock)
{
    fuse_reply_err(req, ENOLCK);
}

static void zkfs_setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
                       struct flock *lock, int sleep)
{
    fuse_reply_err(req, lock->l_type == F_UNLCK ? 0 : ENOLCK);
}

static void zkfs_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, int op)
{
    fuse_reply_err(req, (op & LOCK_UN) ? 0 : ENOLCK);
}

static void zkfs_init(void *userdata, struct fuse_conn_info *conn)
{
    /* Lock requests come to zkfs (to fail clearly) instead of being kept
     * in this kernel only. */
    if (conn->capable & FUSE_CAP_POSIX_LOCKS)
        conn->want |= FUSE_CAP_POSIX_LOCKS;
    if (conn->capable & FUSE_CAP_FLOCK_LOCKS)
        conn->want |= FUSE_CAP_FLOCK_LOCKS;
    if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
        conn->want |= FUSE_CAP_ATOMIC_O_TRUNC; /* one setData for `echo >` */
    conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
}

const struct fuse_lowlevel_ops zkfs_ops = {
    .init = zkfs_init,
    .lookup = zkfs_lookup,
    .forget = zkfs_forget,
    .forget_multi = zkfs_forget_multi,
    .getattr = zkfs_getattr,
    .setattr = zkfs_setattr,
    .mknod = zkfs_mknod,
    .mkdir = zkfs_mkdir,
    .unlink = zkfs_unlink,
    .rmdir = zkfs_rmdir,
    .rename = zkfs_rename,
    .open = zkfs_open,
    .read = zkfs_read,
    .write = zkfs_write,
    .flush = zkfs_flush,
    .release = zkfs_release,
    .fsync = zkfs_fsync,
    .opendir = zkfs_opendir,
    .readdir = zkfs_readdir,
    .releasedir = zkfs_releasedir,
    .statfs = zkfs_statfs,
    .setxattr = zkfs_setxattr,
    .getxattr = zkfs_getxattr,
    .listxattr = zkfs_listxattr,
    .removexattr = zkfs_removexattr,
    .create = zkfs_create,
    .getlk = zkfs_getlk,
    .setlk = zkfs_setlk,
    .flock = zkfs_flock,
};
