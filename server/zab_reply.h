/*
 * zab_reply.h - a learner of an Apache leader answers its own clients.
 *
 * zkd's own member protocol has the leader send each forwarded request's
 * reply frame back.  Apache's does not: the leader only proposes and
 * commits the transaction (TxnHeader clientId/cxid name the request), and
 * the learner that forwarded it builds the reply when it applies the commit,
 * as Apache's FinalRequestProcessor does.  This module builds that reply
 * from the committed record and the state right after applying it.
 */
#ifndef ZKD_ZAB_REPLY_H
#define ZKD_ZAB_REPLY_H

#include <stddef.h>
#include <stdint.h>

struct server;
struct conn;

/*
 * Queues on `c` the reply to its forwarded request that the committed
 * record `rec` (already applied at `zxid`) answers: the ConnectResponse of
 * a createSession (binding c to the new session), or the ReplyHeader and
 * response of a write, an ErrorTxn's error, a multi's results.  Returns 0,
 * or -1 if the record is not one a client waits for (nothing queued).
 */
int zab_reply_committed(struct server *s, struct conn *c, int64_t zxid, const uint8_t *rec,
                        size_t len);

/* The error c's client gets for a forwarded write the leader failed with
 * `err`: EPHEMERALONLOCALSESSION where the leader refused an ephemeral of
 * c's local session SESSIONEXPIRED (prep.c), else `err`.  Used for the
 * replies of both kinds of leader. */
int32_t zab_reply_local_error(const struct conn *c, int32_t err);
/* Queues the SyncResponse of c's forwarded sync (xid, path) at `zxid`. */
void zab_reply_sync(struct server *s, struct conn *c, int32_t xid, const char *path, int64_t zxid);

#endif
