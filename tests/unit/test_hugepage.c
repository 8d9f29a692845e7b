/*
 * test_hugepage.c - when zkd re-executes itself with glibc.malloc.hugetlb=1
 * (hugepage.h): the operator's choices win, and it never loops.
 */
#include <string.h>

#include "hugepage.h"
#include "ztest.h"

#define MADVISE "always [madvise] never\n"

static int wanted(const char *optout, const char *tunables, const char *preload,
                  const char *thp, int sanitized, const char *why_prefix)
{
    const char *why = NULL;
    int r = hugepage_wanted(optout, tunables, preload, thp, sanitized, &why);
    ASSERT_TRUE(why != NULL);
    if (strncmp(why, why_prefix, strlen(why_prefix)))
        ZT_FAIL("why = \"%s\", expected it to start with \"%s\"", why, why_prefix);
    return r;
}

static void test_default_is_to_reexec(void)
{
    ASSERT_INT_EQ(wanted(NULL, NULL, NULL, MADVISE, 0, "re-executing"), 1);
    ASSERT_INT_EQ(wanted("1", "glibc.malloc.arena_max=2", "", "[always] madvise never", 0,
                         "re-executing"), 1);
}

static void test_reexecuted_process_does_not_loop(void)
{
    ASSERT_INT_EQ(wanted(NULL, "glibc.malloc.hugetlb=1", NULL, MADVISE, 0, "on"), 0);
    ASSERT_INT_EQ(wanted(NULL, "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1", NULL, MADVISE,
                         0, "on"), 0);
}

static void test_operator_choices_win(void)
{
    ASSERT_INT_EQ(wanted("0", NULL, NULL, MADVISE, 0, "off (ZKD_MALLOC_HUGEPAGES=0)"), 0);
    ASSERT_INT_EQ(wanted(NULL, "glibc.malloc.hugetlb=0", NULL, MADVISE, 0, "off (GLIBC"), 0);
}

static void test_no_gain_no_reexec(void)
{
    ASSERT_INT_EQ(wanted(NULL, NULL, NULL, MADVISE, 1, "off (sanitizer"), 0);
    ASSERT_INT_EQ(wanted(NULL, NULL, "/usr/libexec/valgrind/vgpreload_core-amd64-linux.so",
                         MADVISE, 0, "off (running under valgrind"), 0);
    ASSERT_INT_EQ(wanted(NULL, NULL, NULL, "always madvise [never]\n", 0, "off (transparent"), 0);
}

ZTEST_MAIN(ZT(test_default_is_to_reexec), ZT(test_reexecuted_process_does_not_loop),
           ZT(test_operator_choices_win), ZT(test_no_gain_no_reexec))
