/*
 * hosts.c - parsing connect strings, shuffling hosts, chroot path mapping.
 *
 * See hosts.h for the grammar.  Parsing is strict: an empty host, a port
 * outside 1..65535, an unterminated "[" or an invalid chroot all give
 * ZK_BADARGUMENTS, so that a typo fails at zk_open rather than as a stream
 * of connection losses.
 */
#include "hosts.h"

#include "zk/jute.h"
#include "zk/proto.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static int parse_one(const char *s, size_t n, struct zk_host *h)
{
    const char *host = s, *port = NULL;
    size_t hlen;
    if (n && s[0] == '[') {
        const char *end = memchr(s, ']', n);
        if (!end)
            return ZK_BADARGUMENTS;
        host = s + 1;
        hlen = (size_t)(end - host);
        size_t rest = n - (size_t)(end + 1 - s);
        if (rest) {
            if (end[1] != ':')
                return ZK_BADARGUMENTS;
            port = end + 2;
        }
    } else {
        const char *colon = memchr(s, ':', n);
        hlen = colon ? (size_t)(colon - s) : n;
        if (colon)
            port = colon + 1;
    }
    if (hlen == 0)
        return ZK_BADARGUMENTS;
    long p = 2181;
    if (port) {
        size_t plen = n - (size_t)(port - s);
        if (plen == 0 || plen > 5)
            return ZK_BADARGUMENTS;
        p = 0;
        for (size_t i = 0; i < plen; i++) {
            if (port[i] < '0' || port[i] > '9')
                return ZK_BADARGUMENTS;
            p = p * 10 + (port[i] - '0');
        }
        if (p < 1 || p > 65535)
            return ZK_BADARGUMENTS;
    }
    h->host = zk_xstrndup(host, hlen);
    h->port = (int)p;
    return 0;
}

int zk__hosts_parse(const char *s, struct zk_hostlist *hl)
{
    memset(hl, 0, sizeof *hl);
    if (!s || !*s)
        return ZK_BADARGUMENTS;
    const char *slash = strchr(s, '/');
    /* A '/' inside brackets cannot occur in an IPv6 literal, so the first
     * '/' always starts the chroot. */
    size_t hostpart = slash ? (size_t)(slash - s) : strlen(s);
    if (slash && strcmp(slash, "/") != 0) {
        if (zk__path_validate(slash, 0) != 0)
            return ZK_BADARGUMENTS;
        hl->chroot = zk_xstrndup(slash, strlen(slash));
    }
    size_t cap = 4;
    hl->v = zk_xcalloc(cap, sizeof *hl->v);
    size_t i = 0;
    while (i <= hostpart) {
        size_t j = i;
        while (j < hostpart && s[j] != ',')
            j++;
        size_t a = i, b = j;
        while (a < b && (s[a] == ' ' || s[a] == '\t'))
            a++;
        while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t'))
            b--;
        if (hl->n == cap) {
            cap *= 2;
            hl->v = zk_xrealloc(hl->v, cap * sizeof *hl->v);
        }
        if (parse_one(s + a, b - a, &hl->v[hl->n]) != 0) {
            zk__hosts_free(hl);
            return ZK_BADARGUMENTS;
        }
        hl->n++;
        i = j + 1;
    }
    return 0;
}

void zk__hosts_free(struct zk_hostlist *hl)
{
    for (size_t i = 0; i < hl->n; i++)
        free(hl->v[i].host);
    free(hl->v);
    free(hl->chroot);
    memset(hl, 0, sizeof *hl);
}

void zk__hosts_shuffle(struct zk_hostlist *hl)
{
    uint64_t seed;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed)
        seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)hl;
    for (size_t i = hl->n; i > 1; i--) {
        /* xorshift64: private to this call, so no shared RNG state. */
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        size_t j = (size_t)(seed % i);
        struct zk_host t = hl->v[i - 1];
        hl->v[i - 1] = hl->v[j];
        hl->v[j] = t;
    }
}

int zk__path_validate(const char *path, int sequential)
{
    if (!path || path[0] != '/')
        return ZK_BADARGUMENTS;
    size_t n = strlen(path);
    if (n == 1)
        return 0;
    if (path[n - 1] == '/' && !sequential)
        return ZK_BADARGUMENTS;
    const char *c = path + 1;
    while (*c) {
        const char *e = strchr(c, '/');
        size_t len = e ? (size_t)(e - c) : strlen(c);
        if (len == 0 && e)
            return ZK_BADARGUMENTS; /* "//" */
        if ((len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
            return ZK_BADARGUMENTS;
        for (size_t i = 0; i < len; i++) {
            unsigned char ch = (unsigned char)c[i];
            if (ch < 0x20 || ch == 0x7f)
                return ZK_BADARGUMENTS;
        }
        if (!e)
            break;
        c = e + 1;
    }
    return 0;
}

char *zk__path_prepend(const char *chroot, const char *path)
{
    if (!chroot)
        return zk_xstrndup(path, strlen(path));
    if (strcmp(path, "/") == 0)
        return zk_xstrndup(chroot, strlen(chroot));
    size_t a = strlen(chroot), b = strlen(path);
    char *r = zk_xmalloc(a + b + 1);
    memcpy(r, chroot, a);
    memcpy(r + a, path, b + 1);
    return r;
}

char *zk__path_strip(const char *chroot, const char *p, size_t len)
{
    if (chroot) {
        size_t c = strlen(chroot);
        if (len >= c && memcmp(p, chroot, c) == 0) {
            if (len == c)
                return zk_xstrndup("/", 1);
            if (p[c] == '/')
                return zk_xstrndup(p + c, len - c);
        }
    }
    return zk_xstrndup(p, len);
}
