/*
 * sasl.h - the client side of ZooKeeper's SASL exchange, on Cyrus SASL.
 * Private to libzk.
 *
 * One zsasl per connection attempt (SASL state does not survive a new
 * connection).  The exchange, as Apache's ZooKeeperSaslClient runs it:
 * the client sends its initial token (empty for DIGEST-MD5), then answers
 * every server token, until Cyrus says the exchange is complete.  The
 * service is "zookeeper" and the server name "zk-sasl-md5", as Java's
 * client and server both use for DIGEST-MD5.
 */
#ifndef ZK_CLIENT_SASL_H
#define ZK_CLIENT_SASL_H

#include "zk/zk.h"

struct zsasl;

/* OUT out: a new exchange for `o` (mechanism, user, password).  Returns 0
 * or ZK_SYSTEMERROR (Cyrus could not set it up: no such mechanism...). */
int zk__zsasl_new(const struct zk_sasl_options *o, struct zsasl **out);
void zk__zsasl_free(struct zsasl *s);
/* Steps the exchange: the first call (in == NULL) starts it, later ones
 * answer server token `in`.  OUT out/outlen: the token to send (owned by
 * s, valid until the next call).  Returns 1 when a token must be sent and
 * an answer awaited, 0 when the exchange is complete (send *out first if
 * outlen > 0), or ZK_AUTHFAILED. */
int zk__zsasl_step(struct zsasl *s, const char *in, unsigned inlen, const char **out,
               unsigned *outlen);

#endif
