/*
 * reconfig.h - dynamic reconfiguration: the `reconfig` operation and
 * /zookeeper/config (Apache 3.5+ semantics).
 *
 * The ensemble's membership lives in the data tree: /zookeeper/config holds
 * Apache's dynamic-config text ("server.N=host:quorum:election:role;
 * clientHost:clientPort" lines, then "version=<hex zxid>").  At start-up an
 * ensemble member takes its membership from that node when it holds a
 * version (a reconfig happened), else from zoo.cfg, which it writes there
 * (version 0).  A reconfig is a transaction that sets the node; applying it
 * (on the leader when proposed, on learners when committed, in log replay
 * at start-up) switches the member to the new membership.  Incremental
 * (joining / leaving) and bulk (new members) forms, curConfigId as the
 * expected version, reconfigEnabled, and the node's ACL (write, so by default
 * only the super user) are Apache's; a new configuration whose voters do
 * not have a quorum in sync with the leader is refused (NEWCONFIGNOQUORUM);
 * while one reconfig is pending another gets RECONFIGINPROGRESS.
 */
#ifndef ZKD_RECONFIG_H
#define ZKD_RECONFIG_H

#include <stdint.h>

#include "zk/jute.h"

struct server;
struct conn;

/* Ensemble start-up, after recovery: reconciles s->cfg with the node. */
void reconfig_init(struct server *s);
/* Answers a reconfig request (leader; others answer RECONFIGDISABLED or
 * forward it). */
void reconfig_request(struct server *s, struct conn *c, int32_t xid, struct jute_in *in);
/* A reconfig transaction was applied: adopt the node's membership. */
void reconfig_applied(struct server *s, int64_t zxid);
/* The tree was replaced (snapshot sync, truncation): adopt the node's
 * membership if it differs from ours. */
void reconfig_refresh(struct server *s);

/* The membership as /zookeeper/config holds it (Apache's
 * QuorumVerifier.toString: server lines, then "version=<hex>"), which an
 * Apache leader sends in NEWLEADER.  OUT: *len.  NULL if the node has no
 * data (outside an ensemble).  Valid until the node next changes. */
const char *reconfig_text(struct server *s, int32_t *len);

#endif
