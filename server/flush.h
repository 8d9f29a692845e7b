/*
 * flush.h - writing the connections' output before the loop sleeps, with
 * watch fan-outs spread over loop turns.
 *
 * A connection whose frames were released is marked dirty
 * (server_mark_dirty).  Each turn, flush_turn() writes
 *
 *   1. every dirty connection with a reply (or a four-letter word's answer)
 *      among its ready bytes, or waiting to close: the requests handled this
 *      turn are answered this turn;
 *   2. then at most notifyWritesPerTurn (config.h) connections whose ready
 *      bytes are only watch notifications (conn_only_notifications), oldest
 *      first, from the notify queue, where step 1 put such connections; the
 *      rest wait for the next turns, and the loop does not sleep while any
 *      waits.
 *
 * So one change watched by 19,000 connections is written over ~4,750 loop
 * turns, each of which first reads and answers what other connections sent
 * meanwhile: a get arriving during the fan-out waits for one slice of
 * writes, not for 19,000 (bench/results/2026-12-06-fanout-fair.md).  The
 * cap counts connections, not time, so a turn's work is bounded by counts.
 *
 * Order and loss: deferring a connection's write never reorders it (its
 * output is one byte stream, conn.h); a reply queued behind a deferred
 * notification turns the connection into a reply connection, written at once
 * with the notification first, so a client sees the event before the reply
 * to any request it sent after the change, as in Apache.  A queued
 * connection is written (or closed) exactly once per queueing; its bytes
 * never leave `out` except by being written.
 */
#ifndef ZKD_FLUSH_H
#define ZKD_FLUSH_H

#include <stddef.h>

struct server;
struct conn;

/* The queue's loop handle (keeps the loop from sleeping while it waits). */
void flush_init(struct server *s);
void flush_close(struct server *s);

/* One turn's writes (above), before the loop sleeps; `share`: step 2 too
 * (0 when called again in the same turn: one share per turn). */
void flush_turn(struct server *s, int share);
/* Writes everything ready, the whole queue included (shutdown). */
void flush_all(struct server *s);
/* Takes `c` off the notify queue (it closes, or was just written). */
void flush_forget(struct server *s, struct conn *c);
/* Connections waiting in the notify queue (mntr zk_notify_queued_connections). */
size_t flush_queued(const struct server *s);

#endif
