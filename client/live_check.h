/*
 * live_check.h - the checks of the C programs that test libzk against a live
 * server (zk_client_test.c, recipes_test.c): a failed check prints
 * "FAIL file:line: what" on stdout, which their pytest drivers report, and
 * exits 1.
 */
#ifndef ZK_LIVE_CHECK_H
#define ZK_LIVE_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zk/zk.h"

#define FAILF(...)                                                                 \
    do {                                                                           \
        fprintf(stdout, "FAIL %s:%d: ", __FILE__, __LINE__);                       \
        fprintf(stdout, __VA_ARGS__);                                              \
        fprintf(stdout, "\n");                                                     \
        fflush(stdout);                                                            \
        exit(1);                                                                   \
    } while (0)
#define CHECK(c)                                                                   \
    do {                                                                           \
        if (!(c))                                                                  \
            FAILF("check failed: %s", #c);                                         \
    } while (0)
#define CHECK_INT(a, b)                                                            \
    do {                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                        \
        if (a_ != b_)                                                              \
            FAILF("%s == %lld, expected %s == %lld", #a, a_, #b, b_);              \
    } while (0)
#define CHECK_RC(a, b)                                                             \
    do {                                                                           \
        int a_ = (a), b_ = (b);                                                    \
        if (a_ != b_)                                                              \
            FAILF("%s gave %s (%d), expected %s", #a, zk_errname(a_), a_,          \
                  zk_errname(b_));                                                 \
    } while (0)
#define CHECK_STR(a, b)                                                            \
    do {                                                                           \
        const char *a_ = (a), *b_ = (b);                                           \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                                     \
            FAILF("%s == \"%s\", expected \"%s\"", #a, a_ ? a_ : "(null)",         \
                  b_ ? b_ : "(null)");                                             \
    } while (0)

#endif
