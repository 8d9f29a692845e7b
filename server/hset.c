/*
 * hset.c - see hset.h.  Both containers share the probing scheme; the
 * backward shift after a deletion moves later members of the same probe run
 * into the hole so lookups never need tombstones.
 */
#include "hset.h"

#include <assert.h>
#include <stdlib.h>

#include "zk/jute.h"

static size_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)x;
}

static size_t pslot(const struct pset *s, const void *p)
{
    return mix64((uint64_t)(uintptr_t)p) & (s->cap - 1);
}

static void pset_grow(struct pset *s)
{
    struct pset big = {zk_xcalloc(s->cap ? s->cap * 2 : 8, sizeof(void *)), s->cap ? s->cap * 2 : 8, 0};
    for (size_t i = 0; i < s->cap; i++)
        if (s->slots[i])
            pset_add(&big, s->slots[i]);
    free(s->slots);
    *s = big;
}

int pset_add(struct pset *s, void *p)
{
    assert(p != NULL); /* NULL marks an empty slot */
    if ((s->n + 1) * 10 > s->cap * 7)
        pset_grow(s);
    size_t mask = s->cap - 1;
    size_t i = pslot(s, p);
    for (; s->slots[i]; i = (i + 1) & mask)
        if (s->slots[i] == p)
            return 0;
    s->slots[i] = p;
    s->n++;
    return 1;
}

int pset_has(const struct pset *s, void *p)
{
    if (!s->cap)
        return 0;
    size_t mask = s->cap - 1;
    for (size_t i = pslot(s, p); s->slots[i]; i = (i + 1) & mask)
        if (s->slots[i] == p)
            return 1;
    return 0;
}

int pset_del(struct pset *s, void *p)
{
    /* NULL marks an empty slot: looking for it would "find" and delete one. */
    if (!s->cap || !p)
        return 0;
    size_t mask = s->cap - 1;
    size_t i = pslot(s, p);
    for (; s->slots[i] != p; i = (i + 1) & mask)
        if (!s->slots[i])
            return 0;
    /* backward shift */
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!s->slots[j])
            break;
        size_t k = pslot(s, s->slots[j]);
        if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
            s->slots[i] = s->slots[j];
            i = j;
        }
    }
    s->slots[i] = NULL;
    assert(s->n > 0);
    s->n--;
    return 1;
}

void pset_free(struct pset *s)
{
    free(s->slots);
    s->slots = NULL;
    s->cap = s->n = 0;
}

static size_t kslot(const struct i64map *m, int64_t k)
{
    return mix64((uint64_t)k) & (m->cap - 1);
}

static void i64map_grow(struct i64map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 8;
    struct i64map big = {zk_xcalloc(cap, sizeof(int64_t)), zk_xcalloc(cap, sizeof(void *)), cap, 0};
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i])
            i64map_put(&big, m->keys[i], m->vals[i]);
    free(m->keys);
    free(m->vals);
    *m = big;
}

void *i64map_get(const struct i64map *m, int64_t key)
{
    if (!m->cap)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = kslot(m, key); m->keys[i]; i = (i + 1) & mask)
        if (m->keys[i] == key)
            return m->vals[i];
    return NULL;
}

void i64map_put(struct i64map *m, int64_t key, void *val)
{
    assert(key != 0 && val != NULL); /* 0 marks an empty slot; NULL reads as absent */
    if ((m->n + 1) * 10 > m->cap * 7)
        i64map_grow(m);
    size_t mask = m->cap - 1;
    size_t i = kslot(m, key);
    for (; m->keys[i]; i = (i + 1) & mask)
        if (m->keys[i] == key) {
            m->vals[i] = val;
            return;
        }
    m->keys[i] = key;
    m->vals[i] = val;
    m->n++;
}

void *i64map_del(struct i64map *m, int64_t key)
{
    /* Key 0 marks an empty slot: looking for it would "find" and delete one. */
    if (!m->cap || key == 0)
        return NULL;
    size_t mask = m->cap - 1;
    size_t i = kslot(m, key);
    for (; m->keys[i] != key; i = (i + 1) & mask)
        if (!m->keys[i])
            return NULL;
    void *old = m->vals[i];
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!m->keys[j])
            break;
        size_t k = kslot(m, m->keys[j]);
        if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
            m->keys[i] = m->keys[j];
            m->vals[i] = m->vals[j];
            i = j;
        }
    }
    m->keys[i] = 0;
    m->vals[i] = NULL;
    assert(m->n > 0);
    m->n--;
    return old;
}

void i64map_free(struct i64map *m)
{
    free(m->keys);
    free(m->vals);
    m->keys = NULL;
    m->vals = NULL;
    m->cap = m->n = 0;
}
