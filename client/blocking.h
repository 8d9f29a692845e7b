/*
 * blocking.h - running asynchronous code (the recipes) from the blocking
 * API.  Private to libzk.
 *
 * zk__blocking_call hands fn to the handle's loop thread and waits; fn starts
 * asynchronous work on `zk` and arranges for zk__blocking_call_done(zk, job,
 * status) to be called exactly once, on the loop thread, when it is over.
 * `arg` stays alive meanwhile (the caller is blocked).
 */
#ifndef ZK_CLIENT_BLOCKING_H
#define ZK_CLIENT_BLOCKING_H

#include "zk/zk.h"

struct job;
typedef void (*blocking_call_fn)(zk_t *zk, void *arg, struct job *job);

/* Any thread but the handle's loop thread.  Returns the status given to
 * zk__blocking_call_done. */
int zk__blocking_call(zk_blocking_t *b, blocking_call_fn fn, void *arg);
/* Loop thread only. */
void zk__blocking_call_done(zk_t *zk, struct job *job, int status);

#endif
