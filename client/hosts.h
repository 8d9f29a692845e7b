/*
 * hosts.h - connect strings and client-side paths.
 *
 * A connect string is "host:port[,host:port...][/chroot]", where a host may
 * be a name, an IPv4 address or a bracketed IPv6 address ("[::1]:2181"), and
 * a missing port means 2181.  The chroot, if any, is prefixed to every path
 * the client sends and stripped from every path the server returns, so an
 * application sees a tree rooted at the chroot (Apache's
 * ConnectStringParser and ClientCnxn.prependChroot).
 *
 * Paths are checked on the client as Apache's PathUtils.validatePath does:
 * absolute, no empty, "." or ".." components, no trailing slash (except for
 * sequential creates, whose name the server completes), no NUL or control
 * characters.  Nothing here touches the network or any global state.
 */
#ifndef ZK_CLIENT_HOSTS_H
#define ZK_CLIENT_HOSTS_H

#include <stddef.h>

struct zk_host {
    char *host; /* without brackets */
    int port;
};

struct zk_hostlist {
    struct zk_host *v;
    size_t n;
    char *chroot; /* NULL when the string names none, or names "/" */
};

/* Parses `s`.  OUT hl: filled on success; free with zk__hosts_free.
 * Returns 0 or ZK_BADARGUMENTS. */
int zk__hosts_parse(const char *s, struct zk_hostlist *hl);
void zk__hosts_free(struct zk_hostlist *hl);
/* Shuffles the hosts (Fisher-Yates, seeded from the kernel's RNG). */
void zk__hosts_shuffle(struct zk_hostlist *hl);

/* Returns 0 if `path` is a valid znode path, else ZK_BADARGUMENTS.
 * `sequential` allows a trailing '/'. */
int zk__path_validate(const char *path, int sequential);
/* Returns chroot+path, malloc'ed (the caller frees).  "/" maps to the chroot. */
char *zk__path_prepend(const char *chroot, const char *path);
/* Returns a malloc'ed copy of the server path `p` (len bytes) with the chroot
 * removed; paths outside the chroot are returned unchanged. */
char *zk__path_strip(const char *chroot, const char *p, size_t len);

#endif
