/*
 * server.c - server lifecycle and the durability gate (see server.h).
 *
 * Start-up: create dataDir/dataLogDir, load the newest valid snapshot, replay
 * the log after it (txnlog.c truncates a torn tail), then listen.  Sessions
 * found in the image or log restart their expiry clock at start-up, as
 * Apache's do, so clients may reconnect within their timeout.
 *
 * Snapshots: after snapCount/2 + random(snapCount/2) transactions (Apache's
 * jitter, so an ensemble does not snapshot in lockstep) the log rolls to a
 * new file and a forked child writes the image; the parent keeps serving.
 *
 * Every loop iteration ends in before_sleep(): read connections that the
 * outstanding-request limit stopped (if back under it), write out connections
 * whose frames were released (flush.h: replies all, notifications a share),
 * then hand the new log batch to the fsync thread.
 */
#include "server.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>


#include "admin.h"
#include "audit.h"
#include "conn.h"
#include "datadir.h"
#include "dbwalk.h"
#include "digest.h"
#include "election.h"
#include "flush.h"
#include "fourlw.h"
#include "listing.h"
#include "localsess.h"
#include "quorum.h"
#include "quota.h"
#include "reconfig.h"
#include "log.h"
#include "metrics.h"
#include "monitor.h"
#include "quorum_auth.h"
#include "sasl.h"
#include "snapshot.h"
#include "svcnotify.h"
#include "tls.h"
#include "txnlog.h"
#include "write.h"
#include "zk/proto.h"

/* Creates `path` and its missing parents, then fsyncs the directory holding
 * each component, so that a directory made here is still named after a power
 * cut (a new entry is durable only once its directory is fsync'd): without
 * it, a cut after the first start took dataDir, and every acknowledged write
 * in it, along.  Components that existed are synced too: an earlier start may
 * have died between its mkdir and the sync.  A parent we may not open (no
 * read permission) is skipped. */
static int mkdirs(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0755) && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, 0755) && errno != EEXIST)
        return -errno;
    if (buf[0] != '/') {
        int rc = datadir_fsync(".");
        if (rc && rc != -EACCES)
            return rc;
    }
    for (char *p = buf; *p; p++) {
        if (*p != '/' || !p[1] || p[1] == '/')
            continue;
        char c = p[1];
        p[1] = 0; /* keep the slash: "/" for the root */
        int rc = datadir_fsync(buf);
        p[1] = c;
        if (rc && rc != -EACCES)
            return rc;
    }
    return 0;
}

/* zkd kept 32 random bytes in dataDir/session.secret from which session
 * passwords once derived; they are Apache's now (a function of the id,
 * session.h) and nothing read the file.  Apache knows no such file, and an
 * Apache dataDir run by zkd must hold only Apache's files: a leftover is
 * removed at start.  Returns 0, or -1 if one cannot be removed. */
static int remove_old_secret(struct server *s)
{
    static const char *const names[] = {"session.secret", "session.secret.tmp"};
    int removed = 0;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char path[PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/%s", s->cfg.data_dir, names[i]);
        if (!unlink(path)) {
            log_info("removed %s (an earlier zkd's file, used by nothing: session passwords are "
                     "Apache's)", path);
            removed = 1;
        } else if (errno != ENOENT) {
            log_error("cannot remove %s: %s", path, strerror(errno));
            return -1;
        }
    }
    return removed && datadir_fsync(s->cfg.data_dir) ? -1 : 0;
}

/* ---- recovery ---- */

static int load_body(const void *p, size_t len, size_t *used, void *d)
{
    struct server *s = d;
    return db_load_snapshot_body(&s->db, p, len, used, clock_mono_ms());
}

static void load_reset(void *d)
{
    struct server *s = d;
    assert(s->db.write_depth == 0); /* snapshot_cancel waits for a walker */
    snapshot_cancel(); /* its producer walks the tree being replaced */
    db_reset(&s->db);
}

/*
 * Apache's snapshot digest check (FileSnap.deserialize, then
 * DataTree.compareSnapshotDigests): the tree digest (digest.h) once the
 * tree reaches the zxid of the snapshot's ZxidDigest - at once for an exact
 * snapshot, during the log replay for a fuzzy one.  A mismatch is logged as
 * Apache logs it and recovery goes on, as Apache's does: the snapshot's seal
 * and the log's checksums already vouch for the bytes, and the digest is a
 * cross-check of the tree built from them, not a reason to refuse the data.
 */
int64_t server_tree_digest(struct server *s)
{
    /* With digest.enabled the running digest (kept per write from here on);
     * without it, one walk that leaves nothing to maintain. */
    if (s->cfg.digest_enabled)
        return digest_db(&s->db);
    return s->db.loaded_digest_ok ? s->db.loaded_digest : digest_tree(s->db.tree);
}

static void expect_snapshot_digest(struct server *s, const struct snapshot_info *info,
                                   int64_t snap)
{
    s->digest_zxid = -1;
    if (info->digest_zxid <= 0) /* none, or Apache's empty ZxidDigest */
        return;
    if (info->digest_version != DIGEST_VERSION) {
        log_info("Digest version changed, local: %d, new: %d, skip comparing digest now.",
                 info->digest_version, DIGEST_VERSION);
        return;
    }
    if (info->digest_zxid < snap) {
        log_info("The zxid of snapshot digest 0x%llx is smaller than the known snapshot highest "
                 "zxid, the snapshot started with zxid 0x%llx. It will be invalid to use this "
                 "snapshot digest associated with this zxid, will ignore comparing it.",
                 (unsigned long long)info->digest_zxid, (unsigned long long)snap);
        return;
    }
    s->digest_zxid = info->digest_zxid;
    s->digest_want = info->digest;
}

static void check_snapshot_digest(struct server *s)
{
    int64_t have = server_tree_digest(s);
    if (have != s->digest_want)
        log_warn("Message:Digests are not matching. Value is Zxid. Value:%lld (snapshot digest "
                 "%lld, tree digest %lld)", (long long)s->digest_zxid, (long long)s->digest_want,
                 (long long)have);
    else
        log_info("snapshot digest at zxid 0x%llx matches the tree: %lld",
                 (unsigned long long)s->digest_zxid, (long long)have);
    s->digest_zxid = -1;
}

static int replay_record(int64_t zxid, const void *rec, size_t len, void *d)
{
    struct server *s = d;
    if (write_apply_committed(s, zxid, rec, len)) {
        log_error("log record 0x%llx does not decode; stopping replay there",
                  (unsigned long long)zxid);
        return -1;
    }
    if (zxid == s->digest_zxid)
        check_snapshot_digest(s);
    if (s->keep_win)
        txnwin_push(&s->win, zxid, rec, len);
    return 0;
}

/*
 * Apache's FileTxnSnapLog.restore: the newest valid snapshot, then every
 * logged transaction above its zxid (write_apply_committed tolerates what a
 * fuzzy snapshot already holds).  Without any snapshot the log must start
 * at zxid 1 (txnlog_replay checks); server_start then takes a snapshot in
 * the background at once, as Apache writes snapshot.0 on a first start, so
 * that Apache, which refuses a log without a snapshot, can take this dataDir
 * over.  (In the background: its fsyncs would otherwise delay the start;
 * until it is there, a restart simply replays the log from zxid 1 again.)
 */
static int recover(struct server *s)
{
    int64_t t0 = clock_mono_ms();
    s->db.tree = tree_new_empty();
    s->db.digest_of = NULL; /* the running digest starts over with this tree */
    int64_t snap = -1;
    struct snapshot_info info;
    int rc = snapshot_load(s->snap_dir, load_body, load_reset, s, &snap, &info);
    int64_t t_snap = clock_mono_ms();
    if (rc) {
        log_error("cannot load a snapshot from %s: %s; not starting (an empty start would lose "
                  "the data there)", s->snap_dir, strerror(-rc));
        return -1;
    }
    int fresh = snap < 0;
    if (fresh) {
        tree_free(s->db.tree);
        s->db.tree = tree_new();
        snap = 0;
    } else {
        quota_recount(&s->db); /* Apache's setupQuota, before the log replays */
    }
    s->snap_zxid = snap;
    s->db.last_zxid = snap;
    /* An empty ZxidDigest past snapshot.0 (which nothing can have been
     * written into yet): no point of the replay is known to match, the
     * snapshot may be a fuzzy SNAP's (produce); the check waits for one. */
    s->digest_fuzzy = !fresh && snap > 0 && info.digest_zxid == 0;
    expect_snapshot_digest(s, &info, snap);
    if (s->digest_zxid == snap) {
        /* Apache never compares this one: its replay starts above it.  And
         * it cannot be trusted from Apache: DataTree applies a txn, sets
         * lastProcessedZxid, then logs its digest, while the snapshot names
         * itself at the start and writes the last logged digest after the
         * tree, so a txn applied meanwhile can be in the tree and not in
         * the digest.  A mismatch here makes the replay compare the log's
         * digests from the first one the tree matches (digest_fuzzy). */
        if (server_tree_digest(s) == s->digest_want) {
            log_info("snapshot digest at zxid 0x%llx matches the tree: %lld",
                     (unsigned long long)snap, (long long)s->digest_want);
        } else {
            log_info("snapshot digest at zxid 0x%llx is not the tree's: a write applied while "
                     "the snapshot was taken; the log's digests are compared from the first "
                     "the tree matches", (unsigned long long)snap);
            s->digest_fuzzy = 1;
        }
        s->digest_zxid = -1;
    }
    if (s->cfg.digest_enabled)
        digest_db(&s->db); /* the running digest starts from the loaded sum */
    s->db.loaded_digest_ok = 0; /* the log replay changes the tree */
    if (s->keep_win)
        txnwin_reset(&s->win, snap);
    int64_t t_check = clock_mono_ms();
    int64_t last = snap;
    rc = txnlog_replay(s->log_dir, snap, replay_record, s, &last);
    if (rc < 0) {
        log_error("cannot replay the log in %s: %s", s->log_dir, strerror(-rc));
        return -1;
    }
    if (s->digest_zxid >= 0) {
        log_warn("The txn 0x%llx of snapshot digest does not exist.",
                 (unsigned long long)s->digest_zxid);
        s->digest_zxid = -1;
    }
    if (last > s->db.last_zxid)
        s->db.last_zxid = last;
    __atomic_store_n(&s->durable_zxid, s->db.last_zxid, __ATOMIC_RELEASE);
    s->no_snapshot = fresh;
    int64_t t_end = clock_mono_ms();
    if (s->digests_checked)
        log_info("log replay: %llu transaction digests checked, %llu did not match",
                 (unsigned long long)s->digests_checked,
                 (unsigned long long)s->digest_mismatches);
    log_info("recovered %llu znodes and %u sessions up to zxid 0x%llx (snapshot 0x%llx) in %lld ms "
             "(snapshot load %lld, quotas and digest %lld, log replay %lld)",
             (unsigned long long)tree_node_count(s->db.tree), sessions_count(&s->db.sessions),
             (unsigned long long)s->db.last_zxid, (unsigned long long)snap,
             (long long)(t_end - t0), (long long)(t_snap - t0), (long long)(t_check - t_snap),
             (long long)(t_end - t_check));
    return 0;
}

/* Finds (and makes) the version-2 directories and refuses data it would
 * misread.  Returns 0 or -1. */
static int open_dirs(struct server *s)
{
    int rc = datadir_version_dir(s->cfg.data_dir, s->snap_dir, sizeof s->snap_dir);
    if (!rc)
        rc = datadir_version_dir(s->cfg.data_log_dir, s->log_dir, sizeof s->log_dir);
    if (rc) {
        log_error("cannot create %s/%s: %s", s->cfg.data_dir, DATADIR_VERSION_DIR, strerror(-rc));
        return -1;
    }
    if (datadir_check(s->cfg.data_dir, s->snap_dir) ||
        (strcmp(s->snap_dir, s->log_dir) && datadir_check(s->cfg.data_log_dir, s->log_dir)))
        return -1;
    return 0;
}

/* ---- snapshots ---- */

struct snap_ctx {
    struct server *s;
    struct snapshot_writer *w;
};

static int put_bytes(const void *p, size_t len, void *d)
{
    return snapshot_put(d, p, len);
}

static int produce(struct snapshot_writer *w, void *d)
{
    struct server *s = d;
    /* The image is exact at last_zxid, so the digest is that of this tree;
     * unless the tree came from a fuzzy SNAP and may be ahead of last_zxid:
     * then Apache's empty ZxidDigest (zxid 0), which recovery reads as
     * "compare from the first transaction that matches" (digest_fuzzy). */
    if (s->digest_fuzzy)
        snapshot_set_digest(w, 0, 0);
    else
        snapshot_set_digest(w, s->db.last_zxid, server_tree_digest(s));
    return db_snapshot_body(&s->db, put_bytes, w);
}

int server_snapshot_to_fd(struct server *s, int fd)
{
    return snapshot_write_fd(fd, s->db.last_zxid, produce, s);
}

static void purge(struct server *s)
{
    int64_t oldest = -1;
    int n = snapshot_purge(s->snap_dir, s->cfg.autopurge_snap_retain_count, &oldest);
    int m = oldest >= 0 ? txnlog_purge(s->log_dir, oldest) : 0;
    if (n > 0 || m > 0)
        log_info("purged %d snapshots and %d log files", n > 0 ? n : 0, m > 0 ? m : 0);
}

/* ---- background snapshots (fuzzy: snapshot.h, dbwalk.h) ---- */

/* Restarts for ACL lists new since the start (dbwalk.h) before the next
 * attempt walks the whole tree in one step: exact, but writes wait for it
 * (reads go on). */
#define SNAP_MAX_RESTARTS 3

/* Tests (ZKD_TEST_SNAPSHOT_HOLD=path): the first step of a walk that
 * follows a write holds the tree lock, having created path.held, until
 * `path` exists (at most a minute), so a test sees what the loop does
 * while a walker holds it (server_batch_lock). */
static void test_hold(struct server *s)
{
    if (!s->snap_hold || s->snap_held || s->db.last_zxid <= 1)
        return;
    s->snap_held = 1;
    char held[PATH_MAX];
    snprintf(held, sizeof held, "%s.held", s->snap_hold);
    int fd = open(held, O_CREAT | O_WRONLY, 0644);
    if (fd >= 0)
        close(fd);
    for (int i = 0; i < 60000 && access(s->snap_hold, F_OK) != 0; i++)
        usleep(1000);
}

/* The producer, on the snapshot's thread (snapshot.h): one dbwalk_step
 * under the tree write lock (db.h), which also makes last_zxid there
 * that of the tree the step saw. */
static int snap_step(struct jute_out *out, void *d)
{
    struct server *s = d;
    if (s->snap_step_pause_ms)
        usleep((useconds_t)s->snap_step_pause_ms * 1000);
    if (s->snap_end_zxid < 0) {
        size_t max = s->snap_restarts >= SNAP_MAX_RESTARTS ? SIZE_MAX : DBWALK_STEP_NODES;
        db_walk_lock(&s->db);
        test_hold(s);
        int rc = dbwalk_step(s->snap_walk, out, max);
        if (rc == 1) {
            s->snap_end_zxid = s->db.last_zxid;
            /* The trailer's digest is of the tree the walk ended on, as
             * Apache writes its lastProcessedZxidDigest after the body:
             * recovery compares it once the replay reaches that zxid. */
            if (s->snap_end_zxid != s->snap_dg.zxid)
                s->snap_dg = s->snap_digest_live
                                 ? (struct snapshot_digest){s->snap_end_zxid, s->db.digest}
                                 : (struct snapshot_digest){0, 0};
        }
        db_walk_unlock(&s->db);
        if (rc != 1)
            return rc;
    }
    /* The image holds the effect of every transaction applied by now: it
     * may become a snapshot only once the log holds them all, or a crash
     * would restore a tree ahead of its log.  (server_durable wakes us.) */
    return __atomic_load_n(&s->durable_zxid, __ATOMIC_ACQUIRE) >= s->snap_end_zxid;
}

static void snapshot_done(int status, int64_t zxid, double seconds, void *d)
{
    struct server *s = d;
    log_info("snapshot 0x%llx: %llu znodes walked", (unsigned long long)zxid,
             (unsigned long long)dbwalk_nodes(s->snap_walk));
    dbwalk_free(s->snap_walk);
    s->snap_walk = NULL;
    if (status == -EAGAIN && !s->stopping) {
        s->snap_restarts++;
        log_info("snapshot 0x%llx met an ACL list new since its start; starting over",
                 (unsigned long long)zxid);
        server_snapshot(s);
        return;
    }
    s->snap_restarts = 0;
    if (status) {
        log_error("snapshot 0x%llx failed (%d)", (unsigned long long)zxid, status);
        return;
    }
    if (zxid > s->snap_zxid)
        s->snap_zxid = zxid;
    s->stats.snapshots++;
    s->stats.last_snapshot_s = seconds;
    summary_add(&s->stats.snapshot_time, (uint64_t)(seconds * 1e6));
    log_info("snapshot 0x%llx written in %.3f s", (unsigned long long)zxid, seconds);
}

static void pick_snap_trigger(struct server *s)
{
    int half = s->cfg.snap_count / 2;
    s->snap_trigger = half + (half > 0 ? rand() % half : 0);
    if (s->snap_trigger < 1)
        s->snap_trigger = 1;
}

void server_snapshot(struct server *s)
{
    if (snapshot_running())
        return;
    txnlog_roll(s->log);
    /* The digest at the start, with the zxid the file is named after; a
     * fuzzy tree (a learner's SNAP), or one whose digest would cost a walk
     * here, gets Apache's empty ZxidDigest: "compare from the first
     * transaction that matches" (digest_fuzzy). */
    struct snapshot_digest dg = {0, 0};
    if (!s->digest_fuzzy && (s->cfg.digest_enabled || s->db.loaded_digest_ok))
        dg = (struct snapshot_digest){s->db.last_zxid, server_tree_digest(s)};
    /* If writes go on during the walk, snap_step takes the digest at its
     * end: the running one (db->digest, kept under the tree write lock and
     * valid from server_tree_digest on), or none. */
    s->snap_dg = dg;
    s->snap_digest_live = !s->digest_fuzzy && s->cfg.digest_enabled;
    s->snap_walk = dbwalk_new(&s->db);
    s->snap_end_zxid = -1;
    int rc = snapshot_start(s->loop, s->snap_dir, s->db.last_zxid, &s->snap_dg, snap_step, s,
                            snapshot_done, s);
    if (rc) {
        log_warn("cannot start snapshot: %d", rc);
        dbwalk_free(s->snap_walk);
        s->snap_walk = NULL;
    }
    s->txns_since_snap = 0;
    pick_snap_trigger(s);
}

void server_count_txn(struct server *s)
{
    if (++s->txns_since_snap >= (uint64_t)s->snap_trigger)
        server_snapshot(s);
}

void server_hold(struct server *s, struct conn *c) { pset_add(&s->held, c); }

int server_over_limit(const struct server *s)
{
    return s->db.last_zxid - s->durable_zxid >= (int64_t)s->cfg.global_outstanding_limit;
}

void server_throttle(struct server *s, struct conn *c)
{
    s->stats.throttles++;
    pset_add(&s->throttled, c);
}

/* Reads the throttled connections again once under the limit.  Each one
 * handles the frames it already holds first, and may stop again. */
static void on_backlog(uv_idle_t *h);

static void unthrottle(struct server *s)
{
    if (!s->throttled.n || server_over_limit(s))
        return;
    struct conn **v = zk_xmalloc(s->throttled.n * sizeof *v);
    size_t n = 0;
    void *p;
    PSET_FOREACH(&s->throttled, p) v[n++] = p;
    pset_free(&s->throttled);
    for (size_t i = 0; i < n; i++)
        conn_unthrottle(v[i]);
    free(v);
}
void server_mark_dirty(struct server *s, struct conn *c) { pset_add(&s->dirty, c); }

void server_backlog(struct server *s, struct conn *c)
{
    if (!s->backlog.n)
        uv_idle_start(&s->backlog_idle, on_backlog);
    fifo_push(&s->backlog, &c->bq);
}

int server_take_request(struct server *s)
{
    int cap = s->cfg.requests_per_loop_turn;
    if (cap > 0 && s->phase_taken >= (size_t)cap)
        return 0;
    s->phase_taken++;
    return 1;
}

static int phase_full(const struct server *s)
{
    return s->cfg.requests_per_loop_turn > 0 &&
           s->phase_taken >= (size_t)s->cfg.requests_per_loop_turn;
}

/* The backlog's phase (server.h).  The idle phase runs before the loop's
 * poll, so the connections queued in one turn get their next share only
 * after the poll has read everyone else: a round robin, oldest first, of at
 * most requestsPerTurn requests each and requestsPerLoopTurn in all.  A
 * connection gets at most one share per turn (one queued again goes to the
 * tail and waits for the next). */
static void on_backlog(uv_idle_t *h)
{
    struct server *s = h->data;
    s->phase_taken = 0;
    for (size_t n = s->backlog.n; n > 0 && s->backlog.n && !phase_full(s); n--)
        conn_continue(FIFO_ENTRY(fifo_pop(&s->backlog), struct conn, bq));
    if (!s->backlog.n)
        uv_idle_stop(h);
}

void server_durable(struct server *s, int64_t zxid)
{
    if (zxid > s->durable_zxid) {
        /* Atomic: a snapshot's thread reads it (snap_step). */
        __atomic_store_n(&s->durable_zxid, zxid, __ATOMIC_RELEASE);
        snapshot_wake();
    }
    if (!s->held.n)
        return;
    struct conn **v = zk_xmalloc(s->held.n * sizeof *v);
    size_t n = 0;
    void *p;
    PSET_FOREACH(&s->held, p) v[n++] = p;
    for (size_t i = 0; i < n; i++) {
        if (conn_release(v[i], s->durable_zxid))
            pset_add(&s->dirty, v[i]);
        if (!conn_has_held(v[i]))
            pset_del(&s->held, v[i]);
    }
    free(v);
}

static void on_durable(struct txnlog *log, int64_t zxid, void *d)
{
    struct server *s = d;
    monitor_note_fsync(s, log);
    if (s->q)
        quorum_log_durable(s->q, zxid); /* the gate is the quorum's commit */
    else
        server_durable(s, zxid);
}

/*
 * Group commit across a backlog: while connections hold requests beyond
 * their turn's share (requestsPerTurn), the batch keeps growing for up to
 * FLUSH_DEFER_TURNS turns before it goes to the fsync thread, so a
 * pipelined writer taken 100 requests a turn still shares one fsync among
 * about as many writes as when its whole batch was taken in one turn
 * (bench/results/2026-12-06-wide-deletes.md: without this, 350 writes per
 * fsync instead of 1,000).  Reads do not wait for it (request.c read_tag);
 * the bound keeps a backlog of reads from delaying other clients' writes.
 * A connection waiting for its listing's next slice (listing.h) is no such
 * writer and does not defer the batch.
 */
#define FLUSH_DEFER_TURNS 10

static int log_batch_due(struct server *s)
{
    if (s->backlog.n > s->listings && ++s->flush_deferred < FLUSH_DEFER_TURNS)
        return 0;
    s->flush_deferred = 0;
    return 1;
}

static void before_sleep(uv_prepare_t *h)
{
    struct server *s = h->data;
    unthrottle(s);
    flush_turn(s, 1);
    if (s->log && log_batch_due(s))
        txnlog_flush(s->log);
    /* A log that completed synchronously may have released frames. */
    flush_turn(s, 0);
    audit_flush(); /* (one lock per iteration for the audit lines it formatted) */
    s->phase_taken = 0; /* the poll's phase comes next (server_take_request) */
}

/*
 * The loop, with an adaptive poll window.  A client that waits for each
 * reply before sending again (a lock, a leader check, most application
 * code) sends its next request a few tens of microseconds after the reply.
 * If the server has gone to sleep in epoll_wait by then, waking it costs
 * more than the request itself: on a virtual machine the cross-CPU wake-up
 * was ~50 us of an ~80 us loopback round trip (bench/results).  So after
 * handling client input the loop keeps polling without blocking for
 * pollSpinMicros, restarting the window whenever more input arrives, and
 * only then sleeps.  An idle server never spins; a busy one spends at most
 * one window per pause in its traffic.  Each empty poll yields the CPU, so
 * the fsync thread, a snapshot child or another process on the same core
 * runs ahead of the spin.
 */
void server_run(struct server *s)
{
    uint64_t window_ns = (uint64_t)s->cfg.poll_spin_us * 1000;
    for (;;) {
        uint64_t reads = s->client_reads;
        s->walker_waited = 0;
        if (!uv_run(s->loop, UV_RUN_ONCE))
            return;
        if (!s->walker_waited)
            db_write_wait_over(&s->db);
        if (!window_ns || s->client_reads == reads || s->stopping)
            continue;
        uint64_t since = uv_hrtime(), until = since + window_ns;
        while (!s->stopping) {
            reads = s->client_reads;
            s->walker_waited = 0;
            if (!uv_run(s->loop, UV_RUN_NOWAIT))
                return;
            if (!s->walker_waited)
                db_write_wait_over(&s->db);
            uint64_t now = uv_hrtime();
            if (s->client_reads != reads) {
                s->stats.spin_hits++;
                since = now;
                until = now + window_ns;
            } else if (s->backlog.n || s->notify.n) {
                /* A connection waits for its next share (requestsPerTurn,
                 * notifyWritesPerTurn): no yield before its turn, unless
                 * it waits for a snapshot walker (server_batch_lock),
                 * which may need this core to let go of the lock. */
                since = now;
                until = now + window_ns;
                if (s->walker_waited)
                    sched_yield();
            } else if (now >= until) {
                s->stats.spin_idle_us += (now - since) / 1000;
                break;
            } else {
                sched_yield();
            }
        }
    }
}

/* ---- connection events ---- */

int server_four_letter(struct server *s, struct conn *c, const uint8_t *p)
{
    if (!fourlw_is_command(p))
        return 0;
    fourlw_run(s, c, p);
    return 1;
}

void server_conn_closed(struct server *s, struct conn *c)
{
    listing_cancel(c);
    if (s->q)
        quorum_conn_closed(s, c);
}

/* ---- sessions ---- */

void server_expire_session(struct server *s, struct session *se)
{
    log_info("expiring session 0x%llx, timeout of %d ms exceeded (%s%s)", (unsigned long long)se->id,
             se->timeout, se->conn ? "client " : "no connection", se->conn ? se->conn->remote : "");
    struct conn *c = se->conn;
    audit_session_event(se->id, c ? &c->auth : NULL, "expireSession", AUDIT_SUCCESS);
    write_session(s, ZK_OP_CLOSESESSION, se->id, 0, 0); /* se is freed */
    if (c)
        conn_close_after_flush(c); /* session_closed (conn.c) detached it */
}

static void expire_one(struct session *se, void *d) { server_expire_session(d, se); }

/* Standalone servers and an ensemble's leader expire sessions and reap
 * containers; learners only apply what the leader decides. */
static int decides(const struct server *s) { return !s->q || quorum_is_leader(s->q); }

static void on_tick(uv_timer_t *h)
{
    struct server *s = h->data;
    localsess_expire(s, clock_mono_ms()); /* (every member its own) */
    if (!decides(s))
        return;
    sessions_expire(&s->db.sessions, clock_mono_ms(), expire_one, s);
}

/* ---- containers and TTL nodes (Apache's ContainerManager) ----
 *
 * Every znode.container.checkIntervalMs the leader (or a standalone
 * server) lists the candidates: empty containers that had a child (or
 * older than maxNeverUsedIntervalMs when that is set) and empty TTL nodes
 * not modified within their TTL.  It then deletes them one at a time, one
 * every minute / znode.container.maxPerMinute, each through the write path
 * as a deleteContainer request of session 0, cxid 0, checked when its turn
 * comes, as Apache's ContainerManager submits them to its request
 * processors.  A delete the tree no longer fits (the node went, got a
 * child, or is no longer a container or TTL node) fails as Apache's
 * PrepRequestProcessor fails it: NONODE, NOTEMPTY or BADVERSION, logged as
 * an ErrorTxn at its own zxid, so the zxids stay Apache's.  While one
 * check's candidates are being deleted, the next check waits (Apache runs
 * them on one timer thread).
 */

static void reap_queue_free(struct server *s)
{
    for (int i = s->reap_next; i < s->reap_n; i++)
        free(s->reap_paths[i]);
    free(s->reap_paths);
    s->reap_paths = NULL;
    s->reap_n = s->reap_next = 0;
    uv_timer_stop(&s->reap_pace);
}

struct reap_ctx {
    struct server *s;
    int64_t now;
    int n, cap;
};

static void reap_candidate(struct znode *n, void *d)
{
    struct reap_ctx *r = d;
    if (tree_nkids(n))
        return;
    int64_t owner = tree_owner(n);
    /* A container that never had a child goes after maxNeverUsedIntervalMs
     * (Apache's ContainerManager), when that is set, counted like a TTL from
     * its mtime: a setData keeps an unused container alive, as in Apache. */
    int never_used = r->s->cfg.container_max_never_used_ms;
    int64_t idle = r->now - tree_mtime(n);
    int due = owner == ZK_OWNER_CONTAINER
                  ? tree_cversion(n) > 0 || (never_used > 0 && idle > never_used)
                  : owner_is_ttl(owner) && idle > (owner & ZK_OWNER_TTL_MAX_BITS);
    if (!due)
        return;
    char path[4096];
    size_t len = tree_path(n, path, sizeof path);
    if (len >= sizeof path)
        return;
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 16;
        r->s->reap_paths = zk_xrealloc(r->s->reap_paths, (size_t)r->cap * sizeof(char *));
    }
    r->s->reap_paths[r->n++] = zk_xstrndup(path, len);
}

/* Apache's PrepRequestProcessor checks for deleteContainer: 0 or the error. */
static int32_t reap_check(struct server *s, const char *path, size_t len)
{
    struct znode *n = tree_lookup(s->db.tree, path, len);
    if (!n)
        return ZK_NONODE;
    if (tree_nkids(n))
        return ZK_NOTEMPTY;
    int64_t owner = tree_owner(n);
    return owner == ZK_OWNER_CONTAINER || owner_is_ttl(owner) ? 0 : ZK_BADVERSION;
}

static void reap_one(struct server *s, char *path)
{
    size_t len = strlen(path);
    log_info("Attempting to delete candidate container: %s", path);
    struct write w;
    write_begin(s, &w, ZK_OP_DELETE, 0, 0);
    struct txn_op *op = txn_add_op(&w.txn, ZK_OP_DELETE);
    op->req_type = ZK_OP_DELETECONTAINER; /* as Apache's ContainerManager logs it */
    op->path = path; /* the txn owns it now */
    int32_t err = reap_check(s, path, len);
    if (!err)
        err = write_apply_txn(s, &w);
    if (err) {
        log_info("container or TTL node %.*s not deleted: %s", (int)len, path, zk_errname(err));
        write_commit_failed(s, &w, err, -1, 0);
    } else {
        write_commit(s, &w);
    }
}

static void on_reap_pace(uv_timer_t *h)
{
    struct server *s = h->data;
    if (decides(s) && s->reap_next < s->reap_n)
        reap_one(s, s->reap_paths[s->reap_next++]);
    if (!decides(s) || s->reap_next >= s->reap_n)
        reap_queue_free(s);
}

static void on_reap(uv_timer_t *h)
{
    struct server *s = h->data;
    if (!decides(s) || s->reap_n)
        return;
    struct reap_ctx r = {s, clock_wall_ms(), 0, 0};
    tree_foreach_special(s->db.tree, reap_candidate, &r);
    s->reap_n = r.n;
    s->reap_next = 0;
    if (!r.n)
        return;
    on_reap_pace(&s->reap_pace); /* the first at once, the rest paced */
    uint64_t every = 60000u / (uint64_t)s->cfg.container_max_per_minute;
    if (s->reap_n)
        uv_timer_start(&s->reap_pace, on_reap_pace, every ? every : 1, every ? every : 1);
}

static void on_purge(uv_timer_t *h) { purge(h->data); }

/* ---- listening ---- */

static void on_connection(uv_stream_t *listener, int status)
{
    struct server *s = listener->data;
    if (status < 0) {
        log_warn("accept failed: %s", uv_strerror(status));
        return;
    }
    int rc = conn_accept(s, listener, listener == (uv_stream_t *)&s->tls_listener);
    if (rc)
        log_warn("accept failed: %s", uv_strerror(rc));
}

/*
 * The client ports' listen() backlog when clientPortListenBacklog is not set
 * (Apache's default is the JVM's 50).  Connections the loop has not yet
 * accepted wait there; once it is full the kernel drops the handshake's
 * last ACK or the SYN (ListenOverflows), and the client retries after 1 s,
 * 3 s, ... or, when the server's SYN-ACK retries run out first, sees its
 * connection reset.  Thousands of clients connecting at once (a restart, a
 * fan-out bench) need more than the 1,024 zkd used; the kernel caps it at
 * net.core.somaxconn (4,096 by default since Linux 5.4).
 */
#define LISTEN_BACKLOG_DEFAULT 65535

static int listen_backlog(const struct server *s)
{
    return s->cfg.client_listen_backlog > 0 ? s->cfg.client_listen_backlog
                                            : LISTEN_BACKLOG_DEFAULT;
}

static int listen_on(struct server *s, uv_tcp_t *h, const char *addr, int port)
{
    struct sockaddr_storage ss;
    const char *host = addr && *addr ? addr : "0.0.0.0";
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss)) {
        log_error("invalid listen address %s", host);
        return -1;
    }
    uv_tcp_init(s->loop, h);
    h->data = s;
    int rc = uv_tcp_bind(h, (struct sockaddr *)&ss, 0);
    if (!rc)
        rc = uv_listen((uv_stream_t *)h, listen_backlog(s), on_connection);
    if (rc) {
        log_error("cannot listen on %s:%d: %s", host, port, uv_strerror(rc));
        uv_close((uv_handle_t *)h, NULL);
        return -1;
    }
    log_info("serving clients on %s:%d", host, port);
    return 0;
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct server *s = h->data;
    log_info("received signal %d, shutting down", signum);
    server_stop(s);
}

int server_check_security(const struct zkd_config *cfg)
{
    int rc = 0;
    if (cfg->secure_client_port > 0 || cfg->client_port_unification) {
        struct tls_ctx *t = tls_ctx_new(cfg);
        rc |= !t;
        tls_ctx_free(t);
    }
    if (cfg->ssl_quorum) {
        struct tls_ctx *t = tls_quorum_ctx_new(cfg, 1);
        rc |= !t;
        tls_ctx_free(t);
    }
    rc |= quorum_auth_check(cfg) < 0;
    if (cfg->jaas_file[0]) {
        rc |= zkd_sasl_load_jaas(cfg->jaas_file) < 0;
        zkd_sasl_clear_users();
    }
    return rc ? -1 : 0;
}

void server_log_settings(const struct zkd_config *cfg)
{
    if (cfg->log_level >= 0)
        zkd_log_set_level((enum zkd_log_level)cfg->log_level);
    zkd_log_set_json(cfg->log_json);
}

/* SIGHUP: re-reads zoo.cfg and applies its log settings; every other key
 * needs a restart. */
static void on_sighup(uv_signal_t *h, int signum)
{
    struct server *s = h->data;
    (void)signum;
    struct zkd_config *cfg = zk_xcalloc(1, sizeof *cfg);
    char err[1024];
    if (config_parse(s->cfg.path, cfg, err, sizeof err)) {
        log_warn("SIGHUP: %s; log settings unchanged", err);
    } else {
        server_log_settings(cfg);
        log_info("SIGHUP: re-read %s: log level %s, format %s (other keys need a restart)",
                 s->cfg.path, zkd_log_level_name(zkd_log_get_level()),
                 cfg->log_json ? "json" : "plain");
    }
    free(cfg);
}

int server_start(struct server *s, uv_loop_t *loop, const struct zkd_config *cfg)
{
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    s->loop = loop;
    s->start_ms = clock_wall_ms();
    srand((unsigned)(clock_mono_ms() ^ getpid()));
    int rc;
    if ((rc = mkdirs(cfg->data_dir)) || (rc = mkdirs(cfg->data_log_dir))) {
        log_error("cannot create data directories %s, %s: %s", cfg->data_dir, cfg->data_log_dir,
                  strerror(-rc));
        return -1;
    }
    if (open_dirs(s))
        return -1;
    if (snapshot_set_compression(cfg->snapshot_compression)) {
        log_error("unknown snapshot.compression.method '%s'", cfg->snapshot_compression);
        return -1;
    }
    txnlog_set_prealloc((int64_t)cfg->pre_alloc_kb << 10);
    if (remove_old_secret(s))
        return -1;
    int distributed = config_is_distributed(cfg);
    if (distributed) {
        s->myid = config_read_myid(cfg->data_dir);
        if (s->myid < 0) {
            log_error("an ensemble member needs its id in %s/myid", cfg->data_dir);
            return -1;
        }
        s->keep_win = 1;
        /* A follower more than snapCount transactions behind gets a snapshot. */
        txnwin_init(&s->win, 0, (size_t)cfg->snap_count, 256u << 20);
        const struct zkd_server_line *me = config_server(cfg, s->myid);
        if (me && !s->cfg.client_port && me->client_port) {
            s->cfg.client_port = me->client_port;
            if (me->client_host[0])
                snprintf(s->cfg.client_port_address, sizeof s->cfg.client_port_address, "%s",
                         me->client_host);
        }
    }
    db_init(&s->db, cfg->tick_time, s->myid);
    sessions_init(&s->local_sessions, cfg->tick_time, s->myid);
    s->db.extended_types = cfg->extended_types_enabled;
    s->db.max_data = cfg->jute_max_buffer;
    s->db.enforce_quota = cfg->enforce_quota > 0;
    if (s->db.enforce_quota)
        log_info("zookeeper.enforceQuota = true, Quota Enforce enables");
    s->db.hooks = (struct db_hooks){conn_watch_event, conn_session_closed, s};
    if (recover(s))
        return -1;
    if ((rc = txnlog_open(&s->log, loop, s->log_dir, on_durable, s))) {
        log_error("cannot open the transaction log in %s: %s", s->log_dir, strerror(-rc));
        return -1;
    }
    pick_snap_trigger(s);
    zkd_sasl_kerberos_names(cfg->krb_remove_host, cfg->krb_remove_realm);
    if (cfg->jaas_file[0] && zkd_sasl_init(cfg->jaas_file))
        return -1;
    if (distributed)
        reconfig_init(s);
    if (distributed && quorum_start(s))
        return -1;
    if (cfg->local_sessions && !distributed)
        log_info("localSessionsEnabled is ignored: a standalone server has no local sessions "
                 "(nor has Apache's); every session is global");
    if (cfg->client_port_unification && !(s->tls_ctx = tls_ctx_new(cfg)))
        return -1;
    if (s->cfg.client_port > 0) {
        if (listen_on(s, &s->listener, s->cfg.client_port_address, s->cfg.client_port))
            return -1;
        s->listening = 1;
    }
    if (cfg->secure_client_port > 0) {
        if (!s->tls_ctx && !(s->tls_ctx = tls_ctx_new(cfg)))
            return -1;
        const char *addr = cfg->secure_client_port_address[0] ? cfg->secure_client_port_address
                                                               : cfg->client_port_address;
        if (listen_on(s, &s->tls_listener, addr, cfg->secure_client_port))
            return -1;
        s->tls_listening = 1;
        log_info("TLS enabled on port %d", cfg->secure_client_port);
    }
    uv_idle_init(loop, &s->backlog_idle);
    s->backlog_idle.data = s;
    flush_init(s);
    uv_prepare_init(loop, &s->before_sleep);
    s->before_sleep.data = s;
    uv_prepare_start(&s->before_sleep, before_sleep);
    uv_timer_init(loop, &s->tick_timer);
    s->tick_timer.data = s;
    uv_timer_start(&s->tick_timer, on_tick, (uint64_t)cfg->tick_time, (uint64_t)cfg->tick_time);
    uv_timer_init(loop, &s->reaper_timer);
    s->reaper_timer.data = s;
    uv_timer_init(loop, &s->reap_pace);
    s->reap_pace.data = s;
    uv_timer_start(&s->reaper_timer, on_reap, (uint64_t)cfg->container_check_ms,
                   (uint64_t)cfg->container_check_ms);
    uv_timer_init(loop, &s->purge_timer);
    s->purge_timer.data = s;
    if (cfg->autopurge_purge_interval > 0) {
        uint64_t ms = (uint64_t)cfg->autopurge_purge_interval * 3600 * 1000;
        uv_timer_start(&s->purge_timer, on_purge, 0, ms);
    }
    s->admin = admin_start(s); /* NULL when off or the port is taken: keep serving */
    s->metrics = metrics_start(s);
    uv_signal_init(loop, &s->sigterm);
    s->sigterm.data = s;
    uv_signal_start(&s->sigterm, on_signal, SIGTERM);
    uv_signal_init(loop, &s->sigint);
    s->sigint.data = s;
    uv_signal_start(&s->sigint, on_signal, SIGINT);
    uv_signal_init(loop, &s->sighup);
    s->sighup.data = s;
    uv_signal_start(&s->sighup, on_sighup, SIGHUP);
    /* The first snapshot only once start-up can no longer fail: its walk
     * runs on a thread, which must not outlive a failed start that frees
     * the tree (main.c).  Tests stretch the walk to show that. */
    const char *pause = getenv("ZKD_TEST_SNAPSHOT_STEP_MS");
    s->snap_step_pause_ms = pause ? atoi(pause) : 0;
    s->snap_hold = getenv("ZKD_TEST_SNAPSHOT_HOLD");
    if (s->no_snapshot)
        server_snapshot(s);
    log_info("zkd %s ready: %llu znodes, zxid 0x%llx, started in %lld ms", ZKFS_VERSION,
             (unsigned long long)tree_node_count(s->db.tree), (unsigned long long)s->db.last_zxid,
             (long long)(clock_wall_ms() - s->start_ms));
    if (!s->q)
        svc_ready("serving %llu znodes", (unsigned long long)tree_node_count(s->db.tree));
    return 0;
}

void server_stop(struct server *s)
{
    if (s->stopping)
        return;
    s->stopping = 1;
    svc_stopping();
    if (s->listening)
        uv_close((uv_handle_t *)&s->listener, NULL);
    if (s->tls_listening)
        uv_close((uv_handle_t *)&s->tls_listener, NULL);
    s->listening = s->tls_listening = 0;
    if (s->q) {
        /* Nothing uncommitted may be answered: drop clients first. */
        server_close_clients(s);
        quorum_stop(s);
    }
    /* Make every applied transaction durable, then answer what it covers. */
    txnlog_close(s->log);
    s->log = NULL;
    server_durable(s, s->db.last_zxid);
    flush_all(s);
    while (s->conns)
        conn_close(s->conns);
    admin_stop(s->admin);
    s->admin = NULL;
    metrics_stop(s->metrics);
    s->metrics = NULL;
    uv_close((uv_handle_t *)&s->before_sleep, NULL);
    uv_close((uv_handle_t *)&s->backlog_idle, NULL);
    flush_close(s);
    uv_close((uv_handle_t *)&s->tick_timer, NULL);
    uv_close((uv_handle_t *)&s->reaper_timer, NULL);
    reap_queue_free(s);
    uv_close((uv_handle_t *)&s->reap_pace, NULL);
    uv_close((uv_handle_t *)&s->purge_timer, NULL);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
    uv_close((uv_handle_t *)&s->sigint, NULL);
    uv_close((uv_handle_t *)&s->sighup, NULL);
    log_info("shutdown complete at zxid 0x%llx", (unsigned long long)s->db.last_zxid);
}

void server_close_clients(struct server *s)
{
    /* What the gate has released (committed) still goes out if the socket
     * takes it now: a reply to the very request that made this member step
     * aside (a reconfig removing it) is not lost.  Held frames never are sent. */
    while (s->conns) {
        struct conn *c = s->conns;
        conn_flush(c);
        if (s->conns == c) /* a failed write has already closed and unlinked it */
            conn_close(c);
    }
}

/* Closes the log (flushing it), runs `fn` on the log directory, reopens. */
static int reopen_log(struct server *s)
{
    int rc = txnlog_open(&s->log, s->loop, s->log_dir, on_durable, s);
    if (rc)
        log_error("cannot reopen the transaction log: %s", strerror(-rc));
    return rc ? -1 : 0;
}

int server_truncate(struct server *s, int64_t zxid)
{
    snapshot_cancel(); /* it may hold transactions being truncated */
    if (s->snap_zxid > zxid)
        return -1;
    txnlog_close(s->log);
    s->log = NULL;
    int rc = txnlog_truncate(s->log_dir, zxid);
    if (rc) {
        log_error("cannot truncate the log: %s", strerror(-rc));
        return -1;
    }
    load_reset(s);
    tree_free(s->db.tree);
    s->db.tree = NULL;
    if (recover(s))
        return -1;
    if (s->db.last_zxid != zxid)
        log_warn("after truncation to 0x%llx the log ends at 0x%llx", (unsigned long long)zxid,
                 (unsigned long long)s->db.last_zxid);
    reconfig_refresh(s);
    return reopen_log(s);
}

void server_image_begin(struct server *s)
{
    load_reset(s);
    s->digest_fuzzy = 0;
}

int server_image_end(struct server *s, int64_t zxid)
{
    s->db.last_zxid = zxid;
    quota_recount(&s->db);
    txnlog_close(s->log);
    s->log = NULL;
    /* Records above the image would replay onto it after a crash: drop them
     * before the image is durable, then the rest, which it supersedes. */
    int rc = txnlog_truncate(s->log_dir, zxid);
    if (!rc)
        rc = snapshot_write(s->snap_dir, zxid, produce, s);
    if (!rc)
        rc = txnlog_truncate(s->log_dir, -1);
    if (rc) {
        log_error("cannot store the received snapshot: %s", strerror(-rc));
        return -1;
    }
    s->snap_zxid = zxid;
    s->txns_since_snap = 0;
    if (s->keep_win)
        txnwin_reset(&s->win, zxid);
    reconfig_refresh(s);
    return reopen_log(s);
}

void server_free(struct server *s)
{
    journal_free(&s->journal_spare);
    jute_out_free(&s->record);
    db_free(&s->db);
    sessions_free(&s->local_sessions);
    digest_log_free(&s->digests);
    pset_free(&s->held);
    pset_free(&s->dirty);
    pset_free(&s->throttled);
    txnwin_free(&s->win);
    if (s->tls_ctx)
        tls_ctx_free(s->tls_ctx);
}
