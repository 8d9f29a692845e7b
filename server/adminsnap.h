/*
 * adminsnap.h - the state as one Apache snapshot stream, out and in: what
 * Apache 3.9's AdminServer commands `snapshot` (GET, streams a snapshot of
 * the data tree) and `restore` (POST, replaces the tree by an uploaded one)
 * move.  admin.c adds the gating (authentication, admin.snapshot.enabled,
 * admin.restore.enabled, the rate limit); this file holds the state work.
 *
 * The stream is an uncompressed Apache snapshot file's bytes (header,
 * sessions, tree, Adler-32 seal) with 3.9's lastProcessedZxid trailer: what
 * Apache 3.9 streams and reads, and what zkd writes (snapshot.h).
 *
 * Both run synchronously on the loop thread: clients wait while the image is
 * written or loaded, as Apache's restore blocks request submission.
 */
#ifndef ZKD_ADMINSNAP_H
#define ZKD_ADMINSNAP_H

#include <stddef.h>
#include <stdint.h>

#include "zk/jute.h"

struct server;

/*
 * Appends a snapshot stream of the state now to `out`.  OUT: *zxid, the
 * zxid it is taken at.  Returns 0 or -errno.
 */
int adminsnap_take(struct server *s, struct jute_out *out, int64_t *zxid);

/*
 * Replaces the state by the snapshot stream `p` (`len` bytes): the stream is
 * checked whole (seal, trailers, every record) into a scratch state first,
 * so a bad upload changes nothing.  Then every client connection is closed
 * (its session lives on if the restored state has it, as Apache's restore
 * keeps the uploaded sessions), the state is loaded, and it is written as a
 * snapshot at a zxid above everything before (the highest of ours and the
 * stream's, plus one), with the transaction log restarted there: the
 * restored tree is what a restart finds.  Standalone servers only: on an
 * ensemble member, replacing one replica's state would fork the ensemble.
 * OUT: *zxid, the zxid the state now stands at; *why, what is wrong (static
 * text) on failure.  Returns 0, -EINVAL (a damaged or foreign stream),
 * -ENOTSUP (an ensemble member) or -EIO (it could not be stored: the server
 * then holds the restored state in memory and says so in its log).
 */
int adminsnap_restore(struct server *s, const void *p, size_t len, int64_t *zxid,
                      const char **why);

#endif
