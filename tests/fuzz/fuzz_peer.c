/*
 * fuzz_peer.c - libFuzzer target for what zkd reads from other ensemble
 * members: the peer link framing (peer.c, process_input), leader election
 * messages (election.c: hello, notifications) and the Zab messages a leader
 * reads from its learners (quorum.c: FINFO, ACKEPOCH, ACK, REQUEST with the
 * client request it forwards, CONNECT, PINGACK, UPGRADE; local sessions are
 * on, so requests of sessions it does not know run as another member's).
 *
 * Those decoders are the handlers of live peer links, so the harness talks
 * to them the way a member does: over loopback TCP.  Once per process it
 * starts one ensemble member, server 1 of two voters; the harness itself
 * plays server 2 (the `fake` below: it votes for server 1, then follows it,
 * acknowledging proposals and answering pings), so server 1 leads an
 * established quorum and handles every learner message.  Server 3 is an
 * observer nobody runs, for inputs to introduce themselves as.  For every
 * input the harness opens a fresh connection to the member's election port
 * or quorum port, writes the input, shuts its side down, and runs the
 * member's loop until the member has closed the link (it closes at EOF, or
 * earlier on a bad message), draining whatever the member answers.  State
 * accumulates across inputs, as it would on a long-lived leader; an input
 * that costs the leader its quorum (say, a FINFO claiming to be server 2)
 * is followed by a new election and synchronization before the next one.
 * The follower side (messages from a leader) is not covered here; its
 * PROPOSAL payloads are the txn records fuzz_request decodes, and the bytes
 * of its SNAPRECs are a snapshot body (fuzz_datadir) and "BenWasHere"
 * (zab_snap_frame, fuzz_zab).
 *
 * Input: bit 0 of byte 0 picks the port (0: election, 1: quorum); the rest
 * is the byte stream as on the wire ([u32 length][message]...).
 * Build: CC=clang cmake -DZK_FUZZ=ON; seeds: tests/fuzz/corpus/peer.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "zk/jute.h"
#include "config.h"
#include "quorum.h"
#include "server.h"

static struct server srv;
static uv_loop_t *loop;
static char dir[64];
static int election_port, quorum_port;

static void fake_close(void);

static void cleanup(void)
{
    fake_close();
    fuzz_remove_dir(dir);
}

/* A loopback port nobody listens on right now. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t n = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) ||
        getsockname(fd, (struct sockaddr *)&a, &n))
        abort();
    close(fd);
    return ntohs(a.sin_port);
}

static void add_server(struct zkd_config *cfg, int id, int observer, int qport, int eport)
{
    struct zkd_server_line *sl = &cfg->servers[cfg->nservers++];
    sl->id = id;
    snprintf(sl->host, sizeof sl->host, "127.0.0.1");
    sl->quorum_port = qport;
    sl->election_port = eport;
    sl->observer = observer;
}

static int connect_to(int port);

/* ---- server 2, played by the harness ---- */

enum { QM_LINFO = 2, QM_ACKEPOCH = 3, QM_PROPOSAL = 8, QM_NEWLEADER = 9, QM_ACK = 10,
       QM_PING = 16, QM_PINGACK = 17 };

static struct {
    int efd, qfd;       /* our election and quorum links to server 1, or -1 */
    uint8_t *in;        /* bytes read from qfd not yet handled */
    size_t len, cap;
    int64_t round;      /* of our last election notification */
} fake = {-1, -1, NULL, 0, 0, 1000};

/* Sends one message (blocking; they are small) with its length prefix. */
static void send_msg(int fd, const uint8_t *p, size_t n)
{
    uint8_t h[4];
    zk_be32_put(h, (uint32_t)n);
    if (send(fd, h, 4, MSG_NOSIGNAL) != 4 || send(fd, p, n, MSG_NOSIGNAL) != (ssize_t)n)
        return; /* the link is gone: establish() starts over */
}

static void send_long(int fd, uint8_t type, int64_t v)
{
    uint8_t m[9] = {type};
    zk_be64_put(m + 1, (uint64_t)v);
    send_msg(fd, m, sizeof m);
}

static void fake_close(void)
{
    if (fake.efd >= 0)
        close(fake.efd);
    if (fake.qfd >= 0)
        close(fake.qfd);
    fake.efd = fake.qfd = -1;
    free(fake.in);
    fake.in = NULL;
    fake.len = fake.cap = 0;
}

/* Hello, then a vote for server 1 in the member's round or a later one.
 * A real server 2 would learn the member's round from its notifications
 * (an input may have pushed it far up, with a vote in round 2^40 from a
 * "server 2"); the fake cannot hear them, since nobody listens on server
 * 2's election port, so it reads the round instead. */
static void fake_vote(void)
{
    int64_t member_round = quorum_election_round(srv.q);
    if (member_round > fake.round)
        fake.round = member_round;
    uint8_t h[5] = {'H'};
    zk_be32_put(h + 1, 2);
    send_msg(fake.efd, h, sizeof h);
    uint8_t n[1 + 4 + 1 + 4 + 8 + 8 + 8] = {'N'};
    zk_be32_put(n + 1, 2);
    n[5] = 0; /* LOOKING */
    zk_be32_put(n + 6, 1);
    zk_be64_put(n + 10, 0);
    zk_be64_put(n + 18, 0);
    zk_be64_put(n + 26, (uint64_t)fake.round);
    send_msg(fake.efd, n, sizeof n);
}

/* FOLLOWERINFO: server 2, a voter, that has nothing and needs a snapshot. */
static void fake_finfo(void)
{
    uint8_t m[1 + 4 + 1 + 8 + 8 + 8] = {1};
    zk_be32_put(m + 1, 2);
    zk_be64_put(m + 6, 0);
    zk_be64_put(m + 14, 0);
    zk_be64_put(m + 22, 0);
    send_msg(fake.qfd, m, sizeof m);
}

/* Answers what the leader sent on our quorum link: as a follower would. */
static void fake_service(void)
{
    if (fake.qfd < 0)
        return;
    for (;;) {
        if (fake.cap - fake.len < 65536)
            fake.in = realloc(fake.in, fake.cap = fake.cap * 2 + 65536);
        ssize_t r = recv(fake.qfd, fake.in + fake.len, fake.cap - fake.len, MSG_DONTWAIT);
        if (r <= 0)
            break;
        fake.len += (size_t)r;
    }
    size_t off = 0;
    while (fake.len - off >= 4) {
        const uint8_t *h = fake.in + off;
        uint32_t n = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
        if (fake.len - off - 4 < n)
            break;
        const uint8_t *m = fake.in + off + 4;
        if (n >= 1 && m[0] == QM_LINFO) {
            uint8_t a[17] = {QM_ACKEPOCH}; /* current epoch 0, last zxid -1: send a snapshot */
            zk_be64_put(a + 1, 0);
            zk_be64_put(a + 9, UINT64_MAX);
            send_msg(fake.qfd, a, sizeof a);
        }
        else if (n >= 17 && m[0] == QM_NEWLEADER)
            send_long(fake.qfd, QM_ACK, (int64_t)zk_be64_get(m + 9));
        else if (n >= 9 && m[0] == QM_PROPOSAL)
            send_long(fake.qfd, QM_ACK, (int64_t)zk_be64_get(m + 1));
        else if (n >= 1 && m[0] == QM_PING) {
            uint8_t a[5] = {QM_PINGACK};
            send_msg(fake.qfd, a, sizeof a);
        }
        off += 4 + n;
    }
    memmove(fake.in, fake.in + off, fake.len - off);
    fake.len -= off;
}

/* Runs elections and synchronization until server 1 leads with us as its
 * follower.  Aborts (a harness failure, not a finding) after 20 tries. */
static void establish(void)
{
    for (int attempt = 0; attempt < 20; attempt++) {
        fake_close();
        fake.round++;
        fake.efd = connect_to(election_port);
        int64_t start = clock_mono_ms();
        while (clock_mono_ms() - start < 3000) {
            if ((clock_mono_ms() - start) / 100 != (clock_mono_ms() - start + 10) / 100)
                fake_vote(); /* every 100 ms until it decides */
            if (fake.qfd < 0 && clock_mono_ms() - start > 150) {
                fake.qfd = connect_to(quorum_port);
                fake_finfo();
            }
            uv_run(loop, UV_RUN_NOWAIT);
            fake_service();
            if (srv.q && quorum_serving(srv.q))
                return;
            usleep(1000); /* only while (re)establishing, never per input */
        }
    }
    fprintf(stderr, "fuzz_peer: server 1 never led a quorum with the harness\n");
    abort();
}

static void setup(void)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof dir, "%s/zkfuzz-peer.XXXXXX", base);
    if (!mkdtemp(dir))
        abort();
    atexit(cleanup);
    char path[128];
    snprintf(path, sizeof path, "%s/myid", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        abort();
    fputs("1\n", f);
    fclose(f);

    static struct zkd_config cfg;
    config_defaults(&cfg);
    snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", dir);
    snprintf(cfg.data_log_dir, sizeof cfg.data_log_dir, "%s", dir);
    cfg.client_port = 0;
    cfg.admin_enable = 0; /* no AdminServer on 8080: not under test, and a port others use */
    cfg.extended_types_enabled = 1;
    cfg.snap_count = 1 << 30; /* never snapshot: that forks */
    cfg.standalone_enabled = 0;
    cfg.local_sessions = cfg.local_sessions_upgrading = 1;
    cfg.init_limit = 10;
    cfg.sync_limit = 5;
    election_port = free_port();
    quorum_port = free_port();
    add_server(&cfg, 1, 0, quorum_port, election_port);
    add_server(&cfg, 2, 0, free_port(), free_port());
    add_server(&cfg, 3, 1, free_port(), free_port());
    setenv("ZKD_LOG_LEVEL", "error", 0); /* ZKD_LOG_LEVEL=info shows what each input does */
    loop = uv_default_loop();
    if (server_start(&srv, loop, &cfg))
        abort();
    establish();
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a))
        abort();
    return fd;
}

/* Sends the input, then runs the member until it has closed the link. */
static void talk(int port, const uint8_t *p, size_t n)
{
    int fd = connect_to(port);
    int sent_all = 0;
    for (int i = 0; i < 20000; i++) {
        if (!sent_all) {
            ssize_t w = send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (w > 0) {
                p += w;
                n -= (size_t)w;
            } else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
                n = 0; /* the member closed the link early */
            }
            if (n == 0) {
                shutdown(fd, SHUT_WR);
                sent_all = 1;
            }
        }
        uv_run(loop, UV_RUN_NOWAIT);
        fake_service();
        char buf[65536];
        ssize_t r;
        while ((r = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
            ;
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            break; /* the member closed its end */
    }
    close(fd);
    uv_run(loop, UV_RUN_NOWAIT);
    fake_service();
    if (!quorum_serving(srv.q))
        establish();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!loop)
        setup();
    if (size < 1)
        return 0;
    talk(data[0] & 1 ? quorum_port : election_port, data + 1, size - 1);
    return 0;
}
