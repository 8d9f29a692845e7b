/*
 * sasl.h - SASL authentication (DIGEST-MD5) through Cyrus SASL, with users
 * from a JAAS file as Apache's SASLAuthenticationProvider reads them:
 *
 *   Server {
 *       org.apache.zookeeper.server.auth.DigestLoginModule required
 *       user_super="adminsecret"
 *       user_bob="bobsecret";
 *   };
 *
 * The JAAS file is named by `jaasLoginFile` in zoo.cfg (zkd's key) or by
 * -Djava.security.auth.login.config=... in SERVER_JVMFLAGS / JVMFLAGS, as
 * operators set it for Apache.  Passwords stay in memory: zkd registers its
 * own auxprop plugin that answers Cyrus's "userPassword" lookups from the
 * JAAS table, so no sasldb file is written.  Service "zookeeper", server
 * name "zk-sasl-md5", as Apache's server uses for DIGEST-MD5.
 *
 * A Server section using com.sun.security.auth.module.Krb5LoginModule
 * (keyTab=, principal=) selects GSSAPI (Kerberos) instead; see kerberos.h.
 *
 * On success the connection gains the identity ("sasl", user), which the
 * `sasl` ACL scheme matches.  A failure answers AUTHFAILED and closes the
 * connection, as Apache does.
 */
#ifndef ZKD_SASL_H
#define ZKD_SASL_H

#include <stddef.h>

struct conn;

/* Loads the JAAS users and initializes Cyrus SASL.  Returns 0, or -1 with
 * the reason logged.  A file without a Server section (even an empty one)
 * is not an error: as in Apache, zkd then offers no SASL (logged once).
 * Call once, before serving. */
int zkd_sasl_init(const char *jaas_file);
/* zkd_sasl_init's first step alone (the JAAS fuzz target calls it): parses
 * the file (jaas_load, the parser quorum SASL shares) and reads its Server
 * section's user_NAME="password" options into the user table, replacing
 * what it held; or, for a Server section that logs in with Krb5LoginModule,
 * its Kerberos settings.  Returns the number of users (1 for Kerberos); 0
 * (logged at INFO) for a file without a Server section, an empty one
 * included; -1 (logged) for an unreadable or malformed file, unusable
 * Kerberos settings or a Server section without users, which leaves the
 * table empty. */
int zkd_sasl_load_jaas(const char *jaas_file);
/* Empties the user table (frees every name and password). */
void zkd_sasl_clear_users(void);
/* Kerberos (a Server section with Krb5LoginModule, kerberos.h): how an
 * authenticated principal becomes the `sasl` identity, as Apache's
 * kerberos.removeHostFromPrincipal / removeRealmFromPrincipal.  Call before
 * serving; both default to 0 (keep "user/host@REALM"). */
void zkd_sasl_kerberos_names(int remove_host, int remove_realm);
/* Whether SASL is available (init succeeded with at least one user). */
int zkd_sasl_enabled(void);

/*
 * Feeds one client token.  OUT: *out and *outlen are the server's reply token
 * (owned by SASL; valid until the next call for this connection).  Returns
 * 1 when authentication completed (OUT: *user, owned by SASL or sasl.c,
 * valid until the next call), 0 when more steps follow, -1 on failure.
 */
int zkd_sasl_step(struct conn *c, const char *in, size_t inlen, const char **out,
                  unsigned *outlen, const char **user);
/* Releases the connection's SASL state. */
void zkd_sasl_dispose(struct conn *c);

/* What zkd answers when Cyrus SASL asks one of its servers for an option:
 * the auxprop plugin that looks up passwords and the mechanisms offered.
 * Clients (here) and quorum SASL (quorum_auth.c) each have one. */
struct zkd_sasl_opts {
    const char *auxprop_plugin; /* e.g. "zkdjaas" */
    const char *mech_list;      /* e.g. "DIGEST-MD5" */
};
/* A SASL_CB_GETOPT callback (Cyrus's sasl_getopt_t) whose context is a
 * struct zkd_sasl_opts, which must outlive the callback's registration:
 * answers auxprop_plugin and mech_list, SASL_FAIL to any other option. */
int zkd_sasl_getopt(void *context, const char *plugin, const char *option, const char **result,
                    unsigned *len);

#endif
