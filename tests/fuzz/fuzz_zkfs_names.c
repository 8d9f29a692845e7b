/*
 * fuzz_zkfs_names.c - libFuzzer target for the names zkfs reads from the
 * kernel, that is from any local user of the mount (fusefs/names.c,
 * fusefs/xattr.c):
 *   - a file name, classified the way the lookup, create and rename handlers
 *     classify it: the ".zkdata" entry, a create marker (NAME@eph lease,
 *     NAME@seq and NAME@eseq sequential creation) split off by
 *     names_marker, names_valid, then names_join under a parent directory
 *     and names_parent back;
 *   - a user.zk.acl value ("scheme:id:perms,..."), parsed by
 *     xattr_parse_acl as setxattr does.
 *
 * Input: bit 0 of byte 0 picks the surface (0: a name, 1: an ACL value);
 * bit 1 puts the name under "/" rather than "/dir/sub".  The rest is the
 * name or value up to the first NUL (the kernel hands both NUL-terminated).
 * Build: CC=clang cmake -DZK_FUZZ=ON; seeds: tests/fuzz/corpus/zkfs_names.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "xattr.h"
#include "zk/zk.h"

static void fuzz_name(const char *dir, const char *name)
{
    if (strcmp(name, ZKFS_DATA_ENTRY) == 0)
        return;
    size_t base;
    int mark = names_marker(name, &base);
    if (base > strlen(name))
        abort(); /* the base is a prefix of the name */
    /* As do_create: the znode path is the name without its marker. */
    int ok = names_valid(name, base) || (base == 0 && (mark == MARK_SEQ || mark == MARK_ESEQ));
    char *path = names_join(dir, name, base);
    if (!path)
        return;
    if (ok && mark == MARK_NONE) {
        /* A valid plain name round-trips: its parent is `dir`, its base the name. */
        const char *leaf;
        char *parent = names_parent(path, &leaf);
        if (!parent || strcmp(parent, dir) != 0 || strcmp(leaf, name) != 0)
            abort();
        free(parent);
    }
    free(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *s = strndup((const char *)data + 1, size - 1);
    if (!s)
        return 0;
    if (data[0] & 1) {
        struct zk_acl *acl;
        int32_t n;
        if (xattr_parse_acl(s, &acl, &n) == 0)
            free(acl);
    } else {
        fuzz_name(data[0] & 2 ? "/" : "/dir/sub", s);
    }
    free(s);
    return 0;
}
