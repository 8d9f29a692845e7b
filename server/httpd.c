/*
 * httpd.c - see httpd.h.  The HTTP thread and the loop meet in `struct
 * httpd`: `mu` guards the queue, `closing` and every job's `done`.
 */
#include "httpd.h"

#include <assert.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "log.h"
#include "tlspem.h"

#define HTTPD_MAX_CONNECTIONS 64

struct job {
    struct httpd_req r;
    int done;              /* guarded by httpd.mu */
    struct job *next;
};

struct httpd {
    struct MHD_Daemon *d;  /* the daemon (with plain_too: the TLS one) */
    struct MHD_Daemon *dplain; /* plain_too: the plain HTTP one */
    /* plain_too: the dispatcher thread, which owns the listening socket */
    pthread_t dispatcher;
    int has_dispatcher;
    int listen_fd;
    int stop_pipe[2];      /* written by httpd_stop to end the dispatcher */
    int idle_ms;
    uv_async_t async;      /* wakes the loop: jobs are queued */
    pthread_mutex_t mu;
    pthread_cond_t cv;     /* a job is done */
    struct job *head, *tail;
    int closing;
    int port;
    char what[32];
    const char *const *arg_names;
    size_t max_body;       /* set before the HTTP thread starts */
    char *tls_key, *tls_cert; /* PEM, for libmicrohttpd (HTTPS), or NULL */
    char *tls_trust;       /* PEM: client certificates are asked for and verified */
    httpd_handler fn;
    void *data;
};

/* ---- loop thread ---- */

static void on_jobs(uv_async_t *a)
{
    struct httpd *h = a->data;
    pthread_mutex_lock(&h->mu);
    struct job *j = h->head;
    h->head = h->tail = NULL;
    pthread_mutex_unlock(&h->mu);
    while (j) {
        struct job *next = j->next; /* j belongs to its HTTP thread once done */
        h->fn(&j->r, h->data);
        pthread_mutex_lock(&h->mu);
        j->done = 1;
        pthread_cond_broadcast(&h->cv);
        pthread_mutex_unlock(&h->mu);
        j = next;
    }
}

/* ---- HTTP thread ---- */

static void remote_text(struct MHD_Connection *conn, char *out, size_t cap)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    out[0] = 0;
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)cap);
}

/* Queues the job for the loop and waits until it is answered (or refused
 * because the endpoint is stopping).  Returns 0 when answered. */
static int run_on_loop(struct httpd *h, struct job *j)
{
    pthread_mutex_lock(&h->mu);
    if (h->closing) {
        pthread_mutex_unlock(&h->mu);
        return -1;
    }
    if (h->tail)
        h->tail->next = j;
    else
        h->head = j;
    h->tail = j;
    uv_async_send(&h->async);
    while (!j->done)
        pthread_cond_wait(&h->cv, &h->mu);
    pthread_mutex_unlock(&h->mu);
    return j->r.status < 0 ? -1 : 0;
}

static enum MHD_Result add_headers(struct MHD_Response *resp, const struct httpd_req *r);

/* Queues the answer; `r` (or NULL) gives extra headers. */
static enum MHD_Result send_answer(struct MHD_Connection *conn, int status, const char *ctype,
                                   const void *body, size_t len, const struct httpd_req *r)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    add_headers(resp, r);
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return rc;
}

void httpd_add_header(struct httpd_req *r, const char *name, const char *value)
{
    if (r->nheaders == HTTPD_MAX_HEADERS)
        return;
    r->headers[r->nheaders].name = name;
    snprintf(r->headers[r->nheaders].value, sizeof r->headers[0].value, "%s", value);
    r->nheaders++;
}

/* The per-request pointer of a request whose body is not kept. */
static int headers_seen;

/* A request's body as it arrives (HTTP thread; freed in on_completed). */
struct upload {
    uint8_t *p;
    size_t len, cap;
    int too_big;
};

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct httpd *h = cls;
    (void)conn;
    (void)toe;
    if (h->max_body && *con_cls && *con_cls != &headers_seen) {
        struct upload *u = *con_cls;
        free(u->p);
        free(u);
    }
    *con_cls = NULL;
}

/* Keeps `n` more body bytes, or marks the upload too big (then drops). */
static void upload_add(struct httpd *h, struct upload *u, const char *p, size_t n)
{
    if (u->too_big || n > h->max_body - u->len) {
        u->too_big = 1;
        return;
    }
    if (u->len + n > u->cap) {
        size_t cap = u->cap ? u->cap : 65536;
        while (cap < u->len + n)
            cap *= 2;
        u->p = zk_xrealloc(u->p, cap);
        u->cap = cap;
    }
    memcpy(u->p + u->len, p, n);
    u->len += n;
}

static enum MHD_Result add_headers(struct MHD_Response *resp, const struct httpd_req *r)
{
    for (int i = 0; r && i < r->nheaders; i++)
        MHD_add_response_header(resp, r->headers[i].name, r->headers[i].value);
    return MHD_YES;
}

/*
 * The verified subject of a TLS client's certificate into `out` ("" on a
 * plain connection, or when no certificate is asked for).  Returns -1 when
 * one is asked for and the client showed none, or one the trust does not
 * verify: such a request is not answered.
 */
static int peer_identity(const struct httpd *h, struct MHD_Connection *conn, char *out, size_t cap)
{
    out[0] = '\0';
    if (!h->tls_trust)
        return 0;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (!ci || !ci->tls_session)
        return 0; /* plain HTTP on a unified port */
    gnutls_session_t tls = (gnutls_session_t)ci->tls_session;
    unsigned n = 0, status = 0;
    const gnutls_datum_t *chain = gnutls_certificate_get_peers(tls, &n);
    if (!chain || !n || gnutls_certificate_verify_peers2(tls, &status) || status) {
        log_debug("%s: a TLS client without a trusted certificate: not answered", h->what);
        return -1;
    }
    char *dn = tlspem_der_subject(chain[0].data, chain[0].size);
    if (!dn)
        return -1;
    snprintf(out, cap, "%s", dn);
    free(dn);
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    struct httpd *h = cls;
    (void)version;
    if (!*con_cls) { /* first call: headers only */
        char dn[sizeof ((struct httpd_req *)0)->peer_dn];
        if (peer_identity(h, conn, dn, sizeof dn))
            return MHD_NO; /* closes the connection */
        /* Bodies are kept only for requests that carry credentials: the commands
         * that read one are all behind authentication, so an anonymous client
         * cannot make zkd hold max_body bytes for it. */
        int keep = h->max_body && MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                              MHD_HTTP_HEADER_AUTHORIZATION);
        *con_cls = keep ? (void *)zk_xcalloc(1, sizeof(struct upload)) : &headers_seen;
        return MHD_YES;
    }
    struct upload *u = h->max_body && *con_cls != &headers_seen ? *con_cls : NULL;
    if (*upload_size) { /* a body: kept up to max_body, else dropped */
        if (u)
            upload_add(h, u, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (u && u->too_big) {
        static const char big[] = "request body too large\n";
        return send_answer(conn, MHD_HTTP_CONTENT_TOO_LARGE, "text/plain", big, sizeof big - 1,
                           NULL);
    }
    struct job j;
    memset(&j, 0, sizeof j);
    j.r.method = method;
    j.r.path = url;
    j.r.auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    for (int i = 0; h->arg_names && h->arg_names[i] && i < HTTPD_MAX_ARGS; i++)
        j.r.args[i] = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, h->arg_names[i]);
    if (u) {
        j.r.upload = u->p;
        j.r.upload_len = u->len;
    }
    remote_text(conn, j.r.remote, sizeof j.r.remote);
    if (peer_identity(h, conn, j.r.peer_dn, sizeof j.r.peer_dn))
        return MHD_NO;
    jute_out_init(&j.r.body);
    enum MHD_Result rc;
    if (run_on_loop(h, &j)) {
        static const char busy[] = "zkd is shutting down\n";
        rc = send_answer(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", busy, sizeof busy - 1,
                         NULL);
    } else {
        rc = send_answer(conn, j.r.status ? j.r.status : MHD_HTTP_OK,
                         j.r.content_type ? j.r.content_type : "application/json", j.r.body.p,
                         j.r.body.len, &j.r);
    }
    jute_out_free(&j.r.body);
    return rc;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct httpd *h = cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = 0;
    log_debug("%s: %s", h->what, line);
}

/* ---- start / stop (loop thread) ---- */

/* A listening socket on addr:port, or -1 with the reason logged.  zkd binds
 * it itself (rather than libmicrohttpd) to log the exact error, as an
 * operator needs it when the port is taken. */
static int listen_socket(const char *what, const char *addr, int port, int *bound)
{
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int rc = getaddrinfo(addr[0] ? addr : NULL, ps, &hints, &ai);
    if (rc) {
        log_error("%s: cannot resolve %s: %s; not started", what, addr, gai_strerror(rc));
        return -1;
    }
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 64)) {
        log_error("%s: cannot listen on %s:%d: %s; zkd keeps serving clients without it", what,
                  addr, port, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    *bound = port;
    if (!getsockname(fd, (struct sockaddr *)&ss, &sl))
        *bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

/* ---- port unification: the dispatcher thread ---- */

/* A TLS record of type handshake (22) opens every TLS connection. */
#define TLS_HANDSHAKE_BYTE 0x16

struct waiting {
    int fd;
    struct sockaddr_storage sa;
    socklen_t sl;
    int64_t since_ms;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Hands the socket of a connection whose first byte arrived to the daemon
 * of its protocol (which owns it from then on, closing it on error), or
 * closes it if the client went away. */
static void dispatch(struct httpd *h, struct waiting *w)
{
    unsigned char first;
    ssize_t n = recv(w->fd, &first, 1, MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n == 1) {
        struct MHD_Daemon *d = first == TLS_HANDSHAKE_BYTE ? h->d : h->dplain;
        if (MHD_add_connection(d, w->fd, (struct sockaddr *)&w->sa, w->sl) != MHD_YES)
            log_debug("%s: a connection was refused: %s", h->what, strerror(errno));
    } else {
        close(w->fd);
    }
    w->fd = -1;
}

static void *dispatcher(void *arg)
{
    struct httpd *h = arg;
    struct waiting w[HTTPD_MAX_CONNECTIONS];
    struct pollfd fds[2 + HTTPD_MAX_CONNECTIONS];
    int n = 0;
    for (;;) {
        fds[0] = (struct pollfd){.fd = h->stop_pipe[0], .events = POLLIN};
        /* At the limit, new connections wait in the kernel's backlog. */
        fds[1] = (struct pollfd){.fd = n < HTTPD_MAX_CONNECTIONS ? h->listen_fd : -1,
                                 .events = POLLIN};
        for (int i = 0; i < n; i++)
            fds[2 + i] = (struct pollfd){.fd = w[i].fd, .events = POLLIN};
        if (poll(fds, (nfds_t)(2 + n), 1000) < 0 && errno != EINTR)
            break;
        if (fds[0].revents)
            break;
        int64_t now = now_ms();
        for (int i = n - 1; i >= 0; i--) { /* from the end: removal swaps in a done one */
            if (fds[2 + i].revents)
                dispatch(h, &w[i]);
            else if (now - w[i].since_ms > h->idle_ms) {
                close(w[i].fd); /* said nothing for the idle timeout */
                w[i].fd = -1;
            }
            if (w[i].fd < 0)
                w[i] = w[--n];
        }
        if (fds[1].revents & POLLIN) {
            struct waiting *nw = &w[n];
            nw->sl = sizeof nw->sa;
            nw->fd = accept4(h->listen_fd, (struct sockaddr *)&nw->sa, &nw->sl,
                             SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (nw->fd >= 0) {
                nw->since_ms = now;
                n++;
            }
        }
    }
    for (int i = 0; i < n; i++)
        close(w[i].fd);
    return NULL;
}

/* Starts one libmicrohttpd daemon: on `fd`, or (fd -1) without a listening
 * socket, fed by the dispatcher.  NULL when libmicrohttpd refuses. */
static struct MHD_Daemon *start_daemon(struct httpd *h, int fd, int tls, unsigned idle_s)
{
    struct MHD_OptionItem tls_opts[] = {
        {tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, h->tls_key},
        {MHD_OPTION_HTTPS_MEM_CERT, 0, h->tls_cert},
        {h->tls_trust ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, 0, h->tls_trust},
        {MHD_OPTION_END, 0, NULL},
    };
    struct MHD_OptionItem listen_opts[] = {
        {fd >= 0 ? MHD_OPTION_LISTEN_SOCKET : MHD_OPTION_END, fd, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
                     (tls ? MHD_USE_TLS : 0) | (fd < 0 ? MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC : 0);
    return MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_ARRAY, tls_opts,
                            MHD_OPTION_ARRAY, listen_opts,
                            MHD_OPTION_CONNECTION_TIMEOUT, idle_s ? idle_s : 1u,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTPD_MAX_CONNECTIONS,
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_END);
}

/* Port unification: both daemons without a listening socket, and the
 * dispatcher on `fd`.  Returns 0, or -1 (nothing left running). */
static int start_unified(struct httpd *h, int fd, unsigned idle_s)
{
    h->listen_fd = fd;
    if (!(h->d = start_daemon(h, -1, 1, idle_s)) || !(h->dplain = start_daemon(h, -1, 0, idle_s)))
        return -1;
    if (pipe2(h->stop_pipe, O_CLOEXEC))
        return -1;
    if (pthread_create(&h->dispatcher, NULL, dispatcher, h)) {
        close(h->stop_pipe[0]);
        close(h->stop_pipe[1]);
        return -1;
    }
    h->has_dispatcher = 1;
    return 0;
}

static char *dup_or_null(const char *s)
{
    return s ? zk_xstrndup(s, strlen(s)) : NULL;
}

struct httpd *httpd_start(uv_loop_t *loop, const char *what, const char *addr, int port,
                          int idle_timeout_ms, size_t max_body, const struct httpd_tls *tls,
                          const char *const *arg_names, httpd_handler fn, void *data)
{
    assert(what && fn);
    for (int i = 0; arg_names && arg_names[i]; i++)
        assert(i < HTTPD_MAX_ARGS); /* the request has room for that many */
    int bound = 0;
    int fd = listen_socket(what, addr, port, &bound);
    if (fd < 0)
        return NULL;
    struct httpd *h = zk_xcalloc(1, sizeof *h);
    snprintf(h->what, sizeof h->what, "%s", what);
    h->port = bound;
    h->listen_fd = -1;
    h->idle_ms = idle_timeout_ms;
    h->arg_names = arg_names;
    h->max_body = max_body;
    h->fn = fn;
    h->data = data;
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    uv_async_init(loop, &h->async, on_jobs);
    h->async.data = h;
    unsigned idle_s = (unsigned)((idle_timeout_ms + 999) / 1000);
    /* libmicrohttpd copies none of the strings: they live in h until stop. */
    if (tls) {
        h->tls_key = dup_or_null(tls->key_pem);
        h->tls_cert = dup_or_null(tls->cert_pem);
        h->tls_trust = dup_or_null(tls->trust_pem);
    }
    int ok = tls && tls->plain_too ? start_unified(h, fd, idle_s) == 0
                                   : (h->d = start_daemon(h, fd, tls != NULL, idle_s)) != NULL;
    if (!ok) {
        log_error("%s: cannot start the HTTP server on %s:%d; zkd keeps serving clients without it",
                  what, addr, bound);
        close(fd);
        h->listen_fd = -1;
        h->closing = 1;
        httpd_stop(h);
        return NULL;
    }
    log_info("%s listening on %s:%d%s%s", what, addr, bound,
             !tls ? "" : tls->plain_too ? " (HTTP and HTTPS)" : " (HTTPS)",
             h->tls_trust ? ", client certificates verified" : "");
    return h;
}

int httpd_port(const struct httpd *h)
{
    return h->port;
}

static void on_closed(uv_handle_t *a)
{
    struct httpd *h = a->data;
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    if (h->tls_key)
        OPENSSL_cleanse(h->tls_key, strlen(h->tls_key));
    free(h->tls_key);
    free(h->tls_cert);
    free(h->tls_trust);
    free(h);
}

void httpd_stop(struct httpd *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    h->closing = 1;
    for (struct job *j = h->head; j; j = j->next) {
        j->r.status = -1; /* refused: the HTTP thread answers 503 */
        j->done = 1;
    }
    h->head = h->tail = NULL;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    if (h->has_dispatcher) { /* first: it hands sockets to the daemons */
        (void)!write(h->stop_pipe[1], "x", 1);
        pthread_join(h->dispatcher, NULL);
        close(h->stop_pipe[0]);
        close(h->stop_pipe[1]);
        h->has_dispatcher = 0;
    }
    if (h->listen_fd >= 0)
        close(h->listen_fd);
    h->listen_fd = -1;
    if (h->d)
        MHD_stop_daemon(h->d); /* joins the HTTP thread, closes its sockets */
    if (h->dplain)
        MHD_stop_daemon(h->dplain);
    h->d = h->dplain = NULL;
    uv_close((uv_handle_t *)&h->async, on_closed);
}
