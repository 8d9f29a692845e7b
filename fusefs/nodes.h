/*
 * nodes.h - the table of znodes this mount has seen, their inodes and the
 * zkfs-side cache.
 *
 * A node is one znode path; it is kept for the life of the mount (so inode
 * numbers stay stable) and holds the cached stat and data of the znode.  An
 * inode is what the kernel knows: a (node, kind) pair with a number.  Kinds:
 *   KIND_DIR   the znode shown as a directory
 *   KIND_FILE  the znode shown as a regular file
 *   KIND_DATA  the hidden .zkdata entry of a directory: its data as a file
 * A znode is a directory when it has children, or null data (mkdir), or
 * empty data that was never written (data version 0: a parent-to-be, as
 * kazoo's ensure_path and Curator's creatingParentsIfNeeded make them), or
 * when this mount has already shown it as one (a directory emptied of
 * children, or given data, stays a directory).  It is a file when it is
 * ephemeral (it can never have children) or has data, or empty data that
 * was written (version > 0: zkfs creates its files so, see ops.c).  When a
 * znode is deleted, or a file gains a child and
 * turns into a directory, its inodes are detached from the node: the next
 * lookup gets a fresh inode number, and the kernel never sees an inode
 * change its type.
 *
 * Cache rule: a cached entry is filled from a reply only when no
 * invalidation for that node (a watch event, a session change) happened
 * between sending the request and storing the reply (a per-node generation
 * counter), so the cache never holds data older than the last change this
 * mount was told about.  Caching is on only while the recursive watch is
 * armed (nodes_set_caching).
 *
 * One mutex guards everything here; it is never held across a ZooKeeper
 * call.  All functions are thread-safe.
 */
#ifndef ZKFS_NODES_H
#define ZKFS_NODES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#define FUSE_USE_VERSION 35
#include <fuse_lowlevel.h>

#include "zk/zk.h"

enum node_kind { KIND_DIR = 0, KIND_FILE = 1, KIND_DATA = 2, KIND_COUNT };

/* What a fetch learns about a znode. */
struct node_info {
    struct zk_stat st;
    int null_data;  /* the znode's data is null (made by mkdir) */
    int kind;       /* KIND_DIR or KIND_FILE, by the rule above */
};

struct zkfs_conn;

/* Sets up the table with the root inode (FUSE_ROOT_ID, "/").  Returns 0 or -ENOMEM. */
int nodes_init(void);
void nodes_fini(void);

/* Enables (1) or disables (0) caching; either way drops every cached entry. */
void nodes_set_caching(int on);

/* The path of inode `ino`, malloc'ed, and OUT kind.  NULL when unknown. */
char *nodes_path(fuse_ino_t ino, int *kind);

/* Reads a znode's stat and kind, from the cache or the server.
 * OUT info.  Returns 0 or a ZK_* status. */
int nodes_fetch(struct zkfs_conn *c, const char *path, struct node_info *info);

/* nodes_fetch for `count` paths at once: those not cached are read with
 * pipelined getData requests (about one round trip for all).  OUT infos[i],
 * OUT rcs[i]: as nodes_fetch's info and return value for paths[i].
 * Returns 0, or ZK_SYSTEMERROR (out of memory; infos and rcs unset). */
int nodes_fetch_many(struct zkfs_conn *c, const char *const *paths, size_t count,
                     struct node_info *infos, int *rcs);

/* Reads a znode's data, from the cache or the server.  OUT data: malloc'ed
 * copy (NULL when empty or null), OUT len, OUT info (may be NULL).
 * Returns 0 or a ZK_* status. */
int nodes_read(struct zkfs_conn *c, const char *path, char **data, int32_t *len,
               struct node_info *info);

/* The inode for (path, kind), made if needed, with its lookup count raised
 * by one.  `czxid` identifies the znode incarnation: a different one
 * detaches the old inodes first.  Returns the inode number or 0 (ENOMEM). */
fuse_ino_t nodes_ref(const char *path, int kind, int64_t czxid);

/* Lowers the lookup count of `ino` by n (FUSE forget). */
void nodes_forget(fuse_ino_t ino, uint64_t n);

/* The inode number the kernel holds for (path, kind), or 0. */
fuse_ino_t nodes_current(const char *path, int kind);

/* The inode the kernel holds for (path, kind), its lookup count raised by
 * one as nodes_ref does, and OUT info: the last stat this mount read for
 * the znode, even if an event has invalidated it since.  0 (and the count
 * unchanged) when the kernel holds no such inode or nothing was read. */
fuse_ino_t nodes_held(const char *path, int kind, struct node_info *info);

/* Drops the cached stat and data of `path` (bumping its generation). */
void nodes_invalidate(const char *path);

/* Detaches every inode of `path` (deleted znode, or one changing type).
 * OUT inos: the detached inode numbers the kernel holds, per kind (0 if
 * none). */
void nodes_detach(const char *path, fuse_ino_t inos[KIND_COUNT]);

/* Drops every cached entry.  OUT inos/n: malloc'ed list of inodes the kernel
 * holds (for kernel invalidation), which the caller frees. */
void nodes_invalidate_all(fuse_ino_t **inos, size_t *n);

/* Fills a struct stat for inode `ino` of `kind` from `info`. */
void nodes_attr(fuse_ino_t ino, int kind, const struct node_info *info, struct stat *out);



/* After a rename from `from` to `to`: the inodes of `from` now belong to
 * `to` (the kernel moved their dentries); `to`'s old inodes are detached. */
void nodes_move(const char *from, const char *to);
#endif
