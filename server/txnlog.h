/*
 * txnlog.h - the durable transaction log: append, group commit, replay.
 *
 * Files live in dataLogDir as `log.<first zxid, 16 hex digits>`.  Each record
 * is framed as  [u32 len][u32 crc32 of (zxid,payload)][u64 zxid][payload]  all
 * big-endian; the payload is an opaque serialized transaction (see txn.h).
 * Files may be preallocated; a zero length field marks the end of data.
 *
 * Group commit: txnlog_append() only buffers in memory, on the loop thread.
 * txnlog_flush() (called once per loop iteration, before the loop sleeps)
 * hands the whole buffered batch to a worker thread that write()s and
 * fdatasync()s it; when that finishes, the durable callback runs on the loop
 * thread with the highest zxid now on disk.  While one batch is being synced,
 * new appends accumulate in the next batch, so under load many transactions
 * share one fsync.  At most one batch is in flight, so durability is reported
 * in zxid order.  A write or fsync failure is fatal (logged, abort()): the
 * server cannot honestly continue once it cannot persist.
 *
 * Recovery (txnlog_replay) reads every log file in zxid order, verifies each
 * record's CRC and that zxids increase, and stops at the first torn, corrupt
 * or zero record: the rest of that file is truncated away (logged with file
 * and offset), never applied.  Later files, if any, are ignored and renamed
 * to `*.corrupt` because they could not follow a hole.
 */
#ifndef ZKD_TXNLOG_H
#define ZKD_TXNLOG_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct txnlog;

/* Runs on the loop thread after every record with zxid <= `zxid` is on disk. */
typedef void (*txnlog_durable_cb)(struct txnlog *log, int64_t zxid, void *data);

/*
 * Opens the log for appending in `dir`; a new file is started with the first
 * appended record.  `cb`/`data` receive durability notices.
 * Returns 0, or -errno (nothing allocated).  OUT: *out.
 */
int txnlog_open(struct txnlog **out, uv_loop_t *loop, const char *dir,
                txnlog_durable_cb cb, void *data);

/* Buffers one record; `rec` is copied.  zxids must be strictly increasing. */
void txnlog_append(struct txnlog *log, int64_t zxid, const void *rec, size_t len);

/* Starts syncing the buffered batch unless one is already in flight. */
void txnlog_flush(struct txnlog *log);

/* Number of records appended but not yet reported durable. */
size_t txnlog_pending(const struct txnlog *log);

/* Makes the next appended record start a new file (used after a snapshot so
 * purging can drop whole files). */
void txnlog_roll(struct txnlog *log);

/* Writes and fsyncs everything buffered, synchronously (shutdown), then frees
 * the log.  The durable callback is called for the final batch. */
void txnlog_close(struct txnlog *log);

/* Called for each valid record with zxid > from during replay; return 0 to
 * continue, non-zero to stop with that value. */
typedef int (*txnlog_replay_cb)(int64_t zxid, const void *rec, size_t len, void *data);

/*
 * Replays all valid records with zxid > `from` in order, truncating a torn or
 * corrupt tail as described above.  OUT: *last_zxid = highest valid zxid seen
 * in the logs (or `from` if none).  Returns 0 or a negative errno / the
 * callback's non-zero value.
 */
int txnlog_replay(const char *dir, int64_t from, txnlog_replay_cb cb, void *data,
                  int64_t *last_zxid);

/* Deletes log files whose records all have zxid <= `upto` and that are not
 * needed to replay from `upto` (keeps the file containing upto+1).
 * Returns the number of files removed. */
int txnlog_purge(const char *dir, int64_t upto);

/* Fills `buf` with counters for mntr: fsyncs done, records, last fsync ms. */
struct txnlog_stats {
    uint64_t fsyncs;
    uint64_t records;
    uint64_t bytes;
    double last_fsync_ms;
    double max_fsync_ms;
};
void txnlog_get_stats(const struct txnlog *log, struct txnlog_stats *st);

uint32_t zk_crc32(uint32_t crc, const void *p, size_t len);

#endif
