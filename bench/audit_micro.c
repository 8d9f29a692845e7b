/*
 * audit_micro - what one audit line costs zkd, apart from the rest of the
 * server and from the machine's load (bench/metrics_cost.py measures the
 * whole server, whose CPU per op moves by more than the audit log's cost on
 * a loaded machine).
 *
 *   build/bin/audit_micro FILE [LINES [LINES_PER_SEC]]
 *
 * Stages LINES setData lines (default 1000000) as the loop thread does for
 * a client (audit_write_op on a request body, audit_flush every 256 lines,
 * i.e. once per loop iteration of a busy server), paced at LINES_PER_SEC
 * (default 187000, the set 8x32 rate of a quiet 2-core machine) so that
 * the writer thread keeps up as in the server, and prints:
 *   loop ns/line   - this thread's CPU inside the audit calls (its
 *                    CLOCK_THREAD_CPUTIME_ID around each 256 lines and
 *                    their flush, less what reading that clock costs:
 *                    time on other threads' turns is not counted);
 *   writer ns/line - the writer thread's CPU (process CPU minus this
 *                    thread's), i.e. formatting and write(2).
 * FILE is appended to; remove it afterwards.  FILE "-" leaves the audit log
 * off: the harness's own cost.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acl.h"
#include "audit.h"
#include "config.h"
#include "zk/jute.h"
#include "zk/proto.h"

static double clock_s(clockid_t c)
{
    struct timespec t;
    clock_gettime(c, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* A setData request body: path, 32 bytes of data, version -1. */
static size_t set_body(uint8_t *b, const char *path)
{
    uint32_t n = htonl((uint32_t)strlen(path)), d = htonl(32), v = 0xffffffffu;
    size_t at = 0;
    memcpy(b + at, &n, 4);
    at += 4;
    memcpy(b + at, path, strlen(path));
    at += strlen(path);
    memcpy(b + at, &d, 4);
    at += 4;
    memset(b + at, 'x', 32);
    at += 32;
    memcpy(b + at, &v, 4);
    return at + 4;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE [LINES [LINES_PER_SEC]]\n", argv[0]);
        return 2;
    }
    long lines = argc > 2 ? atol(argv[2]) : 1000000;
    double rate = argc > 3 ? atof(argv[3]) : 187000;
    static struct zkd_config cfg;
    cfg.audit_enable = 1;
    snprintf(cfg.audit_log_file, sizeof cfg.audit_log_file, "%s", argv[1]);
    if (strcmp(argv[1], "-") && audit_open(&cfg))
        return 1;
    struct auth_id id = {.scheme = "ip", .id = "127.0.0.1"};
    struct auth_info auth = {.n = 1, .ids = &id};
    uint8_t body[128];
    size_t len = set_body(body, "/zkbench/k000123");

    /* What reading the thread's CPU clock twice costs, to subtract. */
    double c0 = clock_s(CLOCK_THREAD_CPUTIME_ID), c1 = c0;
    for (int i = 0; i < 1000; i++)
        c1 = clock_s(CLOCK_THREAD_CPUTIME_ID);
    double bracket = (c1 - c0) / 1000;

    double t0 = clock_s(CLOCK_MONOTONIC), th0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
    double pr0 = clock_s(CLOCK_PROCESS_CPUTIME_ID), inside = 0, a = th0;
    for (long i = 0; i < lines; i++) {
        struct jute_in in;
        jute_in_init(&in, body, len);
        audit_write_op(0x1000a00000001LL, &auth, ZK_OP_SETDATA, in, NULL, 0, 0);
        if (i % 256 == 255) {
            audit_flush();
            inside += clock_s(CLOCK_THREAD_CPUTIME_ID) - a - bracket;
            /* pace (spinning: no syscall in the measured time) */
            while (clock_s(CLOCK_MONOTONIC) < t0 + (double)(i + 1) / rate)
                ;
            a = clock_s(CLOCK_THREAD_CPUTIME_ID);
        }
    }
    double th1 = clock_s(CLOCK_THREAD_CPUTIME_ID);
    audit_flush();
    audit_close();
    free(auth.audit_prefix); /* (audit.c's cache of the line's first fields) */
    double pr1 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    printf("audit_micro: %ld lines at %.0f/s: loop %.1f ns/line, writer %.1f ns/line\n", lines,
           rate, inside * 1e9 / (double)(lines - lines % 256),
           ((pr1 - pr0) - (th1 - th0)) * 1e9 / (double)lines);
    return 0;
}
