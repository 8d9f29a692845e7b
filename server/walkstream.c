/*
 * walkstream.c - a fuzzy body streamed from a thread (see walkstream.h).
 *
 * The thread and the loop share a ring of chunks under `mu`: the thread
 * appends full chunks (and the last, partial one) and waits on `cv` while
 * the ring is full; the loop takes from the head and signals `cv`.  The
 * thread steps the walk only with the ring not full and no abort asked, and
 * it checks for an abort between steps, never inside one, so a stop waits
 * at most for one step.  The uv_async is closed by walkstream_free; its
 * close callback frees the struct, so a wake-up sent just before the stop
 * never lands on freed memory.
 */
#include "walkstream.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "dbwalk.h"
#include "log.h"

/* The thread's nice value: the loop's requests go first (snapshot.c's). */
#define STREAM_NICE 10

struct walkstream {
    uv_async_t async;           /* thread -> loop: chunks, or the end */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct db *db;
    struct dbwalk *walk;        /* the thread's while it runs */
    int64_t zxid;
    walkstream_ready_fn ready;
    void *data;
    int pause_ms;               /* ZKD_TEST_SNAP_STREAM_STEP_MS (below) */
    /* Under mu: */
    struct jute_out ring[WALKSTREAM_MAX_CHUNKS];
    size_t head, n;
    int abort;                  /* walkstream_free: stop between steps */
    int status;                 /* 0 while walking, 1 complete, or -errno */
    uint64_t nodes;
};

/* Thread: queues `cur` (moved) once there is room; 0, or -1 on abort. */
static int enqueue(struct walkstream *ws, struct jute_out *cur)
{
    pthread_mutex_lock(&ws->mu);
    while (ws->n == WALKSTREAM_MAX_CHUNKS && !ws->abort)
        pthread_cond_wait(&ws->cv, &ws->mu);
    int aborted = ws->abort;
    if (!aborted) {
        ws->ring[(ws->head + ws->n++) % WALKSTREAM_MAX_CHUNKS] = *cur;
        jute_out_init(cur);
    }
    pthread_mutex_unlock(&ws->mu);
    if (!aborted)
        uv_async_send(&ws->async);
    return aborted ? -1 : 0;
}

static int aborted(struct walkstream *ws)
{
    pthread_mutex_lock(&ws->mu);
    int a = ws->abort;
    pthread_mutex_unlock(&ws->mu);
    return a;
}

static void finish(struct walkstream *ws, int status)
{
    pthread_mutex_lock(&ws->mu);
    ws->status = status;
    ws->nodes = dbwalk_nodes(ws->walk);
    pthread_mutex_unlock(&ws->mu);
    uv_async_send(&ws->async);
}

static void *stream_main(void *arg)
{
    struct walkstream *ws = arg;
    if (setpriority(PRIO_PROCESS, (id_t)gettid(), STREAM_NICE) != 0)
        log_warn("snapshot stream: setpriority: %s", strerror(errno));
    struct jute_out cur;
    jute_out_init(&cur);
    int rc = 0;
    while (!rc) {
        if (aborted(ws))
            break;
        db_walk_lock(ws->db);
        rc = dbwalk_step(ws->walk, &cur, DBWALK_STEP_NODES);
        db_walk_unlock(ws->db);
        if (rc < 0)
            break;
        if (ws->pause_ms)
            usleep((useconds_t)ws->pause_ms * 1000);
        if ((cur.len >= WALKSTREAM_CHUNK || (rc == 1 && cur.len)) && enqueue(ws, &cur))
            break;
    }
    jute_out_free(&cur);
    finish(ws, rc);
    return NULL;
}

static void on_async(uv_async_t *h)
{
    struct walkstream *ws = h->data;
    ws->ready(ws->data);
}

struct walkstream *walkstream_start(uv_loop_t *loop, struct db *db, walkstream_ready_fn ready,
                                    void *data)
{
    struct walkstream *ws = zk_xcalloc(1, sizeof *ws);
    ws->db = db;
    ws->zxid = db->last_zxid;
    ws->ready = ready;
    ws->data = data;
    ws->walk = dbwalk_new(db);
    /* Tests stretch the walk so that writes surely land inside it and a
     * learner can be killed mid-stream (tests/ensemble/test_snap_stream.py). */
    const char *pause = getenv("ZKD_TEST_SNAP_STREAM_STEP_MS");
    ws->pause_ms = pause ? atoi(pause) : 0;
    pthread_mutex_init(&ws->mu, NULL);
    pthread_cond_init(&ws->cv, NULL);
    uv_async_init(loop, &ws->async, on_async);
    ws->async.data = ws;
    int rc = pthread_create(&ws->thread, NULL, stream_main, ws);
    if (rc) {
        log_warn("snapshot stream: no thread: %s", strerror(rc));
        ws->status = -rc;
        ws->abort = 1;
        walkstream_free(ws);
        return NULL;
    }
    return ws;
}

int64_t walkstream_zxid(const struct walkstream *ws) { return ws->zxid; }

int walkstream_take(struct walkstream *ws, struct jute_out *chunk)
{
    pthread_mutex_lock(&ws->mu);
    int rc;
    if (ws->status < 0) {
        rc = ws->status;
    } else if (ws->n) {
        *chunk = ws->ring[ws->head];
        jute_out_init(&ws->ring[ws->head]);
        ws->head = (ws->head + 1) % WALKSTREAM_MAX_CHUNKS;
        ws->n--;
        pthread_cond_signal(&ws->cv);
        rc = 1;
    } else {
        rc = ws->status == 1 ? 2 : 0;
    }
    pthread_mutex_unlock(&ws->mu);
    return rc;
}

uint64_t walkstream_nodes(const struct walkstream *ws)
{
    pthread_mutex_lock((pthread_mutex_t *)&ws->mu);
    uint64_t n = ws->nodes;
    pthread_mutex_unlock((pthread_mutex_t *)&ws->mu);
    return n;
}

static void free_closed(uv_handle_t *h)
{
    struct walkstream *ws = h->data;
    for (size_t i = 0; i < WALKSTREAM_MAX_CHUNKS; i++)
        jute_out_free(&ws->ring[i]);
    pthread_mutex_destroy(&ws->mu);
    pthread_cond_destroy(&ws->cv);
    free(ws);
}

void walkstream_free(struct walkstream *ws)
{
    if (!ws)
        return;
    pthread_mutex_lock(&ws->mu);
    int started = !ws->abort;
    ws->abort = 1;
    pthread_cond_signal(&ws->cv);
    pthread_mutex_unlock(&ws->mu);
    /* The thread stops between steps (it may be waiting for the tree lock:
     * the caller does not hold it, walkstream.h); the walk is freed only
     * after it has gone. */
    if (started)
        pthread_join(ws->thread, NULL);
    dbwalk_free(ws->walk);
    ws->walk = NULL;
    uv_close((uv_handle_t *)&ws->async, free_closed);
}
