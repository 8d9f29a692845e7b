/*
 * jute.h - the jute binary record codec, shared by zkd and libzk.
 *
 * Byte layout (Apache's BinaryOutputArchive): int = 4 bytes big-endian,
 * long = 8 bytes big-endian, bool = 1 byte (0/1), buffer and string = int
 * length followed by that many bytes, where length -1 encodes null; a vector is
 * an int count (-1 = null) followed by its elements.  A frame on the wire is
 * an int length followed by that many bytes of records.
 *
 * Reading is zero-copy: strings and buffers are returned as slices pointing
 * into the input, valid as long as the input is.  A reader never reads past
 * its end: the first failure sets `err` and every later read returns zeros, so
 * a decoder may read a whole record and check `err` once at the end.
 *
 * Writing appends to a growable buffer.  Allocation failure aborts (see
 * zk_xmalloc); a writer owns its memory until jute_out_free or
 * jute_out_steal.
 */
#ifndef ZK_JUTE_H
#define ZK_JUTE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "zk/proto.h" /* struct zk_stat */

#ifdef __cplusplus
extern "C" {
#endif

/* A length-delimited byte string; len == -1 means null. Not NUL-terminated. */
struct zk_slice {
    const char *p;
    int32_t len;
};

struct jute_in {
    const uint8_t *p;
    size_t len;
    size_t off;
    int err; /* 0, or ZK_MARSHALLINGERROR after the first short/bad read */
};

struct jute_out {
    uint8_t *p;
    size_t len;
    size_t cap;
};

void jute_in_init(struct jute_in *in, const void *p, size_t len);
int32_t jute_get_int(struct jute_in *in);
int64_t jute_get_long(struct jute_in *in);
int jute_get_bool(struct jute_in *in);
/* A buffer or string as a slice into the input; len -1 for null. */
struct zk_slice jute_get_buffer(struct jute_in *in);
/* Like jute_get_buffer, but a null or over-long string is an error. */
struct zk_slice jute_get_string(struct jute_in *in);
/* Reads a vector count; -1 (null) reads as 0.  A count that could not fit in
 * the remaining input (at `min_elem` bytes each) sets err and returns 0. */
int32_t jute_get_count(struct jute_in *in, size_t min_elem);
static inline size_t jute_in_left(const struct jute_in *in) { return in->len - in->off; }

void jute_out_init(struct jute_out *out);
void jute_out_free(struct jute_out *out);
/* Transfers the buffer to the caller (free with free()); out is reset. */
uint8_t *jute_out_steal(struct jute_out *out, size_t *len);
void jute_out_reserve(struct jute_out *out, size_t extra);
static inline void jute_put_int(struct jute_out *out, int32_t v);  /* below */
static inline void jute_put_long(struct jute_out *out, int64_t v); /* below */
void jute_put_bool(struct jute_out *out, int v);
void jute_put_buffer(struct jute_out *out, const void *p, int32_t len);
void jute_put_string(struct jute_out *out, const char *s); /* NULL -> -1 */
void jute_put_slice(struct jute_out *out, struct zk_slice s);
void jute_put_raw(struct jute_out *out, const void *p, size_t len);
/* Overwrites 4 bytes at `at` (used to back-patch frame lengths). */
void jute_patch_int(struct jute_out *out, size_t at, int32_t v);

/* ---- records shared by client and server ---- */

#define ZK_STAT_WIRE_SIZE 68

void jute_put_stat(struct jute_out *out, const struct zk_stat *st);
void jute_get_stat(struct jute_in *in, struct zk_stat *st);

/* One ACL entry as decoded (slices into the input). */
struct zk_acl_slice {
    int32_t perms;
    struct zk_slice scheme;
    struct zk_slice id;
};

/* Big-endian helpers, also used for file formats: a memcpy and a byte swap
 * (the compiler did not merge the byte-wise form: 170 instructions for the
 * 60 bytes of a digest's Stat). */
static inline uint32_t zk_to_be32(uint32_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return v;
#else
    return __builtin_bswap32(v);
#endif
}

static inline uint64_t zk_to_be64(uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return v;
#else
    return __builtin_bswap64(v);
#endif
}

static inline void zk_be32_put(uint8_t *p, uint32_t v)
{
    v = zk_to_be32(v);
    memcpy(p, &v, 4);
}

static inline uint32_t zk_be32_get(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return zk_to_be32(v);
}

static inline void zk_be64_put(uint8_t *p, uint64_t v)
{
    v = zk_to_be64(v);
    memcpy(p, &v, 8);
}

static inline uint64_t zk_be64_get(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return zk_to_be64(v);
}

/* Inline: a create's log record and reply take a dozen of these, and the
 * call and the reserve call cost more than the stores. */
static inline void jute_put_int(struct jute_out *out, int32_t v)
{
    if (out->cap - out->len < 4)
        jute_out_reserve(out, 4);
    zk_be32_put(out->p + out->len, (uint32_t)v);
    out->len += 4;
}

static inline void jute_put_long(struct jute_out *out, int64_t v)
{
    if (out->cap - out->len < 8)
        jute_out_reserve(out, 8);
    zk_be64_put(out->p + out->len, (uint64_t)v);
    out->len += 8;
}

/* Allocation wrappers: abort with a message on OOM (one place to inject). */
void *zk_xmalloc(size_t n);
void *zk_xcalloc(size_t n, size_t m);
void *zk_xrealloc(void *p, size_t n);
char *zk_xstrndup(const char *s, size_t n);

#ifdef __cplusplus
}
#endif
#endif
