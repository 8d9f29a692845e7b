/*
 * snapshot.h - point-in-time images of the data tree, written in the
 * background and loaded at start.
 *
 * File `snapshot.<zxid, 16 hex digits>` in dataDir:
 *   header  "ZKSNAP01" (8 bytes) | u64 zxid
 *   records [u32 len][u32 crc32 of payload][payload] ...   (len > 0)
 *   trailer [u32 0][u32 crc32 of every payload byte, in order][u64 record count]
 * A snapshot is valid only with an intact trailer; it is written to
 * `snapshot.<zxid>.tmp`, fsync'd, renamed, and the directory fsync'd, so a
 * crash leaves either the complete file or a .tmp that start-up deletes.
 *
 * Background: snapshot_start() fork()s; the child calls `produce`, which emits
 * the image through snapshot_put(), writes the file and _exit()s.  The parent
 * goes on serving (copy-on-write), and learns the outcome through `done` on
 * its loop (SIGCHLD watched with uv_signal).  One snapshot at a time.
 * snapshot.c opens with the details.
 */
#ifndef ZKD_SNAPSHOT_H
#define ZKD_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct snapshot_writer;

/* Emits one record (1 .. 256 MiB; `rec` is copied) into the snapshot being
 * written.  Returns 0, -EINVAL for a bad length, or the first write error
 * (sticky: later calls return it too). */
int snapshot_put(struct snapshot_writer *w, const void *rec, size_t len);

/* Produces the image: calls snapshot_put per record.  Returns 0 or -errno.
 * Under snapshot_start() it runs in a forked child of a threaded process: it
 * must not take a lock another thread may hold, nor touch the loop. */
typedef int (*snapshot_produce_fn)(struct snapshot_writer *w, void *data);
/* Outcome on the loop thread: status 0, or -errno from the child (-EINTR if
 * it was killed by a signal); zxid of the image; wall seconds it took.  May
 * start the next snapshot. */
typedef void (*snapshot_done_cb)(int status, int64_t zxid, double seconds, void *data);

/* Writes a snapshot synchronously in this process (used by tests and at
 * shutdown).  Returns 0 or -errno; on failure no file is left behind. */
int snapshot_write(const char *dir, int64_t zxid, snapshot_produce_fn produce, void *data);

/* Starts a background snapshot; returns 0, -EBUSY if one is running, or
 * -errno (then `done` is not called).  Loop thread.  The loop stays alive
 * until `done` has run. */
int snapshot_start(uv_loop_t *loop, const char *dir, int64_t zxid,
                   snapshot_produce_fn produce, void *pdata,
                   snapshot_done_cb done, void *ddata);

/* True while a background snapshot is running. */
int snapshot_running(void);

/* Called per record during load, with each record once its CRC checks out
 * (`rec` is valid only during the call).  Return non-zero to refuse it: the
 * candidate is abandoned (left in place, since its bytes are intact) and the
 * next older one is tried. */
typedef int (*snapshot_load_cb)(const void *rec, size_t len, void *data);
/* Called after a candidate failed part-way (some records were delivered),
 * before the next one is tried or snapshot_load returns, so the consumer can
 * drop the state that candidate left.  May be NULL. */
typedef void (*snapshot_reset_cb)(void *data);

/*
 * Loads the newest valid snapshot in `dir`, after deleting stale
 * `snapshot.*.tmp` files: candidates newest first; a file whose header,
 * CRCs or trailer do not check out is logged (name and offset), renamed
 * `*.corrupt`, and the next older one is tried.
 * OUT: *zxid = the loaded image's zxid, or -1 if there is none (empty
 * start; logged as an error if candidates existed).  Returns 0, or negative
 * errno on I/O errors (a file that cannot be read is not judged corrupt).
 */
int snapshot_load(const char *dir, snapshot_load_cb cb, snapshot_reset_cb reset,
                  void *data, int64_t *zxid);

/* Keeps the newest `retain` snapshots (at least 3, whatever `retain` says),
 * deletes older ones; `*.corrupt` files are left for the operator.
 * OUT: *oldest_kept_zxid (or -1).  Returns the number of files removed, or
 * -errno if the directory cannot be read. */
int snapshot_purge(const char *dir, int retain, int64_t *oldest_kept_zxid);

/* For the `dirs` 4lw: total bytes of dir's snapshot files, or -errno. */
int64_t snapshot_dir_bytes(const char *dir);

#endif
