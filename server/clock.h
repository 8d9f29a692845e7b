/*
 * clock.h - the two clocks zkd reads.
 *
 * Deadlines (session expiry, election and sync timeouts, peer liveness) use
 * the monotonic clock, so a wall-clock step never expires a session; znode
 * ctime/mtime and transaction times use the wall clock, as Apache does.
 */
#ifndef ZKD_CLOCK_H
#define ZKD_CLOCK_H

#include <stdint.h>

/* Monotonic milliseconds (deadlines). */
int64_t clock_mono_ms(void);
/* Wall-clock milliseconds since the epoch (znode ctime/mtime, txn time). */
int64_t clock_wall_ms(void);

#endif
