/*
 * names.h - the naming conventions of zkfs and the error mapping.
 *
 * A file name maps to a znode name, except for these (see docs/zkfs.md):
 *   NAME@eph   create: an ephemeral znode NAME bound to the open file
 *   NAME@seq   create: a persistent sequential znode NAME<counter>
 *   NAME@eseq  create: an ephemeral sequential znode NAME<counter>
 *   .zkdata    inside a directory: the directory's own data as a file
 * Marker names are never found by lookup, so every open(O_CREAT) of one
 * creates a new znode.  Pure functions, any thread.
 */
#ifndef ZKFS_NAMES_H
#define ZKFS_NAMES_H

#include <stddef.h>

#define ZKFS_DATA_ENTRY ".zkdata"

/* Create-mode markers. */
enum names_marker { MARK_NONE = 0, MARK_EPH, MARK_SEQ, MARK_ESEQ };

/* Splits a trailing marker off `name`.  OUT base_len: the length of the
 * name without it.  Returns the marker (MARK_NONE when there is none). */
int names_marker(const char *name, size_t *base_len);

/* 1 if `name` may be a znode name: not empty, not "." or "..", no '/',
 * no control characters (ZooKeeper refuses those). */
int names_valid(const char *name, size_t len);

/* Joins a directory path and a child name.  Returns a malloc'ed path the
 * caller frees, or NULL when out of memory. */
char *names_join(const char *dir, const char *name, size_t len);

/* The parent of an absolute znode path, malloc'ed ("/" for "/x"), and OUT
 * base: a pointer into `path` at the last component.  NULL for "/". */
char *names_parent(const char *path, const char **base);

/* The errno for a libzk status (negative ZK_* code); 0 for 0. */
int names_errno(int zk_status);

#endif
