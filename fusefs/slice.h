/*
 * slice.h - short scheduler time slices for the threads a replay waits on.
 *
 * A replayed change is a ping-pong of short steps between the replay
 * thread and a FUSE worker (two round trips for a create, see notify.h),
 * each step a wake-up of a thread that then runs for a few microseconds.
 * On a busy machine the woken thread may wait for whatever runs on that CPU
 * to finish its time slice (milliseconds) before it runs, and a burst of
 * 100,000 creates is 400,000 such wake-ups.  Linux (6.12 and later, EEVDF)
 * lets a thread ask for a shorter slice: it then preempts on wake-up
 * sooner, and runs for shorter turns, without any more CPU share than its
 * nice value gives it.  Older kernels refuse the request (EINVAL or E2BIG)
 * and nothing changes.
 */
#ifndef ZKFS_SLICE_H
#define ZKFS_SLICE_H

/* Asks for short slices for the calling thread, once per thread (later
 * calls return at once).  Failure is silent: a hint only. */
void slice_short(void);

#endif
