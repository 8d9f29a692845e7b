/*
 * notify.c - the notifier thread: watch events -> kernel invalidation and
 * inotify events (see notify.h for the mechanism and why it is safe).
 *
 * Work arrives from libzk's thread through a mutex-guarded FIFO.  Session
 * changes come through the same queue, so a renewal after expiry is done
 * here too (libzk's own thread may not wait for a new session).
 */
#include "notify.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "zconn.h"
#include "log.h"
#include "names.h"
#include "nodes.h"

#define JOB_SESSION 1000 /* job type for a session change */
#define EXPECT_TTL_NS (5 * 1000000000LL)

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
    pthread_t thread;
    pid_t tid;
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
    return nt.started && fuse_req_ctx(req)->pid == nt.tid;
}

int notify_current(const char **path)
{
    pthread_mutex_lock(&nt.mu);
    int op = nt.op;
    *path = nt.op_path;
    pthread_mutex_unlock(&nt.mu);
    return op;
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

static void set_op(int op, const char *path)
{
    pthread_mutex_lock(&nt.mu);
    nt.op = op;
    nt.op_path = path;
    pthread_mutex_unlock(&nt.mu);
}

/* The path of `zpath` on the mount, malloc'ed; `suffix` appended if set. */
static char *mount_path(const char *zpath, const char *suffix)
{
    size_t ml = strlen(nt.mnt), zl = strlen(zpath), sl = suffix ? strlen(suffix) + 1 : 0;
    char *p = malloc(ml + zl + sl + 1);
    if (!p)
        return NULL;
    memcpy(p, nt.mnt, ml);
    memcpy(p + ml, zpath, zl + 1);
    if (zl == 1) /* "/" */
        p[ml] = '\0';
    if (suffix) {
        strcat(p, "/");
        strcat(p, suffix);
    }
    return p;
}

static void inval_inode(fuse_ino_t ino, off_t off)
{
    if (ino)
        fuse_lowlevel_notify_inval_inode(nt.se, ino, off, 0);
}

static void replay_modify(const char *path)
{
    struct node_info info;
    if (nodes_fetch(nt.conn, path, &info) != 0)
        return;
    char *mp = mount_path(path, info.kind == KIND_DIR ? ZKFS_DATA_ENTRY : NULL);
    if (!mp)
        return;
    set_op(NOP_MODIFY, path);
    if (truncate(mp, info.st.data_length) != 0 && errno != ENOENT)
        zkfs_log(LOG_DEBUG, "notify: truncate %s: %s", mp, strerror(errno));
    set_op(NOP_NONE, NULL);
    free(mp);
}

/* Replays a deletion: unlink or rmdir as the kernel knows the name (a
 * file if it does not know it). */
static void replay_delete(const char *path)
{
    fuse_ino_t inos[KIND_COUNT];
    nodes_detach(path, inos);
    char *mp = mount_path(path, NULL);
    if (!mp)
        return;
    set_op(inos[KIND_DIR] ? NOP_DELETE_DIR : NOP_DELETE, path);
    int rc = inos[KIND_DIR] ? rmdir(mp) : unlink(mp);
    if (rc != 0 && errno != ENOENT)
        zkfs_log(LOG_DEBUG, "notify: delete %s: %s", mp, strerror(errno));
    set_op(NOP_NONE, NULL);
    nodes_detach(path, inos); /* the inode the replay's lookup made */
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
    set_op(NOP_CREATE, parent);
    if (mkdir(mp, 0755) != 0 && errno != EEXIST)
        zkfs_log(LOG_DEBUG, "notify: mkdir %s: %s", mp, strerror(errno));
    set_op(NOP_NONE, NULL);
    free(mp);
}

static void replay_create(const char *path, const char *parent)
{
    struct node_info info;
    if (nodes_fetch(nt.conn, path, &info) != 0)
        return; /* already gone again: its delete event follows */
    parent_became_dir(parent);
    char *mp = mount_path(path, NULL);
    if (!mp)
        return;
    set_op(NOP_CREATE, path);
    int rc = info.kind == KIND_DIR ? mkdir(mp, 0755) : mknod(mp, S_IFREG | 0644, 0);
    if (rc != 0 && errno != EEXIST && errno != ENOENT)
        zkfs_log(LOG_DEBUG, "notify: create %s: %s", mp, strerror(errno));
    set_op(NOP_NONE, NULL);
    free(mp);
}

static void handle_event(int type, const char *path)
{
    const char *base;
    char *parent = names_parent(path, &base);
    if (parent)
        inval_inode(nodes_current(parent, KIND_DIR), -1);
    if (take_expect(type, path)) {
        free(parent);
        return; /* made through this mount: the kernel knows */
    }
    switch (type) {
    case ZK_EVENT_CHANGED:
        inval_inode(nodes_current(path, KIND_FILE), 0);
        inval_inode(nodes_current(path, KIND_DATA), 0);
        inval_inode(nodes_current(path, KIND_DIR), -1);
        replay_modify(path);
        break;
    case ZK_EVENT_CREATED:
        if (parent)
            replay_create(path, parent);
        break;
    case ZK_EVENT_DELETED:
        if (parent)
            replay_delete(path);
        break;
    }
    free(parent);
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
    nt.tid = (pid_t)syscall(SYS_gettid);
    pthread_mutex_lock(&nt.mu);
    nt.started = 1;
    pthread_cond_broadcast(&nt.cv);
    for (;;) {
        while (!nt.head && !nt.stop)
            pthread_cond_wait(&nt.cv, &nt.mu);
        if (nt.stop)
            break;
        struct job *j = nt.head;
        nt.head = j->next;
        if (!nt.head)
            nt.tail = NULL;
        pthread_mutex_unlock(&nt.mu);
        if (j->type == JOB_SESSION)
            handle_session(j->session_event);
        else
            handle_event(j->type, j->path);
        free(j);
        pthread_mutex_lock(&nt.mu);
    }
    pthread_mutex_unlock(&nt.mu);
    return NULL;
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
    int rc = pthread_create(&nt.thread, NULL, notifier_main, NULL);
    if (rc) {
        free(nt.mnt);
        return -rc;
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
    pthread_join(nt.thread, NULL);
    while (nt.head) {
        struct job *j = nt.head;
        nt.head = j->next;
        free(j);
    }
    while (nt.expects) {
        struct expect *e = nt.expects;
        nt.expects = e->next;
        free(e);
    }
    nt.started = 0;
    free(nt.mnt);
    nt.mnt = NULL;
}
