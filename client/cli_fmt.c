/*
 * cli_fmt.c - zkcli's output formats (see cli_fmt.h).
 *
 * The text layout follows Apache's zkCli.sh (StatPrinter: zxids in hex,
 * times as ctime(3) strings, ephemeralOwner in hex) so that scripts written
 * for it keep working; --json gives the same facts in a form a program can
 * parse without guessing.
 */
#include "cli_fmt.h"

#include "zk/jute.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void fmt_time(FILE *f, const char *name, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char buf[64];
    localtime_r(&t, &tm);
    strftime(buf, sizeof buf, "%a %b %d %H:%M:%S %Z %Y", &tm);
    fprintf(f, "%s = %s\n", name, buf);
}

void fmt_stat(FILE *f, const struct zk_stat *st)
{
    fprintf(f, "cZxid = 0x%" PRIx64 "\n", (uint64_t)st->czxid);
    fmt_time(f, "ctime", st->ctime);
    fprintf(f, "mZxid = 0x%" PRIx64 "\n", (uint64_t)st->mzxid);
    fmt_time(f, "mtime", st->mtime);
    fprintf(f, "pZxid = 0x%" PRIx64 "\n", (uint64_t)st->pzxid);
    fprintf(f, "cversion = %d\n", st->cversion);
    fprintf(f, "dataVersion = %d\n", st->version);
    fprintf(f, "aclVersion = %d\n", st->aversion);
    fprintf(f, "ephemeralOwner = 0x%" PRIx64 "\n", (uint64_t)st->ephemeral_owner);
    fprintf(f, "dataLength = %d\n", st->data_length);
    fprintf(f, "numChildren = %d\n", st->num_children);
}

void fmt_stat_json(FILE *f, const struct zk_stat *st)
{
    fprintf(f,
            "{\"czxid\":%" PRId64 ",\"mzxid\":%" PRId64 ",\"ctime\":%" PRId64
            ",\"mtime\":%" PRId64 ",\"version\":%d,\"cversion\":%d,\"aversion\":%d"
            ",\"ephemeralOwner\":%" PRId64 ",\"dataLength\":%d,\"numChildren\":%d"
            ",\"pzxid\":%" PRId64 "}",
            st->czxid, st->mzxid, st->ctime, st->mtime, st->version, st->cversion, st->aversion,
            st->ephemeral_owner, st->data_length, st->num_children, st->pzxid);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t left)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0) {
        n = 2;
        cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
        n = 3;
        cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n > left)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp < 0xa0))
        return 0; /* overlong, out of range, surrogate, or a C1 control */
    return n;
}

void fmt_data(FILE *f, const char *data, int32_t len)
{
    if (!data || len < 0) {
        fputs("null", f);
        return;
    }
    const unsigned char *s = (const unsigned char *)data;
    size_t n = (size_t)len;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_len(s + i, n - i);
        unsigned char c = s[i];
        if (k == 1 && (c == '\n' || c == '\t' || (c >= 0x20 && c != 0x7f && c != '\\'))) {
            fputc(c, f);
        } else if (k == 1 && c == '\\') {
            fputs("\\\\", f);
        } else if (k > 1) {
            fwrite(s + i, 1, k, f);
        } else {
            fprintf(f, "\\x%02x", c);
            k = 1;
        }
        i += k;
    }
}

void fmt_json_str(FILE *f, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    fputc('"', f);
    for (size_t i = 0; i < n;) {
        size_t k = utf8_len(s + i, n - i);
        unsigned char c = s[i];
        if (k > 1) {
            fwrite(s + i, 1, k, f);
            i += k;
            continue;
        }
        i++;
        if (k == 1 && c == '"')
            fputs("\\\"", f);
        else if (k == 1 && c == '\\')
            fputs("\\\\", f);
        else if (k == 1 && c == '\n')
            fputs("\\n", f);
        else if (k == 1 && c == '\t')
            fputs("\\t", f);
        else if (k == 1 && c >= 0x20 && c != 0x7f)
            fputc(c, f);
        else
            fprintf(f, "\\u%04x", c); /* control, or a byte that is not UTF-8 */
    }
    fputc('"', f);
}

int fmt_is_utf8(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_len(s + i, n - i);
        if (k == 0)
            return 0;
        i += k;
    }
    return 1;
}

void fmt_base64(FILE *f, const char *str, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)s[i + 1] << 8;
        if (i + 2 < n)
            v |= s[i + 2];
        fputc(tab[(v >> 18) & 63], f);
        fputc(tab[(v >> 12) & 63], f);
        fputc(i + 1 < n ? tab[(v >> 6) & 63] : '=', f);
        fputc(i + 2 < n ? tab[v & 63] : '=', f);
    }
}

void fmt_perms(char out[6], int32_t perms)
{
    int i = 0;
    if (perms & ZK_PERM_CREATE)
        out[i++] = 'c';
    if (perms & ZK_PERM_DELETE)
        out[i++] = 'd';
    if (perms & ZK_PERM_READ)
        out[i++] = 'r';
    if (perms & ZK_PERM_WRITE)
        out[i++] = 'w';
    if (perms & ZK_PERM_ADMIN)
        out[i++] = 'a';
    out[i] = 0;
}

void acl_free(struct zk_acl *acl, int32_t n)
{
    for (int32_t i = 0; i < n; i++) {
        free((char *)acl[i].scheme);
        free((char *)acl[i].id);
    }
    free(acl);
}

int parse_acl(const char *s, struct zk_acl **out, int32_t *nout)
{
    int32_t n = 0, cap = 4;
    struct zk_acl *acl = zk_xcalloc((size_t)cap, sizeof *acl);
    const char *p = s;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *c1 = memchr(p, ':', len);
        const char *c2 = NULL;
        for (const char *q = p + len; q > p; q--)
            if (q[-1] == ':') {
                c2 = q - 1;
                break;
            }
        if (!c1 || c2 == c1 || c1 == p)
            goto err;
        int32_t perms = 0;
        for (const char *q = c2 + 1; q < p + len; q++) {
            switch (*q) {
            case 'c': perms |= ZK_PERM_CREATE; break;
            case 'd': perms |= ZK_PERM_DELETE; break;
            case 'r': perms |= ZK_PERM_READ; break;
            case 'w': perms |= ZK_PERM_WRITE; break;
            case 'a': perms |= ZK_PERM_ADMIN; break;
            default: goto err;
            }
        }
        if (n == cap) {
            cap *= 2;
            acl = zk_xrealloc(acl, (size_t)cap * sizeof *acl);
        }
        acl[n].perms = perms;
        acl[n].scheme = zk_xstrndup(p, (size_t)(c1 - p));
        acl[n].id = zk_xstrndup(c1 + 1, (size_t)(c2 - c1 - 1));
        n++;
        p = end ? end + 1 : p + len;
    }
    if (n == 0)
        goto err;
    *out = acl;
    *nout = n;
    return 0;
err:
    acl_free(acl, n);
    return ZK_BADARGUMENTS;
}
