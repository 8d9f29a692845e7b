/*
 * names.c - file-name conventions and the ZooKeeper-status-to-errno table.
 */
#include "names.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "zk/proto.h"

static const struct {
    const char *suffix;
    int marker;
} markers[] = {
    {"@eseq", MARK_ESEQ},
    {"@eph", MARK_EPH},
    {"@seq", MARK_SEQ},
};

int names_marker(const char *name, size_t *base_len)
{
    assert(name && base_len);
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof markers / sizeof markers[0]; i++) {
        size_t s = strlen(markers[i].suffix);
        if (n > s && memcmp(name + n - s, markers[i].suffix, s) == 0) {
            *base_len = n - s;
            return markers[i].marker;
        }
    }
    *base_len = n;
    return MARK_NONE;
}

int names_valid(const char *name, size_t len)
{
    if (len == 0 || (len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c == '/' || c < 0x20 || c == 0x7f)
            return 0;
    }
    return 1;
}

char *names_join(const char *dir, const char *name, size_t len)
{
    assert(dir && dir[0] == '/' && (name || len == 0)); /* dir: an absolute znode path */
    size_t dl = strlen(dir);
    int root = dl == 1 && dir[0] == '/';
    char *p = malloc(dl + len + 2);
    if (!p)
        return NULL;
    memcpy(p, dir, dl);
    size_t at = root ? 1 : dl;
    if (!root)
        p[at++] = '/';
    memcpy(p + at, name, len);
    p[at + len] = '\0';
    return p;
}

char *names_parent(const char *path, const char **base)
{
    assert(path && path[0] == '/' && base); /* an absolute znode path */
    const char *slash = strrchr(path, '/');
    if (!slash || path[1] == '\0')
        return NULL;
    *base = slash + 1;
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *p = malloc(n + 1);
    if (!p)
        return NULL;
    memcpy(p, path, n);
    p[n] = '\0';
    return p;
}

int names_errno(int st)
{
    switch (st) {
    case ZK_OK: return 0;
    case ZK_NONODE: return ENOENT;
    case ZK_NODEEXISTS: return EEXIST;
    case ZK_NOTEMPTY: return ENOTEMPTY;
    case ZK_NOAUTH: return EACCES;
    case ZK_BADVERSION: return ESTALE;
    case ZK_BADARGUMENTS: return EINVAL;
    case ZK_INVALIDACL: return EINVAL;
    case ZK_NOCHILDRENFOREPHEMERALS: return EPERM;
    case ZK_QUOTAEXCEEDED: return EDQUOT;
    case ZK_UNIMPLEMENTED: return ENOTSUP;
    case ZK_NOTREADONLY: return EROFS;
    case ZK_CONNECTIONLOSS:
    case ZK_OPERATIONTIMEOUT:
        return ETIMEDOUT;
    default: return EIO;
    }
}
