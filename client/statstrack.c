/*
 * statstrack.c - see zk/statstrack.h.
 */
#include "zk/statstrack.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void statstrack_init(struct statstrack *st)
{
    st->n = 0;
}

static int find(const struct statstrack *st, const char *key, size_t klen)
{
    for (int i = 0; i < st->n; i++)
        if (strlen(st->kv[i].key) == klen && !memcmp(st->kv[i].key, key, klen))
            return i;
    return -1;
}

static int set_n(struct statstrack *st, const char *key, size_t klen, int64_t v)
{
    if (klen >= STATSTRACK_KEYMAX || memchr(key, 0, klen))
        return -1;
    int i = find(st, key, klen);
    if (i < 0) {
        if (st->n == STATSTRACK_MAX)
            return -1;
        i = st->n++;
        memcpy(st->kv[i].key, key, klen);
        st->kv[i].key[klen] = 0;
    }
    st->kv[i].val = v;
    return 0;
}

int statstrack_set(struct statstrack *st, const char *key, int64_t v)
{
    return set_n(st, key, strlen(key), v);
}

int64_t statstrack_get(const struct statstrack *st, const char *key)
{
    int i = find(st, key, strlen(key));
    return i < 0 ? -1 : st->kv[i].val;
}

/* Long.parseLong: optional sign, at least one decimal digit, in range. */
static int parse_long(const char *s, size_t n, int64_t *out)
{
    char buf[32];
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    const char *d = buf + (buf[0] == '+' || buf[0] == '-');
    if (!*d || strspn(d, "0123456789") != strlen(d))
        return -1;
    errno = 0;
    long long v = strtoll(buf, NULL, 10);
    if (errno == ERANGE)
        return -1;
    *out = v;
    return 0;
}

/* One "key=value" pair, as `pair.split("=")` and kv[0]/kv[1] read it. */
static int parse_pair(struct statstrack *st, const char *p, size_t n)
{
    const char *eq = memchr(p, '=', n);
    if (!eq)
        return -1; /* split gives one element: kv[1] throws */
    const char *v = eq + 1;
    size_t rest = (size_t)(p + n - v), lead = 0;
    while (lead < rest && v[lead] == '=')
        lead++;
    if (lead == rest)
        return -1; /* only '=' after the key: the trailing empty strings are dropped */
    const char *vend = memchr(v, '=', rest);
    size_t vlen = vend ? (size_t)(vend - v) : rest;
    int64_t val = -1; /* an empty value is -1 (StringUtils.isEmpty) */
    if (vlen && parse_long(v, vlen, &val))
        return -1;
    return set_n(st, p, (size_t)(eq - p), val);
}

static int is_sep(char c)
{
    return c == ',' || c == ';';
}

int statstrack_parse(struct statstrack *st, const char *data, int32_t len)
{
    statstrack_init(st);
    if (len < 0 || (len > 0 && !data))
        return -1; /* new String(null) throws */
    size_t n = (size_t)len;
    while (n > 0 && is_sep(data[n - 1]))
        n--; /* trailing empty strings are dropped */
    if (n == 0)
        return 0;
    if (is_sep(data[0]))
        return -1; /* a leading empty pair: kv[1] throws */
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && !is_sep(data[j]))
            j++;
        if (parse_pair(st, data + i, j - i))
            return -1;
        while (j < n && is_sep(data[j]))
            j++;
        i = j;
    }
    return 0;
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int statstrack_format(const struct statstrack *st, char *buf, size_t cap)
{
    char out[STATSTRACK_FMT_MAX];
    int len = snprintf(out, sizeof out, "count=%" PRId64 ",bytes=%" PRId64,
                       statstrack_get(st, STATSTRACK_COUNT), statstrack_get(st, STATSTRACK_BYTES));
    const char *others[STATSTRACK_MAX];
    int no = 0;
    for (int i = 0; i < st->n; i++)
        if (strcmp(st->kv[i].key, STATSTRACK_COUNT) && strcmp(st->kv[i].key, STATSTRACK_BYTES))
            others[no++] = st->kv[i].key;
    if (no) {
        qsort(others, (size_t)no, sizeof others[0], cmp_key);
        out[len++] = '=';
        for (int i = 0; i < no; i++)
            len += snprintf(out + len, sizeof out - (size_t)len, ";%s=%" PRId64, others[i],
                            statstrack_get(st, others[i]));
    }
    /* STATSTRACK_FMT_MAX holds every record: keys are bounded in length and number. */
    return snprintf(buf, cap, "%s", out);
}
