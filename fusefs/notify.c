/*
 * notify.c - the notifier thread: watch events -> kernel invalidation and
 * inotify events (see notify.h for the mechanism and why it is safe).
 *
 * Work arrives from libzk's thread through a mutex-guarded FIFO.  Session
 * changes come through the same queue, so a renewal after expiry is done
 * here too (libzk's own thread may not wait for a new session); a session
 * change is never part of a batch, so the events before it are replayed
 * before it is handled and those after it after.
 *
 * A batch's cost: one pass over the expectations per event, the kernel
 * invalidations, one zk_blocking_submit_many of getData for the created
 * and changed znodes, one hand-over to the replay thread; then per event
 * only its system call (two FUSE round trips for a create: the kernel's
 * lookup of the new name, then mknod).  The notifier prepares the next
 * batch while the replay thread replays one, and hands it over when that
 * one is done, so batches are replayed one at a time and in order.
 */
#include "notify.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "zconn.h"
#include "log.h"
#include "names.h"
#include "nodes.h"
#include "selfop.h"

#define JOB_SESSION 1000 /* job type for a session change */
#define EXPECT_TTL_NS (5 * 1000000000LL)
#define BATCH_MAX 4096     /* watch events replayed as one batch, at most */

struct job {
    int type; /* ZK_EVENT_* or JOB_SESSION */
    int session_event;
    struct job *next;
    char path[];
};

struct expect {
    int type;
    int64_t deadline;
    struct expect *next;
    char path[];
};

static struct {
    struct fuse_session *se;
    struct zkfs_conn *conn;
    char *mnt;
    dev_t dev;         /* the mount's device (0: unknown), see on_our_mount */
    pthread_t thread;
    int started;

    pthread_mutex_t mu; /* guards the fields below */
    pthread_cond_t cv;
    struct job *head, *tail;
    int stop;
    struct expect *expects;
    int op;               /* enum notify_op being replayed */
    const char *op_path;  /* its path (owned by the notifier) */
} nt = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void push(int type, int session_event, const char *path)
{
    size_t len = path ? strlen(path) : 0;
    struct job *j = malloc(sizeof *j + len + 1);
    if (!j) {
        zkfs_log(LOG_ERR, "out of memory: watch event for %s lost", path ? path : "-");
        return;
    }
    j->type = type;
    j->session_event = session_event;
    j->next = NULL;
    memcpy(j->path, path ? path : "", len + 1);
    pthread_mutex_lock(&nt.mu);
    if (nt.stop) { /* nobody takes it any more (notify_stop) */
        pthread_mutex_unlock(&nt.mu);
        free(j);
        return;
    }
    if (nt.tail)
        nt.tail->next = j;
    else
        nt.head = j;
    nt.tail = j;
    pthread_cond_signal(&nt.cv);
    pthread_mutex_unlock(&nt.mu);
}

void notify_zk_event(int type, const char *path, void *data)
{
    /* Caches first, here on libzk's thread: a reply that follows this
     * event on the wire must not be stored over the invalidation. */
    nodes_invalidate(path);
    const char *base;
    char *parent = names_parent(path, &base);
    if (parent) {
        nodes_invalidate(parent);
        free(parent);
    }
    if (type == ZK_EVENT_CREATED || type == ZK_EVENT_DELETED || type == ZK_EVENT_CHANGED)
        push(type, 0, path);
}

void notify_zk_session(int event, void *data)
{
    if (event == ZK_SESSION_RECONNECTED || event == ZK_SESSION_EXPIRED)
        nodes_set_caching(0); /* events may have been missed */
    if (event != ZK_SESSION_CONNECTED && event != ZK_SESSION_CLOSED)
        push(JOB_SESSION, event, NULL);
}

int notify_is_self(fuse_req_t req)
{
    return nt.started && fuse_req_ctx(req)->pid == selfop_tid();
}

int notify_current(const char **path)
{
    pthread_mutex_lock(&nt.mu);
    int op = nt.op;
    *path = nt.op_path;
    pthread_mutex_unlock(&nt.mu);
    return op;
}

void notify_test_pause(void)
{
    const char *ms = getenv("ZKFS_TEST_REPLAY_PAUSE_MS");
    if (ms && *ms) {
        long v = strtol(ms, NULL, 10);
        struct timespec ts = {.tv_sec = v / 1000, .tv_nsec = (v % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

void notify_expect(int type, const char *path)
{
    size_t len = strlen(path);
    struct expect *e = malloc(sizeof *e + len + 1);
    if (!e)
        return; /* worst case a duplicate inotify event */
    e->type = type;
    e->deadline = now_ns() + EXPECT_TTL_NS;
    memcpy(e->path, path, len + 1);
    pthread_mutex_lock(&nt.mu);
    e->next = nt.expects;
    nt.expects = e;
    pthread_mutex_unlock(&nt.mu);
}

/* Removes one matching expectation (and expired ones).  Returns 1 if found. */
static int take_expect(int type, const char *path)
{
    int found = 0;
    int64_t now = now_ns();
    pthread_mutex_lock(&nt.mu);
    for (struct expect **pp = &nt.expects; *pp;) {
        struct expect *e = *pp;
        int match = !found && e->type == type && strcmp(e->path, path) == 0;
        if (match || e->deadline < now) {
            found |= match;
            *pp = e->next;
            free(e);
        } else {
            pp = &e->next;
        }
    }
    pthread_mutex_unlock(&nt.mu);
    return found;
}

void notify_unexpect(int type, const char *path)
{
    take_expect(type, path);
}

/* 1 if `path` is `prefix` followed by a 10-digit sequence number. */
static int is_sequential_of(const char *path, const char *prefix)
{
    size_t pl = strlen(prefix);
    if (strncmp(path, prefix, pl) != 0 || strlen(path + pl) != 10)
        return 0;
    for (const char *c = path + pl; *c; c++)
        if (*c < '0' || *c > '9')
            return 0;
    return 1;
}

/* Removes one NOTIFY_SEQ_FILE expectation that `path` matches.  Returns 1
 * if found. */
static int take_seq_file(const char *path)
{
    int found = 0;
    pthread_mutex_lock(&nt.mu);
    for (struct expect **pp = &nt.expects; *pp; pp = &(*pp)->next) {
        struct expect *e = *pp;
        if (e->type == NOTIFY_SEQ_FILE && is_sequential_of(path, e->path)) {
            *pp = e->next;
            free(e);
            found = 1;
            break;
        }
    }
    pthread_mutex_unlock(&nt.mu);
    return found;
}

static void set_op(int op, const char *path)
{
    pthread_mutex_lock(&nt.mu);
    nt.op = op;
    nt.op_path = path;
    pthread_mutex_unlock(&nt.mu);
}

/* The path of `zpath` relative to the mount's root (the replay thread's
 * working directory during a batch), malloc'ed; `suffix` appended if set. */
static char *mount_path(const char *zpath, const char *suffix)
{
    const char *rel = zpath[1] ? zpath + 1 : ".";
    size_t rl = strlen(rel), sl = suffix ? strlen(suffix) + 1 : 0;
    char *p = malloc(rl + sl + 1);
    if (!p)
        return NULL;
    memcpy(p, rel, rl + 1);
    if (suffix) {
        p[rl] = '/';
        memcpy(p + rl + 1, suffix, sl);
    }
    return p;
}

/* Replays `op` on `zpath` as the system call `kind` on `mp`.  Replay
 * thread.  Returns 0 or an errno. */
static int replay(int op, const char *zpath, enum selfop_kind kind, const char *mp, off_t size)
{
    set_op(op, zpath);
    int err = selfop_do(kind, mp, size, NULL);
    set_op(NOP_NONE, NULL);
    return err;
}

static void inval_inode(fuse_ino_t ino, off_t off)
{
    if (ino)
        fuse_lowlevel_notify_inval_inode(nt.se, ino, off, 0);
}

/* One watch event of a batch: what the replay thread needs. */
struct replay_ev {
    int type;              /* ZK_EVENT_* */
    int own;               /* made through this mount: the kernel knows */
    int seq_file;          /* a sequential file this mount is creating */
    int rc;                /* status of the read made after the event */
    struct node_info info; /* its result (created, changed) */
    const char *path;      /* the job's */
};

/* Events taken from the queue together, replayed in their order by one
 * selfop_begin_fn.  Owns its jobs. */
struct batch {
    struct job *jobs;
    size_t n;
    int64_t replay_ns; /* how long the replay thread took (for the log) */
    struct replay_ev ev[];
};

static void batch_free(void *arg)
{
    struct batch *b = arg;
    for (struct job *j = b->jobs, *nx; j; j = nx) {
        nx = j->next;
        free(j);
    }
    free(b);
}

/* A data change: truncate to the new size (MODIFY), on .zkdata for a
 * directory.  The kind the kernel holds wins over the znode's new state
 * (a file that has just gained a child is still a file until its
 * creation event turns it into a directory). */
static void replay_modify(const struct replay_ev *e)
{
    if (e->rc)
        return; /* deleted since: its delete event follows */
    int dir = nodes_current(e->path, KIND_FILE) ? 0
              : nodes_current(e->path, KIND_DIR) ? 1 : e->info.kind == KIND_DIR;
    char *mp = mount_path(e->path, dir ? ZKFS_DATA_ENTRY : NULL);
    if (!mp)
        return;
    int err = replay(NOP_MODIFY, e->path, SELFOP_TRUNCATE, mp, e->info.st.data_length);
    if (err && err != ENOENT)
        zkfs_log(LOG_DEBUG, "notify: truncate %s: %s", mp, strerror(err));
    free(mp);
}

/* Replays a deletion: unlink or rmdir as the kernel knows the name (a
 * file if it does not know it).  The inodes are detached only after the
 * call: the kernel's lookup of an expired name then finds the inode it
 * holds (a new number would make it drop the name and look it up again,
 * one more round trip per event). */
static void replay_delete(const char *path)
{
    fuse_ino_t inos[KIND_COUNT];
    char *mp = mount_path(path, NULL);
    if (!mp) {
        nodes_detach(path, inos);
        return;
    }
    int err = nodes_current(path, KIND_DIR) ? replay(NOP_DELETE_DIR, path, SELFOP_RMDIR, mp, 0)
                                            : replay(NOP_DELETE, path, SELFOP_UNLINK, mp, 0);
    if (err && err != ENOENT)
        zkfs_log(LOG_DEBUG, "notify: delete %s: %s", mp, strerror(err));
    nodes_detach(path, inos); /* a re-creation gets new inode numbers */
    free(mp);
}

/* A file that gained a child is a directory now: replayed as the file's
 * deletion and the directory's creation, so that recursive watchers
 * (inotifywait -r) start watching it. */
static void parent_became_dir(const char *parent)
{
    if (!nodes_current(parent, KIND_FILE))
        return;
    replay_delete(parent);
    char *mp = mount_path(parent, NULL);
    if (!mp)
        return;
    int err = replay(NOP_CREATE, parent, SELFOP_MKDIR, mp, 0);
    if (err && err != EEXIST)
        zkfs_log(LOG_DEBUG, "notify: mkdir %s: %s", mp, strerror(err));
    free(mp);
}

/* A creation: mknod or mkdir by the znode's kind.  A znode deleted again
 * before it was read is still reported (as a file), so that watchers see
 * its CREATE before its DELETE. */
static void replay_create(const struct replay_ev *e)
{
    if (e->rc && e->rc != ZK_NONODE)
        return;
    const char *base;
    char *parent = names_parent(e->path, &base);
    if (!parent)
        return;
    parent_became_dir(parent);
    free(parent);
    char *mp = mount_path(e->path, NULL);
    if (!mp)
        return;
    int dir = e->rc == 0 && e->info.kind == KIND_DIR;
    int err = replay(NOP_CREATE, e->path, dir ? SELFOP_MKDIR : SELFOP_MKNOD, mp, 0);
    if (err && err != EEXIST && err != ENOENT)
        zkfs_log(LOG_DEBUG, "notify: create %s: %s", mp, strerror(err));
    free(mp);
}

/*
 * The replay thread's part of a batch: enter the mount's root (its working
 * directory is its own, see selfop.c), check that it is this mount (after
 * a lazy unmount the path leads to the directory underneath, which must
 * not be touched), replay every event in order, leave.  Relative paths
 * keep every replay of the batch on this mount even if it is lazily
 * unmounted meanwhile; leaving keeps the mount from looking busy.
 */
static void replay_batch(void *arg)
{
    struct batch *b = arg;
    struct stat st;
    int64_t t0 = now_ns();
    if (selfop_enter(nt.mnt) != 0)
        return;
    if (nt.dev == 0 || (selfop_do(SELFOP_STAT, ".", 0, &st) == 0 && st.st_dev == nt.dev)) {
        for (size_t i = 0; i < b->n && !selfop_cancelled(); i++) {
            const struct replay_ev *e = &b->ev[i];
            if (e->own)
                continue;
            switch (e->type) {
            case ZK_EVENT_CHANGED: replay_modify(e); break;
            case ZK_EVENT_CREATED: replay_create(e); break;
            case ZK_EVENT_DELETED: replay_delete(e->path); break;
            }
        }
    }
    selfop_leave();
    b->replay_ns = now_ns() - t0;
}

/* The batch the replay thread is replaying (handed over, not yet waited
 * for).  Notifier thread only. */
static struct batch *in_flight;

/* Waits until the batch in flight has been replayed, and frees it. */
static void finish_replay(void)
{
    struct batch *b = in_flight;
    if (!b)
        return;
    in_flight = NULL;
    if (selfop_finish() != 0)
        return; /* cancelled: the replay thread releases it */
    zkfs_log(LOG_DEBUG, "notify: batch of %zu events replayed in %.1f ms", b->n, b->replay_ns / 1e6);
    batch_free(b);
}

/*
 * Prepares `n` events (the list `jobs`) on the notifier thread's side:
 * consumes the expectations of this mount's own changes, invalidates the
 * kernel's caches (each directory once per run of events in it), reads
 * every created or changed znode with pipelined requests (one round trip
 * for the batch instead of one per event); then waits for the batch before
 * it to be replayed and hands this one to the replay thread.  So in a
 * burst the reads of a batch overlap the replays of the one before (during
 * a burst a server may answer reads slowly: zkd holds a read's reply until
 * the writes before it are durable).
 */
static void run_batch(struct job *jobs, size_t n)
{
    struct batch *b = malloc(sizeof *b + n * sizeof b->ev[0]);
    const char **paths = malloc(n * sizeof *paths);
    size_t *which = malloc(n * sizeof *which);
    struct node_info *infos = calloc(n, sizeof *infos); /* set only where a read succeeds */
    int *rcs = malloc(n * sizeof *rcs);
    if (b)
        b->jobs = jobs, b->n = 0;
    if (!b || !paths || !which || !infos || !rcs) {
        zkfs_log(LOG_ERR, "out of memory: %zu watch events not replayed", n);
        if (b)
            batch_free(b);
        else
            batch_free(&(struct batch){.jobs = jobs});
        goto out;
    }
    b->jobs = jobs;
    b->n = n;
    b->replay_ns = 0;
    size_t i = 0, m = 0;
    char *last_parent = NULL;
    for (struct job *j = jobs; j; j = j->next, i++) {
        struct replay_ev *e = &b->ev[i];
        *e = (struct replay_ev){.type = j->type, .path = j->path};
        const char *base;
        char *parent = names_parent(j->path, &base);
        if (parent && (!last_parent || strcmp(parent, last_parent) != 0)) {
            inval_inode(nodes_current(parent, KIND_DIR), -1);
            free(last_parent);
            last_parent = parent;
        } else {
            free(parent);
        }
        e->own = take_expect(j->type, j->path);
        if (!e->own && j->type == ZK_EVENT_CREATED)
            e->seq_file = take_seq_file(j->path);
        if (e->own || j->type == ZK_EVENT_DELETED)
            continue;
        if (j->type == ZK_EVENT_CHANGED) {
            inval_inode(nodes_current(j->path, KIND_FILE), 0);
            inval_inode(nodes_current(j->path, KIND_DATA), 0);
            inval_inode(nodes_current(j->path, KIND_DIR), -1);
        }
        paths[m] = j->path;
        which[m++] = i;
    }
    free(last_parent);
    int64_t t0 = now_ns();
    if (nodes_fetch_many(nt.conn, paths, m, infos, rcs) != 0)
        for (size_t k = 0; k < m; k++)
            rcs[k] = ZK_SYSTEMERROR;
    for (size_t k = 0; k < m; k++) {
        struct replay_ev *e = &b->ev[which[k]];
        e->rc = rcs[k];
        e->info = infos[k];
        if (e->seq_file && e->rc == 0 && e->info.st.num_children == 0)
            e->info.kind = KIND_FILE; /* made by this mount, its mark still to come */
    }
    zkfs_log(LOG_DEBUG, "notify: batch of %zu events: %zu read in %.1f ms", n, m,
             (now_ns() - t0) / 1e6);
    finish_replay();
    int err = selfop_begin_fn(replay_batch, batch_free, b); /* on error b is freed */
    if (err == 0)
        in_flight = b;
    else if (err == ENOMEM)
        zkfs_log(LOG_ERR, "out of memory: %zu watch events not replayed", n);
out:
    free(paths);
    free(which);
    free(infos);
    free(rcs);
}

static void invalidate_kernel(void)
{
    fuse_ino_t *inos;
    size_t n;
    nodes_invalidate_all(&inos, &n);
    for (size_t i = 0; i < n; i++)
        inval_inode(inos[i], 0);
    free(inos);
}

static void handle_session(int event)
{
    switch (event) {
    case ZK_SESSION_SUSPENDED:
        zkfs_log(LOG_WARNING, "connection to ZooKeeper lost; reconnecting");
        break;
    case ZK_SESSION_RECONNECTED:
        zkfs_log(LOG_NOTICE, "session 0x%" PRIx64 " resumed", zconn_session_id(nt.conn));
        nodes_set_caching(1);
        invalidate_kernel();
        break;
    case ZK_SESSION_EXPIRED:
    case ZK_SESSION_AUTH_FAILED:
        zkfs_log(LOG_ERR, "session 0x%" PRIx64 " %s; its ephemeral znodes are gone; opening a new session",
                 zconn_session_id(nt.conn), event == ZK_SESSION_EXPIRED ? "expired" : "lost (auth failed)");
        for (;;) {
            int rc = zconn_renew(nt.conn);
            if (rc == 0)
                break;
            zkfs_log(LOG_ERR, "new session: %s; retrying", zk_strerror(rc));
            pthread_mutex_lock(&nt.mu);
            int stop = nt.stop;
            pthread_mutex_unlock(&nt.mu);
            if (stop)
                return;
            sleep(1);
        }
        zkfs_log(LOG_NOTICE, "new session 0x%" PRIx64, zconn_session_id(nt.conn));
        nodes_set_caching(1);
        invalidate_kernel();
        break;
    }
}

static void *notifier_main(void *arg)
{
    pthread_setname_np(pthread_self(), "zkfs-notify"); /* for top -H, ps -L */
    pthread_mutex_lock(&nt.mu);
    nt.started = 1;
    pthread_cond_broadcast(&nt.cv);
    for (;;) {
        while (!nt.head && !nt.stop)
            pthread_cond_wait(&nt.cv, &nt.mu);
        if (nt.stop)
            break;
        /* A session change alone; else the watch events queued up to the
         * next session change, at most BATCH_MAX. */
        struct job *first = nt.head, *last = first;
        size_t n = 1;
        if (first->type != JOB_SESSION)
            while (last->next && last->next->type != JOB_SESSION && n < BATCH_MAX) {
                last = last->next;
                n++;
            }
        nt.head = last->next;
        if (!nt.head)
            nt.tail = NULL;
        last->next = NULL;
        pthread_mutex_unlock(&nt.mu);
        if (first->type == JOB_SESSION) {
            finish_replay(); /* the events before it are replayed first */
            handle_session(first->session_event);
            free(first);
        } else {
            run_batch(first, n);
        }
        pthread_mutex_lock(&nt.mu);
    }
    pthread_mutex_unlock(&nt.mu);
    finish_replay(); /* cancelled by now: returns at once */
    return NULL;
}

/*
 * The device of the FUSE mount at `mnt`, from /proc/self/mountinfo (the
 * last such mount: ours, just made).  Read there because a stat of the
 * mount would be a request that nobody serves before the loop runs.
 */
static dev_t mount_device(const char *mnt)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return 0;
    dev_t dev = 0;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        unsigned maj, mnr;
        char point[PATH_MAX];
        /* id parent major:minor root mountpoint ...; octal escapes in the
         * mount point (spaces) make it not match, leaving dev unknown. */
        if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &maj, &mnr, point) == 3 &&
            strcmp(point, mnt) == 0 && strstr(line, " - fuse"))
            dev = makedev(maj, mnr);
    }
    fclose(f);
    return dev;
}

int notify_start(struct fuse_session *se, struct zkfs_conn *c, const char *mountpoint)
{
    nt.se = se;
    nt.conn = c;
    nt.mnt = strdup(mountpoint);
    if (!nt.mnt)
        return -ENOMEM;
    size_t l = strlen(nt.mnt);
    while (l > 1 && nt.mnt[l - 1] == '/')
        nt.mnt[--l] = '\0';
    nt.dev = mount_device(nt.mnt);
    if (!nt.dev)
        zkfs_log(LOG_WARNING, "%s: mount not found in /proc/self/mountinfo", nt.mnt);
    int rc = selfop_start();
    if (rc == 0) {
        rc = -pthread_create(&nt.thread, NULL, notifier_main, NULL);
        if (rc)
            selfop_cancel();
    }
    if (rc) {
        free(nt.mnt);
        nt.mnt = NULL;
        return rc;
    }
    pthread_mutex_lock(&nt.mu);
    while (!nt.started)
        pthread_cond_wait(&nt.cv, &nt.mu);
    pthread_mutex_unlock(&nt.mu);
    return 0;
}

void notify_stop(void)
{
    if (!nt.mnt)
        return;
    pthread_mutex_lock(&nt.mu);
    nt.stop = 1;
    pthread_cond_signal(&nt.cv);
    pthread_mutex_unlock(&nt.mu);
    /* The loop has stopped: a replay in flight may wait for an answer
     * until the connection closes, so the notifier stops waiting for it. */
    selfop_cancel();
    pthread_join(nt.thread, NULL);
    pthread_mutex_lock(&nt.mu); /* libzk's thread may still call push */
    while (nt.head) {
        struct job *j = nt.head;
        nt.head = j->next;
        free(j);
    }
    nt.tail = NULL;
    pthread_mutex_unlock(&nt.mu);
    while (nt.expects) {
        struct expect *e = nt.expects;
        nt.expects = e->next;
        free(e);
    }
    nt.started = 0;
    free(nt.mnt);
    nt.mnt = NULL;
}
