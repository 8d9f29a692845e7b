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
 */
#ifndef ZKD_SNAPSHOT_H
#define ZKD_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct snapshot_writer;

/* Emits one record into the snapshot being written (child side). Returns 0 or -errno. */
int snapshot_put(struct snapshot_writer *w, const void *rec, size_t len);

/* Produces the image: calls snapshot_put per record.  Returns 0 or -errno. */
typedef int (*snapshot_produce_fn)(struct snapshot_writer *w, void *data);
/* Outcome on the loop thread: status 0, or negative; zxid of the image. */
typedef void (*snapshot_done_cb)(int status, int64_t zxid, double seconds, void *data);

/* Writes a snapshot synchronously in this process (used by tests and at
 * shutdown).  Returns 0 or -errno. */
int snapshot_write(const char *dir, int64_t zxid, snapshot_produce_fn produce, void *data);

/* Starts a background snapshot; returns -EBUSY if one is running. */
int snapshot_start(uv_loop_t *loop, const char *dir, int64_t zxid,
                   snapshot_produce_fn produce, void *pdata,
                   snapshot_done_cb done, void *ddata);

/* True while a background snapshot is running. */
int snapshot_running(void);

/* Called per record during load; return non-zero to abort the load. */
typedef int (*snapshot_load_cb)(const void *rec, size_t len, void *data);
/* Called before a candidate file is loaded, so the consumer can reset state
 * left by a previous, corrupt candidate. */
typedef void (*snapshot_reset_cb)(void *data);

/*
 * Loads the newest valid snapshot in `dir`: candidates newest first; a file
 * whose CRCs or trailer do not check out is logged (name and offset),
 * renamed `*.corrupt`, and the next older one is tried.
 * OUT: *zxid = the loaded image's zxid, or -1 if there is none (empty
 * start).  Returns 0, or negative errno on I/O errors.
 */
int snapshot_load(const char *dir, snapshot_load_cb cb, snapshot_reset_cb reset,
                  void *data, int64_t *zxid);

/* Keeps the newest `retain` snapshots (>= 3), deletes older ones.
 * OUT: *oldest_kept_zxid (or -1).  Returns the number of files removed. */
int snapshot_purge(const char *dir, int retain, int64_t *oldest_kept_zxid);

/* Lists snapshot files (for `dirs` 4lw): total bytes in dir's snapshots. */
int64_t snapshot_dir_bytes(const char *dir);

#endif
