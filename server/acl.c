/*
 * acl.c - interned ACL lists and Apache's permission rules.
 *
 * Interning: slots[] holds each distinct list with a refcount; index[] is an
 * open-addressing table (linear probing, power-of-two size) of slot ids
 * keyed by a hash of the list's contents.  Slot 0 is never used so that 0 can
 * mean "empty" in index[].  A slot whose refcount drops to zero is kept
 * (ids stay valid for snapshot writers running in a forked child) and reused
 * when the same list is interned again; the number of distinct ACL lists in
 * real deployments is small.
 *
 * The check follows Apache's ZooKeeperServer.checkACL: super wins, an empty
 * list allows all, world:anyone matches everyone, other schemes match the
 * connection's ids of the same scheme (ip by prefix, the rest exactly).
 */
#include "acl.h"

#include <assert.h>
#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "zk/proto.h"

struct acl_slot {
    struct acl_list list;
    uint32_t hash;
    uint32_t refs;
    int live;
};

struct acl_cache {
    struct acl_slot *slots;
    uint32_t nslots, cap;
    uint32_t nlive;     /* live slots */
    uint32_t *index;
    uint32_t index_cap; /* power of two */
};

static struct acl_entry open_entry = {ZK_PERM_ALL, "world", "anyone"};
static struct acl_entry read_entry = {ZK_PERM_READ, "world", "anyone"};
const struct acl_list acl_open_unsafe = {1, &open_entry};
const struct acl_list acl_read_unsafe = {1, &read_entry};

static uint32_t hash_bytes(uint32_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return (h ^ 0xff) * 16777619u;
}

static uint32_t list_hash(const struct acl_list *l)
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < l->n; i++) {
        h = (h ^ (uint32_t)l->e[i].perms) * 16777619u;
        h = hash_bytes(h, l->e[i].scheme);
        h = hash_bytes(h, l->e[i].id);
    }
    return h;
}

static int list_equal(const struct acl_list *a, const struct acl_list *b)
{
    if (a->n != b->n)
        return 0;
    for (int i = 0; i < a->n; i++)
        if (a->e[i].perms != b->e[i].perms || strcmp(a->e[i].scheme, b->e[i].scheme) ||
            strcmp(a->e[i].id, b->e[i].id))
            return 0;
    return 1;
}

struct acl_cache *acl_cache_new(void)
{
    struct acl_cache *c = zk_xcalloc(1, sizeof *c);
    c->cap = 16;
    c->slots = zk_xcalloc(c->cap, sizeof *c->slots);
    c->nslots = 1; /* slot 0 unused */
    c->index_cap = 64;
    c->index = zk_xcalloc(c->index_cap, sizeof *c->index);
    return c;
}

void acl_cache_free(struct acl_cache *c)
{
    if (!c)
        return;
    for (uint32_t i = 1; i < c->nslots; i++)
        acl_list_free(&c->slots[i].list);
    free(c->slots);
    free(c->index);
    free(c);
}

static void index_insert(struct acl_cache *c, uint32_t id)
{
    uint32_t mask = c->index_cap - 1;
    uint32_t i = c->slots[id].hash & mask;
    while (c->index[i])
        i = (i + 1) & mask;
    c->index[i] = id;
}

/* Sized by the live slots, not by the highest id. */
static void index_grow(struct acl_cache *c)
{
    free(c->index);
    while ((c->nlive + 1) * 2 > c->index_cap)
        c->index_cap *= 2;
    c->index = zk_xcalloc(c->index_cap, sizeof *c->index);
    for (uint32_t id = 1; id < c->nslots; id++)
        if (c->slots[id].live)
            index_insert(c, id);
}

static uint32_t index_find(const struct acl_cache *c, const struct acl_list *l, uint32_t h)
{
    uint32_t mask = c->index_cap - 1;
    for (uint32_t i = h & mask; c->index[i]; i = (i + 1) & mask) {
        const struct acl_slot *s = &c->slots[c->index[i]];
        if (s->hash == h && list_equal(&s->list, l))
            return c->index[i];
    }
    return 0;
}

static void ensure_slot(struct acl_cache *c, uint32_t id)
{
    while (id >= c->cap) {
        c->slots = zk_xrealloc(c->slots, 2 * c->cap * sizeof *c->slots);
        memset(c->slots + c->cap, 0, c->cap * sizeof *c->slots);
        c->cap *= 2;
    }
    if (id >= c->nslots)
        c->nslots = id + 1;
}

static void install(struct acl_cache *c, uint32_t id, const struct acl_list *l, uint32_t h)
{
    ensure_slot(c, id);
    struct acl_slot *s = &c->slots[id];
    acl_list_copy(&s->list, l);
    s->hash = h;
    s->refs = 0;
    s->live = 1;
    c->nlive++;
    if ((c->nlive + 1) * 2 > c->index_cap)
        index_grow(c);
    else
        index_insert(c, id);
}

uint32_t acl_intern(struct acl_cache *c, const struct acl_list *l)
{
    uint32_t h = list_hash(l);
    uint32_t id = index_find(c, l, h);
    if (!id) {
        id = c->nslots;
        install(c, id, l, h);
    }
    c->slots[id].refs++;
    return id;
}

void acl_ref(struct acl_cache *c, uint32_t id)
{
    if (id && id < c->nslots)
        c->slots[id].refs++;
}

void acl_unref(struct acl_cache *c, uint32_t id)
{
    if (id && id < c->nslots) {
        assert(c->slots[id].refs > 0); /* every unref pairs with an intern or ref */
        c->slots[id].refs--;
    }
}

const struct acl_list *acl_get(const struct acl_cache *c, uint32_t id)
{
    if (id == 0 || id >= c->nslots || !c->slots[id].live)
        return NULL;
    return &c->slots[id].list;
}

void acl_foreach(const struct acl_cache *c, void (*fn)(uint32_t, const struct acl_list *, void *),
                 void *d)
{
    for (uint32_t id = 1; id < c->nslots; id++)
        if (c->slots[id].live && c->slots[id].refs)
            fn(id, &c->slots[id].list, d);
}

size_t acl_cache_size(const struct acl_cache *c)
{
    size_t n = 0;
    for (uint32_t id = 1; id < c->nslots; id++)
        n += c->slots[id].live && c->slots[id].refs;
    return n;
}

/* ---- lists ---- */

/*
 * A list zkd owns is one allocation: the entries, then their strings (every
 * create decodes one, so three mallocs and frees became one).  Lists built
 * from parts (acl_fixup) borrow their strings and are packed by
 * acl_list_copy; acl_list_free frees the block.
 */
static struct acl_entry *list_block(int n, size_t strings, char **text)
{
    size_t head = (size_t)(n ? n : 1) * sizeof(struct acl_entry);
    struct acl_entry *e = zk_xmalloc(head + strings);
    *text = (char *)e + head;
    return e;
}

static char *put_text(char **text, const char *p, size_t len)
{
    char *s = *text;
    memcpy(s, p, len);
    s[len] = '\0';
    *text += len + 1;
    return s;
}

int acl_list_decode(struct jute_in *in, struct acl_list *out)
{
    out->n = 0;
    out->e = NULL;
    int32_t n = jute_get_count(in, 12);
    if (in->err)
        return ZK_MARSHALLINGERROR;
    struct jute_in first = *in; /* a pass to size the block, a pass to fill it */
    size_t strings = 0;
    for (int32_t i = 0; i < n && !in->err; i++) {
        jute_get_int(in);
        strings += (size_t)jute_get_string(in).len + 1;
        strings += (size_t)jute_get_string(in).len + 1;
    }
    if (in->err)
        return ZK_MARSHALLINGERROR;
    *in = first;
    char *text;
    out->e = list_block(n, strings, &text);
    for (int32_t i = 0; i < n; i++) {
        out->e[i].perms = jute_get_int(in);
        struct zk_slice scheme = jute_get_string(in);
        struct zk_slice id = jute_get_string(in);
        out->e[i].scheme = put_text(&text, scheme.p, (size_t)scheme.len);
        out->e[i].id = put_text(&text, id.p, (size_t)id.len);
    }
    out->n = n;
    return 0;
}

void acl_list_encode(struct jute_out *out, const struct acl_list *l)
{
    jute_put_int(out, l ? l->n : 0);
    for (int i = 0; l && i < l->n; i++) {
        jute_put_int(out, l->e[i].perms);
        jute_put_string(out, l->e[i].scheme);
        jute_put_string(out, l->e[i].id);
    }
}

void acl_list_free(struct acl_list *l)
{
    free(l->e);
    l->e = NULL;
    l->n = 0;
}

void acl_list_copy(struct acl_list *dst, const struct acl_list *src)
{
    size_t strings = 0;
    for (int i = 0; i < src->n; i++)
        strings += strlen(src->e[i].scheme) + strlen(src->e[i].id) + 2;
    char *text;
    dst->n = src->n;
    dst->e = list_block(src->n, strings, &text);
    for (int i = 0; i < src->n; i++) {
        dst->e[i].perms = src->e[i].perms;
        dst->e[i].scheme = put_text(&text, src->e[i].scheme, strlen(src->e[i].scheme));
        dst->e[i].id = put_text(&text, src->e[i].id, strlen(src->e[i].id));
    }
}

/* ---- identities ---- */

void auth_info_add(struct auth_info *a, const char *scheme, const char *id)
{
    if (auth_info_has(a, scheme, id))
        return;
    a->ids = zk_xrealloc(a->ids, (size_t)(a->n + 1) * sizeof *a->ids);
    a->ids[a->n].scheme = zk_xstrndup(scheme, strlen(scheme));
    a->ids[a->n].id = zk_xstrndup(id, strlen(id));
    a->n++;
    free(a->audit_prefix);
    a->audit_prefix = NULL;
}

int auth_info_has(const struct auth_info *a, const char *scheme, const char *id)
{
    for (int i = 0; i < a->n; i++)
        if (!strcmp(a->ids[i].scheme, scheme) && (!id || !strcmp(a->ids[i].id, id)))
            return 1;
    return 0;
}

int auth_scheme_listed(const char *schemes, const char *scheme)
{
    size_t n = strlen(scheme);
    for (const char *s = schemes; *s;) {
        size_t m = strcspn(s, ",");
        if (m == n && !strncmp(s, scheme, n))
            return 1;
        s += m + (s[m] == ',');
    }
    return 0;
}

int auth_info_has_scheme_in(const struct auth_info *a, const char *schemes)
{
    for (int i = 0; i < a->n; i++)
        if (auth_scheme_listed(schemes, a->ids[i].scheme))
            return 1;
    return 0;
}

void auth_info_free(struct auth_info *a)
{
    for (int i = 0; i < a->n; i++) {
        free(a->ids[i].scheme);
        free(a->ids[i].id);
    }
    free(a->ids);
    a->ids = NULL;
    a->n = 0;
    free(a->audit_prefix);
    a->audit_prefix = NULL;
}

/* ---- schemes ---- */

/* Parses "a.b.c.d[/bits]" (or IPv6) into address bytes and prefix length. */
static int parse_ip(const char *s, unsigned char addr[16], int *alen, int *bits)
{
    char buf[64];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    if (inet_pton(AF_INET, buf, addr) == 1)
        *alen = 4;
    else if (inet_pton(AF_INET6, buf, addr) == 1)
        *alen = 16;
    else
        return -1;
    *bits = *alen * 8;
    if (slash) {
        char *end;
        long b = strtol(slash + 1, &end, 10);
        if (*end || end == slash + 1 || b < 0 || b > *alen * 8)
            return -1;
        *bits = (int)b;
    }
    return 0;
}

static int ip_matches(const char *client, const char *acl_id)
{
    unsigned char a[16], b[16];
    int alen, blen, abits, bbits;
    if (parse_ip(client, a, &alen, &abits) || parse_ip(acl_id, b, &blen, &bbits) || alen != blen)
        return 0;
    for (int i = 0; i < bbits; i++) {
        int m = 0x80 >> (i % 8);
        if ((a[i / 8] & m) != (b[i / 8] & m))
            return 0;
    }
    return 1;
}

static int scheme_known(const char *s)
{
    return !strcmp(s, "world") || !strcmp(s, "digest") || !strcmp(s, "ip") || !strcmp(s, "sasl") ||
           !strcmp(s, "x509") || !strcmp(s, "super");
}

static int id_valid(const char *scheme, const char *id)
{
    if (!strcmp(scheme, "world"))
        return !strcmp(id, "anyone");
    if (!strcmp(scheme, "digest"))
        return strchr(id, ':') != NULL;
    if (!strcmp(scheme, "ip")) {
        unsigned char a[16];
        int alen, bits;
        return parse_ip(id, a, &alen, &bits) == 0;
    }
    return 1;
}

/* Schemes whose ids count as "authenticated" for the auth scheme. */
static int scheme_authenticated(const char *s)
{
    return !strcmp(s, "digest") || !strcmp(s, "sasl") || !strcmp(s, "x509") || !strcmp(s, "super");
}

/* Apache's removeDuplicates: keeps the first of equal entries of l. */
static void remove_duplicates(struct acl_list *l)
{
    int kept = 0;
    for (int i = 0; i < l->n; i++) {
        int dup = 0;
        for (int k = 0; k < kept && !dup; k++)
            dup = l->e[k].perms == l->e[i].perms && !strcmp(l->e[k].scheme, l->e[i].scheme) &&
                  !strcmp(l->e[k].id, l->e[i].id);
        if (!dup)
            l->e[kept++] = l->e[i]; /* a dropped entry's strings stay in the block */
    }
    l->n = kept;
}

/* Whether a non-"auth" entry names a known scheme and a valid id for it. */
static int entry_valid(const struct acl_entry *e)
{
    return scheme_known(e->scheme) && id_valid(e->scheme, e->id);
}

/* acl_fixup of a list with no "auth" entry: checked in place, no copy
 * (every create's ACL comes this way, mostly world:anyone). */
static int fixup_in_place(struct acl_list *l)
{
    for (int i = 0; i < l->n; i++)
        if (!entry_valid(&l->e[i]))
            return ZK_INVALIDACL;
    remove_duplicates(l);
    return 0;
}

int acl_fixup(struct acl_list *l, const struct auth_info *auth)
{
    if (l->n == 0)
        return ZK_INVALIDACL;
    int has_auth = 0;
    for (int i = 0; i < l->n && !has_auth; i++)
        has_auth = !strcmp(l->e[i].scheme, "auth");
    if (!has_auth)
        return fixup_in_place(l);
    /* `out` borrows its strings from `l` and `auth`, then is packed. */
    struct acl_list out = {0, NULL};
    int rc = 0;
    for (int i = 0; i < l->n && !rc; i++) {
        struct acl_entry *e = &l->e[i];
        if (!strcmp(e->scheme, "auth")) {
            int added = 0;
            for (int j = 0; j < auth->n; j++) {
                if (!scheme_authenticated(auth->ids[j].scheme) || !strcmp(auth->ids[j].scheme, "super"))
                    continue;
                out.e = zk_xrealloc(out.e, (size_t)(out.n + 1) * sizeof *out.e);
                out.e[out.n++] = (struct acl_entry){e->perms, auth->ids[j].scheme, auth->ids[j].id};
                added = 1;
            }
            if (!added)
                rc = ZK_INVALIDACL;
        } else if (!entry_valid(e)) {
            rc = ZK_INVALIDACL;
        } else {
            out.e = zk_xrealloc(out.e, (size_t)(out.n + 1) * sizeof *out.e);
            out.e[out.n++] = *e;
        }
    }
    if (!rc) {
        remove_duplicates(&out);
        struct acl_list packed;
        acl_list_copy(&packed, &out);
        acl_list_free(l);
        *l = packed;
    }
    free(out.e);
    return rc;
}

int acl_check(const struct acl_list *l, int32_t perm, const struct auth_info *auth)
{
    if (!l || l->n == 0)
        return 0;
    if (auth && auth_info_has(auth, "super", NULL))
        return 0;
    for (int i = 0; i < l->n; i++) {
        const struct acl_entry *e = &l->e[i];
        if (!(e->perms & perm))
            continue;
        if (!strcmp(e->scheme, "world") && !strcmp(e->id, "anyone"))
            return 0;
        for (int j = 0; auth && j < auth->n; j++) {
            const struct auth_id *a = &auth->ids[j];
            if (strcmp(a->scheme, e->scheme))
                continue;
            if (!strcmp(e->scheme, "ip") ? ip_matches(a->id, e->id) : !strcmp(a->id, e->id))
                return 0;
        }
    }
    return ZK_NOAUTH;
}

int acl_digest(const char *user_password, size_t len, char **out)
{
    /* Without ':' Apache hashes the whole string and uses it as the user. */
    const char *colon = memchr(user_password, ':', len);
    if (!colon)
        colon = user_password + len;
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)user_password, len, md);
    char b64[64];
    EVP_EncodeBlock((unsigned char *)b64, md, SHA_DIGEST_LENGTH);
    size_t ulen = (size_t)(colon - user_password);
    *out = zk_xmalloc(ulen + 1 + strlen(b64) + 1);
    memcpy(*out, user_password, ulen);
    (*out)[ulen] = ':';
    strcpy(*out + ulen + 1, b64);
    return 0;
}
