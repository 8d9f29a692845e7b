/*
 * config.c - reads Apache ZooKeeper 3.8's zoo.cfg into struct zkd_config.
 *
 * SYNTAX.  The file is a java.util.Properties file, read the way
 * Properties.load reads it, so a zoo.cfg that Apache accepts means the same
 * thing here:
 *
 *   - A natural line ends at "\n", "\r" or "\r\n".  Leading blanks (space,
 *     tab, form feed) are skipped.  A line whose first non-blank character is
 *     '#' or '!' is a comment; a blank line is skipped.
 *   - A line ending in an odd number of backslashes continues on the next
 *     natural line (the backslash, the line break and the next line's leading
 *     blanks are dropped).  Errors name the line where the entry starts.
 *   - The key ends at the first unescaped '=', ':' or blank.  Blanks, then
 *     one '=' or ':', then blanks again separate it from the value, so
 *     "k=v", "k: v" and "k v" are the same entry.
 *   - Escapes are Java's: \t \n \r \f, \uXXXX (written out as UTF-8), and a
 *     backslash before any other character stands for that character (so a
 *     Windows path needs "\\").  Bytes are otherwise taken verbatim: Java
 *     would decode the file as ISO-8859-1, we keep UTF-8 paths intact.
 *   - Key and value are trimmed (Apache's parseProperties trims both).  The
 *     last assignment of a key wins.  Paths are stored as written: neither
 *     made absolute nor checked for existence here.
 *
 * KEYS.  `keys[]` below is the whole vocabulary, one row per key or key
 * prefix ("authProvider.*"), grouped as the ZooKeeper Administrator's Guide
 * groups them.  A row says how to parse the value (integer with bounds,
 * true/false, string, or a handler) and where it lands in the struct; exact
 * names are matched before prefixes.  A key that is in no row is tried again
 * without a leading "zookeeper.": Apache turns every key it does not know
 * into the system property "zookeeper.<key>", so "zookeeper.snapCount" and
 * "snapCount" both set snapCount.  A "zookeeper.*" key that still matches
 * nothing is a system property zkd has no use for and is ignored.  Any other
 * key is an error:
 *
 *     zoo.cfg:7: unknown key 'tickTyme'
 *     zoo.cfg:3: invalid value 'x' for key 'clientPort' (not an integer)
 *
 * Rows of kind K_IGNORE are documented Apache keys that tune the JVM server
 * (admin server, metrics, NIO/Netty, preallocation, throttles...) and have no
 * meaning for zkd; they are accepted so an Apache zoo.cfg runs unchanged.
 * K_WARN rows are ignored too but change behaviour a user may rely on (e.g.
 * sslQuorum), so each one logs a warning.  K_FALSE_ONLY rows name security
 * features zkd lacks: "false" is accepted, "true" is an error rather than a
 * silently weaker server.
 *
 * zkd EXTENSIONS AND DIFFERENCES FROM APACHE.
 *   - jaasLoginFile=PATH: the JAAS file holding the Server section for SASL
 *     (Apache takes it from -Djava.security.auth.login.config).
 *   - pollSpinMicros=N: after client input, keep polling this long before
 *     sleeping (server_run in server.c); 0 turns it off.
 *   - TLS material must be PEM.  ssl.keyStore.location may name one PEM file
 *     holding the certificate chain and the private key; ssl.certFile and
 *     ssl.keyFile name them separately and win over the key store whatever
 *     their order in the file; ssl.trustStore.location or ssl.caFile names
 *     the CA bundle (ssl.caFile wins).  A .jks/.p12/.pfx store or a store
 *     type other than PEM is an error that says to convert it.
 *   - ssl.clientAuth defaults to "need", as in Apache's X509Util.
 *   - superDigest is accepted as a short form of
 *     DigestAuthenticationProvider.superDigest.
 *   - An unknown name in 4lw.commands.whitelist is an error (Apache ignores
 *     it).  As in Apache, srvr is always allowed and isro is allowed when
 *     readonlymode.enabled=true.
 *   - server.N ids must be 0..255 (they form the top byte of session ids).
 *     Multiple addresses per server ("a:1:2|b:1:2") and hierarchical quorums
 *     (group.N / weight.N) are not supported.
 *
 * DERIVED VALUES AND VALIDATION (after the whole file is read, so order in
 * the file never matters): minSessionTimeout/maxSessionTimeout left unset or
 * set to -1 become 2 and 20 ticks; dataLogDir defaults to dataDir;
 * autopurge.snapRetainCount below 3 becomes 3 and a negative purgeInterval
 * becomes 0, as in Apache.  Then: dataDir must be set; some client port must
 * exist (clientPort, secureClientPort or a ";port" on a server line);
 * *Address keys need their port; min <= max session timeout; TLS needs its
 * certificate and key; with more than one participant (or
 * standaloneEnabled=false) initLimit and syncLimit must be set; observers
 * need participants.  These errors name the file but no line.
 *
 * dynamicConfigFile: as in Apache, server.N lines then live only in that
 * file (a server.N line in zoo.cfg is an error), which may hold nothing but
 * server.N lines.
 */
#include "config.h"

#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Bit order of zkd_config.fourlw_mask; append only, never reorder. */
const char *const zkd_4lw_names[] = {
    "ruok", "srvr", "stat", "mntr", "conf", "cons", "crst", "envi", "wchs",
    "wchc", "wchp", "dump", "dirs", "isro", "srst", "gtmk", "stmk", NULL,
};

#define CONFIG_MAX_FILE (4 << 20) /* a zoo.cfg bigger than this is a mistake */

/* ------------------------------------------------------------------------ */
/* Parse state and error reporting                                           */
/* ------------------------------------------------------------------------ */

/*
 * State of one config_parse call.  The ssl_* pointers point into the main
 * file's text, which lives until config_parse returns; they are resolved into
 * cfg only after the whole file is read so that precedence ignores order.
 */
struct parse {
    struct zkd_config *cfg;
    const char *file; /* file being read: cfg->path or the dynamic file */
    int line;         /* line of the entry being applied */
    int dynamic;      /* reading the dynamic config file */
    int first_server_line; /* first server.N line of zoo.cfg; 0 = none */
    char *err;
    int errlen;
    const char *ssl_keystore, *ssl_cert_file, *ssl_key_file;
    const char *ssl_truststore, *ssl_ca_file;
    const char *ssl_q_keystore, *ssl_q_truststore; /* ssl.quorum.* */
};

static int fail(struct parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes "FILE:LINE: <message>" (or "FILE: " when no line) into p->err; returns -1. */
static int fail(struct parse *p, const char *fmt, ...)
{
    if (!p->err || p->errlen <= 0)
        return -1;
    int n = p->line > 0 ? snprintf(p->err, (size_t)p->errlen, "%s:%d: ", p->file, p->line)
                        : snprintf(p->err, (size_t)p->errlen, "%s: ", p->file);
    if (n < 0 || n >= p->errlen)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err + n, (size_t)(p->errlen - n), fmt, ap);
    va_end(ap);
    return -1;
}

/* The one shape of a bad-value error: "invalid value 'v' for key 'k' (why)". */
static int bad_value(struct parse *p, const char *key, const char *val, const char *why)
{
    return fail(p, "invalid value '%s' for key '%s' (%s)", val, key, why);
}

/* ------------------------------------------------------------------------ */
/* Value parsers                                                             */
/* ------------------------------------------------------------------------ */

/*
 * Parses a whole-string integer in [lo, hi].  base 10 is Integer.parseInt;
 * base 0 is Integer.decode (0x hex, leading-0 octal), which Java uses for
 * integer system properties such as jute.maxbuffer.
 */
static int parse_int(struct parse *p, const char *key, const char *val, int base, int lo,
                     int hi, int *out)
{
    char *end;
    errno = 0;
    long v = *val ? strtol(val, &end, base) : 0;
    if (!*val || *end || isspace((unsigned char)*val))
        return bad_value(p, key, val, "not an integer");
    if (errno == ERANGE || v < lo || v > hi) {
        char why[80];
        if (hi == INT_MAX)
            snprintf(why, sizeof why, "must be >= %d", lo);
        else
            snprintf(why, sizeof why, "must be between %d and %d", lo, hi);
        return bad_value(p, key, val, why);
    }
    *out = (int)v;
    return 0;
}

/* Apache's parseBoolean: "true" or "false", any case, nothing else. */
static int parse_bool(struct parse *p, const char *key, const char *val, int *out)
{
    if (!strcasecmp(val, "true"))
        *out = 1;
    else if (!strcasecmp(val, "false"))
        *out = 0;
    else
        return bad_value(p, key, val, "must be true or false");
    return 0;
}

/* Copies val into a fixed-size field; an empty value is an error when !empty_ok. */
static int copy_str(struct parse *p, const char *key, const char *val, char *dst,
                    size_t size, int empty_ok)
{
    size_t n = strlen(val);
    if (!n && !empty_ok)
        return bad_value(p, key, val, "must not be empty");
    if (n >= size) {
        char why[64];
        snprintf(why, sizeof why, "longer than %zu bytes", size - 1);
        return bad_value(p, key, val, why);
    }
    memcpy(dst, val, n + 1);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Handlers for keys that need more than a bounded integer or a string       */
/* ------------------------------------------------------------------------ */

static int four_letter_index(const char *name, size_t len)
{
    for (int i = 0; zkd_4lw_names[i]; i++)
        if (strlen(zkd_4lw_names[i]) == len && !strncmp(zkd_4lw_names[i], name, len))
            return i;
    return -1;
}

/* 4lw.commands.whitelist: comma-separated names, blanks around them ignored, "*" = all. */
static int h_whitelist(struct parse *p, const char *key, char *val)
{
    unsigned mask = 0;
    const char *s = val;
    while (*s) {
        while (*s == ',' || isspace((unsigned char)*s))
            s++;
        const char *start = s;
        while (*s && *s != ',')
            s++;
        const char *end = s;
        while (end > start && isspace((unsigned char)end[-1]))
            end--;
        size_t len = (size_t)(end - start);
        if (len == 1 && *start == '*') {
            for (int i = 0; zkd_4lw_names[i]; i++)
                mask |= 1u << i;
            continue;
        }
        if (!len)
            continue;
        int i = four_letter_index(start, len);
        if (i < 0) {
            char why[96];
            snprintf(why, sizeof why, "unknown four-letter word '%.*s'", (int)len, start);
            return bad_value(p, key, val, why);
        }
        mask |= 1u << i;
    }
    p->cfg->fourlw_mask = mask;
    return 0;
}

/* electionAlg: Apache 3.8 accepts only 3 (fast leader election). */
static int h_election_alg(struct parse *p, const char *key, char *val)
{
    int alg = 0;
    if (parse_int(p, key, val, 10, INT_MIN, INT_MAX, &alg) < 0)
        return -1;
    if (alg != 3)
        return bad_value(p, key, val, "only 3, fast leader election, is supported");
    return 0;
}

/* superDigest / DigestAuthenticationProvider.superDigest: "user:base64(sha1(user:pw))". */
static int h_super_digest(struct parse *p, const char *key, char *val)
{
    const char *colon = strchr(val, ':');
    if (!colon || colon == val || !colon[1])
        return bad_value(p, key, val, "expected user:digest");
    return copy_str(p, key, val, p->cfg->super_digest, sizeof p->cfg->super_digest, 0);
}

/* authProvider.N: the SASL provider turns SASL on; digest and x509 are built in. */
static int h_auth_provider(struct parse *p, const char *key, char *val)
{
    if (strstr(val, "SASLAuthenticationProvider"))
        p->cfg->sasl_enabled = 1;
    else if (!strstr(val, "X509AuthenticationProvider") &&
             !strstr(val, "DigestAuthenticationProvider"))
        log_warn("%s:%d: %s=%s: zkd cannot load Java auth providers; ignored", p->file, p->line,
                 key, val);
    return 0;
}

/* Remembers a PEM path for finish_tls(); rejects Java key store formats. */
static int pem_path(struct parse *p, const char *key, const char *val, const char **slot)
{
    static const char *const java_ext[] = {".jks", ".p12", ".pfx", ".bcfks", NULL};
    size_t n = strlen(val);
    if (!n)
        return bad_value(p, key, val, "must not be empty");
    if (n >= sizeof p->cfg->ssl_cert)
        return bad_value(p, key, val, "path too long");
    for (int i = 0; java_ext[i]; i++) {
        size_t e = strlen(java_ext[i]);
        if (n > e && !strcasecmp(val + n - e, java_ext[i]))
            return bad_value(p, key, val,
                             "zkd reads PEM files only; convert the store with keytool/openssl");
    }
    *slot = val;
    return 0;
}

static int h_keystore(struct parse *p, const char *key, char *val)
{
    return pem_path(p, key, val, &p->ssl_keystore);
}

static int h_cert_file(struct parse *p, const char *key, char *val)
{
    return pem_path(p, key, val, &p->ssl_cert_file);
}

static int h_key_file(struct parse *p, const char *key, char *val)
{
    return pem_path(p, key, val, &p->ssl_key_file);
}

static int h_truststore(struct parse *p, const char *key, char *val)
{
    return pem_path(p, key, val, &p->ssl_truststore);
}

static int h_ca_file(struct parse *p, const char *key, char *val)
{
    return pem_path(p, key, val, &p->ssl_ca_file);
}

static int h_q_keystore(struct parse *p, const char *key, char *val)
{
    return pem_path(p, key, val, &p->ssl_q_keystore);
}

static int h_q_truststore(struct parse *p, const char *key, char *val)
{
    return pem_path(p, key, val, &p->ssl_q_truststore);
}

/* ssl.keyStore.type / ssl.trustStore.type: only PEM (or empty = infer) can be read. */
static int h_store_type(struct parse *p, const char *key, char *val)
{
    if (*val && strcasecmp(val, "PEM"))
        return bad_value(p, key, val, "zkd reads PEM files only");
    return 0;
}

/* ssl.clientAuth: X509Util's ClientAuth values; empty means need. */
static int h_client_auth(struct parse *p, const char *key, char *val)
{
    static const char *const names[] = {"none", "want", "need"};
    if (!*val) {
        p->cfg->ssl_client_auth = 2;
        return 0;
    }
    for (int i = 0; i < 3; i++)
        if (!strcasecmp(val, names[i])) {
            p->cfg->ssl_client_auth = i;
            return 0;
        }
    return bad_value(p, key, val, "must be none, want or need");
}

static char *trim(char *s);

/* ------------------------------------------------------------------------ */
/* server.N = host:quorumPort:electionPort[:role][;[clientHost:]clientPort]  */
/* ------------------------------------------------------------------------ */

/*
 * Splits "host:rest" or "[v6addr]:rest" (ConfigUtils.getHostAndPort's rule):
 * NUL-terminates the host, returns the text after its ':' separator, or
 * NULL (with *why set) if there is no such separator.
 */
static char *split_host(char *s, char **host, const char **why)
{
    if (*s == '[') {
        char *close = strchr(s, ']');
        if (!close || close[1] != ':') {
            *why = "expected [IPv6 address]:port";
            return NULL;
        }
        *close = '\0';
        *host = s + 1;
        return close + 2;
    }
    char *colon = strchr(s, ':');
    if (!colon) {
        *why = "expected host:port";
        return NULL;
    }
    *colon = '\0';
    *host = s;
    return colon + 1;
}

/* A port number inside a server line; why is set on failure. */
static int server_port(const char *s, int *out, const char **why)
{
    char *end;
    long v = *s ? strtol(s, &end, 10) : -1;
    if (!*s || *end || v < 1 || v > 65535) {
        *why = "ports must be integers between 1 and 65535";
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* Parses the part before ';'. */
static int parse_server_addr(char *s, struct zkd_server_line *sl, const char **why)
{
    char *host, *ports;
    if (strchr(s, '|')) {
        *why = "multiple addresses per server are not supported";
        return -1;
    }
    if (!(ports = split_host(s, &host, why)))
        return -1;
    char *election = strchr(ports, ':');
    if (!election) {
        *why = "expected host:quorumPort:electionPort[:participant|:observer]";
        return -1;
    }
    *election++ = '\0';
    char *role = strchr(election, ':');
    if (role)
        *role++ = '\0';
    if (!*host || strlen(host) >= sizeof sl->host) {
        *why = "bad host name";
        return -1;
    }
    if (server_port(ports, &sl->quorum_port, why) < 0 ||
        server_port(election, &sl->election_port, why) < 0)
        return -1;
    if (sl->quorum_port == sl->election_port) {
        *why = "quorum and election ports must differ";
        return -1;
    }
    if (role && !strcasecmp(role, "observer"))
        sl->observer = 1;
    else if (role && strcasecmp(role, "participant")) {
        *why = "role must be participant or observer";
        return -1;
    }
    strcpy(sl->host, host);
    return 0;
}

/* Parses the part after ';': "port" or "host:port" or "[v6]:port". */
static int parse_server_client(char *s, struct zkd_server_line *sl, const char **why)
{
    char *host = NULL, *port = s;
    if (strchr(s, ':') && !(port = split_host(s, &host, why)))
        return -1;
    if (host && (!*host || strlen(host) >= sizeof sl->client_host)) {
        *why = "bad client host name";
        return -1;
    }
    if (server_port(port, &sl->client_port, why) < 0)
        return -1;
    if (host)
        strcpy(sl->client_host, host);
    return 0;
}

/* Stores sl, replacing an earlier line with the same id (last one wins). */
static int add_server(struct parse *p, const char *key, const char *val,
                      const struct zkd_server_line *sl)
{
    struct zkd_config *cfg = p->cfg;
    int i = 0;
    while (i < cfg->nservers && cfg->servers[i].id != sl->id)
        i++;
    if (i == ZKD_MAX_SERVERS)
        return bad_value(p, key, val, "too many servers");
    cfg->servers[i] = *sl;
    if (i == cfg->nservers)
        cfg->nservers++;
    return 0;
}

int config_parse_server(int id, const char *val, struct zkd_server_line *out, const char **why)
{
    char copy[sizeof out->host + sizeof out->client_host + 64];
    if (strlen(val) >= sizeof copy) {
        *why = "too long";
        return -1;
    }
    strcpy(copy, val);
    memset(out, 0, sizeof *out);
    out->id = id;
    char *client = strchr(copy, ';');
    if (client) {
        *client++ = '\0';
        client = trim(client);
        if (strchr(client, ';')) {
            *why = "more than one ';'";
            return -1;
        }
    }
    if (parse_server_addr(trim(copy), out, why) < 0 ||
        (client && *client && parse_server_client(client, out, why) < 0))
        return -1;
    return 0;
}

int config_format_server(const struct zkd_server_line *sl, char *buf, size_t cap)
{
    return snprintf(buf, cap, "server.%d=%s:%d:%d:%s;%s:%d", sl->id, sl->host, sl->quorum_port,
                    sl->election_port, sl->observer ? "observer" : "participant",
                    sl->client_host[0] ? sl->client_host : "0.0.0.0", sl->client_port);
}

static int h_server(struct parse *p, const char *key, char *val)
{
    struct zkd_server_line sl;
    const char *why = NULL;
    char copy[sizeof sl.host + sizeof sl.client_host + 64];
    int id;

    if (!p->dynamic && !p->first_server_line)
        p->first_server_line = p->line;
    if (parse_int(p, key, key + strlen("server."), 10, 0, 255, &id) < 0) {
        /* Re-word: the key, not the value, is wrong. */
        return fail(p, "invalid server id in key '%s' (must be an integer 0..255)", key);
    }
    if (strlen(val) >= sizeof copy)
        return bad_value(p, key, val, "too long");
    strcpy(copy, val);
    memset(&sl, 0, sizeof sl);
    sl.id = id;
    char *client = strchr(copy, ';');
    if (client) {
        *client++ = '\0';
        client = trim(client);
        if (strchr(client, ';'))
            return bad_value(p, key, val, "more than one ';'");
    }
    if (parse_server_addr(trim(copy), &sl, &why) < 0 ||
        (client && *client && parse_server_client(client, &sl, &why) < 0))
        return bad_value(p, key, val, why);
    return add_server(p, key, val, &sl);
}

/* ------------------------------------------------------------------------ */
/* The key table                                                             */
/* ------------------------------------------------------------------------ */

enum key_kind {
    K_INT,        /* bounded integer at `off` */
    K_BOOL,       /* true/false at `off` */
    K_STR,        /* string at `off` (size `size`); may be empty */
    K_PATH,       /* like K_STR but must not be empty */
    K_FN,         /* handler `fn` */
    K_IGNORE,     /* accepted, no effect on zkd */
    K_WARN,       /* accepted, no effect, logs `why` unless the value is "false" */
    K_FALSE_ONLY, /* "false" accepted; "true" is an error (`why`) */
    K_REJECT,     /* always an error (`why`) */
};

struct key_spec {
    const char *name; /* exact key, or a prefix ending in '*' */
    enum key_kind kind;
    size_t off, size; /* field in struct zkd_config */
    int lo, hi, base; /* K_INT */
    int (*fn)(struct parse *p, const char *key, char *val);
    const char *why;
};

#define FIELD(f) offsetof(struct zkd_config, f), sizeof(((struct zkd_config *)0)->f)
#define INT_KEY(n, f, lo, hi) {n, K_INT, FIELD(f), lo, hi, 10, NULL, NULL}
#define DECODE_KEY(n, f, lo, hi) {n, K_INT, FIELD(f), lo, hi, 0, NULL, NULL}
#define BOOL_KEY(n, f) {n, K_BOOL, FIELD(f), 0, 0, 0, NULL, NULL}
#define STR_KEY(n, f) {n, K_STR, FIELD(f), 0, 0, 0, NULL, NULL}
#define PATH_KEY(n, f) {n, K_PATH, FIELD(f), 0, 0, 0, NULL, NULL}
#define FN_KEY(n, h) {n, K_FN, 0, 0, 0, 0, 0, h, NULL}
#define IGNORED(n) {n, K_IGNORE, 0, 0, 0, 0, 0, NULL, NULL}
#define WARNED(n, w) {n, K_WARN, 0, 0, 0, 0, 0, NULL, w}
#define FALSE_ONLY(n, w) {n, K_FALSE_ONLY, 0, 0, 0, 0, 0, NULL, w}
#define REJECTED(n, w) {n, K_REJECT, 0, 0, 0, 0, 0, NULL, w}

static const struct key_spec keys[] = {
    /* Minimum configuration. */
    /* At most INT_MAX / 20, so that the derived 20-tick maxSessionTimeout fits. */
    INT_KEY("tickTime", tick_time, 1, INT_MAX / 20),
    PATH_KEY("dataDir", data_dir),
    INT_KEY("clientPort", client_port, 0, 65535),
    /* Advanced configuration. */
    PATH_KEY("dataLogDir", data_log_dir),
    STR_KEY("clientPortAddress", client_port_address),
    INT_KEY("secureClientPort", secure_client_port, 0, 65535),
    STR_KEY("secureClientPortAddress", secure_client_port_address),
    INT_KEY("maxClientCnxns", max_client_cnxns, 0, INT_MAX),
    INT_KEY("minSessionTimeout", min_session_timeout, -1, INT_MAX), /* -1 = 2 ticks */
    INT_KEY("maxSessionTimeout", max_session_timeout, -1, INT_MAX), /* -1 = 20 ticks */
    INT_KEY("globalOutstandingLimit", global_outstanding_limit, 1, INT_MAX),
    DECODE_KEY("jute.maxbuffer", jute_max_buffer, 1, INT_MAX),
    INT_KEY("snapCount", snap_count, 2, INT_MAX),
    INT_KEY("autopurge.snapRetainCount", autopurge_snap_retain_count, INT_MIN, INT_MAX),
    INT_KEY("autopurge.purgeInterval", autopurge_purge_interval, INT_MIN, INT_MAX),
    FN_KEY("4lw.commands.whitelist", h_whitelist),
    /* Apache reads these as system properties; zkd takes them from zoo.cfg. */
    INT_KEY("znode.container.checkIntervalMs", container_check_ms, 1, INT_MAX),
    INT_KEY("znode.container.maxPerMinute", container_max_per_minute, 1, INT_MAX),
    BOOL_KEY("extendedTypesEnabled", extended_types_enabled),
    BOOL_KEY("readonlymode.enabled", readonly_mode),
    BOOL_KEY("enforceQuota", enforce_quota), /* also zookeeper.enforceQuota; quota.h */
    /* Cluster options. */
    INT_KEY("initLimit", init_limit, 0, INT_MAX),
    INT_KEY("syncLimit", sync_limit, 0, INT_MAX),
    FN_KEY("electionAlg", h_election_alg),
    BOOL_KEY("standaloneEnabled", standalone_enabled),
    BOOL_KEY("reconfigEnabled", reconfig_enabled),
    FN_KEY("server.*", h_server),
    PATH_KEY("dynamicConfigFile", dynamic_config_file),
    REJECTED("group.*", "hierarchical quorums are not supported by zkd"),
    REJECTED("weight.*", "hierarchical quorums are not supported by zkd"),
    FALSE_ONLY("multiAddress.enabled", "multiple addresses per server are not supported"),
    /* Authentication. */
    FN_KEY("superDigest", h_super_digest),
    FN_KEY("DigestAuthenticationProvider.superDigest", h_super_digest),
    FN_KEY("authProvider.*", h_auth_provider),
    PATH_KEY("jaasLoginFile", jaas_file), /* zkd extension */
    INT_KEY("pollSpinMicros", poll_spin_us, 0, 1000000), /* zkd extension */
    FALSE_ONLY("enforce.auth.enabled", "not supported by zkd"),
    FALSE_ONLY("sessionRequireClientSASLAuth", "not supported by zkd"),
    /* TLS, PEM only; ssl.certFile/keyFile/caFile are zkd extensions. */
    FN_KEY("ssl.keyStore.location", h_keystore),
    FN_KEY("ssl.certFile", h_cert_file),
    FN_KEY("ssl.keyFile", h_key_file),
    FN_KEY("ssl.trustStore.location", h_truststore),
    FN_KEY("ssl.caFile", h_ca_file),
    FN_KEY("ssl.keyStore.type", h_store_type),
    FN_KEY("ssl.trustStore.type", h_store_type),
    STR_KEY("ssl.keyStore.password", ssl_key_password),
    FN_KEY("ssl.clientAuth", h_client_auth),
    BOOL_KEY("sslQuorum", ssl_quorum),
    FN_KEY("ssl.quorum.keyStore.location", h_q_keystore),
    FN_KEY("ssl.quorum.trustStore.location", h_q_truststore),
    STR_KEY("ssl.quorum.keyStore.password", ssl_quorum_key_password),
    FN_KEY("ssl.quorum.keyStore.type", h_store_type),
    FN_KEY("ssl.quorum.trustStore.type", h_store_type),
    IGNORED("ssl.*"), /* protocol, ciphersuites, hostnameVerification, ... */
    WARNED("portUnification", "zkd does not serve TLS and plain TCP on one port"),
    WARNED("quorum.auth.*", "zkd has no SASL between servers"),
    WARNED("localSessionsEnabled", "zkd has no local sessions; all sessions are global"),
    WARNED("oraclePath", "zkd has no quorum oracle"),
    /* Apache JVM-server tuning with no zkd counterpart. */
    IGNORED("admin.*"),
    IGNORED("metricsProvider.*"),
    IGNORED("preAllocSize"),
    IGNORED("syncEnabled"),
    IGNORED("forceSync"),
    IGNORED("fsync.warningthresholdms"),
    IGNORED("quorumListenOnAllIPs"),
    IGNORED("leaderServes"),
    IGNORED("cnxTimeout"),
    IGNORED("electionPortBindRetry"),
    IGNORED("tcpKeepAlive"),
    IGNORED("clientTcpKeepAlive"),
    IGNORED("serverCnxnFactory"),
    IGNORED("clientCnxnSocket"),
    IGNORED("sslQuorumReloadCertFiles"),
    IGNORED("clientPortListenBacklog"),
    IGNORED("observerMasterPort"),
    IGNORED("connectToLearnerMasterLimit"),
    IGNORED("peerType"), /* Apache too lets the server.N role win */
    IGNORED("localSessionsUpgradingEnabled"),
    IGNORED("quorum.cnxn.threads.size"),
    IGNORED("multiAddress.*"),
    IGNORED("jvm.pause.*"),
    IGNORED("maxCnxns"),
    IGNORED("snapSizeLimitInKb"),
    IGNORED("txnLogSizeLimitInKb"),
    IGNORED("commitLogCount"),
    IGNORED("snapshot.*"),
    IGNORED("connection_throttle_*"),
    IGNORED("request_throttle_*"),
    IGNORED("learner.*"),
    IGNORED("leader.*"),
    IGNORED("flushDelay"),
    IGNORED("maxWriteQueuePollTime"),
    IGNORED("maxBatchSize"),
    IGNORED("requestStaleConnectionCheck"),
    IGNORED("requestStaleLatencyCheck"),
    IGNORED("watchManagerName"),
    IGNORED("watcherCleanThreshold"),
    IGNORED("watcherCleanIntervalInSeconds"),
    IGNORED("watcherCleanThreadsNum"),
    IGNORED("maxInProcessingDeadWatchers"),
    IGNORED("digest.enabled"),
    IGNORED("audit.*"),
    IGNORED("closeSessionTxn.enabled"),
    IGNORED("largeRequestMaxBytes"),
    IGNORED("largeRequestThreshold"),
    IGNORED("enforce.auth.schemes"),
    IGNORED("kerberos.*"),
    IGNORED("X509AuthenticationProvider.superUser"),
    IGNORED("superUser"),
    IGNORED("skipACL"), /* zkd always enforces ACLs */
    IGNORED("fips-mode"),
    IGNORED("netty.*"),
    IGNORED("nio.*"),
    IGNORED("traceFile"),
};

#define NKEYS (sizeof keys / sizeof keys[0])

/* Exact names first, then prefixes, so table order never decides a match. */
static const struct key_spec *find_key(const char *key)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (!strcmp(key, keys[i].name))
            return &keys[i];
    for (size_t i = 0; i < NKEYS; i++) {
        size_t n = strlen(keys[i].name);
        if (keys[i].name[n - 1] == '*' && !strncmp(key, keys[i].name, n - 1) && key[n - 1])
            return &keys[i];
    }
    return NULL;
}

/* Applies one key=value of zoo.cfg according to its row. */
static int apply_spec(struct parse *p, const struct key_spec *k, const char *key, char *val)
{
    char *field = (char *)p->cfg + k->off;
    int b = 0;
    switch (k->kind) {
    case K_INT:
        return parse_int(p, key, val, k->base, k->lo, k->hi, (int *)(void *)field);
    case K_BOOL:
        return parse_bool(p, key, val, (int *)(void *)field);
    case K_STR:
    case K_PATH:
        return copy_str(p, key, val, field, k->size, k->kind == K_STR);
    case K_FN:
        return k->fn(p, key, val);
    case K_IGNORE:
        log_debug("%s:%d: '%s' has no effect on zkd; ignored", p->file, p->line, key);
        return 0;
    case K_WARN:
        if (!strcasecmp(val, "false"))
            return 0;
        log_warn("%s:%d: '%s' ignored: %s", p->file, p->line, key, k->why);
        return 0;
    case K_FALSE_ONLY:
        if (parse_bool(p, key, val, &b) < 0)
            return -1;
        return b ? bad_value(p, key, val, k->why) : 0;
    case K_REJECT:
        return bad_value(p, key, val, k->why);
    }
    return bad_value(p, key, val, "internal error: bad key kind");
}

static int apply_key(struct parse *p, const char *key, char *val)
{
    static const char sysprop[] = "zookeeper.";
    const struct key_spec *k = find_key(key);
    if (!k && !strncmp(key, sysprop, sizeof sysprop - 1)) {
        k = find_key(key + sizeof sysprop - 1);
        if (!k) {
            log_debug("%s:%d: system property '%s' has no effect on zkd; ignored", p->file,
                      p->line, key);
            return 0;
        }
    }
    if (!k)
        return fail(p, "unknown key '%s'", key);
    return apply_spec(p, k, key, val);
}

/* A dynamic config file holds server.N lines and nothing else. */
static int apply_dynamic_key(struct parse *p, const char *key, char *val)
{
    if (!strncmp(key, "server.", 7))
        return h_server(p, key, val);
    if (!strcmp(key, "version"))
        return fail(p, "a dynamic config file must not contain 'version'");
    return fail(p, "unknown key '%s' (a dynamic config file holds only server.N lines)", key);
}

/* ------------------------------------------------------------------------ */
/* java.util.Properties reader                                               */
/* ------------------------------------------------------------------------ */

struct reader {
    char *p, *end; /* unread text; one writable byte follows end */
    int line;      /* line number of *p */
};

static int is_blank(int c)
{
    return c == ' ' || c == '\t' || c == '\f';
}

/* Consumes the line break ("\n", "\r" or "\r\n") at r->p, which must be one. */
static void eat_eol(struct reader *r)
{
    if (*r->p++ == '\r' && r->p < r->end && *r->p == '\n')
        r->p++;
    r->line++;
}

/*
 * Returns the next logical line, joined in place and NUL-terminated (escapes
 * still raw), or NULL at the end.  *first is the line number it starts on.
 */
static char *next_line(struct reader *r, int *first)
{
    for (;;) {
        while (r->p < r->end && is_blank(*r->p))
            r->p++;
        if (r->p >= r->end)
            return NULL;
        if (*r->p == '#' || *r->p == '!') {
            while (r->p < r->end && *r->p != '\n' && *r->p != '\r')
                r->p++;
            if (r->p >= r->end)
                return NULL;
        }
        if (*r->p != '\n' && *r->p != '\r')
            break;
        eat_eol(r); /* a blank or comment line */
    }
    *first = r->line;
    char *out = r->p, *w = r->p;
    for (;;) {
        char *s = r->p;
        while (s < r->end && *s != '\n' && *s != '\r')
            s++;
        size_t n = (size_t)(s - r->p), bs = 0;
        while (bs < n && r->p[n - 1 - bs] == '\\')
            bs++;
        memmove(w, r->p, n);
        w += n;
        r->p = s;
        if (r->p < r->end)
            eat_eol(r);
        if (!(bs & 1))
            break;
        w--; /* drop the continuation backslash */
        while (r->p < r->end && is_blank(*r->p))
            r->p++;
        if (r->p >= r->end)
            break;
    }
    *w = '\0';
    return out;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Writes code unit u (BMP) as UTF-8 at w; returns bytes written. */
static int put_utf8(char *w, unsigned u)
{
    if (u < 0x80) {
        w[0] = (char)u;
        return 1;
    }
    if (u < 0x800) {
        w[0] = (char)(0xc0 | (u >> 6));
        w[1] = (char)(0x80 | (u & 0x3f));
        return 2;
    }
    w[0] = (char)(0xe0 | (u >> 12));
    w[1] = (char)(0x80 | ((u >> 6) & 0x3f));
    w[2] = (char)(0x80 | (u & 0x3f));
    return 3;
}

/* Properties.loadConvert, in place (output never outgrows input). */
static int unescape(struct parse *p, char *s)
{
    char *w = s;
    while (*s) {
        if (*s != '\\') {
            *w++ = *s++;
            continue;
        }
        s++;
        char c = *s ? *s++ : '\0';
        if (c == 'u') {
            unsigned u = 0;
            for (int i = 0; i < 4; i++) {
                int h = hexval((unsigned char)*s);
                if (h < 0)
                    return fail(p, "malformed \\uxxxx escape");
                u = u * 16 + (unsigned)h;
                s++;
            }
            w += put_utf8(w, u);
        } else if (c) {
            *w++ = c == 't' ? '\t' : c == 'n' ? '\n' : c == 'r' ? '\r' : c == 'f' ? '\f' : c;
        }
    }
    *w = '\0';
    return 0;
}

/* String.trim(): drops characters <= ' ' at both ends; returns the new start. */
static char *trim(char *s)
{
    while (*s && (unsigned char)*s <= ' ')
        s++;
    size_t n = strlen(s);
    while (n && (unsigned char)s[n - 1] <= ' ')
        s[--n] = '\0';
    return s;
}

/* Splits a logical line into key and value per Properties.load; unescapes both. */
static int split_entry(struct parse *p, char *line, char **key, char **val)
{
    char *s = line;
    while (*s && *s != '=' && *s != ':' && !is_blank(*s))
        s += (*s == '\\' && s[1]) ? 2 : 1;
    char *key_end = s;
    while (is_blank(*s))
        s++;
    if (*s == '=' || *s == ':')
        s++;
    while (is_blank(*s))
        s++;
    *key_end = '\0'; /* after the scan: key_end may have been the separator */
    if (unescape(p, line) < 0 || unescape(p, s) < 0)
        return -1;
    *key = trim(line);
    *val = trim(s);
    return 0;
}

/* Reads a whole file into a malloc'd buffer with a NUL after its len bytes. */
static char *slurp(struct parse *p, const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fail(p, "cannot open: %s", strerror(errno));
        return NULL;
    }
    size_t n = 0, cap = 65536;
    char *buf = malloc(cap + 1);
    while (buf && (n += fread(buf + n, 1, cap - n, f)) == cap && cap < CONFIG_MAX_FILE) {
        char *grown = realloc(buf, 2 * cap + 1);
        if (!grown)
            free(buf);
        buf = grown;
        cap *= 2;
    }
    const char *why = !buf        ? "out of memory"
                      : ferror(f) ? strerror(errno)
                      : n == cap && fgetc(f) != EOF ? "file larger than 4 MiB"
                                                    : NULL;
    fclose(f);
    if (why) {
        fail(p, "cannot read: %s", why);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Applies every entry of text (len bytes, writable, one spare byte at the end). */
static int parse_text(struct parse *p, char *text, size_t len)
{
    struct reader r = {text, text + len, 1};
    char *line, *key, *val;
    int first;
    while ((line = next_line(&r, &first))) {
        p->line = first;
        if (split_entry(p, line, &key, &val) < 0)
            return -1;
        int rc = p->dynamic ? apply_dynamic_key(p, key, val) : apply_key(p, key, val);
        if (rc < 0)
            return -1;
    }
    p->line = 0;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* After the file: dynamic servers, derived values, validation                */
/* ------------------------------------------------------------------------ */

static int read_dynamic_file(struct parse *p)
{
    struct zkd_config *cfg = p->cfg;
    if (p->first_server_line) {
        p->line = p->first_server_line;
        return fail(p, "server.N lines must be in the dynamic config file '%s'",
                    cfg->dynamic_config_file);
    }
    size_t len;
    p->file = cfg->dynamic_config_file;
    p->dynamic = 1;
    char *text = slurp(p, p->file, &len);
    int rc = text ? parse_text(p, text, len) : -1;
    free(text);
    p->file = cfg->path;
    p->dynamic = 0;
    return rc;
}

/* The PEM paths, with explicit files winning over the key/trust store. */
static void finish_tls(struct parse *p)
{
    struct zkd_config *cfg = p->cfg;
    const char *cert = p->ssl_cert_file ? p->ssl_cert_file : p->ssl_keystore;
    const char *key = p->ssl_key_file ? p->ssl_key_file : p->ssl_keystore;
    const char *ca = p->ssl_ca_file ? p->ssl_ca_file : p->ssl_truststore;
    if (cert)
        snprintf(cfg->ssl_cert, sizeof cfg->ssl_cert, "%s", cert);
    if (key)
        snprintf(cfg->ssl_key, sizeof cfg->ssl_key, "%s", key);
    if (ca)
        snprintf(cfg->ssl_ca, sizeof cfg->ssl_ca, "%s", ca);
    /* Quorum TLS: ssl.quorum.* stores, else the client-side files. */
    const char *qcert = p->ssl_q_keystore ? p->ssl_q_keystore : cert;
    const char *qkey = p->ssl_q_keystore ? p->ssl_q_keystore : key;
    const char *qca = p->ssl_q_truststore ? p->ssl_q_truststore : ca;
    if (qcert)
        snprintf(cfg->ssl_quorum_cert, sizeof cfg->ssl_quorum_cert, "%s", qcert);
    if (qkey)
        snprintf(cfg->ssl_quorum_key, sizeof cfg->ssl_quorum_key, "%s", qkey);
    if (qca)
        snprintf(cfg->ssl_quorum_ca, sizeof cfg->ssl_quorum_ca, "%s", qca);
    if (!cfg->ssl_quorum_key_password[0])
        memcpy(cfg->ssl_quorum_key_password, cfg->ssl_key_password, sizeof cfg->ssl_key_password);
}

/* Apache's post-parse defaults and clamps. */
static void derive(struct zkd_config *cfg)
{
    if (cfg->min_session_timeout == -1)
        cfg->min_session_timeout = 2 * cfg->tick_time;
    if (cfg->max_session_timeout == -1)
        cfg->max_session_timeout = 20 * cfg->tick_time;
    if (!cfg->data_log_dir[0])
        memcpy(cfg->data_log_dir, cfg->data_dir, sizeof cfg->data_log_dir);
    if (cfg->autopurge_snap_retain_count < 3) {
        log_warn("%s: autopurge.snapRetainCount %d is below 3; using 3", cfg->path,
                 cfg->autopurge_snap_retain_count);
        cfg->autopurge_snap_retain_count = 3;
    }
    if (cfg->autopurge_purge_interval < 0)
        cfg->autopurge_purge_interval = 0;
    /* FourLetterCommands: zkServer.sh needs srvr; read-only clients need isro. */
    cfg->fourlw_mask |= 1u << four_letter_index("srvr", 4);
    if (cfg->readonly_mode)
        cfg->fourlw_mask |= 1u << four_letter_index("isro", 4);
}

static int count_servers(const struct zkd_config *cfg, int observers)
{
    int n = 0;
    for (int i = 0; i < cfg->nservers; i++)
        n += !cfg->servers[i].observer == !observers;
    return n;
}

/* QuorumPeerConfig.isDistributed(). */
int config_is_distributed(const struct zkd_config *cfg)
{
    int voters = count_servers(cfg, 0);
    return voters > 0 && (!cfg->standalone_enabled || voters > 1);
}

static int validate_ensemble(struct parse *p)
{
    const struct zkd_config *cfg = p->cfg;
    int voters = count_servers(cfg, 0), observers = count_servers(cfg, 1);
    if (!voters && !cfg->standalone_enabled)
        return fail(p, "standaloneEnabled=false needs at least one participant server.N line");
    if (!voters && observers)
        return fail(p, "observers without participants");
    if (voters == 1 && cfg->standalone_enabled && observers)
        return fail(p, "observers need a quorum of at least two participants");
    if (config_is_distributed(cfg) && cfg->init_limit <= 0)
        return fail(p, "initLimit is not set (required for an ensemble)");
    if (config_is_distributed(cfg) && cfg->sync_limit <= 0)
        return fail(p, "syncLimit is not set (required for an ensemble)");
    return 0;
}

static int validate(struct parse *p)
{
    const struct zkd_config *cfg = p->cfg;
    int server_client_port = 0;
    for (int i = 0; i < cfg->nservers; i++)
        server_client_port |= cfg->servers[i].client_port != 0;

    if (!cfg->data_dir[0])
        return fail(p, "dataDir is not set");
    if (cfg->client_port_address[0] && !cfg->client_port)
        return fail(p, "clientPortAddress is set but clientPort is not");
    if (cfg->secure_client_port_address[0] && !cfg->secure_client_port)
        return fail(p, "secureClientPortAddress is set but secureClientPort is not");
    if (!cfg->client_port && !cfg->secure_client_port && !server_client_port)
        return fail(p, "no client port: set clientPort, secureClientPort, or a ;port on "
                       "a server.N line");
    if (cfg->min_session_timeout > cfg->max_session_timeout)
        return fail(p, "minSessionTimeout (%d) must not be larger than maxSessionTimeout (%d)",
                    cfg->min_session_timeout, cfg->max_session_timeout);
    if (cfg->ssl_quorum && (!cfg->ssl_quorum_cert[0] || !cfg->ssl_quorum_ca[0]))
        return fail(p, "sslQuorum needs ssl.quorum.keyStore.location (a PEM file with certificate "
                       "and key) and ssl.quorum.trustStore.location (the CA), or the ssl.* ones");
    if (cfg->secure_client_port && (!cfg->ssl_cert[0] || !cfg->ssl_key[0]))
        return fail(p, "secureClientPort needs ssl.keyStore.location (a PEM file with "
                       "certificate and key) or ssl.certFile and ssl.keyFile");
    return validate_ensemble(p);
}

/* ------------------------------------------------------------------------ */
/* Public entry points                                                       */
/* ------------------------------------------------------------------------ */

void config_defaults(struct zkd_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->tick_time = 2000;
    cfg->max_client_cnxns = 60;
    cfg->min_session_timeout = 2 * cfg->tick_time;
    cfg->max_session_timeout = 20 * cfg->tick_time;
    cfg->jute_max_buffer = 0xfffff;
    cfg->snap_count = 100000;
    cfg->autopurge_snap_retain_count = 3;
    cfg->autopurge_purge_interval = 0;
    cfg->fourlw_mask = 1u << four_letter_index("srvr", 4);
    cfg->standalone_enabled = 1;
    cfg->reconfig_enabled = 0;
    cfg->global_outstanding_limit = 1000;
    cfg->poll_spin_us = 100;
    cfg->container_check_ms = 60000;
    cfg->container_max_per_minute = 10000;
    cfg->ssl_client_auth = 2; /* X509Util: an unset ssl.clientAuth means NEED */
    cfg->enforce_quota = -1;  /* unset: main.c looks at -Dzookeeper.enforceQuota */
}

int config_parse(const char *path, struct zkd_config *cfg, char *err, int errlen)
{
    struct parse p = {.cfg = cfg, .file = path, .err = err, .errlen = errlen};
    if (err && errlen > 0)
        err[0] = '\0';
    config_defaults(cfg);
    if (strlen(path) >= sizeof cfg->path)
        return fail(&p, "path too long");
    strcpy(cfg->path, path);
    cfg->min_session_timeout = cfg->max_session_timeout = -1; /* derive from tickTime */

    size_t len;
    char *text = slurp(&p, path, &len);
    if (!text)
        return -1;
    int rc = parse_text(&p, text, len);
    if (rc == 0 && cfg->dynamic_config_file[0])
        rc = read_dynamic_file(&p);
    if (rc == 0) {
        finish_tls(&p); /* before free(text): the PEM paths point into it */
        derive(cfg);
        rc = validate(&p);
    }
    free(text);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The conf four-letter word                                                 */
/* ------------------------------------------------------------------------ */

struct out {
    char *buf;
    int len, cap, overflow;
};

static void out_printf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void out_printf(struct out *o, const char *fmt, ...)
{
    if (o->overflow)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, (size_t)(o->cap - o->len), fmt, ap);
    va_end(ap);
    if (n < 0 || n >= o->cap - o->len)
        o->overflow = 1;
    else
        o->len += n;
}

/* dataDir/myid, which names this server in an ensemble; -1 when unreadable. */
int config_read_myid(const char *data_dir)
{
    char path[4200], text[32];
    snprintf(path, sizeof path, "%s/myid", data_dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char *end;
    long id = strtol(text, &end, 10);
    while (isspace((unsigned char)*end))
        end++;
    return end == text || *end || id < 0 || id > INT_MAX ? -1 : (int)id;
}

static const struct zkd_server_line *find_server(const struct zkd_config *cfg, int id)
{
    for (int i = 0; i < cfg->nservers; i++)
        if (cfg->servers[i].id == id)
            return &cfg->servers[i];
    return NULL;
}

/*
 * Apache's ZooKeeperServer.dumpConf, then QuorumZooKeeperServer.dumpConf's
 * extra lines for an ensemble member.  Apache prints -1 for a port it does
 * not listen on and dataDir/version-2 (with dataDirSize/dataLogSize); zkd
 * prints its own directories and no sizes.  The quorum "membership:" block is
 * left out.
 */
int config_format(const struct zkd_config *cfg, char *buf, int buflen)
{
    struct out o = {buf, 0, buflen, buflen <= 0};
    int distributed = config_is_distributed(cfg);
    int myid = distributed ? config_read_myid(cfg->data_dir) : 0;
    const struct zkd_server_line *me = distributed ? find_server(cfg, myid) : NULL;
    int client_port = cfg->client_port ? cfg->client_port
                      : me && me->client_port ? me->client_port : -1;

    out_printf(&o, "clientPort=%d\n", client_port);
    out_printf(&o, "secureClientPort=%d\n", cfg->secure_client_port ? cfg->secure_client_port : -1);
    out_printf(&o, "dataDir=%s\n", cfg->data_dir);
    out_printf(&o, "dataLogDir=%s\n", cfg->data_log_dir);
    out_printf(&o, "tickTime=%d\n", cfg->tick_time);
    out_printf(&o, "maxClientCnxns=%d\n", cfg->max_client_cnxns);
    out_printf(&o, "minSessionTimeout=%d\n", cfg->min_session_timeout);
    out_printf(&o, "maxSessionTimeout=%d\n", cfg->max_session_timeout);
    out_printf(&o, "clientPortListenBacklog=-1\n");
    out_printf(&o, "serverId=%d\n", myid);
    if (distributed) {
        out_printf(&o, "initLimit=%d\n", cfg->init_limit);
        out_printf(&o, "syncLimit=%d\n", cfg->sync_limit);
        out_printf(&o, "electionAlg=3\n");
        out_printf(&o, "electionPort=%d\n", me ? me->election_port : -1);
        out_printf(&o, "quorumPort=%d\n", me ? me->quorum_port : -1);
        out_printf(&o, "peerType=%d\n", me && me->observer ? 1 : 0);
    }
    if (o.overflow) {
        if (buflen > 0)
            buf[buflen - 1] = '\0';
        return -1;
    }
    return o.len;
}

int config_is_voter(const struct zkd_config *cfg, int id)
{
    const struct zkd_server_line *l = config_server(cfg, id);
    return l && !l->observer;
}

int config_voters(const struct zkd_config *cfg)
{
    int n = 0;
    for (int i = 0; i < cfg->nservers; i++)
        n += !cfg->servers[i].observer;
    return n;
}

const struct zkd_server_line *config_server(const struct zkd_config *cfg, int id)
{
    for (int i = 0; i < cfg->nservers; i++)
        if (cfg->servers[i].id == id)
            return &cfg->servers[i];
    return NULL;
}
