/*
 * hugepage.h - run zkd with glibc's malloc backed by transparent huge pages.
 *
 * Why: a background snapshot fork()s (snapshot.c), and fork() copies the page
 * tables of the whole resident set while the loop waits.  With 4 KiB pages
 * that is one entry per 4 KiB of tree: measured on this project's 2-core VM,
 * 150-350 ms for a bare 2 GB malloc heap, 675 ms for zkd at 10 million
 * znodes.  With 2 MiB pages it is one entry per 2 MiB: 1-4 ms for the bare
 * heap; zkd measured 196 -> 22 ms at 3M znodes and 74 ms at 10M, where a
 * third of the heap was back on 4 KiB pages: a write to a huge page shared
 * with a snapshot child splits it (since Linux 5.8, so copy-on-write still
 * copies 4 KiB, not 2 MiB) and khugepaged merges it back only slowly.
 * See bench/results/2026-12-05-vm-scale.md.
 *
 * glibc (2.35+) backs its heap with huge pages only when the tunable
 * glibc.malloc.hugetlb=1 is in GLIBC_TUNABLES at exec time; there is no API
 * to turn it on later.  So zkd, at start, re-executes itself once with the
 * tunable added (same pid, same arguments), unless:
 *   - ZKD_MALLOC_HUGEPAGES=0 is set (the operator's opt-out);
 *   - GLIBC_TUNABLES already names glibc.malloc.hugetlb (the operator chose,
 *     or this is the re-executed process);
 *   - the kernel has THP off (/sys/kernel/mm/transparent_hugepage/enabled
 *     says [never]);
 *   - the process runs under valgrind (LD_PRELOAD holds its preload) or was
 *     built with a sanitizer: another allocator, nothing to gain.
 */
#ifndef ZKD_HUGEPAGE_H
#define ZKD_HUGEPAGE_H

/* The decision above, from its inputs (strings may be NULL = unset; `sanitized`
 * is whether this build runs under a sanitizer's allocator).  Returns 1 if
 * zkd should re-execute with the tunable, else 0; OUT: *why, a static string
 * saying which rule decided. */
int hugepage_wanted(const char *optout, const char *tunables, const char *ld_preload,
                    const char *thp_enabled, int sanitized, const char **why);

/* Re-executes /proc/self/exe with `argv` and the tunable added to
 * GLIBC_TUNABLES if hugepage_wanted says so; returns only when it did not
 * (or when execv failed: zkd then runs on 4 KiB pages).  Call first thing in
 * main, before any thread exists.  OUT: *why, for the start-up log line. */
void hugepage_reexec(char **argv, const char **why);

#endif
