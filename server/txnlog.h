/*
 * txnlog.h - the durable transaction log: append, group commit, replay.
 *
 * The format is Apache ZooKeeper's FileTxnLog, so Apache's servers and tools
 * read zkd's logs and zkd reads theirs.  Files live in dataLogDir/version-2
 * as `log.<first zxid in lower-case hex, unpadded>`: a FileHeader (int magic
 * "ZKLG", int version 2, long dbid 0), then per transaction
 * [long Adler-32 of the bytes][int len][len bytes][byte 0x42], where the
 * bytes are a TxnHeader and its record (txn.h), which also carry the zxid.
 * Files are preallocated with zeroes in 64 MiB steps (Apache's preAllocSize);
 * an entry of length 0 marks the end of data.  txnlog.c opens with the
 * details.
 *
 * Group commit: txnlog_append() only buffers in memory, on the loop thread.
 * txnlog_flush() (called once per loop iteration, before the loop sleeps)
 * hands the whole buffered batch to a worker thread that write()s and
 * fdatasync()s it; when that finishes, the durable callback runs on the loop
 * thread with the highest zxid now on disk.  While one batch is being synced,
 * new appends accumulate in the next batch, so under load many transactions
 * share one fsync; when a batch completes and records are waiting, they are
 * handed over at once.  At most one batch is in flight, so durability is
 * reported in zxid order.  The log keeps its loop alive only while a batch is
 * in flight.  A write or fsync failure is fatal (logged, abort()): the
 * server cannot honestly continue once it cannot persist.
 *
 * Recovery (txnlog_replay) reads every log file in zxid order, verifies each
 * record's checksum and that zxids increase, and stops at the first torn, corrupt
 * or zero record: the rest of that file is truncated away (logged with file
 * and offset), never applied.  Later files, if any, are ignored and renamed
 * to `*.corrupt` because they could not follow a hole.  A file must also
 * start with the zxid in its name and, within one epoch (zxid >> 32), right
 * after the previous file's last record; one that does not is itself renamed
 * (a lost file tail is such a hole).
 */
#ifndef ZKD_TXNLOG_H
#define ZKD_TXNLOG_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct txnlog;

/* Runs on the loop thread after every record with zxid <= `zxid` is on disk;
 * zxids only grow from call to call.  It may append, flush or close. */
typedef void (*txnlog_durable_cb)(struct txnlog *log, int64_t zxid, void *data);

/*
 * Opens the log for appending in `dir` (which must exist and be writable); a
 * new file is started with the first appended record.  `cb`/`data` receive
 * durability notices.  Starts the log's writer thread.  Loop thread.
 * Returns 0, or -errno (nothing allocated).  OUT: *out, owned by the caller
 * until txnlog_close().
 */
int txnlog_open(struct txnlog **out, uv_loop_t *loop, const char *dir,
                txnlog_durable_cb cb, void *data);

/* Buffers one record (txn_encode's bytes, whose TxnHeader carries `zxid`);
 * `rec` is copied.  zxids must be positive and strictly increasing, `len`
 * TXN_HEADER .. 256 MiB: anything else is a caller bug that would
 * make the log unreadable, so it aborts (logged) before anything is written. */
void txnlog_append(struct txnlog *log, int64_t zxid, const void *rec, size_t len);

/* Starts syncing the buffered batch unless one is already in flight (then the
 * batch follows as soon as that one is durable).  Call it before the loop
 * sleeps, e.g. from a uv_prepare_t. */
void txnlog_flush(struct txnlog *log);

/* Number of records appended but not yet reported durable. */
size_t txnlog_pending(const struct txnlog *log);

/* Sets the preallocation step (preAllocSize; 64 MiB by default, at least
 * 4 KiB) for files started from now on.  Before txnlog_open. */
void txnlog_set_prealloc(int64_t bytes);

/* Makes the next appended record start a new file (used after a snapshot so
 * purging can drop whole files). */
void txnlog_roll(struct txnlog *log);

/* Waits for a batch in flight, writes and fsyncs everything buffered,
 * synchronously (shutdown), stops the writer thread and closes the log.  The
 * durable callback is called for the final batch, before this returns.  Do
 * not use `log` afterwards; its memory is freed by the loop's close
 * callbacks, so run the loop once more (as for any libuv handle). */
void txnlog_close(struct txnlog *log);

/* Called for each valid record with zxid > from during replay; return 0 to
 * continue, non-zero to stop with that value. */
typedef int (*txnlog_replay_cb)(int64_t zxid, const void *rec, size_t len, void *data);

/*
 * Replays all valid records with zxid > `from` in order, truncating a torn or
 * corrupt tail as described above; files whose records all lie at or below
 * `from` are skipped unread.  Call it before txnlog_open() on the same dir.
 * OUT: *last_zxid = highest valid zxid seen in the logs and accepted by the
 * callback, or `from` if none is higher.  Returns 0; -ENODATA if the first
 * record above `from` is not from+1 within from's epoch (the log does not
 * continue the snapshot: files were purged or lost, so replaying would build
 * a wrong tree); another negative errno, also when a needed truncation or
 * rename fails (appending after a tear that is still there would lose the
 * new records at the next recovery); or the callback's non-zero value.
 */
int txnlog_replay(const char *dir, int64_t from, txnlog_replay_cb cb, void *data,
                  int64_t *last_zxid);

/* Reads one log file, read-only (tools: zkd log-dump, verify-datadir): calls
 * `cb` for each valid record in order, until the end of data or the first
 * record that is damaged or out of place.  OUT: *why (NULL at a clean end)
 * and *at, its offset.  Returns 0, the callback's non-zero value, -EPROTO
 * for an unknown version, or -errno. */
int txnlog_scan_file(const char *path, txnlog_replay_cb cb, void *data, const char **why,
                     int64_t *at);

/* Deletes log files whose records all have zxid <= `upto` and that are not
 * needed to replay from `upto` (keeps the file containing upto+1, and always
 * the newest file).  Returns the number of files removed, or -errno if the
 * directory cannot be read. */
int txnlog_purge(const char *dir, int64_t upto);

/* Drops every record with zxid > `upto` from the log files in `dir` (files
 * that start above it are deleted, the one holding it is cut after it),
 * durably.  The log must not be open.  Used when a follower holds
 * transactions the leader's history does not (Zab's TRUNC).  Returns 0 or
 * -errno. */
int txnlog_truncate(const char *dir, int64_t upto);

/* Fills `st` with counters for mntr: batches synced (one fdatasync each),
 * records and bytes written, and the last and longest batch write+sync in
 * ms.  Loop thread. */
struct txnlog_stats {
    uint64_t fsyncs;
    uint64_t records;
    uint64_t bytes;
    double last_fsync_ms;
    double max_fsync_ms;
};
void txnlog_get_stats(const struct txnlog *log, struct txnlog_stats *st);

#endif
