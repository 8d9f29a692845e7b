/*
 * txn.h - the multi / multiRead builder's encoding (zk_txn_* in zk.h).
 *
 * A multi request body is a sequence of  MultiHeader{type, done=false,
 * err=-1} + op record, ended by MultiHeader{-1, true, -1}.  The response is
 * the same framing with one result record per op: CreateResponse (path),
 * Create2Response (path, stat) for container and TTL creates,
 * SetDataResponse (stat), nothing for delete and check, ErrorResponse (err)
 * for type -1; for multiRead, GetDataResponse and GetChildrenResponse.
 * When a write transaction fails, Apache marks the ops before the culprit
 * with error 0, the culprit with its error and the ops after it with
 * ZK_RUNTIMEINCONSISTENCY.
 */
#ifndef ZK_CLIENT_TXN_H
#define ZK_CLIENT_TXN_H

#include "zk/jute.h"
#include "zk/zk.h"

/* Appends the multi body for txn.  OUT is_read: 1 if every op reads.
 * Returns 0 or ZK_BADARGUMENTS (empty, mixed reads and writes, bad op). */
int zk__txn_encode(const zk_txn_t *txn, const char *chroot, struct jute_out *out, int *is_read);
/* Decodes a multi/multiRead response into res->results.  OUT first_err:
 * the first non-zero op error.  Returns 0 or ZK_MARSHALLINGERROR. */
int zk__txn_decode(struct jute_in *in, const char *chroot, struct zk_result *res, int *first_err);

#endif
