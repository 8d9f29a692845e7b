/*
 * sasl.h - the client side of ZooKeeper's SASL exchange, on Cyrus SASL.
 * Private to libzk.
 *
 * One zsasl per connection attempt (SASL state does not survive a new
 * connection).  The exchange, as Apache's ZooKeeperSaslClient runs it:
 * the client sends its initial token (empty for DIGEST-MD5), then answers
 * every server token, until Cyrus says the exchange is complete.  The
 * service is "zookeeper" (zookeeper.sasl.client.username) and the server
 * name "zk-sasl-md5" for DIGEST-MD5, as Java's client and server both use;
 * for GSSAPI the server name is the host dialed, so the ticket asked for is
 * zookeeper/host, as Apache's client asks (its canonicalization of the
 * host name is left to krb5.conf's dns_canonicalize_hostname).
 *
 * GSSAPI with a keytab (JAAS Client section: useKeyTab, keyTab, principal)
 * logs in once per handle: a zsasl_login holds the initiator credential,
 * acquired from the keytab into a MEMORY ticket cache named for the keytab
 * and principal (never the user's default cache), and every connection's
 * exchange hands it to Cyrus (SASL_GSS_CREDS).  Without a keytab, Cyrus's
 * GSSAPI plugin uses the default ticket cache (kinit, KRB5CCNAME).
 */
#ifndef ZK_CLIENT_SASL_H
#define ZK_CLIENT_SASL_H

#include "zk/zk.h"

struct zsasl;
struct zsasl_login;

/* OUT out: a new exchange for `o` with the server `host` (the host part of
 * the connect string entry connected to; the GSSAPI server name unless
 * o->server_name says otherwise).  `login` is the handle's credential slot
 * (*login NULL at first; filled on the first GSSAPI exchange with a keytab,
 * freed with zk__zsasl_login_free).  Returns 0, ZK_BADARGUMENTS, or
 * ZK_SYSTEMERROR / ZK_AUTHFAILED with the reason logged (no such mechanism,
 * the keytab cannot be used). */
int zk__zsasl_new(const struct zk_sasl_options *o, const char *host, struct zsasl_login **login,
                  struct zsasl **out);
void zk__zsasl_free(struct zsasl *s);
void zk__zsasl_login_free(struct zsasl_login *l);
/* Steps the exchange: the first call (in == NULL) starts it, later ones
 * answer server token `in`.  OUT out/outlen: the token to send (owned by
 * s, valid until the next call).  Returns 1 when a token must be sent and
 * an answer awaited, 0 when the exchange is complete (send *out first if
 * outlen > 0), or ZK_AUTHFAILED (the reason logged: Cyrus's and Kerberos's
 * detail, e.g. a stale keytab's "Preauthentication failed"). */
int zk__zsasl_step(struct zsasl *s, const char *in, unsigned inlen, const char **out,
               unsigned *outlen);

#endif
