/*
 * hset.h - two small open-addressing containers used across the server:
 * a set of pointers and a map from 64-bit keys to pointers.
 *
 * Linear probing with backward-shift deletion (no tombstones), power-of-two
 * capacity kept under 70% full.  NULL can't be stored in a pset, nor key 0 in
 * an i64map.  Iteration order is table order.  Not thread-safe.
 */
#ifndef ZKD_HSET_H
#define ZKD_HSET_H

#include <stddef.h>
#include <stdint.h>

struct pset {
    void **slots;
    size_t cap, n;
};

int pset_add(struct pset *s, void *p);       /* 1 added, 0 already there */
int pset_del(struct pset *s, void *p);       /* 1 removed, 0 absent */
int pset_has(const struct pset *s, void *p);
void pset_free(struct pset *s);
#define PSET_FOREACH(s, var)                                                   \
    for (size_t var##_i = 0; var##_i < (s)->cap; var##_i++)                    \
        if (((var) = (s)->slots[var##_i]) != NULL)

struct i64map {
    int64_t *keys;
    void **vals;
    size_t cap, n;
};

void *i64map_get(const struct i64map *m, int64_t key);
void i64map_put(struct i64map *m, int64_t key, void *val); /* replaces */
void *i64map_del(struct i64map *m, int64_t key);           /* returns old value */
void i64map_free(struct i64map *m);
#define I64MAP_FOREACH(m, k, v)                                                \
    for (size_t k##_i = 0; k##_i < (m)->cap; k##_i++)                          \
        if (((k) = (m)->keys[k##_i]) != 0 && (((v) = (m)->vals[k##_i]), 1))

#endif
