/*
 * xattr.h - znode Stat fields and ACL as extended attributes.
 *
 * Names (all in the "user." namespace, so `getfattr -d` shows them):
 *   user.zk.czxid user.zk.mzxid user.zk.pzxid user.zk.ctime user.zk.mtime
 *   user.zk.version user.zk.cversion user.zk.aversion user.zk.ephemeralOwner
 *   user.zk.dataLength user.zk.numChildren      decimal, read-only
 *   user.zk.path                                the znode's path, read-only
 *   user.zk.acl    "scheme:id:perms,..." with perms from "cdrwa"; writable
 */
#ifndef ZKFS_XATTR_H
#define ZKFS_XATTR_H

#include <stddef.h>
#include <stdint.h>

struct zk_acl;
struct zkfs_conn;

/* The value of attribute `name` of znode `path`.  OUT value: malloc'ed,
 * OUT len.  Returns 0 or -errno (-ENODATA for an unknown name). */
int xattr_get(struct zkfs_conn *c, const char *path, const char *name, char **value, size_t *len);

/* The NUL-separated list of names.  OUT list: static storage, OUT len. */
void xattr_list(const char **list, size_t *len);

/* Sets attribute `name` (only user.zk.acl may be set).  Returns 0 or -errno
 * (-EPERM for a read-only attribute, -EINVAL for a malformed ACL). */
int xattr_set(struct zkfs_conn *c, const char *path, const char *name, const char *value,
              size_t len);

/* Parses a user.zk.acl value, "scheme:id:perms[,...]" (NUL-terminated), in
 * place.  OUT acl: a malloc'ed array (the caller frees it) whose strings
 * point into `s`; OUT n: its length.  Returns 0, -EINVAL for a malformed
 * ACL or -ENOMEM.  Used by xattr_set and the fuzz target. */
int xattr_parse_acl(char *s, struct zk_acl **acl, int32_t *n);

#endif
