/*
 * kerberos.h - what zkd needs to accept Kerberos (GSSAPI through Cyrus
 * SASL) as Apache ZooKeeper is configured for it: a JAAS section using
 * com.sun.security.auth.module.Krb5LoginModule,
 *
 *   Server {
 *       com.sun.security.auth.module.Krb5LoginModule required
 *       useKeyTab=true keyTab="/etc/zookeeper/zk.keytab"
 *       storeKey=true useTicketCache=false
 *       principal="zookeeper/zk1.example.com@EXAMPLE.COM";
 *   };
 *
 * and Apache's rule for the identity a principal becomes (its
 * SaslServerCallbackHandler): the principal's first component, then
 * "/host" unless kerberos.removeHostFromPrincipal, then "@REALM" unless
 * kerberos.removeRealmFromPrincipal.  The Kerberos library itself is MIT's,
 * behind Cyrus's GSSAPI plugin (Debian: libsasl2-modules-gssapi-mit); it
 * reads KRB5_CONFIG / /etc/krb5.conf as usual.
 */
#ifndef ZKD_KERBEROS_H
#define ZKD_KERBEROS_H

#include <stddef.h>

struct jaas_section;

struct krb_login {
    char principal[512]; /* as written, e.g. zookeeper/zk1@EXAMPLE.COM */
    char service[128];   /* "zookeeper": GSSAPI's service name */
    char host[256];      /* "zk1": the acceptor's host name ("" if none) */
    char keytab[4096];   /* keyTab=, "" = the library's default */
};

/* Whether the section (may be NULL) logs in with Krb5LoginModule. */
int krb_section_is_kerberos(const struct jaas_section *s);
/* Reads the section's principal= and keyTab= into *out.  Returns 0, or -1
 * with the reason in err (no principal; the keytab unreadable). */
int krb_login_read(const struct jaas_section *s, struct krb_login *out, char *err, size_t errlen);
/* Makes `keytab` the one GSSAPI accepts with (MIT reads KRB5_KTNAME); call
 * before the first Kerberos call of the process.  "" does nothing. */
void krb_use_keytab(const char *keytab);
/* Apache's identity for an authenticated principal ("user/host@REALM"), as
 * described above, into out (size cap). */
void krb_principal_to_id(const char *principal, int remove_host, int remove_realm, char *out,
                         size_t cap);

#endif
