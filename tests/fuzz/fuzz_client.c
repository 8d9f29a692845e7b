/*
 * fuzz_client.c - libFuzzer target for libzk's decoding of what a server
 * sends: every frame after the handshake, and the handshake reply.
 *
 * These are the functions session.c's frame reader (handle_frame,
 * handle_connect_response, handle_notification) hands each frame to, so a
 * hostile or broken server reaches exactly this code:
 *   zk__reply_decode          the body of a reply to each request type, multi and
 *                         multiRead results included (zk__txn_decode)
 *   zk__event_decode          a WatcherEvent, then zk__watch_trigger on a table that
 *                         holds watches of every kind, as delivery does
 *   zk__connect_reply_decode  the ConnectResponse
 *
 * Input: byte 0 picks the record (a reply to OPS[i], an event, or a connect
 * response); bit 0 of byte 1 decodes under the chroot "/app"; the rest is
 * the frame as it follows the length prefix on the wire (reply header
 * xid, zxid, err, then the body; no header for the ConnectResponse).
 * Build: CC=clang cmake -DZK_FUZZ=ON; seeds: tests/fuzz/corpus/client.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"
#include "watch.h"
#include "zk/proto.h"

static const int OPS[] = {
    ZK_OP_CREATE,         ZK_OP_CREATE2,    ZK_OP_CREATECONTAINER,
    ZK_OP_CREATETTL,      ZK_OP_SYNC,       ZK_OP_EXISTS,
    ZK_OP_SETDATA,        ZK_OP_SETACL,     ZK_OP_GETDATA,
    ZK_OP_GETACL,         ZK_OP_GETCHILDREN, ZK_OP_GETCHILDREN2,
    ZK_OP_GETEPHEMERALS,  ZK_OP_GETALLCHILDRENNUMBER, ZK_OP_WHOAMI,
    ZK_OP_MULTI,          ZK_OP_MULTIREAD,  ZK_OP_DELETE,
    ZK_OP_CHECKWATCHES,   ZK_OP_CLOSESESSION,
};
#define NOPS (sizeof OPS / sizeof OPS[0])

static void watcher(zk_t *zk, const struct zk_event *ev, void *data)
{
    (void)zk, (void)ev, (void)data;
}

/* As handle_frame then handle_reply: header, then the body for `op`. */
static void fuzz_reply(int op, const char *chroot, const uint8_t *p, size_t n)
{
    struct jute_in in;
    jute_in_init(&in, p, n);
    (void)jute_get_int(&in); /* xid */
    int64_t zxid = jute_get_long(&in);
    int32_t err = jute_get_int(&in);
    if (in.err)
        return;
    struct zk_pending pend = {.op = op, .api_op = op};
    struct zk_result res = {.op = op, .err = err, .zxid = zxid, .data_len = -1};
    zk__reply_decode(&pend, &in, chroot, &res);
    zk__result_clear(&res);
}

static void fuzz_event(const char *chroot, const uint8_t *p, size_t n)
{
    struct jute_in in;
    jute_in_init(&in, p, n);
    (void)jute_get_int(&in);
    (void)jute_get_long(&in);
    (void)jute_get_int(&in);
    int type, state;
    char *path;
    if (in.err || zk__event_decode(&in, chroot, &type, &state, &path))
        return;
    struct watch_table t;
    zk__watch_table_init(&t);
    static const char *const paths[] = {"/", "/a", "/a/b", "/app"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        for (int kind = WK_DATA; kind < WK_COUNT; kind++)
            zk__watch_add(&t, paths[i], kind, watcher, NULL);
    zk__watch_add(&t, path, WK_DATA, watcher, NULL);
    struct watch_ref *refs;
    zk__watch_trigger(&t, type, path, &refs);
    free(refs);
    zk__watch_table_free(&t);
    free(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t pick = data[0] % (NOPS + 2);
    const char *chroot = data[1] & 1 ? "/app" : NULL;
    data += 2;
    size -= 2;
    if (pick < NOPS) {
        fuzz_reply(OPS[pick], chroot, data, size);
    } else if (pick == NOPS) {
        fuzz_event(chroot, data, size);
    } else {
        struct connect_reply cr;
        zk__connect_reply_decode(data, size, &cr);
    }
    return 0;
}
