/*
 * kerberos.c - see kerberos.h.
 */
#include "kerberos.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jaas.h"

int krb_section_is_kerberos(const struct jaas_section *s)
{
    return jaas_section_uses(s, "Krb5LoginModule");
}

int krb_login_read(const struct jaas_section *s, struct krb_login *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const char *principal = jaas_section_option(s, "principal");
    const char *keytab = jaas_section_option(s, "keyTab");
    if (!principal || !*principal || strlen(principal) >= sizeof out->principal) {
        snprintf(err, errlen, "section '%s' uses Krb5LoginModule but has no principal=\"...\"",
                 s->name);
        return -1;
    }
    if (keytab && (strlen(keytab) >= sizeof out->keytab || access(keytab, R_OK))) {
        snprintf(err, errlen, "section '%s': cannot read keyTab %s", s->name, keytab);
        return -1;
    }
    snprintf(out->principal, sizeof out->principal, "%s", principal);
    snprintf(out->keytab, sizeof out->keytab, "%s", keytab ? keytab : "");
    /* service/host@REALM: GSSAPI names the acceptor service@host. */
    size_t name = strcspn(principal, "/@");
    snprintf(out->service, sizeof out->service, "%.*s", (int)name, principal);
    if (principal[name] == '/') {
        const char *h = principal + name + 1;
        snprintf(out->host, sizeof out->host, "%.*s", (int)strcspn(h, "@"), h);
    }
    return 0;
}

void krb_use_keytab(const char *keytab)
{
    if (keytab[0])
        setenv("KRB5_KTNAME", keytab, 1);
}

void krb_principal_to_id(const char *principal, int remove_host, int remove_realm, char *out,
                         size_t cap)
{
    size_t name = strcspn(principal, "/@");
    const char *host = principal[name] == '/' ? principal + name + 1 : NULL;
    size_t hlen = host ? strcspn(host, "@") : 0;
    const char *at = strchr(principal, '@');
    snprintf(out, cap, "%.*s%s%.*s%s%s", (int)name, principal, host && !remove_host ? "/" : "",
             host && !remove_host ? (int)hlen : 0, host ? host : "",
             at && !remove_realm ? "@" : "", at && !remove_realm ? at + 1 : "");
}
