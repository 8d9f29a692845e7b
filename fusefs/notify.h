/*
 * notify.h - turning ZooKeeper watch events into kernel invalidations and
 * inotify events.
 *
 * The kernel raises no inotify event for FUSE's invalidation calls, but it
 * does for a real system call on the mount.  So one dedicated thread, the
 * notifier, takes the watch events queued so far as a batch (at most
 * BATCH_MAX), invalidates the kernel's caches (each directory once per run
 * of events in it), reads every created or changed znode with pipelined
 * requests (one round trip per batch, not per event), and then has the
 * batch replayed on the mount itself, in order:
 *   NodeDataChanged  truncate(path)                      -> IN_MODIFY
 *                    (a directory: truncate(path/.zkdata))
 *   NodeCreated      mknod(path) or mkdir(path)          -> IN_CREATE
 *   NodeDeleted      unlink(path) or rmdir(path)         -> IN_DELETE
 * The calls are made by a thread of their own (selfop.h, which also says
 * why a SIGKILL then still ends the mount), which runs the whole batch:
 * it enters the mount point, checks that it still leads to this mount
 * (after a lazy unmount it leads to the directory underneath, which must
 * not be touched), and makes every call with a path relative to it.  The
 * handlers recognise these requests (notify_is_self: the request's thread
 * id is that thread's) and answer them from the cache the batch's reads
 * filled, without changing anything: the change already happened (and a
 * lookup of a directory on the way, from the inode the kernel holds: no
 * server round trip in the middle of a batch).  While one batch is
 * replayed, the notifier prepares the next.  Neither thread runs inside a
 * request handler and handlers never wait for them, which is what keeps
 * this free of deadlocks.
 *
 * Changes made through this mount already raised their events in the
 * kernel: before sending such a change a handler calls notify_expect, and
 * the matching watch event is then consumed silently (notify_unexpect when
 * the request failed).
 */
#ifndef ZKFS_NOTIFY_H
#define ZKFS_NOTIFY_H

#define FUSE_USE_VERSION 35
#include <fuse_lowlevel.h>

#include "zk/zk.h"

struct zkfs_conn;

/* The change the notifier is replaying right now (for the handlers). */
enum notify_op { NOP_NONE = 0, NOP_CREATE, NOP_DELETE, NOP_DELETE_DIR, NOP_MODIFY };

/* Starts the notifier thread.  `mountpoint` is absolute.  Returns 0 or -errno. */
int notify_start(struct fuse_session *se, struct zkfs_conn *c, const char *mountpoint);
/* Stops and joins it. */
void notify_stop(void);

/* libzk-thread entry points (see conn.h): queue work, never block. */
void notify_zk_event(int type, const char *path, void *data);
void notify_zk_session(int event, void *data);

/* 1 if `req` comes from the notifier thread. */
int notify_is_self(fuse_req_t req);
/* The path and op the notifier is replaying (valid during its request). */
int notify_current(const char **path);

/* Tests only: holds the answer to a replayed creation for
 * ZKFS_TEST_REPLAY_PAUSE_MS milliseconds (unset: no pause), so that a test
 * can kill zkfs while a replay is surely in flight. */
void notify_test_pause(void);

/* Marks a change this mount is about to make (type: ZK_EVENT_*). */
void notify_expect(int type, const char *path);
void notify_unexpect(int type, const char *path);

/* Type of notify_expect for a sequential file this mount is about to
 * create: `path` is parent/prefix.  The creation of parent/prefixNNNNNNNNNN
 * is then still reported (for the real name, see do_create), but as a file,
 * although the znode is empty and unwritten until its mark (ops.c). */
#define NOTIFY_SEQ_FILE 1001

#endif
