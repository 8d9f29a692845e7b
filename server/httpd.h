/*
 * httpd.h - a small HTTP endpoint for zkd's operational interfaces (the
 * AdminServer, the Prometheus /metrics endpoint), on GNU libmicrohttpd.
 *
 * THREADS.  libmicrohttpd parses HTTP in its own thread, so a slow or hostile
 * HTTP client never stalls the request path.  Answers, though, are built from
 * server state that only the loop thread may touch; so the HTTP thread hands
 * each complete request to the loop (a queue and a uv_async_t), and waits on a
 * condition variable until the loop's handler has filled in the response.
 * The loop runs the handler between two batches of client I/O, as it would
 * any timer: no lock is held while server state is read, and the request
 * path pays nothing when nobody asks.
 *
 * SHUTDOWN.  httpd_stop (loop thread) answers every queued request with 503,
 * refuses new ones, then stops libmicrohttpd, which joins its thread: the
 * HTTP thread never waits for a loop that is no longer running.
 *
 * TLS.  With a `tls` identity the endpoint speaks HTTPS (libmicrohttpd's
 * GnuTLS).  With `plain_too` it speaks both on the one port, as Apache's
 * UnifiedConnectionFactory does: libmicrohttpd cannot, so httpd owns the
 * listening socket, and a dispatcher thread accepts each connection, peeks
 * at its first byte without consuming it (a TLS ClientHello record starts
 * 0x16; an HTTP request with a method's letter), and hands the socket to
 * one of two libmicrohttpd daemons that have no listening socket of their
 * own (MHD_add_connection).  A connection that sends nothing is closed
 * after the idle timeout; at most HTTPD_MAX_CONNECTIONS wait for their
 * first byte.  With `trust_pem` a TLS client is asked for a certificate,
 * and a request on a TLS connection whose client showed none, or one the
 * trust does not verify, is not answered: the connection is closed (Jetty
 * with needClientAuth refuses the handshake itself; libmicrohttpd can only
 * ask for a certificate, not require one).  A verified certificate's
 * subject reaches the handler as r->peer_dn.
 *
 * LIMITS.  A request body is collected (for the handler's r->upload) up to
 * the `max_body` given at start, else answered 413 without reaching the
 * loop; with max_body 0 bodies are read and dropped.  libmicrohttpd bounds
 * header size (answering 431/413 itself), connections (64) and idle time
 * (the `idle_timeout_ms` given, rounded up to seconds).
 */
#ifndef ZKD_HTTPD_H
#define ZKD_HTTPD_H

#include <stddef.h>
#include <uv.h>

#include "zk/jute.h"

#define HTTPD_MAX_ARGS 4
#define HTTPD_MAX_HEADERS 4

/* One request, as the loop-thread handler sees it. */
struct httpd_req {
    const char *method;   /* "GET", "POST", ... */
    const char *path;     /* URL path without the query string */
    const char *auth;     /* Authorization header, or NULL */
    const char *args[HTTPD_MAX_ARGS]; /* values of the endpoint's query arguments, by
                                       * position in its `arg_names`; NULL if absent */
    char remote[64];      /* client IP address, as text */
    char peer_dn[1024];   /* the verified client certificate's subject (RFC 2253), or "" */
    const uint8_t *upload; /* the request body (max_body > 0), owned by httpd */
    size_t upload_len;
    /* filled in by the handler: */
    int status;           /* HTTP status; 200 when left 0 */
    const char *content_type;
    struct jute_out body;
    int nheaders;         /* extra response headers (names: static strings) */
    struct {
        const char *name;
        char value[64];
    } headers[HTTPD_MAX_HEADERS];
};

typedef void (*httpd_handler)(struct httpd_req *r, void *data);

struct httpd;

/*
 * Listens on addr:port and serves every request with `fn(r, data)` on the
 * loop thread.  `arg_names` (NULL-terminated, at most HTTPD_MAX_ARGS, or NULL)
 * names the query arguments passed in r->args.  `what` names the endpoint in
 * log lines.  `max_body`: the largest request body kept for r->upload (0:
 * bodies are dropped).  `tls` (or NULL): serve HTTPS, with that identity, and
 * plain HTTP on the same port too if tls->plain_too (see TLS above).  Returns the
 * endpoint, or NULL with the reason logged (e.g. the port is taken).
 */
struct httpd_tls {
    const char *key_pem;  /* the private key, PEM (copied by httpd_start) */
    const char *cert_pem; /* the certificate and its chain, PEM */
    const char *trust_pem; /* CAs that sign client certificates, PEM, or NULL: none is
                            * asked for (copied) */
    int plain_too;        /* also plain HTTP on the port (port unification) */
};
struct httpd *httpd_start(uv_loop_t *loop, const char *what, const char *addr, int port,
                          int idle_timeout_ms, size_t max_body, const struct httpd_tls *tls,
                          const char *const *arg_names, httpd_handler fn, void *data);
/* Adds a response header (at most HTTPD_MAX_HEADERS; more are dropped). */
void httpd_add_header(struct httpd_req *r, const char *name, const char *value);
/* The port it listens on (the one chosen by the kernel when 0 was asked). */
int httpd_port(const struct httpd *h);
/* Stops serving and frees `h` once its handles are closed (loop thread). */
void httpd_stop(struct httpd *h);

#endif
