/*
 * ztest.h - a minimal C test harness: typed asserts that print both sides.
 *
 * A test file defines `static void test_x(void)` functions and lists them in
 * ZTEST_MAIN(...).  Each test runs in a forked child so a crash or failed
 * assert fails that test only; the runner prints one line per test and a
 * closing "N passed, N failed" line.  Run one test with argv[1] = its name.
 */
#ifndef ZTEST_H
#define ZTEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define ZT_FAIL(...)                                                           \
    do {                                                                       \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                        \
        fprintf(stderr, __VA_ARGS__);                                          \
        fprintf(stderr, "\n");                                                 \
        exit(1);                                                               \
    } while (0)

#define ASSERT_TRUE(c)                                                         \
    do { if (!(c)) ZT_FAIL("assertion failed: %s", #c); } while (0)
#define ASSERT_INT_EQ(a, b)                                                    \
    do {                                                                       \
        int64_t za_ = (int64_t)(a), zb_ = (int64_t)(b);                        \
        if (za_ != zb_)                                                        \
            ZT_FAIL("%s == %s: %" PRId64 " != %" PRId64, #a, #b, za_, zb_);   \
    } while (0)
#define ASSERT_STR_EQ(a, b)                                                    \
    do {                                                                       \
        const char *za_ = (a), *zb_ = (b);                                     \
        if (!za_ || !zb_ || strcmp(za_, zb_))                                  \
            ZT_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, za_ ? za_ : "(null)", \
                    zb_ ? zb_ : "(null)");                                     \
    } while (0)

struct ztest { const char *name; void (*fn)(void); };
#define ZT(fn) { #fn, fn }

static inline int ztest_run(const struct ztest *tests, int n, int argc, char **argv)
{
    int passed = 0, failed = 0;
    for (int i = 0; i < n; i++) {
        if (argc > 1 && strcmp(argv[1], tests[i].name))
            continue;
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            alarm(60);
            tests[i].fn();
            exit(0);
        }
        int st = 0;
        waitpid(pid, &st, 0);
        int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
        printf("%s %s\n", ok ? "ok  " : "FAIL", tests[i].name);
        ok ? passed++ : failed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

#define ZTEST_MAIN(...)                                                        \
    int main(int argc, char **argv)                                            \
    {                                                                          \
        static const struct ztest tests_[] = {__VA_ARGS__};                    \
        return ztest_run(tests_, (int)(sizeof tests_ / sizeof tests_[0]), argc, argv); \
    }

#endif
