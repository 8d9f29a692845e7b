/*
 * fanout - holds N ZooKeeper sessions that each watch one node, and
 * timestamps every notification (issue 20: watch fan-out to 100,000).
 *
 * It speaks the client wire protocol itself (ConnectRequest, exists with a
 * watch, ping, closeSession) over non-blocking sockets, T threads each with
 * its own epoll set and a 1/T share of the connections, so one process holds
 * up to RLIMIT_NOFILE - 100 sessions at a few bytes of state each.  zkbench's
 * fanout mode (one libuv thread, a libzk handle per session) spent ~90% of a
 * core at 10,000 sessions and timed each round by its slowest callback; this
 * tool costs one read() per notification and stamps it there.
 *
 * Connections go round-robin over --hosts (one entry per ensemble member), so
 * a driver spreading 100,000 watchers over an ensemble starts one process per
 * ~19,000 (RLIMIT_NOFILE here), and --source gives each process its own
 * loopback address (127.0.0.1+i): one address reaches one server port from
 * at most 28,232 local ports (net.ipv4.ip_local_port_range), so 100,000
 * sessions on one server need 4 of them.  Connects are paced: at most --pace handshakes in flight per
 * thread, so the server's listen backlog never overflows (a dropped SYN
 * costs 1 s, 3 s, 7 s... of retransmission, which looked like a hang).
 *
 * Control, on stdin/stdout (bench/fanout.py drives it):
 *   out: "armed R"        every session holds a watch on --path for round R
 *   in:  "collect S"      the change was made: wait until every session has
 *                         its event or S seconds passed, then
 *   out: "done R GOT DUP" sessions notified, extra events seen; and the
 *                         CLOCK_MONOTONIC ns of each session's first event
 *                         (0: none) as uint64 to --out (one file per round,
 *                         overwritten); then the watches are armed again
 *   in:  "quit"           closeSession on every session, exit
 * A session lost (closed by the server, or its connect failing after the
 * handshake phase) is fatal: "error ..." on stdout, exit 1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { OP_EXISTS = 3, OP_PING = 11, OP_CLOSE = -11, XID_WATCH = -1, XID_PING = -2 };
enum cstate { C_IDLE, C_CONNECTING, C_HANDSHAKE, C_READY, C_CLOSED };

struct fconn {
    int fd;
    enum cstate st;
    int host;
    int timeout_ms;  /* negotiated */
    int armed_round; /* round whose exists reply came back */
    int events;      /* this round */
    uint64_t t_event, last_send, next_ping;
    uint8_t *in;
    size_t in_len, in_cap;
};

struct worker {
    pthread_t tid;
    int ep, first, n; /* conns[first .. first+n) */
    int handshaking, next_connect;
    unsigned seed;
};

static struct {
    struct sockaddr_in *hosts;
    struct sockaddr_in source; /* --source: the local address of every connection */
    int has_source;
    int nhosts, nconns, nthreads, pace, timeout_ms;
    const char *path, *out;
    struct fconn *c;
    struct worker *w;
    atomic_int round;       /* the round the workers arm for */
    atomic_int armed, ready, got, dups;
    atomic_int quitting;
} G;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, int idx)
{
    printf("error %s (session %d, errno %s)\n", what, idx, strerror(errno));
    fflush(stdout);
    exit(1);
}

/* ---- frames ---- */

static uint8_t *put32(uint8_t *p, int32_t v)
{
    uint32_t u = htonl((uint32_t)v);
    memcpy(p, &u, 4);
    return p + 4;
}

static uint8_t *put64(uint8_t *p, int64_t v)
{
    p = put32(p, (int32_t)((uint64_t)v >> 32));
    return put32(p, (int32_t)(uint32_t)v);
}

static int32_t get32(const uint8_t *p)
{
    uint32_t u;
    memcpy(&u, p, 4);
    return (int32_t)ntohl(u);
}

/* Requests are a few dozen bytes on an idle socket: a short write means the
 * kernel's buffer is full of our own requests, which a watcher never has. */
static void send_all(struct fconn *c, const uint8_t *p, size_t len)
{
    ssize_t n = write(c->fd, p, len);
    if (n != (ssize_t)len)
        die("short write", (int)(c - G.c));
    c->last_send = now_ns();
}

static void send_connect(struct fconn *c)
{
    uint8_t b[4 + 45], *p = b + 4;
    p = put32(p, 0);             /* protocolVersion */
    p = put64(p, 0);             /* lastZxidSeen */
    p = put32(p, G.timeout_ms);  /* timeOut */
    p = put64(p, 0);             /* sessionId */
    p = put32(p, 16);            /* passwd */
    memset(p, 0, 16);
    p += 16;
    *p++ = 0;                    /* readOnly */
    put32(b, (int32_t)(p - b - 4));
    send_all(c, b, (size_t)(p - b));
}

static void send_exists(struct fconn *c, int round)
{
    size_t plen = strlen(G.path);
    uint8_t b[64 + 256], *p = b + 4;
    p = put32(p, round); /* xid = the round it arms */
    p = put32(p, OP_EXISTS);
    p = put32(p, (int32_t)plen);
    memcpy(p, G.path, plen);
    p += plen;
    *p++ = 1; /* watch */
    put32(b, (int32_t)(p - b - 4));
    send_all(c, b, (size_t)(p - b));
}

static void send_bare(struct fconn *c, int32_t xid, int32_t op)
{
    uint8_t b[12], *p = b;
    p = put32(p, 8);
    p = put32(p, xid);
    put32(p, op);
    send_all(c, b, sizeof b);
}

/* ---- connections ---- */

static uint64_t ping_interval(const struct fconn *c)
{
    return (uint64_t)c->timeout_ms * 1000000ull / 3;
}

static void start_connect(struct worker *w, int i)
{
    struct fconn *c = &G.c[i];
    c->host = i % G.nhosts;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        die("socket", i);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* The port is picked at connect() for the whole 4-tuple, not at bind() for the address
     * alone, so each --source gives 28,000 ports (net.ipv4.ip_local_port_range) per server. */
    if (G.has_source && (setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one) ||
                         bind(c->fd, (struct sockaddr *)&G.source, sizeof G.source)))
        die("bind --source", i);
    if (connect(c->fd, (struct sockaddr *)&G.hosts[c->host], sizeof G.hosts[0]) && errno != EINPROGRESS)
        die("connect", i);
    c->st = C_CONNECTING;
    w->handshaking++;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)i};
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, c->fd, &ev))
        die("epoll_ctl", i);
}

static void pace_connects(struct worker *w)
{
    while (w->next_connect < w->first + w->n && w->handshaking < G.pace)
        start_connect(w, w->next_connect++);
}

static void on_frame(struct worker *w, struct fconn *c, const uint8_t *f, size_t len)
{
    int idx = (int)(c - G.c);
    if (c->st == C_HANDSHAKE) {
        if (len < 16)
            die("short ConnectResponse", idx);
        c->timeout_ms = get32(f + 4);
        if (c->timeout_ms <= 0)
            die("session refused", idx);
        c->st = C_READY;
        /* the first ping at a random point of the interval: pings keyed to the
         * last send would all fall together after each re-arm, and the
         * background the driver subtracts would be a burst, not a rate */
        c->next_ping = now_ns() + (uint64_t)rand_r(&w->seed) % ping_interval(c);
        w->handshaking--;
        atomic_fetch_add(&G.ready, 1);
        send_exists(c, atomic_load(&G.round));
        return;
    }
    if (len < 16)
        die("short reply", idx);
    int32_t xid = get32(f), err = get32(f + 12);
    if (xid == XID_WATCH) {
        if (c->events++ == 0) {
            c->t_event = now_ns();
            atomic_fetch_add(&G.got, 1);
        } else {
            atomic_fetch_add(&G.dups, 1);
        }
    } else if (xid == XID_PING) {
        /* nothing: any byte read keeps the session */
    } else if (xid > 0) {
        if (err != 0 && err != -101) /* ok, or NONODE: exists still sets the watch */
            die("exists failed", idx);
        c->armed_round = xid;
        atomic_fetch_add(&G.armed, 1);
    }
}

static void on_readable(struct worker *w, struct fconn *c)
{
    for (;;) {
        if (c->in_cap - c->in_len < 4096) {
            c->in_cap = c->in_cap ? c->in_cap * 2 : 8192;
            c->in = realloc(c->in, c->in_cap);
        }
        ssize_t n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            if (atomic_load(&G.quitting))
                return;
            die("connection closed by the server", (int)(c - G.c));
        }
        if (n < 0)
            break;
        c->in_len += (size_t)n;
        size_t off = 0;
        while (c->in_len - off >= 4) {
            int32_t len = get32(c->in + off);
            if (len < 0 || len > (1 << 20))
                die("bad frame length", (int)(c - G.c));
            if (c->in_len - off - 4 < (size_t)len)
                break;
            on_frame(w, c, c->in + off + 4, (size_t)len);
            off += 4 + (size_t)len;
        }
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
        if ((size_t)n < c->in_cap - c->in_len)
            break;
    }
}

static void on_writable(struct worker *w, struct fconn *c)
{
    int idx = (int)(c - G.c), err = 0;
    socklen_t sl = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &sl) || err) {
        errno = err;
        die("connect failed", idx);
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)idx};
    epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->st = C_HANDSHAKE;
    send_connect(c);
}

/* Each session pings every third of its timeout, as clients do when idle
 * (and ours are idle but for the exists after each event). */
static void ping_idle(struct worker *w, uint64_t now)
{
    for (int i = w->first; i < w->first + w->n; i++) {
        struct fconn *c = &G.c[i];
        if (c->st == C_READY && now >= c->next_ping) {
            send_bare(c, XID_PING, OP_PING);
            c->next_ping += ping_interval(c);
        }
    }
}

/* Arms the next round: every session of this worker sends exists again. */
static void rearm(struct worker *w, int round)
{
    for (int i = w->first; i < w->first + w->n; i++) {
        struct fconn *c = &G.c[i];
        c->events = 0;
        c->t_event = 0;
        if (c->st == C_READY)
            send_exists(c, round);
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct epoll_event evs[256];
    int my_round = atomic_load(&G.round);
    uint64_t last_ping_scan = now_ns();
    pace_connects(w);
    while (!atomic_load(&G.quitting)) {
        int n = epoll_wait(w->ep, evs, 256, 10);
        for (int k = 0; k < n; k++) {
            struct fconn *c = &G.c[evs[k].data.u32];
            if (c->st == C_CONNECTING && (evs[k].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
                on_writable(w, c);
            else if (evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                on_readable(w, c);
        }
        pace_connects(w);
        int r = atomic_load(&G.round);
        if (r != my_round) {
            my_round = r;
            rearm(w, r);
        }
        uint64_t now = now_ns();
        if (now - last_ping_scan > 200000000ull) {
            ping_idle(w, now);
            last_ping_scan = now;
        }
    }
    return NULL;
}

/* ---- control ---- */

static void wait_armed(int target)
{
    while (atomic_load(&G.armed) < target)
        usleep(2000);
}

static void write_times(void)
{
    FILE *f = fopen(G.out, "wb");
    if (!f)
        die("cannot write --out", -1);
    for (int i = 0; i < G.nconns; i++)
        fwrite(&G.c[i].t_event, 8, 1, f);
    fclose(f);
}

static void collect(double secs)
{
    uint64_t deadline = now_ns() + (uint64_t)(secs * 1e9);
    while (atomic_load(&G.got) < G.nconns && now_ns() < deadline)
        usleep(1000);
    /* a duplicate would come right behind the first event: give it a moment */
    usleep(200000);
    write_times();
    printf("done %d %d %d\n", atomic_load(&G.round), atomic_load(&G.got), atomic_load(&G.dups));
    fflush(stdout);
}

static void quit(void)
{
    atomic_store(&G.quitting, 1);
    for (int t = 0; t < G.nthreads; t++)
        pthread_join(G.w[t].tid, NULL);
    for (int i = 0; i < G.nconns; i++)
        if (G.c[i].st == C_READY)
            send_bare(&G.c[i], 0x7fffffff, OP_CLOSE);
    /* wait (briefly) for each close reply, so the server has ended the
     * session before we exit rather than letting 20,000 of them expire */
    uint64_t deadline = now_ns() + 10000000000ull;
    for (int i = 0; i < G.nconns && now_ns() < deadline; i++) {
        if (G.c[i].st != C_READY)
            continue;
        int fl = fcntl(G.c[i].fd, F_GETFL);
        fcntl(G.c[i].fd, F_SETFL, fl & ~O_NONBLOCK);
        struct timeval tv = {1, 0};
        setsockopt(G.c[i].fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        char buf[4096];
        while (read(G.c[i].fd, buf, sizeof buf) > 0)
            ;
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: fanout --hosts H:P[,H:P...] --conns N --out FILE [--path /p]\n"
                    "              [--threads T] [--pace P] [--timeout MS] [--source ADDR]\n");
    exit(2);
}

static void parse_hosts(const char *s)
{
    char *dup = strdup(s), *save = NULL;
    for (char *tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *colon = strrchr(tok, ':');
        if (!colon)
            usage();
        *colon = 0;
        G.hosts = realloc(G.hosts, (size_t)(G.nhosts + 1) * sizeof *G.hosts);
        struct sockaddr_in *a = &G.hosts[G.nhosts++];
        memset(a, 0, sizeof *a);
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)atoi(colon + 1));
        if (inet_pton(AF_INET, tok, &a->sin_addr) != 1)
            usage();
    }
    free(dup);
}

int main(int argc, char **argv)
{
    G.nthreads = 2;
    G.pace = 256;
    G.timeout_ms = 40000;
    G.path = "/fan";
    static const struct option opts[] = {
        {"hosts", 1, 0, 'h'},   {"conns", 1, 0, 'n'}, {"threads", 1, 0, 't'}, {"pace", 1, 0, 'p'},
        {"timeout", 1, 0, 'T'}, {"path", 1, 0, 'P'},  {"out", 1, 0, 'o'},     {"source", 1, 0, 's'},
        {0, 0, 0, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'h': parse_hosts(optarg); break;
        case 'n': G.nconns = atoi(optarg); break;
        case 't': G.nthreads = atoi(optarg); break;
        case 'p': G.pace = atoi(optarg); break;
        case 'T': G.timeout_ms = atoi(optarg); break;
        case 'P': G.path = optarg; break;
        case 'o': G.out = optarg; break;
        case 's':
            G.source.sin_family = AF_INET;
            if (inet_pton(AF_INET, optarg, &G.source.sin_addr) != 1)
                usage();
            G.has_source = 1;
            break;
        default: usage();
        }
    }
    if (!G.nhosts || G.nconns < 1 || G.nthreads < 1 || G.pace < 1 || !G.out ||
        strlen(G.path) > 200)
        usage();
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if ((rlim_t)G.nconns + 64 > rl.rlim_cur) {
        fprintf(stderr, "fanout: %d sessions need more than RLIMIT_NOFILE %llu: start more "
                        "processes\n", G.nconns, (unsigned long long)rl.rlim_cur);
        return 2;
    }
    if (G.nthreads > G.nconns)
        G.nthreads = G.nconns;
    G.c = calloc((size_t)G.nconns, sizeof *G.c);
    G.w = calloc((size_t)G.nthreads, sizeof *G.w);
    atomic_store(&G.round, 1);
    for (int t = 0, first = 0; t < G.nthreads; t++) {
        struct worker *w = &G.w[t];
        w->first = w->next_connect = first;
        w->seed = (unsigned)(getpid() * 31 + t);
        w->n = G.nconns / G.nthreads + (t < G.nconns % G.nthreads);
        first += w->n;
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        if (w->ep < 0)
            die("epoll_create1", -1);
        pthread_create(&w->tid, NULL, worker_main, w);
    }
    wait_armed(G.nconns);
    printf("armed 1\n");
    fflush(stdout);
    char line[128];
    while (fgets(line, sizeof line, stdin)) {
        double secs;
        if (sscanf(line, "collect %lf", &secs) == 1) {
            collect(secs);
            /* the next round: reset the counts, then let the workers re-arm */
            atomic_store(&G.got, 0);
            atomic_store(&G.dups, 0);
            atomic_store(&G.armed, 0);
            atomic_fetch_add(&G.round, 1);
            wait_armed(G.ready);
            printf("armed %d\n", atomic_load(&G.round));
            fflush(stdout);
        } else if (!strncmp(line, "quit", 4)) {
            break;
        }
    }
    quit();
    return 0;
}
