/*
 * master_worker.c - the master-worker application of "ZooKeeper:
 * Distributed Process Coordination" (Junqueira and Reed, chapters 4-5) on
 * libzk's asynchronous API.
 *
 *   master_worker master <hosts> <id>
 *   master_worker worker <hosts> <id> <logfile> [work-ms]
 *   master_worker client <hosts> <ntasks>
 *
 * The tree:
 *   /master              ephemeral: the id of the active master
 *   /workers/worker-<id> ephemeral: a live worker
 *   /tasks/task-<seq>    a task waiting for assignment (data: payload)
 *   /assign/worker-<id>/task-<seq>   a task assigned to that worker
 *   /status/task-<seq>   done (data: the worker that did it)
 *
 * Master: every master tries to create /master; the losers watch it and try
 * again when it goes (backup masters).  The active master watches /workers
 * and /tasks.  A task is assigned by one multi (create its /assign node,
 * delete its /tasks node), so a master dying mid-assignment leaves the task
 * in exactly one of the two places.  An /assign/worker-X whose worker is
 * not in /workers belongs to a dead worker (tasks are only ever assigned to
 * listed workers): each of its tasks goes back to /tasks by one multi
 * (create /tasks/task-N, delete the assignment).  A new master runs the
 * same recovery on taking over, so assignments made by its predecessor are
 * found in the tree, not in anybody's memory.
 *
 * Worker: creates /assign/worker-<id>, registers /workers/worker-<id>, and
 * watches its assign node.  Each task is "executed" (a timer of work-ms),
 * logged to the worker's append-only log, then committed by one multi:
 * create /status/task-N, delete the assignment.  The commit is the only
 * place a task is completed: a task reassigned before its worker committed
 * fails the commit (the assignment is gone) and is done by someone else;
 * a committed task is never reassigned (the assignment went with it).
 *
 * Client: submits n tasks and waits until /status holds all of them.
 */
#include "zk/recipes.h"
#include "zk/zk.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

static uv_loop_t loop;
static zk_t *zk;
static const char *my_id;
static char my_name[128];       /* worker-<id> */
static char my_assign[160];     /* /assign/worker-<id> */
static int log_fd = -1;
static int work_ms = 50;

static void die(const char *what, int rc)
{
    fprintf(stderr, "master_worker: %s: %s\n", what, zk_strerror(rc));
    exit(1);
}

static int is_master;
static void list_workers(void);

static void on_session(zk_t *h, int ev, void *data)
{
    (void)h;
    (void)data;
    if (ev == ZK_SESSION_EXPIRED)
        die("session", ZK_SESSIONEXPIRED); /* ephemerals are gone: start afresh */
    /* Steps dropped on a connection loss are redone from the tree. */
    if (ev == ZK_SESSION_RECONNECTED && is_master)
        list_workers();
}

static void ignore_status(int status, void *data)
{
    (void)data;
    if (status != 0)
        die("bootstrap", status);
}

/* ---- a small string set (tasks in progress) ---- */

struct strset {
    char **v;
    int n, cap;
};

static int set_has(const struct strset *s, const char *x)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->v[i], x) == 0)
            return 1;
    return 0;
}

static void set_add(struct strset *s, const char *x)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 16;
        s->v = realloc(s->v, (size_t)s->cap * sizeof *s->v);
        if (!s->v)
            abort();
    }
    s->v[s->n++] = strdup(x);
}

static void set_del(struct strset *s, const char *x)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->v[i], x) == 0) {
            free(s->v[i]);
            s->v[i] = s->v[--s->n];
            return;
        }
}

/* ================= master ================= */

static char **workers; /* live worker names, from the last listing */
static int nworkers;
static struct strset assigning; /* tasks with a multi in flight */
static struct strset requeuing;

static void run_for_master(void);
static void take_leadership(void);
static void list_tasks(void);
static void on_master_created_check(zk_t *h, int status, const struct zk_result *res,
                                   void *data);
static void free_workers(void)
{
    for (int i = 0; i < nworkers; i++)
        free(workers[i]);
    free(workers);
    workers = NULL;
    nworkers = 0;
}

static void master_watcher(zk_t *h, const struct zk_event *ev, void *data)
{
    (void)h;
    (void)data;
    if (ev->type == ZK_EVENT_DELETED)
        run_for_master(); /* the active master is gone */
}

static void on_master_exists(zk_t *h, int status, const struct zk_result *res, void *data)
{
    (void)h;
    (void)res;
    (void)data;
    if (status == ZK_NONODE)
        run_for_master(); /* gone between our create and this check */
    else if (status == ZK_CONNECTIONLOSS)
        run_for_master();
    else if (status != 0)
        die("exists /master", status);
}

/* A task re-queued from a dead worker (or found re-queued already). */
struct requeue {
    char task[64];
    char assign_path[256];
};

static void on_requeued(zk_t *h, int status, const struct zk_result *res, void *data)
{
    struct requeue *r = data;
    (void)h;
    (void)res;
    set_del(&requeuing, r->assign_path);
    if (status == 0)
        printf("requeued %s from %s\n", r->task, r->assign_path);
    /* NODEEXISTS/NONODE: someone (a previous master) got there first. */
    else if (status != ZK_NODEEXISTS && status != ZK_NONODE && status != ZK_CONNECTIONLOSS)
        die("requeue", status);
    free(r);
    list_tasks();
}

static void on_dead_task(zk_t *h, int status, const struct zk_result *res, void *data)
{
    struct requeue *r = data;
    if (status != 0) { /* committed by its worker meanwhile, or loss: next round */
        set_del(&requeuing, r->assign_path);
        free(r);
        return;
    }
    char task_path[128];
    snprintf(task_path, sizeof task_path, "/tasks/%s", r->task);
    zk_txn_t *txn = zk_txn_new();
    zk_txn_create(txn, task_path, res->data, res->data_len, NULL, 0, ZK_PERSISTENT, 0);
    zk_txn_delete(txn, r->assign_path, res->stat.version);
    zk_multi(h, txn, on_requeued, r);
    zk_txn_free(txn);
}

static void on_dead_worker_tasks(zk_t *h, int status, const struct zk_result *res, void *data)
{
    char *dir = data;
    /* The dir itself stays: a worker that registered after our listing of
     * /workers is not dead, and its (empty) dir must survive. */
    if (status == 0) {
        for (int i = 0; i < res->nchildren; i++) {
            struct requeue *r = calloc(1, sizeof *r);
            snprintf(r->task, sizeof r->task, "%s", res->children[i]);
            snprintf(r->assign_path, sizeof r->assign_path, "%s/%s", dir, res->children[i]);
            if (set_has(&requeuing, r->assign_path)) {
                free(r);
                continue;
            }
            set_add(&requeuing, r->assign_path);
            zk_get(h, r->assign_path, NULL, NULL, on_dead_task, r);
        }
    }
    free(dir);
}

static int worker_alive(const char *name)
{
    for (int i = 0; i < nworkers; i++)
        if (strcmp(workers[i], name) == 0)
            return 1;
    return 0;
}

/* Every /assign/worker-X without a live worker-X: move its tasks back. */
static void on_assign_dirs(zk_t *h, int status, const struct zk_result *res, void *data)
{
    (void)data;
    if (status != 0)
        return; /* loss: the next workers event or reconnect retries */
    for (int i = 0; i < res->nchildren; i++) {
        if (worker_alive(res->children[i]))
            continue;
        char *dir = malloc(256);
        snprintf(dir, 256, "/assign/%s", res->children[i]);
        zk_get_children(h, dir, 0, NULL, NULL, on_dead_worker_tasks, dir);
    }
}

static void workers_watcher(zk_t *h, const struct zk_event *ev, void *data)
{
    (void)h;
    (void)data;
    if (ev->type == ZK_EVENT_CHILD)
        list_workers();
}

static void on_workers(zk_t *h, int status, const struct zk_result *res, void *data)
{
    (void)data;
    if (status == ZK_CONNECTIONLOSS) {
        list_workers();
        return;
    }
    if (status != 0)
        die("list /workers", status);
    free_workers();
    workers = calloc((size_t)res->nchildren + 1, sizeof *workers);
    for (int i = 0; i < res->nchildren; i++)
        workers[nworkers++] = strdup(res->children[i]);
    printf("workers %d\n", nworkers);
    zk_get_children(h, "/assign", 0, NULL, NULL, on_assign_dirs, NULL);
    list_tasks(); /* tasks may have waited for a worker */
}

static void list_workers(void)
{
    zk_get_children(zk, "/workers", 0, workers_watcher, NULL, on_workers, NULL);
}

struct assignment {
    char task[64];
    char worker[128];
};

static void on_assigned(zk_t *h, int status, const struct zk_result *res, void *data)
{
    struct assignment *a = data;
    (void)h;
    (void)res;
    set_del(&assigning, a->task);
    if (status == 0)
        printf("assigned %s to %s\n", a->task, a->worker);
    if (status == 0 && !worker_alive(a->worker)) /* died meanwhile: recover it */
        zk_get_children(h, "/assign", 0, NULL, NULL, on_assign_dirs, NULL);
    else if (status == ZK_NONODE) /* its worker's dir is gone: dead worker */
        list_tasks();
    /* NODEEXISTS: assigned by a previous master already */
    free(a);
}

static void on_task_data(zk_t *h, int status, const struct zk_result *res, void *data)
{
    struct assignment *a = data;
    if (status != 0 || nworkers == 0) {
        set_del(&assigning, a->task);
        free(a);
        return;
    }
    snprintf(a->worker, sizeof a->worker, "%s", workers[rand() % nworkers]);
    char from[128], to[256];
    snprintf(from, sizeof from, "/tasks/%s", a->task);
    snprintf(to, sizeof to, "/assign/%s/%s", a->worker, a->task);
    zk_txn_t *txn = zk_txn_new();
    zk_txn_create(txn, to, res->data, res->data_len, NULL, 0, ZK_PERSISTENT, 0);
    zk_txn_delete(txn, from, res->stat.version);
    zk_multi(h, txn, on_assigned, a);
    zk_txn_free(txn);
}

static void tasks_watcher(zk_t *h, const struct zk_event *ev, void *data)
{
    (void)h;
    (void)data;
    if (ev->type == ZK_EVENT_CHILD)
        list_tasks();
}

static void on_tasks(zk_t *h, int status, const struct zk_result *res, void *data)
{
    (void)data;
    if (status == ZK_CONNECTIONLOSS) {
        list_tasks();
        return;
    }
    if (status != 0)
        die("list /tasks", status);
    if (nworkers == 0)
        return; /* the workers watch calls us again */
    for (int i = 0; i < res->nchildren; i++) {
        if (set_has(&assigning, res->children[i]))
            continue;
        set_add(&assigning, res->children[i]);
        struct assignment *a = calloc(1, sizeof *a);
        snprintf(a->task, sizeof a->task, "%s", res->children[i]);
        char path[128];
        snprintf(path, sizeof path, "/tasks/%s", a->task);
        zk_get(h, path, NULL, NULL, on_task_data, a);
    }
}

static void list_tasks(void)
{
    zk_get_children(zk, "/tasks", 0, tasks_watcher, NULL, on_tasks, NULL);
}

static void take_leadership(void)
{
    printf("MASTER %s elected\n", my_id);
    is_master = 1;
    list_workers(); /* then recovery of dead workers' tasks, then tasks */
}

static void on_master_created_check(zk_t *h, int status, const struct zk_result *res,
                                   void *data)
{
    (void)data;
    if (status == 0 && res->data && strcmp(res->data, my_id) == 0)
        take_leadership();
    else if (status == 0)
        zk_exists(h, "/master", master_watcher, NULL, on_master_exists, NULL);
    else
        run_for_master();
}

static void on_master_created(zk_t *h, int status, const struct zk_result *res, void *data)
{
    (void)res;
    (void)data;
    if (status == 0) {
        take_leadership();
    } else if (status == ZK_NODEEXISTS) {
        printf("backup %s\n", my_id);
        zk_exists(h, "/master", master_watcher, NULL, on_master_exists, NULL);
    } else if (status == ZK_CONNECTIONLOSS) {
        /* Did our create land?  /master holds our id if so. */
        zk_get(h, "/master", NULL, NULL, on_master_created_check, NULL);
    } else {
        die("create /master", status);
    }
}

static void run_for_master(void)
{
    zk_create(zk, "/master", my_id, (int32_t)strlen(my_id), NULL, 0, ZK_EPHEMERAL, 0,
              on_master_created, NULL);
}

/* ================= worker ================= */

static struct strset known;   /* assigned tasks seen and not finished */
static struct strset waiting; /* of those, not started yet */
static int busy;              /* one task at a time, like a real worker slot */
static void list_assigned(void);
static void start_next(void);

struct job {
    uv_timer_t timer;
    char task[64];
};

static void on_committed(zk_t *h, int status, const struct zk_result *res, void *data)
{
    struct job *j = data;
    (void)h;
    (void)res;
    if (status == 0) {
        printf("done %s\n", j->task);
        char line[128];
        int n = snprintf(line, sizeof line, "commit %s\n", j->task);
        if (write(log_fd, line, (size_t)n) != n)
            die("log", ZK_SYSTEMERROR);
    } else {
        /* The assignment is gone: the master gave the task to someone else. */
        printf("abandoned %s: %s\n", j->task, zk_errname(status));
    }
    set_del(&known, j->task);
    free(j);
    busy = 0;
    start_next();
}

static void on_job_timer_closed(uv_handle_t *t)
{
    struct job *j = t->data;
    char assign[256], status_path[128];
    snprintf(assign, sizeof assign, "%s/%s", my_assign, j->task);
    snprintf(status_path, sizeof status_path, "/status/%s", j->task);
    zk_txn_t *txn = zk_txn_new();
    zk_txn_create(txn, status_path, my_name, (int32_t)strlen(my_name), NULL, 0, ZK_PERSISTENT,
                  0);
    zk_txn_delete(txn, assign, -1);
    zk_multi(zk, txn, on_committed, j);
    zk_txn_free(txn);
}

/* The work is done: log it, then commit (status + assignment, atomically). */
static void on_job_done(uv_timer_t *t)
{
    struct job *j = t->data;
    char line[128];
    int n = snprintf(line, sizeof line, "work %s\n", j->task);
    if (write(log_fd, line, (size_t)n) != n)
        die("log", ZK_SYSTEMERROR);
    uv_close((uv_handle_t *)t, on_job_timer_closed);
}

static void assign_watcher(zk_t *h, const struct zk_event *ev, void *data)
{
    (void)h;
    (void)data;
    if (ev->type == ZK_EVENT_CHILD)
        list_assigned();
}

static void on_assigned_list(zk_t *h, int status, const struct zk_result *res, void *data)
{
    (void)h;
    (void)data;
    if (status == ZK_CONNECTIONLOSS) {
        list_assigned();
        return;
    }
    if (status != 0)
        die("list assignments", status);
    for (int i = 0; i < res->nchildren; i++) {
        if (set_has(&known, res->children[i]))
            continue;
        set_add(&known, res->children[i]);
        set_add(&waiting, res->children[i]);
    }
    start_next();
}

static void start_next(void)
{
    if (busy || waiting.n == 0)
        return;
    busy = 1;
    struct job *j = calloc(1, sizeof *j);
    snprintf(j->task, sizeof j->task, "%s", waiting.v[0]);
    set_del(&waiting, j->task);
    uv_timer_init(&loop, &j->timer);
    j->timer.data = j;
    uv_timer_start(&j->timer, on_job_done, (uint64_t)work_ms, 0);
}

static void list_assigned(void)
{
    zk_get_children(zk, my_assign, 0, assign_watcher, NULL, on_assigned_list, NULL);
}

static void on_registered(int status, void *data)
{
    (void)data;
    if (status != 0)
        die("register", status);
    printf("WORKER %s registered\n", my_name);
    list_assigned();
}

static void on_assign_dir(int status, void *data)
{
    (void)data;
    if (status != 0)
        die("create assign dir", status);
    zk_group_join(zk, "/workers", my_name, "idle", 4, on_registered, NULL);
}

/* ================= client ================= */

static int ntasks, nsubmitted, ndone_seen = -1;
static struct strset mine; /* the names of our tasks */

static void status_watcher(zk_t *h, const struct zk_event *ev, void *data);

static void on_status_list(zk_t *h, int status, const struct zk_result *res, void *data)
{
    (void)h;
    (void)data;
    if (status == ZK_CONNECTIONLOSS) {
        zk_get_children(zk, "/status", 0, status_watcher, NULL, on_status_list, NULL);
        return;
    }
    if (status != 0)
        die("list /status", status);
    int done = 0;
    for (int i = 0; i < res->nchildren; i++)
        done += set_has(&mine, res->children[i]);
    if (done != ndone_seen) {
        ndone_seen = done;
        printf("status %d/%d\n", done, ntasks);
    }
    if (nsubmitted == ntasks && done == ntasks) {
        printf("ALL DONE %d\n", done);
        zk_close(zk, NULL, NULL);
    }
}

static void status_watcher(zk_t *h, const struct zk_event *ev, void *data)
{
    (void)h;
    (void)data;
    if (ev->type == ZK_EVENT_CHILD)
        zk_get_children(zk, "/status", 0, status_watcher, NULL, on_status_list, NULL);
}

static void on_submitted(zk_t *h, int status, const struct zk_result *res, void *data)
{
    (void)h;
    (void)data;
    if (status != 0)
        die("submit", status);
    set_add(&mine, strrchr(res->path, '/') + 1);
    if (++nsubmitted == ntasks) {
        printf("submitted %d, last %s\n", nsubmitted, res->path);
        zk_get_children(zk, "/status", 0, status_watcher, NULL, on_status_list, NULL);
    }
}

static void submit_tasks(int status, void *data)
{
    (void)data;
    if (status != 0)
        die("bootstrap", status);
    for (int i = 0; i < ntasks; i++) {
        char payload[32];
        int n = snprintf(payload, sizeof payload, "payload-%d", i);
        zk_create(zk, "/tasks/task-", payload, n, NULL, 0, ZK_PERSISTENT_SEQUENTIAL, 0,
                  on_submitted, NULL);
    }
}

/* ================= main ================= */

static void bootstrap(void)
{
    static const char *dirs[] = {"/workers", "/tasks", "/assign", "/status"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        zk_mkdirs(zk, dirs[i], ignore_status, NULL);
}

static int usage(void)
{
    fprintf(stderr, "usage: master_worker master <hosts> <id>\n"
                    "       master_worker worker <hosts> <id> <logfile> [work-ms]\n"
                    "       master_worker client <hosts> <ntasks>\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 4)
        return usage();
    const char *role = argv[1];
    setvbuf(stdout, NULL, _IOLBF, 0);
    srand((unsigned)getpid());
    uv_loop_init(&loop);
    struct zk_options o;
    zk_options_init(&o);
    o.hosts = argv[2];
    const char *st = getenv("MW_SESSION_TIMEOUT");
    o.session_timeout_ms = st ? atoi(st) : 4000;
    o.on_session = on_session;
    int rc = zk_open(&loop, &o, &zk);
    if (rc != 0)
        die("open", rc);
    if (strcmp(role, "master") == 0) {
        my_id = argv[3];
        bootstrap();
        run_for_master();
    } else if (strcmp(role, "worker") == 0) {
        if (argc < 5)
            return usage();
        my_id = argv[3];
        snprintf(my_name, sizeof my_name, "worker-%s", my_id);
        snprintf(my_assign, sizeof my_assign, "/assign/%s", my_name);
        log_fd = open(argv[4], O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (log_fd < 0) {
            perror(argv[4]);
            return 1;
        }
        if (argc > 5)
            work_ms = atoi(argv[5]);
        bootstrap();
        zk_mkdirs(zk, my_assign, on_assign_dir, NULL);
    } else if (strcmp(role, "client") == 0) {
        ntasks = atoi(argv[3]);
        if (ntasks <= 0)
            return usage();
        zk_mkdirs(zk, "/tasks", ignore_status, NULL);
        zk_mkdirs(zk, "/status", submit_tasks, NULL);
    } else {
        return usage();
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return 0;
}
