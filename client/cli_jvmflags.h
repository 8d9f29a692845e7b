/*
 * cli_jvmflags.h - zkcli's reading of CLIENT_JVMFLAGS / JVMFLAGS.
 *
 * zkCli.sh starts java with $CLIENT_JVMFLAGS $JVMFLAGS, and Apache's client
 * (ZKClientConfig, X509Util) takes its TLS and SASL settings from the
 * zookeeper.* system properties there.  zkcli reads the same properties
 * (through zk/jvmflags.h, the tokenizer zkd uses for SERVER_JVMFLAGS):
 *
 *   zookeeper.client.secure            TLS on (same as --tls)
 *   zookeeper.ssl.trustStore.location  CA certificates (--cafile)
 *   zookeeper.ssl.keyStore.location    client certificate chain and key, one
 *                                      PEM file as Apache's PEM key store
 *   zookeeper.ssl.{key,trust}Store.type  PEM; JKS, PKCS12 and BCFKS refuse
 *                                      (zkcli reads PEM only; convert them)
 *   zookeeper.ssl.hostnameVerification false = --no-hostname-check
 *   zookeeper.ssl.ocsp                 true = --ocsp: the server's chain is
 *                                      checked through OCSP (zk/ocsp.h)
 *   zookeeper.ssl.crl = true           refuse: libzk downloads no CRLs
 *   java.security.auth.login.config    the JAAS file; its Client section
 *                                      (zookeeper.sasl.clientconfig) logs in:
 *                                      Krb5LoginModule = Kerberos (GSSAPI,
 *                                      useKeyTab/keyTab/principal or the
 *                                      ticket cache), DigestLoginModule =
 *                                      DIGEST-MD5 (username/password); a
 *                                      missing section is an error, unless
 *                                      zookeeper.sasl.client=false
 *   zookeeper.sasl.client.username     the server's service name ("zookeeper")
 *   jute.maxbuffer                     largest reply accepted
 *   zookeeper.clientCnxnSocket and other zookeeper.* properties: one INFO
 *   line on stderr each, saying zkcli ignores it and why.
 *
 * A security setting zkcli cannot honour is an error naming the property,
 * never silently dropped.  Command-line options given as well win.
 */
#ifndef ZKCLI_JVMFLAGS_H
#define ZKCLI_JVMFLAGS_H

#include "zk/zk.h"

/* Applies the properties of `flags` (writable: the option strings point
 * into it, so it must outlive `o`'s use; NULL = none) to `o`.  `var` names
 * the variable in messages.  Returns 0, or -1 after printing why on stderr. */
int cli_apply_jvmflags(struct zk_options *o, char *flags, const char *var);

#endif
