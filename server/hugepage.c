/*
 * hugepage.c - re-execute zkd with glibc.malloc.hugetlb=1.  See hugepage.h
 * for why and when.
 */
#include "hugepage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TUNABLE "glibc.malloc.hugetlb"
#define REEXEC_MARK "ZKD_MALLOC_HUGEPAGES_REEXECUTED"
#define THP_SYSFS "/sys/kernel/mm/transparent_hugepage/enabled"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

int hugepage_wanted(const char *optout, const char *tunables, const char *ld_preload,
                    const char *thp_enabled, int sanitized, const char **why)
{
    if (optout && !strcmp(optout, "0"))
        *why = "off (ZKD_MALLOC_HUGEPAGES=0)";
    else if (tunables && strstr(tunables, TUNABLE "="))
        *why = strstr(tunables, TUNABLE "=0") ? "off (GLIBC_TUNABLES sets " TUNABLE "=0)"
                                              : "on (GLIBC_TUNABLES sets " TUNABLE ")";
    else if (sanitized)
        *why = "off (sanitizer build: its own allocator)";
    else if (ld_preload && strstr(ld_preload, "vgpreload"))
        *why = "off (running under valgrind)";
    else if (thp_enabled && strstr(thp_enabled, "[never]"))
        *why = "off (transparent huge pages are disabled in the kernel)";
    else {
        *why = "re-executing with " TUNABLE "=1";
        return 1;
    }
    return 0;
}

/* The first line of the THP sysfs file, or NULL (no THP support). */
static char *read_thp_mode(char *buf, size_t cap)
{
    FILE *f = fopen(THP_SYSFS, "re");
    if (!f)
        return NULL;
    char *line = fgets(buf, (int)cap, f);
    fclose(f);
    return line;
}

void hugepage_reexec(char **argv, const char **why)
{
    char mode[128];
    const char *thp = read_thp_mode(mode, sizeof mode);
    if (!thp) {
        *why = "off (no transparent huge page support)";
        return;
    }
    const char *old = getenv("GLIBC_TUNABLES");
    if (!hugepage_wanted(getenv("ZKD_MALLOC_HUGEPAGES"), old, getenv("LD_PRELOAD"), thp, SANITIZED,
                         why))
        return;
    /* Never twice, whatever a libc does to GLIBC_TUNABLES as it parses it. */
    if (getenv(REEXEC_MARK)) {
        *why = "unknown (re-executed once, but GLIBC_TUNABLES no longer names " TUNABLE ")";
        return;
    }
    /* A copy: setenv below may replace the string `old` points into. */
    char *prev = old ? strdup(old) : NULL;
    size_t n = (prev ? strlen(prev) + 1 : 0) + sizeof TUNABLE "=1";
    char *val = malloc(n);
    *why = "off (out of memory)";
    if (!val || (old && !prev))
        goto out;
    snprintf(val, n, "%s%s" TUNABLE "=1", prev ? prev : "", prev && *prev ? ":" : "");
    if (setenv("GLIBC_TUNABLES", val, 1) == 0 && setenv(REEXEC_MARK, "1", 1) == 0)
        execv("/proc/self/exe", argv);
    /* Still here: run on 4 KiB pages rather than not at all, and put the
     * variables back so that nothing this process starts believes they apply. */
    *why = "off (re-exec failed)";
    unsetenv(REEXEC_MARK);
    if (prev)
        setenv("GLIBC_TUNABLES", prev, 1);
    else
        unsetenv("GLIBC_TUNABLES");
out:
    free(val);
    free(prev);
}
