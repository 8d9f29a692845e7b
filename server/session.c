/*
 * session.c - see session.h.
 */
#include "session.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "zk/jute.h"

void sessions_init(struct sessions *s, int tick_ms, int server_id)
{
    memset(s, 0, sizeof *s);
    s->tick = tick_ms > 0 ? tick_ms : 2000;
    /* Apache's SessionTrackerImpl.initializeNextSessionId:
     * (Time.currentElapsedTime() << 24) >>> 8 | (sid << 56), where the time is
     * System.nanoTime() / 1e6, the monotonic clock in ms.  Reading the same
     * clock, a zkd started after Apache on the same host (or the reverse)
     * hands out ids above the ones already in the dataDir.  In 64 bits only
     * the id's low byte survives the shift (config.c refuses ids that would
     * collide). */
    int64_t ms = clock_mono_ms();
    /* Standalone (no myid, 0 here), Apache's ZooKeeperServer uses server id 1
     * (its createSessionTrackerServerId); members' ids are 1..255. */
    if (server_id == 0)
        server_id = 1;
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

void sessions_take(struct sessions *s, struct session *se)
{
    assert(sessions_get(s, se->id) == se);
    bucket_unlink(s, se);
    i64map_del(&s->map, se->id);
}

void sessions_put(struct sessions *s, struct session *se, int64_t now)
{
    assert(!sessions_get(s, se->id));
    i64map_put(&s->map, se->id, se);
    sessions_touch(s, se, now);
}

void sessions_remove(struct sessions *s, struct session *se)
{
    sessions_take(s, se);
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

/*
 * java.util.Random, as far as Apache's generatePasswd uses it: a 48-bit linear
 * congruential generator (Knuth, TAOCP vol. 2, 3.2.1) whose seed is scrambled
 * with the multiplier, and nextBytes filling the array from successive
 * nextInt() values, low byte first.
 */
#define JRANDOM_MULT 0x5DEECE66DULL
#define JRANDOM_MASK ((1ULL << 48) - 1)

static int32_t jrandom_next_int(uint64_t *seed)
{
    *seed = (*seed * JRANDOM_MULT + 0xB) & JRANDOM_MASK;
    return (int32_t)(uint32_t)(*seed >> 16);
}

static void jrandom_bytes(int64_t seed, uint8_t *out, size_t len)
{
    uint64_t state = ((uint64_t)seed ^ JRANDOM_MULT) & JRANDOM_MASK;
    for (size_t i = 0; i < len;) {
        uint32_t rnd = (uint32_t)jrandom_next_int(&state);
        for (int n = 0; n < 4 && i < len; n++, rnd >>= 8)
            out[i++] = (uint8_t)rnd;
    }
}

void sessions_password(const struct sessions *s, int64_t id, uint8_t pw[16])
{
    /* ZooKeeperServer.generatePasswd: new Random(id ^ superSecret).nextBytes,
     * superSecret being 0xB3415C00.  Apache's own passwords, so a client keeps
     * its session when zkd replaces Apache on a dataDir, and the reverse. */
    (void)s;
    jrandom_bytes(id ^ (int64_t)0xB3415C00LL, pw, 16);
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
