/*
 * acl.h - ACL lists, interned, and the permission check.
 *
 * Like Apache's ReferenceCountedACLCache, every distinct ACL list is stored
 * once and znodes refer to it by a 32-bit id, so a million znodes with the
 * default world:anyone ACL cost 4 bytes each.  Ids are stable for the life of
 * the cache (a freed id is reused only after its refcount reaches zero).
 *
 * Schemes (Apache's providers): world (id "anyone"), auth (expanded at
 * create/setACL time to the caller's authenticated ids), digest
 * ("user:base64(sha1(user:password))"), ip ("a.b.c.d" or "a.b.c.d/bits"),
 * sasl (the SASL user name), x509 (the certificate's subject DN), and super
 * (granted by superDigest; bypasses every check).
 */
#ifndef ZKD_ACL_H
#define ZKD_ACL_H

#include <stddef.h>
#include <stdint.h>

#include "zk/jute.h"

struct acl_entry {
    int32_t perms;
    char *scheme;
    char *id;
};

struct acl_list {
    int n;
    struct acl_entry *e;
};

/* An authenticated identity of a connection (scheme + id). */
struct auth_id {
    char *scheme;
    char *id;
};

struct auth_info {
    int n;
    struct auth_id *ids;
    /* audit.c's cache of this identity set's audit line start
     * ("session=..\tuser=..\tip=..", for session `audit_session`), built on
     * the first audited request; NULL until then.  auth_info_add and
     * auth_info_free drop it (the user field changes with the ids). */
    char *audit_prefix;
    size_t audit_prefix_len;
    int64_t audit_session;
};

struct acl_cache;

struct acl_cache *acl_cache_new(void);
void acl_cache_free(struct acl_cache *c);
/* Interns a copy of `l` and takes one reference. Returns its id. */
uint32_t acl_intern(struct acl_cache *c, const struct acl_list *l);
/* Reference counting of an interned id. */
void acl_ref(struct acl_cache *c, uint32_t id);
void acl_unref(struct acl_cache *c, uint32_t id);
/* The list of an id (owned by the cache). */
const struct acl_list *acl_get(const struct acl_cache *c, uint32_t id);
/* Iterates live entries, for snapshots: calls fn(id, list). */
void acl_foreach(const struct acl_cache *c, void (*fn)(uint32_t id, const struct acl_list *l, void *d),
                 void *d);
size_t acl_cache_size(const struct acl_cache *c);

/*
 * Decodes an ACL vector from `in` into `out`.  Returns 0 or
 * ZK_MARSHALLINGERROR.  A list these functions make (decode, copy, fixup)
 * is one heap block holding its entries and their strings: acl_list_free
 * frees it, and an entry's strings are never freed or replaced alone.
 */
int acl_list_decode(struct jute_in *in, struct acl_list *out);
void acl_list_encode(struct jute_out *out, const struct acl_list *l);
void acl_list_free(struct acl_list *l);
void acl_list_copy(struct acl_list *dst, const struct acl_list *src);

/*
 * Apache's fixupACL: validates every entry and replaces `auth` entries with
 * the caller's authenticated ids.  Returns 0, or ZK_INVALIDACL (empty list,
 * unknown scheme, malformed id, `auth` without any authenticated id).
 * `l` is rewritten in place.
 */
int acl_fixup(struct acl_list *l, const struct auth_info *auth);

/*
 * Returns 0 when `auth` holds a permission in `perm` on a node with ACL
 * list `l`, else ZK_NOAUTH.  A NULL or empty list allows everything.
 */
int acl_check(const struct acl_list *l, int32_t perm, const struct auth_info *auth);

/* Computes Apache's digest id "user:base64(sha1(user:password))" for
 * "user:password" into `out` (heap string); without ':' the whole string is
 * the user, as in Apache.  Returns 0. */
int acl_digest(const char *user_password, size_t len, char **out);

void auth_info_add(struct auth_info *a, const char *scheme, const char *id);
int auth_info_has(const struct auth_info *a, const char *scheme, const char *id);
/* Whether `scheme` is in `schemes`, a comma-separated list ("digest,sasl");
 * whether `a` holds an identity of any scheme in such a list.  The "" list
 * holds nothing. */
int auth_scheme_listed(const char *schemes, const char *scheme);
int auth_info_has_scheme_in(const struct auth_info *a, const char *schemes);
void auth_info_free(struct auth_info *a);

/* The default lists: world:anyone:cdrwa and world:anyone:r. */
extern const struct acl_list acl_open_unsafe;
extern const struct acl_list acl_read_unsafe;

#endif
