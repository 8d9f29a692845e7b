/*
 * cli_jvmflags.c - Apache client system properties for zkcli; see
 * cli_jvmflags.h for what is read and why.
 */
#include "cli_jvmflags.h"

#include "jaas.h"
#include "zk/jvmflags.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct flags_ctx {
    struct zk_options *o;
    const char *var;
    const char *store_type[2]; /* keyStore.type, trustStore.type; NULL = from the name */
    const char *jaas;          /* java.security.auth.login.config */
    const char *jaas_section;  /* zookeeper.sasl.clientconfig, default "Client" */
    int sasl_client;           /* zookeeper.sasl.client, default true */
    struct jaas_file jaas_file; /* the options' strings point into it */
};

/* Java's Boolean.parseBoolean: "true" in any case, anything else is false. */
static int java_bool(const char *v) { return !strcasecmp(v, "true"); }

static void info_ignored(const struct flags_ctx *x, const char *name, const char *why)
{
    fprintf(stderr, "zkcli: INFO: %s: -D%s ignored: %s\n", x->var, name, why);
}

static int refuse(const struct flags_ctx *x, const char *name, const char *why)
{
    fprintf(stderr, "zkcli: %s: -D%s: %s\n", x->var, name, why);
    return -1;
}

static int on_ssl(struct flags_ctx *x, char *name, const char *key, char *value)
{
    struct zk_tls_options *t = &x->o->tls;
    if (!strcmp(key, "keyStore.location")) {
        t->cert_file = t->key_file = value; /* Apache's PEM key store: chain and key */
    } else if (!strcmp(key, "trustStore.location")) {
        t->ca_file = value;
    } else if (!strcmp(key, "keyStore.type") || !strcmp(key, "trustStore.type")) {
        x->store_type[key[0] == 't'] = value;
    } else if (!strcmp(key, "hostnameVerification")) {
        t->verify_hostname = java_bool(value);
    } else if (!strcmp(key, "ocsp")) {
        x->o->tls_ocsp = java_bool(value);
    } else if (!strcmp(key, "crl")) {
        if (java_bool(value))
            return refuse(x, name, "libzk checks revocation through OCSP only "
                                   "(-Dzookeeper.ssl.ocsp=true)");
    } else if (!strncmp(key, "keyStore.password", 17) || !strncmp(key, "trustStore.password", 19)) {
        info_ignored(x, name, "zkcli reads PEM stores, which it loads without a password");
    } else {
        info_ignored(x, name, "zkcli uses OpenSSL's defaults for it");
    }
    return 0;
}

static int on_flag(char *name, char *value, void *data)
{
    struct flags_ctx *x = data;
    static const char zk[] = "zookeeper.";
    if (!strcmp(name, "java.security.auth.login.config")) {
        x->jaas = value;
        return 0;
    }
    if (!strcmp(name, "jute.maxbuffer")) {
        char *end;
        long n = strtol(value, &end, 0);
        if (*end || n <= 0 || n > 0x7fffffff)
            return refuse(x, name, "not a positive number of bytes");
        x->o->max_buffer = (int)n;
        return 0;
    }
    if (strncmp(name, zk, sizeof zk - 1))
        return 0; /* a JVM or logging property */
    const char *key = name + sizeof zk - 1;
    if (!strcmp(key, "client.secure"))
        x->o->use_tls = java_bool(value);
    else if (!strncmp(key, "ssl.", 4))
        return on_ssl(x, name, key + 4, value);
    else if (!strcmp(key, "sasl.client"))
        x->sasl_client = java_bool(value);
    else if (!strcmp(key, "sasl.clientconfig"))
        x->jaas_section = value;
    else if (!strcmp(key, "sasl.client.username"))
        x->o->sasl.service = value;
    else if (!strcmp(key, "clientCnxnSocket"))
        info_ignored(x, name, "zkcli has its own socket layer (libuv)");
    else
        info_ignored(x, name, "zkcli does not read it");
    return 0;
}

/* KeyStoreFileType: the .type property, else the file name's extension. */
static int check_store(const struct flags_ctx *x, const char *what, const char *path,
                       const char *type)
{
    if (!path)
        return 0;
    const char *dot = strrchr(path, '.');
    if (!type && dot && !strchr(dot, '/') &&
        (!strcasecmp(dot, ".jks") || !strcasecmp(dot, ".p12") || !strcasecmp(dot, ".pfx") ||
         !strcasecmp(dot, ".bcfks")))
        type = dot + 1;
    if (!type || !strcasecmp(type, "PEM"))
        return 0;
    fprintf(stderr,
            "zkcli: %s: -Dzookeeper.ssl.%s.location=%s is a %s store; zkcli reads PEM only "
            "(openssl pkcs12 -in STORE.p12 -nodes -out STORE.pem; keytool -importkeystore "
            "converts JKS to PKCS12)\n",
            x->var, what, path, type);
    return -1;
}

/* Copies of the JAAS values zkcli's options point to, living as long as the
 * process (static: no allocation outlives main for the leak checker). */
static char kept[4][4096];
static int nkept;

static const char *keep(const char *s)
{
    if (!s || nkept == 4)
        return NULL;
    snprintf(kept[nkept], sizeof kept[nkept], "%s", s);
    return kept[nkept++];
}

/*
 * The JAAS file's client section, as Apache's ZooKeeperSaslClient reads it:
 * Krb5LoginModule logs in with Kerberos (GSSAPI) from keyTab= as principal=
 * when useKeyTab=true, else from the ticket cache; DigestLoginModule gives
 * DIGEST-MD5's username= and password=.  A missing section is an error, as
 * in Apache (its client then fails authentication).
 */
static int use_jaas(struct flags_ctx *x)
{
    char err[512];
    const char *name = x->jaas_section ? x->jaas_section : "Client";
    struct zk_sasl_options *s = &x->o->sasl;
    if (jaas_load(x->jaas, &x->jaas_file, err, sizeof err)) {
        fprintf(stderr, "zkcli: %s: -Djava.security.auth.login.config=%s: %s\n", x->var, x->jaas,
                err);
        return -1;
    }
    const struct jaas_section *sec = jaas_section(&x->jaas_file, name);
    int rc = 0;
    if (!sec) {
        fprintf(stderr,
                "zkcli: %s: JAAS file %s has no '%s' section (zookeeper.sasl.clientconfig); "
                "set -Dzookeeper.sasl.client=false to connect without SASL\n",
                x->var, x->jaas, name);
        rc = -1;
    } else if (jaas_section_uses(sec, "Krb5LoginModule")) {
        const char *use_kt = jaas_section_option(sec, "useKeyTab");
        s->mechanism = "GSSAPI";
        if (use_kt && java_bool(use_kt)) {
            s->keytab = keep(jaas_section_option(sec, "keyTab"));
            s->principal = keep(jaas_section_option(sec, "principal"));
            if (!s->keytab) {
                fprintf(stderr, "zkcli: %s: JAAS section %s: useKeyTab=true without keyTab=\n",
                        x->var, name);
                rc = -1;
            }
        }
    } else if (jaas_section_uses(sec, "DigestLoginModule")) {
        s->mechanism = "DIGEST-MD5";
        s->user = keep(jaas_section_option(sec, "username"));
        s->password = keep(jaas_section_option(sec, "password"));
        if (!s->user || !s->password) {
            fprintf(stderr, "zkcli: %s: JAAS section %s: DigestLoginModule needs username= "
                            "and password=\n", x->var, name);
            rc = -1;
        }
    } else {
        fprintf(stderr, "zkcli: %s: JAAS section %s: zkcli knows Krb5LoginModule and "
                        "DigestLoginModule only\n", x->var, name);
        rc = -1;
    }
    jaas_free(&x->jaas_file);
    return rc;
}

int cli_apply_jvmflags(struct zk_options *o, char *flags, const char *var)
{
    struct flags_ctx x = {.o = o, .var = var, .sasl_client = 1};
    if (jvmflags_each(flags, on_flag, &x))
        return -1;
    if (check_store(&x, "keyStore", o->tls.cert_file, x.store_type[0]) ||
        check_store(&x, "trustStore", o->tls.ca_file, x.store_type[1]))
        return -1;
    if (x.jaas && x.sasl_client)
        return use_jaas(&x);
    return 0;
}
