/*
 * slice.c - short scheduler time slices (see slice.h).
 */
#include "slice.h"

#include <sched.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SLICE_NS 100000 /* 0.1 ms: the shortest the kernel accepts */

/* The kernel's struct sched_attr, first version (SCHED_ATTR_SIZE_VER0):
 * <linux/sched/types.h> cannot be included with glibc's <sched.h>. */
struct slice_attr {
    uint32_t size;
    uint32_t sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime, sched_deadline, sched_period;
};

void slice_short(void)
{
    static __thread int asked;
    if (asked)
        return;
    asked = 1;
    struct slice_attr a = {
        .size = sizeof a,
        .sched_policy = SCHED_OTHER,
        .sched_nice = getpriority(PRIO_PROCESS, 0), /* unchanged */
        .sched_runtime = SLICE_NS,
    };
    (void)syscall(SYS_sched_setattr, 0, &a, 0);
}
