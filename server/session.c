/*
 * session.c - see session.h.
 */
#include "session.h"

#include <assert.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "zk/jute.h"

void sessions_init(struct sessions *s, int tick_ms, int server_id, const uint8_t secret[32])
{
    memset(s, 0, sizeof *s);
    s->tick = tick_ms > 0 ? tick_ms : 2000;
    memcpy(s->secret, secret, 32);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    int64_t ms = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
    /* Apache: (time << 24) >>> 8 | (sid << 56), in 64 bits: only the id's low
     * byte survives the shift (config.c refuses ids that would collide). */
    s->next_id = (int64_t)((((uint64_t)ms << 24) >> 8) | ((uint64_t)server_id << 56));
    if (s->next_id == (int64_t)0x8000000000000000ULL)
        s->next_id++;
}

void sessions_free(struct sessions *s)
{
    int64_t k;
    void *v;
    I64MAP_FOREACH(&s->map, k, v) free(v);
    i64map_free(&s->map);
    i64map_free(&s->buckets);
}

int64_t sessions_next_id(struct sessions *s)
{
    while (s->next_id == 0 || i64map_get(&s->map, s->next_id))
        s->next_id++;
    return s->next_id++;
}

static int64_t round_up(const struct sessions *s, int64_t t)
{
    return (t / s->tick + 1) * s->tick;
}

static void bucket_unlink(struct sessions *s, struct session *se)
{
    if (!se->bucket)
        return;
    if (se->bprev)
        se->bprev->bnext = se->bnext;
    else if (se->bnext)
        i64map_put(&s->buckets, se->bucket, se->bnext);
    else
        i64map_del(&s->buckets, se->bucket);
    if (se->bnext)
        se->bnext->bprev = se->bprev;
    se->bprev = se->bnext = NULL;
    se->bucket = 0;
}

static void bucket_link(struct sessions *s, struct session *se, int64_t when)
{
    struct session *head = i64map_get(&s->buckets, when);
    se->bucket = when;
    se->bprev = NULL;
    se->bnext = head;
    if (head)
        head->bprev = se;
    i64map_put(&s->buckets, when, se);
    if (!s->next_expiration || when < s->next_expiration)
        s->next_expiration = when;
}

struct session *sessions_add(struct sessions *s, int64_t id, int32_t timeout, int64_t now)
{
    struct session *se = sessions_get(s, id);
    if (!se) {
        se = zk_xcalloc(1, sizeof *se);
        se->id = id;
        i64map_put(&s->map, id, se);
    }
    se->timeout = timeout;
    sessions_touch(s, se, now);
    return se;
}

struct session *sessions_get(const struct sessions *s, int64_t id)
{
    return id ? i64map_get(&s->map, id) : NULL;
}

void sessions_remove(struct sessions *s, struct session *se)
{
    assert(sessions_get(s, se->id) == se);
    bucket_unlink(s, se);
    i64map_del(&s->map, se->id);
    free(se);
}

void sessions_touch(struct sessions *s, struct session *se, int64_t now)
{
    if (se->closing)
        return;
    int64_t when = round_up(s, now + se->timeout);
    if (when == se->bucket)
        return;
    bucket_unlink(s, se);
    bucket_link(s, se, when);
}

void sessions_password(const struct sessions *s, int64_t id, uint8_t pw[16])
{
    uint8_t in[40], md[SHA256_DIGEST_LENGTH];
    memcpy(in, s->secret, 32);
    for (int i = 0; i < 8; i++)
        in[32 + i] = (uint8_t)((uint64_t)id >> (56 - 8 * i));
    SHA256(in, sizeof in, md);
    memcpy(pw, md, 16);
}

void sessions_expire(struct sessions *s, int64_t now, void (*fn)(struct session *, void *), void *d)
{
    while (s->next_expiration && s->next_expiration <= now) {
        int64_t when = s->next_expiration;
        struct session *se;
        while ((se = i64map_get(&s->buckets, when)) != NULL) {
            bucket_unlink(s, se);
            se->closing = 1;
            fn(se, d);
        }
        s->next_expiration = s->buckets.n ? when + s->tick : 0;
        if (s->next_expiration) {
            /* skip empty buckets quickly when the queue is sparse */
            int64_t min = 0, k;
            void *v;
            I64MAP_FOREACH(&s->buckets, k, v)
            if (!min || k < min) min = k;
            (void)v;
            s->next_expiration = min;
        }
    }
}

uint32_t sessions_count(const struct sessions *s) { return (uint32_t)s->map.n; }
