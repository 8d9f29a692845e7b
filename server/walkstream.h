/*
 * walkstream.h - a fuzzy snapshot body (dbwalk.h) produced on a thread and
 * handed to the loop a chunk at a time: what a leader streams to a learner
 * that needs a SNAP (quorum.c), as Apache's LearnerHandler serializes its
 * tree while the leader goes on committing.
 *
 * Threads.  walkstream_start runs on the loop, outside any write (it calls
 * dbwalk_new there: the body is as of db->last_zxid, Z).  One thread per
 * stream then steps the walk under db_walk_lock, a batch of nodes at a
 * time (db.h), and queues what it wrote in chunks.  The queue is bounded:
 * the thread stops when it holds WALKSTREAM_MAX_CHUNKS and goes on when the
 * loop takes one, so the memory of a stream is a few chunks whatever the
 * size of the tree, and its pace is the consumer's (the learner's socket).
 * The loop hears of new chunks (and of the end) through `ready`.
 *
 * walkstream_free may be called at any point on the loop (the learner's
 * link died): it stops the thread between steps - never while it holds the
 * tree lock - joins it and frees the walk.  So the loop must not hold
 * db_write_lock then (the thread may be waiting for it).
 */
#ifndef ZKD_WALKSTREAM_H
#define ZKD_WALKSTREAM_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "db.h"
#include "zk/jute.h"

/* About this many bytes per chunk, and at most this many chunks queued. */
#define WALKSTREAM_CHUNK (64u << 10)
#define WALKSTREAM_MAX_CHUNKS 4

struct walkstream;

/* Loop thread: chunks are waiting, or the walk has ended. */
typedef void (*walkstream_ready_fn)(void *data);

/* Starts streaming db's body at its last_zxid (walkstream_zxid).  Loop
 * thread.  Returns NULL if no thread can be had. */
struct walkstream *walkstream_start(uv_loop_t *loop, struct db *db, walkstream_ready_fn ready,
                                    void *data);

/* The Z of the body: db->last_zxid at the start. */
int64_t walkstream_zxid(const struct walkstream *ws);

/* Takes the oldest queued chunk into *chunk (the caller frees it with
 * jute_out_free).  Returns 1 (a chunk), 0 (none yet: `ready` follows), 2
 * (the body is complete and every chunk taken), or -errno: the walk failed
 * (-EAGAIN: an ACL list new since the start, dbwalk.h), the stream is
 * unusable.  Loop thread. */
int walkstream_take(struct walkstream *ws, struct jute_out *chunk);

/* Nodes written so far (once walkstream_take returned 2: all of them). */
uint64_t walkstream_nodes(const struct walkstream *ws);

/* Stops the thread (between steps), joins it and frees everything; the
 * `ready` callback does not run again.  Loop thread, tree write lock not
 * held.  NULL is fine. */
void walkstream_free(struct walkstream *ws);

#endif
