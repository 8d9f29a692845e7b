/*
 * xattr.c - Stat fields and ACLs as extended attributes (see xattr.h).
 *
 * An ACL is written one entry per "scheme:id:perms", comma-separated, as
 * zkCli prints it; ids may contain ':' (digest "user:hash"), so the scheme
 * ends at the first ':' and the perms start after the last one.
 */
#include "xattr.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zconn.h"
#include "names.h"
#include "zk/zk.h"

#define P "user.zk."

static const char names_list[] =
    P "czxid\0" P "mzxid\0" P "pzxid\0" P "ctime\0" P "mtime\0" P "version\0" P "cversion\0"
    P "aversion\0" P "ephemeralOwner\0" P "dataLength\0" P "numChildren\0" P "path\0" P "acl";

static const char perm_chars[] = "rwcda"; /* READ WRITE CREATE DELETE ADMIN bit order */

void xattr_list(const char **list, size_t *len)
{
    *list = names_list;
    *len = sizeof names_list; /* includes the final NUL */
}

static int stat_field(const struct zk_stat *st, const char *f, int64_t *v)
{
    static const struct {
        const char *name;
        size_t off;
        int wide;
    } fields[] = {
        {"czxid", offsetof(struct zk_stat, czxid), 1},
        {"mzxid", offsetof(struct zk_stat, mzxid), 1},
        {"pzxid", offsetof(struct zk_stat, pzxid), 1},
        {"ctime", offsetof(struct zk_stat, ctime), 1},
        {"mtime", offsetof(struct zk_stat, mtime), 1},
        {"version", offsetof(struct zk_stat, version), 0},
        {"cversion", offsetof(struct zk_stat, cversion), 0},
        {"aversion", offsetof(struct zk_stat, aversion), 0},
        {"ephemeralOwner", offsetof(struct zk_stat, ephemeral_owner), 1},
        {"dataLength", offsetof(struct zk_stat, data_length), 0},
        {"numChildren", offsetof(struct zk_stat, num_children), 0},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (strcmp(f, fields[i].name) == 0) {
            const char *p = (const char *)st + fields[i].off;
            if (fields[i].wide)
                memcpy(v, p, sizeof *v);
            else {
                int32_t x;
                memcpy(&x, p, sizeof x);
                *v = x;
            }
            return 1;
        }
    }
    return 0;
}

static char *format_acl(const struct zk_result *res, size_t *len)
{
    size_t cap = 1;
    for (int i = 0; i < res->nacl; i++)
        cap += strlen(res->acl[i].scheme) + strlen(res->acl[i].id) + 8;
    char *s = malloc(cap), *p = s;
    if (!s)
        return NULL;
    for (int i = 0; i < res->nacl; i++) {
        p += sprintf(p, "%s%s:%s:", i ? "," : "", res->acl[i].scheme, res->acl[i].id);
        for (int b = 0; b < 5; b++)
            if (res->acl[i].perms & (1 << b))
                *p++ = "rwcda"[b];
    }
    *p = '\0';
    *len = (size_t)(p - s);
    return s;
}

int xattr_get(struct zkfs_conn *c, const char *path, const char *name, char **value, size_t *len)
{
    if (strncmp(name, P, strlen(P)) != 0)
        return -ENODATA;
    const char *f = name + strlen(P);
    if (strcmp(f, "path") == 0) {
        *value = strdup(path);
        *len = strlen(path);
        return *value ? 0 : -ENOMEM;
    }
    int acl = strcmp(f, "acl") == 0;
    struct zk_request r = {.op = acl ? ZK_OP_GETACL : ZK_OP_EXISTS, .path = path};
    struct zk_result *res = NULL;
    int rc = zconn_submit(c, &r, &res);
    if (rc) {
        zk_result_free(res);
        return -names_errno(rc);
    }
    int64_t v;
    if (acl) {
        *value = format_acl(res, len);
        rc = *value ? 0 : -ENOMEM;
    } else if (stat_field(&res->stat, f, &v)) {
        char buf[32];
        int n = snprintf(buf, sizeof buf, "%" PRId64, v);
        *value = strdup(buf);
        *len = (size_t)n;
        rc = *value ? 0 : -ENOMEM;
    } else {
        rc = -ENODATA;
    }
    zk_result_free(res);
    return rc;
}

int xattr_parse_acl(char *s, struct zk_acl **acl, int32_t *n)
{
    int32_t cap = 1;
    for (char *p = s; *p; p++)
        cap += *p == ',';
    struct zk_acl *v = calloc((size_t)cap, sizeof *v);
    if (!v)
        return -ENOMEM;
    int32_t k = 0;
    char *save = NULL;
    for (char *e = strtok_r(s, ",", &save); e; e = strtok_r(NULL, ",", &save)) {
        while (*e == ' ' || *e == '\n')
            e++;
        char *c1 = strchr(e, ':'), *c2 = strrchr(e, ':');
        if (!c1 || c1 == c2 || c1 == e)
            goto bad;
        *c1 = *c2 = '\0';
        int32_t perms = 0;
        for (char *q = c2 + 1; *q && *q != '\n'; q++) {
            const char *at = strchr(perm_chars, *q);
            if (!at)
                goto bad;
            perms |= 1 << (at - perm_chars);
        }
        v[k++] = (struct zk_acl){.perms = perms, .scheme = e, .id = c1 + 1};
    }
    if (k == 0)
        goto bad;
    *acl = v;
    *n = k;
    return 0;
bad:
    free(v);
    return -EINVAL;
}

int xattr_set(struct zkfs_conn *c, const char *path, const char *name, const char *value,
              size_t len)
{
    if (strcmp(name, P "acl") != 0)
        return strncmp(name, P, strlen(P)) == 0 ? -EPERM : -ENOTSUP;
    char *s = strndup(value, len);
    if (!s)
        return -ENOMEM;
    struct zk_acl *acl;
    int32_t n;
    int rc = xattr_parse_acl(s, &acl, &n);
    if (rc == 0) {
        struct zk_request r = {.op = ZK_OP_SETACL, .path = path, .acl = acl, .nacl = n, .version = -1};
        rc = -names_errno(zconn_submit(c, &r, NULL));
        free(acl);
    }
    free(s);
    return rc;
}
