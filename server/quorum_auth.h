/*
 * quorum_auth.h - SASL authentication between ensemble members, as Apache
 * ZooKeeper's quorum.auth.* settings ask for (SaslQuorumAuthLearner and
 * SaslQuorumAuthServer), through Cyrus SASL.
 *
 * Roles.  The member that opens a connection (to the leader's quorum port, or
 * to a peer's election port) is the *learner*; the one that accepted it is the
 * *server*.  The exchange runs first on the connection (after TLS, if
 * sslQuorum is on), before any member-protocol byte.  (In Apache's election
 * protocol the connecting side first sends its initial message, then
 * authenticates; a caller speaking that protocol runs the exchange after it.)
 *
 * Wire format: Apache's QuorumAuthPacket, jute-encoded with no length prefix:
 *
 *     int64 magic = 0x5f2435013501edcc   (QUORUM_AUTH_MAGIC_NUMBER)
 *     int32 status: 0 IN_PROGRESS, 1 SUCCESS, -1 ERROR
 *     buffer token: int32 length (-1 = null), then the bytes
 *
 * The learner sends IN_PROGRESS packets (the first one carrying the
 * mechanism's initial response, empty for DIGEST-MD5); the server answers
 * IN_PROGRESS with a challenge, SUCCESS with the final token (DIGEST-MD5's
 * rspauth), or ERROR.  The server decides by peeking at the first 8 bytes: a
 * learner that does not start with the magic number is not authenticating.
 *
 * Settings (zoo.cfg, as Apache):
 *   quorum.auth.enableSasl          this member can authenticate (both roles)
 *   quorum.auth.learnerRequireSasl  as a learner, authenticate (else skip it)
 *   quorum.auth.serverRequireSasl   as a server, refuse learners that do not
 *                                   authenticate or fail to (else let them in
 *                                   with a warning: rolling enable)
 *   quorum.auth.learner.saslLoginContext / server.saslLoginContext: the JAAS
 *     sections, default QuorumLearner (username=, password=) and QuorumServer
 *     (user_NAME="password" per accepted learner).  A section using
 *     Krb5LoginModule selects GSSAPI (keyTab=, principal=) instead of
 *     DIGEST-MD5; the learner then names the server as
 *     quorum.auth.kerberos.servicePrincipal (default zkquorum/localhost;
 *     "_HOST" becomes the server's host).
 * Protocol "zookeeper-quorum" and server name "zk-quorum-sasl-md5" for
 * DIGEST-MD5, as Apache uses, so DIGEST tokens are interchangeable with it.
 *
 * Using it.  All calls on one thread (the caller's loop); no I/O inside
 * except quorum_auth_run_fd.  An event-driven link:
 *
 *     struct quorum_auth *a = quorum_auth_new(QUORUM_AUTH_LEARNER, host, desc);
 *     // a is NULL when this side does not authenticate: use the link as is.
 *     quorum_auth_start(a, &out);               // write `out` to the socket
 *     on every read:
 *         rc = quorum_auth_feed(a, buf, n, &used, &out);  // write `out`
 *         QUORUM_AUTH_MORE: wait for more bytes (all of buf was used)
 *         QUORUM_AUTH_OK:   done; buf[used..n) is the member protocol
 *         QUORUM_AUTH_FAIL: write `out` (an ERROR packet, on the server
 *                           side), then close; the reason was logged
 *     quorum_auth_free(a);
 *
 * Bytes not used stay the caller's: present them again, with what arrived
 * since, in the next call (the server side peeks at the first 8 bytes and
 * uses none of them when the learner does not authenticate).
 *
 * A blocking socket: quorum_auth_run_fd(a, fd, timeout_ms, &rest) does the
 * same loop with read()/write() and returns OK or FAIL.
 */
#ifndef ZKD_QUORUM_AUTH_H
#define ZKD_QUORUM_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "zk/jute.h"

struct zkd_config;

#define QUORUM_AUTH_MAGIC 0x5f2435013501edccLL

enum quorum_auth_role { QUORUM_AUTH_LEARNER, QUORUM_AUTH_SERVER };
enum quorum_auth_result { QUORUM_AUTH_MORE = 0, QUORUM_AUTH_OK = 1, QUORUM_AUTH_FAIL = -1 };

struct quorum_auth;

/* Reads the JAAS sections and starts Cyrus SASL for members.  Call once,
 * after zkd_sasl_init (both share Cyrus's process-wide state, whose global
 * callbacks the client side's SASL owns); does nothing when
 * quorum.auth.enableSasl is false.  Returns 0, or -1 with the reason logged
 * (a missing JAAS file or section, a section without credentials). */
int quorum_auth_init(const struct zkd_config *cfg);
/* Checks the same as quorum_auth_init without starting anything (zkd
 * --check).  Returns 0 or -1 (logged). */
int quorum_auth_check(const struct zkd_config *cfg);
/* Whether quorum_auth_init turned authentication on. */
int quorum_auth_enabled(void);

/* A new exchange for one connection, or NULL when this side has nothing to
 * do: SASL off, or a learner with learnerRequireSasl=false (it then sends no
 * auth packet, as Apache's does).  `host` is the peer's host (for a GSSAPI
 * principal's _HOST), `desc` names the link in logs; both are copied. */
struct quorum_auth *quorum_auth_new(enum quorum_auth_role role, const char *host,
                                    const char *desc);
/* The learner's first packet, appended to `out` (nothing for a server).
 * Returns QUORUM_AUTH_MORE, or QUORUM_AUTH_FAIL (logged). */
int quorum_auth_start(struct quorum_auth *a, struct jute_out *out);
/* Feeds `len` received bytes.  OUT: *used is how many belong to the
 * exchange; replies are appended to `out`.  Returns an enum
 * quorum_auth_result as described above.  Bytes that arrive after OK or FAIL
 * are not consumed. */
int quorum_auth_feed(struct quorum_auth *a, const uint8_t *p, size_t len, size_t *used,
                     struct jute_out *out);
/* The authenticated peer's name after OK ("" when it was let in without
 * authenticating).  Valid until quorum_auth_free. */
const char *quorum_auth_peer(const struct quorum_auth *a);
/* Runs the whole exchange on a connected blocking socket, giving up after
 * timeout_ms without progress.  Bytes read past the exchange (the member
 * protocol of a learner let in without authenticating) are appended to
 * `rest` (may be NULL).  Returns QUORUM_AUTH_OK or QUORUM_AUTH_FAIL. */
int quorum_auth_run_fd(struct quorum_auth *a, int fd, int timeout_ms, struct jute_out *rest);
/* Frees the exchange (NULL is fine). */
void quorum_auth_free(struct quorum_auth *a);

/* Whether `p` (at least 8 bytes) starts with a QuorumAuthPacket: a peer
 * that authenticates although this member has quorum SASL off. */
int quorum_auth_is_packet(const uint8_t *p, size_t len);

#endif
