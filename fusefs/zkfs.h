/*
 * zkfs.h - the state of one mount shared by the FUSE handlers.
 */
#ifndef ZKFS_ZKFS_H
#define ZKFS_ZKFS_H

#define FUSE_USE_VERSION 35
#include <fuse_lowlevel.h>

struct zkfs_conn;

struct zkfs {
    struct zkfs_conn *conn;
    int read_only;     /* -o ro, enforced here (see docs/zkfs.md) */
    int32_t max_data;  /* largest file content; more gives EFBIG */
    double timeout;    /* kernel entry/attribute cache lifetime, seconds */
};

/* The FUSE operations (ops.c); userdata is a struct zkfs. */
extern const struct fuse_lowlevel_ops zkfs_ops;

#endif
