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
 * (NIO/Netty, preallocation, throttles...) and have no
 * meaning for zkd; they are accepted so an Apache zoo.cfg runs unchanged,
 * each with one INFO line giving the row's reason (IGNORED_WHY) or the
 * generic one (IGNORED).  K_WARN rows are ignored too but change behaviour a
 * user may rely on, so each one logs a warning.  K_FALSE_ONLY rows name
 * security features zkd lacks: "false" is accepted, "true" is an error
 * rather than a silently weaker server.  A key that changes security or
 * durability is never K_IGNORE.
 *
 * TLS keys ("ssl.<name>", "ssl.quorum.<name>") have their own table,
 * tls_keys[], whose rows land in struct zkd_tls_config for either side.
 *
 * SYSTEM PROPERTIES.  config_parse_flags() first applies the -D flags of
 * SERVER_JVMFLAGS/JVMFLAGS through the same table (parse_jvmflags below).
 *
 * zkd EXTENSIONS AND DIFFERENCES FROM APACHE.
 *   - jaasLoginFile=PATH: the JAAS file holding the Server section for SASL
 *     (Apache takes it from -Djava.security.auth.login.config).
 *   - pollSpinMicros=N: after client input, keep polling this long before
 *     sleeping (server_run in server.c); 0 turns it off.
 *   - requestsPerTurn=N: requests taken from one connection per loop turn
 *     (conn.h); 0 takes all it holds.
 *   - notifyWritesPerTurn=N: connections holding only watch notifications
 *     written per loop turn (flush.h); 0 writes them all at once.
 *   - getChildrenSlice=N: a getChildren of a parent with more than N
 *     children is encoded N names per loop turn (listing.h); 0 = at once.
 *   - Key and trust stores are PEM, PKCS12 or JKS, typed by ssl.*.type or
 *     the file name (any name other than .jks/.p12/.pfx/.bcfks is PEM, where
 *     Apache would refuse it).  ssl.certFile and ssl.keyFile name PEM files
 *     and win over the key store whatever their order in the file;
 *     ssl.caFile wins over ssl.trustStore.location.  The ssl.quorum.* side
 *     falls back to the ssl.* stores.
 *   - ssl.enabledProtocols must be a contiguous range (OpenSSL's min/max).
 *   - slowRequestThresholdMs=N: log a request that took N ms or more
 *     (monitor.h); 0 turns it off.
 *   - logLevel=error|warn|info|debug (else ZKD_LOG_LEVEL, else info) and
 *     logFormat=plain|json (log.h); SIGHUP re-reads both.
 *   - ssl.clientAuth defaults to "need", as in Apache's X509Util.
 *   - superDigest is accepted as a short form of
 *     DigestAuthenticationProvider.superDigest.
 *   - An unknown name in 4lw.commands.whitelist is an error (Apache ignores
 *     it).  As in Apache, srvr is always allowed and isro is allowed when
 *     readonlymode.enabled=true.
 *   - server.N ids are 0..ZKD_MAX_SERVER_ID; two ids with the same low byte
 *     are refused (session ids carry that byte), and so are ids above 254
 *     with extendedTypesEnabled (as Apache's EphemeralType.validateServerId).
 *     Multiple addresses per server ("a:1:2|b:1:2") use the first address.
 *   - group.G / weight.S (hierarchical quorums) follow quorum_verifier.h,
 *     which lists the few combinations zkd refuses and Apache accepts.
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
#include "quorum_verifier.h"
#include "zk/jvmflags.h"

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
    "wchc", "wchp", "dump", "dirs", "isro", "srst", "gtmk", "stmk", "hash", NULL,
};

#define CONFIG_MAX_FILE (4 << 20) /* a zoo.cfg bigger than this is a mistake */

/* ------------------------------------------------------------------------ */
/* Parse state and error reporting                                           */
/* ------------------------------------------------------------------------ */

/* Where a TLS path came from, for finish_tls()'s precedence. */
enum tls_slot {
    SLOT_KEYSTORE, SLOT_CERT_FILE, SLOT_KEY_FILE, SLOT_TRUSTSTORE, SLOT_CA_FILE, SLOT_COUNT
};

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
    /* Per TLS side (0 client port, 1 quorum): */
    const char *tls_paths[2][SLOT_COUNT];
    int tls_types[2][2];          /* [side][trust]: enum zkd_store_type, -2 = infer */
    int password_from_file[2][2]; /* [side][trust]: *.passwordPath was given */
    int enabled_protocols[2][2];  /* [side]: min, max from ssl.enabledProtocols; 0 = unset */
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

/* memberProtocol (zkd extension): the member protocol on the quorum and
 * election ports, zkd's own (default) or Apache ZooKeeper's (a member of a
 * mixed ensemble, docs/member-protocol.md). */
static int h_member_protocol(struct parse *p, const char *key, char *val)
{
    if (!strcasecmp(val, "zkd"))
        p->cfg->apache_members = 0;
    else if (!strcasecmp(val, "apache"))
        p->cfg->apache_members = 1;
    else
        return bad_value(p, key, val, "zkd or apache");
    return 0;
}

/* DigestAuthenticationProvider.digestAlg: zkd's digest scheme is SHA1 (the
 * default); another algorithm would make every stored digest ACL mismatch. */
static int h_digest_alg(struct parse *p, const char *key, char *val)
{
    if (strcasecmp(val, "SHA1") && strcasecmp(val, "SHA-1"))
        return bad_value(p, key, val, "zkd's digest scheme is SHA1 only");
    return 0;
}

/* superDigest / DigestAuthenticationProvider.superDigest: "user:base64(sha1(user:pw))". */
/* snapshot.compression.method: Apache's SnapStream modes ("checked" or
 * empty: none). */
static int h_compression(struct parse *p, const char *key, char *val)
{
    if (strcmp(val, "") && strcmp(val, "checked") && strcmp(val, "gz") && strcmp(val, "snappy"))
        return bad_value(p, key, val, "expected gz, snappy or checked");
    return copy_str(p, key, strcmp(val, "checked") ? val : "", p->cfg->snapshot_compression,
                    sizeof p->cfg->snapshot_compression, 1);
}

static char *trim(char *s);

static int h_super_digest(struct parse *p, const char *key, char *val)
{
    const char *colon = strchr(val, ':');
    if (!colon || colon == val || !colon[1])
        return bad_value(p, key, val, "expected user:digest");
    return copy_str(p, key, val, p->cfg->super_digest, sizeof p->cfg->super_digest, 0);
}

/* authProvider.N: the SASL provider turns SASL on; digest, ip and x509 are
 * built in.  Another class is an ACL scheme zkd cannot provide: refused,
 * since ACLs naming it would mean nothing. */
static int h_auth_provider(struct parse *p, const char *key, char *val)
{
    static const char pkg[] = "org.apache.zookeeper.server.auth.";
    static const char *const builtin[] = {
        "DigestAuthenticationProvider", "IPAuthenticationProvider", "X509AuthenticationProvider",
        NULL,
    };
    const char *cls = strncmp(val, pkg, sizeof pkg - 1) ? val : val + sizeof pkg - 1;
    if (!strcmp(cls, "SASLAuthenticationProvider")) {
        p->cfg->sasl_enabled = 1;
        return 0;
    }
    for (int i = 0; builtin[i]; i++)
        if (!strcmp(cls, builtin[i]))
            return 0;
    return bad_value(p, key, val, "zkd cannot load Java authentication providers; its schemes "
                                  "are digest, ip, x509 and sasl");
}

/* enforce.auth.schemes: Apache splits it at ',' and trims each name; kept
 * here in that normalized form (checked against the providers once the
 * whole configuration is read, validate_enforce_auth). */
static int h_enforce_auth_schemes(struct parse *p, const char *key, char *val)
{
    char *dst = p->cfg->enforce_auth_schemes;
    size_t cap = sizeof p->cfg->enforce_auth_schemes, n = 0;
    char *save = NULL;
    dst[0] = '\0';
    for (char *s = strtok_r(val, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
        int w = snprintf(dst + n, cap - n, "%s%s", n ? "," : "", trim(s));
        if (w < 0 || (size_t)w >= cap - n)
            return bad_value(p, key, val, "too long");
        n += (size_t)w;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* TLS: ssl.<name> and ssl.quorum.<name>, one sub-table for both sides       */
/* ------------------------------------------------------------------------ */

/* The side a TLS key configures: 1 for "ssl.quorum.*", else 0 (client port). */
static int tls_side(const char *key)
{
    return !strncmp(key, "ssl.quorum.", 11) || !strncmp(key, "zookeeper.ssl.quorum.", 21);
}

static struct zkd_tls_config *tls_of(struct parse *p, const char *key)
{
    return tls_side(key) ? &p->cfg->tls_quorum : &p->cfg->tls;
}

/* Remembers a store or PEM path for finish_tls(), which applies precedence. */
static int store_path(struct parse *p, const char *key, const char *val, enum tls_slot slot)
{
    size_t n = strlen(val);
    if (!n)
        return bad_value(p, key, val, "must not be empty");
    if (n >= sizeof p->cfg->tls.cert)
        return bad_value(p, key, val, "path too long");
    p->tls_paths[tls_side(key)][slot] = val;
    return 0;
}

static int h_keystore(struct parse *p, const char *key, char *val)
{
    return store_path(p, key, val, SLOT_KEYSTORE);
}

static int h_cert_file(struct parse *p, const char *key, char *val)
{
    return store_path(p, key, val, SLOT_CERT_FILE);
}

static int h_key_file(struct parse *p, const char *key, char *val)
{
    return store_path(p, key, val, SLOT_KEY_FILE);
}

static int h_truststore(struct parse *p, const char *key, char *val)
{
    return store_path(p, key, val, SLOT_TRUSTSTORE);
}

static int h_ca_file(struct parse *p, const char *key, char *val)
{
    return store_path(p, key, val, SLOT_CA_FILE);
}

/* KeyStoreFileType.fromPropertyValue: PEM, PKCS12, JKS (any case); "" = infer
 * from the file name.  BCFKS needs BouncyCastle, which has no C counterpart. */
static int store_type(const char *name)
{
    static const char *const names[] = {"PEM", "PKCS12", "JKS"};
    for (int i = 0; i < 3; i++)
        if (!strcasecmp(name, names[i]))
            return i;
    return -1;
}

static int h_store_type(struct parse *p, const char *key, char *val)
{
    int t = *val ? store_type(val) : -2;
    if (t == -1)
        return bad_value(p, key, val, "must be PEM, PKCS12 or JKS");
    int trust = strstr(key, "trustStore") != NULL;
    p->tls_types[tls_side(key)][trust] = t;
    return 0;
}

/* X509Util's *.passwordPath: the password is the file's content (trailing
 * line break dropped); it wins over *.password as in Apache. */
static int h_password_path(struct parse *p, const char *key, char *val)
{
    struct zkd_tls_config *t = tls_of(p, key);
    char *dst = strstr(key, "trustStore") ? t->trust_password : t->key_password;
    FILE *f = fopen(val, "rb");
    if (!f)
        return bad_value(p, key, val, strerror(errno));
    size_t n = fread(dst, 1, sizeof t->key_password - 1, f);
    int too_long = fgetc(f) != EOF;
    fclose(f);
    if (too_long)
        return bad_value(p, key, val, "password file longer than 255 bytes");
    while (n && (dst[n - 1] == '\n' || dst[n - 1] == '\r'))
        n--;
    dst[n] = '\0';
    int trust = strstr(key, "trustStore") != NULL;
    p->password_from_file[tls_side(key)][trust] = 1;
    return 0;
}

static int h_password(struct parse *p, const char *key, char *val)
{
    struct zkd_tls_config *t = tls_of(p, key);
    int trust = strstr(key, "trustStore") != NULL;
    if (p->password_from_file[tls_side(key)][trust])
        return 0;
    char *dst = trust ? t->trust_password : t->key_password;
    return copy_str(p, key, val, dst, sizeof t->key_password, 1);
}

/* A JSSE protocol name as a TLS wire version; 0 if unknown. */
static int tls_version(const char *name, size_t len)
{
    static const struct { const char *name; int v; } v[] = {
        {"TLSv1", 0x0301}, {"TLSv1.1", 0x0302}, {"TLSv1.2", 0x0303}, {"TLSv1.3", 0x0304},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (strlen(v[i].name) == len && !strncmp(name, v[i].name, len))
            return v[i].v;
    return 0;
}

/* ssl.protocol: the SSLContext protocol.  As in JSSE, TLSv1.3 enables 1.3 and
 * 1.2, an older one only itself; "TLS" keeps the default (1.2 and 1.3).  An
 * explicit ssl.enabledProtocols wins whatever the order (finish_tls). */
static int h_protocol(struct parse *p, const char *key, char *val)
{
    struct zkd_tls_config *t = tls_of(p, key);
    if (!strcmp(val, "TLS") || !*val) {
        t->min_version = 0x0303, t->max_version = 0x0304;
        return 0;
    }
    int v = tls_version(val, strlen(val));
    if (!v)
        return bad_value(p, key, val, "must be TLS, TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3");
    t->max_version = v;
    t->min_version = v == 0x0304 ? 0x0303 : v;
    return 0;
}

/* ssl.enabledProtocols: a comma-separated list.  OpenSSL takes a version
 * range, so the list must have no holes ("TLSv1.1,TLSv1.3" is refused). */
static int h_enabled_protocols(struct parse *p, const char *key, char *val)
{
    unsigned seen = 0;
    for (const char *s = val; *s;) {
        size_t n = strcspn(s, ",");
        const char *e = s + n;
        while (s < e && isspace((unsigned char)*s))
            s++;
        size_t len = (size_t)(e - s);
        while (len && isspace((unsigned char)s[len - 1]))
            len--;
        int v = tls_version(s, len);
        if (!v)
            return bad_value(p, key, val, "unknown protocol (TLSv1, TLSv1.1, TLSv1.2, TLSv1.3)");
        seen |= 1u << (v - 0x0301);
        s = *e ? e + 1 : e;
    }
    if (!seen)
        return bad_value(p, key, val, "no protocol");
    int lo = __builtin_ctz(seen), hi = 31 - __builtin_clz(seen);
    if (seen != ((2u << hi) - (1u << lo)))
        return bad_value(p, key, val, "OpenSSL enables a contiguous range of versions only");
    p->enabled_protocols[tls_side(key)][0] = 0x0301 + lo;
    p->enabled_protocols[tls_side(key)][1] = 0x0301 + hi;
    return 0;
}

/* ssl.clientAuth: X509Util's ClientAuth values; empty means need. */
static int h_client_auth(struct parse *p, const char *key, char *val)
{
    static const char *const names[] = {"none", "want", "need"};
    struct zkd_tls_config *t = tls_of(p, key);
    if (!*val) {
        t->client_auth = 2;
        return 0;
    }
    for (int i = 0; i < 3; i++)
        if (!strcasecmp(val, names[i])) {
            t->client_auth = i;
            return 0;
        }
    return bad_value(p, key, val, "must be none, want or need");
}

/* ssl.authProvider: the scheme the TLS identity gets; zkd's is x509. */
static int h_ssl_auth_provider(struct parse *p, const char *key, char *val)
{
    if (strcmp(val, "x509"))
        return bad_value(p, key, val, "zkd gives TLS clients the x509 scheme only");
    return 0;
}

static int h_ssl(struct parse *p, const char *key, char *val);

/* admin.commandURL: a path starting with '/', without a trailing one. */
static int h_command_url(struct parse *p, const char *key, char *val)
{
    size_t n = strlen(val);
    while (n > 1 && val[n - 1] == '/')
        val[--n] = 0;
    if (val[0] != '/')
        return bad_value(p, key, val, "must start with '/'");
    return copy_str(p, key, val, p->cfg->admin_command_url, sizeof p->cfg->admin_command_url, 1);
}

/* logLevel: error, warn, info or debug (log.h). */
static int h_log_level(struct parse *p, const char *key, char *val)
{
    int l = zkd_log_level_parse(val);
    if (l < 0)
        return bad_value(p, key, val, "must be error, warn, info or debug");
    p->cfg->log_level = l;
    return 0;
}

/* logFormat: plain (default) or json, one object a line (log.h). */
static int h_log_format(struct parse *p, const char *key, char *val)
{
    if (strcasecmp(val, "plain") && strcasecmp(val, "json"))
        return bad_value(p, key, val, "must be plain or json");
    p->cfg->log_json = !strcasecmp(val, "json");
    return 0;
}

/* metricsProvider.className: Apache's Prometheus provider turns on zkd's
 * /metrics endpoint; the default (no-op) provider leaves it off. */
static int h_metrics_class(struct parse *p, const char *key, char *val)
{
    if (!strcmp(val, "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider")) {
        p->cfg->metrics_prometheus = 1;
    } else if (!*val || !strcmp(val, "org.apache.zookeeper.metrics.impl.DefaultMetricsProvider") ||
               !strcmp(val, "org.apache.zookeeper.metrics.impl.NullMetricsProvider")) {
        p->cfg->metrics_prometheus = 0;
    } else {
        log_warn("%s:%d: '%s=%s' ignored: zkd exports metrics only as Prometheus", p->file,
                 p->line, key, val);
    }
    return 0;
}

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

static int parse_one_addr(char *s, struct zkd_server_line *sl, const char **why);

/* Parses the part before ';': one address, or several separated by '|'
 * (multiAddress), of which every one is checked and the first is kept. */
static int parse_server_addr(char *s, struct zkd_server_line *sl, const char **why)
{
    char *bar = strchr(s, '|');
    if (bar)
        *bar = '\0';
    if (parse_one_addr(s, sl, why) < 0)
        return -1;
    while (bar) {
        char *next = bar + 1;
        struct zkd_server_line other;
        if ((bar = strchr(next, '|')))
            *bar = '\0';
        memset(&other, 0, sizeof other);
        if (parse_one_addr(trim(next), &other, why) < 0)
            return -1;
        if (other.observer != sl->observer) {
            *why = "the addresses of one server must have the same role";
            return -1;
        }
        sl->extra_addrs++;
    }
    return 0;
}

static int parse_one_addr(char *s, struct zkd_server_line *sl, const char **why)
{
    char *host, *ports;
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
    if (parse_int(p, key, key + strlen("server."), 10, 0, ZKD_MAX_SERVER_ID, &id) < 0) {
        /* Re-word: the key, not the value, is wrong. */
        return fail(p, "invalid server id in key '%s' (must be an integer 0..%d)", key,
                    ZKD_MAX_SERVER_ID);
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

/* group.G=sid:sid... and weight.S=w (quorum_verifier.h checks them once the
 * server lines are all read). */
static int h_group(struct parse *p, const char *key, char *val)
{
    const char *why = NULL;
    if (qv_parse_group(p->cfg, key + strlen("group."), trim(val), &why) < 0)
        return bad_value(p, key, val, why);
    return 0;
}

static int h_weight(struct parse *p, const char *key, char *val)
{
    const char *why = NULL;
    if (qv_parse_weight(p->cfg, key + strlen("weight."), trim(val), &why) < 0)
        return bad_value(p, key, val, why);
    return 0;
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
    K_IGNORE,     /* accepted, no effect on zkd; one INFO line says why */
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
#define IGNORED(n) {n, K_IGNORE, 0, 0, 0, 0, 0, NULL, NULL} /* why: JVM tuning */
#define IGNORED_WHY(n, w) {n, K_IGNORE, 0, 0, 0, 0, 0, NULL, w}
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
    INT_KEY("globalOutstandingLimit", global_outstanding_limit, 1, INT_MAX), /* server.h */
    DECODE_KEY("jute.maxbuffer", jute_max_buffer, 1, INT_MAX),
    INT_KEY("snapCount", snap_count, 2, INT_MAX),
    INT_KEY("autopurge.snapRetainCount", autopurge_snap_retain_count, INT_MIN, INT_MAX),
    INT_KEY("autopurge.purgeInterval", autopurge_purge_interval, INT_MIN, INT_MAX),
    FN_KEY("4lw.commands.whitelist", h_whitelist),
    /* Apache reads these as system properties; zkd takes them from zoo.cfg. */
    INT_KEY("znode.container.checkIntervalMs", container_check_ms, 1, INT_MAX),
    INT_KEY("znode.container.maxPerMinute", container_max_per_minute, 1, INT_MAX),
    INT_KEY("znode.container.maxNeverUsedIntervalMs", container_max_never_used_ms, 0, INT_MAX),
    BOOL_KEY("extendedTypesEnabled", extended_types_enabled),
    BOOL_KEY("readonlymode.enabled", readonly_mode),
    /* Storage: Apache's system properties zookeeper.snapshot.compression.method
     * and zookeeper.preAllocSize (KiB).  digest.enabled (default true): the
     * TxnDigest after each log entry, its check on replay and the `hash`
     * history (digest.h); zkd writes and checks the snapshot digest either
     * way (an Apache with digest.enabled=false skips it). */
    FN_KEY("snapshot.compression.method", h_compression),
    BOOL_KEY("digest.enabled", digest_enabled),
    INT_KEY("preAllocSize", pre_alloc_kb, 1, INT_MAX / 1024),
    BOOL_KEY("enforceQuota", enforce_quota), /* also zookeeper.enforceQuota; quota.h */
    /* Cluster options. */
    INT_KEY("initLimit", init_limit, 0, INT_MAX),
    INT_KEY("syncLimit", sync_limit, 0, INT_MAX),
    FN_KEY("electionAlg", h_election_alg),
    FN_KEY("memberProtocol", h_member_protocol),
    BOOL_KEY("standaloneEnabled", standalone_enabled),
    BOOL_KEY("reconfigEnabled", reconfig_enabled),
    FN_KEY("server.*", h_server),
    PATH_KEY("dynamicConfigFile", dynamic_config_file),
    FN_KEY("group.*", h_group),   /* hierarchical quorums: quorum_verifier.h */
    FN_KEY("weight.*", h_weight),
    BOOL_KEY("multiAddress.enabled", multi_address_enabled),
    IGNORED_WHY("multiAddress.reachabilityCheckEnabled", "zkd uses the first address only"),
    IGNORED_WHY("multiAddress.reachabilityCheckTimeoutMs", "zkd uses the first address only"),
    /* Authentication. */
    FN_KEY("superDigest", h_super_digest),
    FN_KEY("DigestAuthenticationProvider.superDigest", h_super_digest),
    FN_KEY("authProvider.*", h_auth_provider),
    BOOL_KEY("DigestAuthenticationProvider.enabled", digest_auth_enabled),
    FN_KEY("DigestAuthenticationProvider.digestAlg", h_digest_alg),
    FALSE_ONLY("emulate353TTLNodes", "zkd encodes TTL node owners as Apache 3.5.4 and later do"),
    IGNORED_WHY("jaasLoginRenew", "times Java's Kerberos ticket renewal; MIT Kerberos renews "
                                  "zkd's tickets from the keytab itself"),
    PATH_KEY("jaasLoginFile", jaas_file), /* zkd extension */
    INT_KEY("pollSpinMicros", poll_spin_us, 0, 1000000), /* zkd extension */
    INT_KEY("requestsPerTurn", requests_per_turn, 0, INT_MAX), /* zkd extension, conn.h */
    INT_KEY("requestsPerLoopTurn", requests_per_loop_turn, 0, INT_MAX), /* zkd extension, server.h */
    INT_KEY("clientPortListenBacklog", client_listen_backlog, -1, INT_MAX),
    INT_KEY("notifyWritesPerTurn", notify_writes_per_turn, 0, INT_MAX), /* zkd extension, flush.h */
    INT_KEY("getChildrenSlice", children_slice, 0, INT_MAX), /* zkd extension, listing.h */
    BOOL_KEY("enforce.auth.enabled", enforce_auth_enabled),     /* validate_enforce_auth */
    FN_KEY("enforce.auth.schemes", h_enforce_auth_schemes),
    BOOL_KEY("sessionRequireClientSASLAuth", session_require_sasl),
    /* TLS: ssl.* and ssl.quorum.*, see tls_keys[]. */
    FN_KEY("ssl.*", h_ssl),
    BOOL_KEY("sslQuorum", ssl_quorum),
    BOOL_KEY("sslQuorumReloadCertFiles", tls_quorum.reload),
    BOOL_KEY("client.certReload", tls.reload),
    BOOL_KEY("client.portUnification", client_port_unification),
    STR_KEY("X509AuthenticationProvider.superUser", x509_super_user),
    WARNED("portUnification", "zkd does not serve TLS and plain TCP on one port"),
    /* SASL between members (quorum_auth.h). */
    BOOL_KEY("quorum.auth.enableSasl", quorum_sasl),
    BOOL_KEY("quorum.auth.learnerRequireSasl", quorum_learner_require_sasl),
    BOOL_KEY("quorum.auth.serverRequireSasl", quorum_server_require_sasl),
    STR_KEY("quorum.auth.learner.saslLoginContext", quorum_learner_context),
    STR_KEY("quorum.auth.server.saslLoginContext", quorum_server_context),
    STR_KEY("quorum.auth.kerberos.servicePrincipal", quorum_kerberos_principal),
    IGNORED_WHY("quorum.cnxn.threads.size", "sizes Apache's pool of quorum SASL threads; zkd "
                                            "authenticates members on its event loop"),
    /* Local sessions (localsess.h); like Apache, only an ensemble has them. */
    BOOL_KEY("localSessionsEnabled", local_sessions),
    BOOL_KEY("localSessionsUpgradingEnabled", local_sessions_upgrading),
    WARNED("oraclePath", "zkd has no quorum oracle"),
    /* Operations: AdminServer (admin.c), Prometheus (metrics.c). */
    BOOL_KEY("admin.enableServer", admin_enable),
    STR_KEY("admin.serverAddress", admin_address),
    INT_KEY("admin.serverPort", admin_port, 0, 65535),
    FN_KEY("admin.commandURL", h_command_url),
    INT_KEY("admin.idleTimeout", admin_idle_timeout_ms, 1, INT_MAX),
    BOOL_KEY("admin.snapshot.enabled", admin_snapshot_enabled),
    BOOL_KEY("admin.restore.enabled", admin_restore_enabled),
    INT_KEY("admin.rateLimiterIntervalInMS", admin_rate_limit_ms, 0, INT_MAX),
    INT_KEY("admin.restore.maxMB", admin_restore_max_mb, 1, 1 << 20), /* zkd extension */
    BOOL_KEY("admin.forceHttps", admin_force_https),
    BOOL_KEY("admin.portUnification", admin_port_unification),
    BOOL_KEY("admin.needClientAuth", admin_need_client_auth),
    IGNORED("admin.*"), /* httpVersion, ... */
    FN_KEY("metricsProvider.className", h_metrics_class),
    STR_KEY("metricsProvider.httpHost", metrics_host),
    INT_KEY("metricsProvider.httpPort", metrics_port, 0, 65535),
    IGNORED("metricsProvider.*"), /* exportJvmInfo, numWorkerThreads, ... */
    INT_KEY("fsync.warningthresholdms", fsync_warn_ms, 0, INT_MAX),
    INT_KEY("slowRequestThresholdMs", slow_request_ms, 0, INT_MAX), /* zkd extension */
    FN_KEY("logLevel", h_log_level),   /* zkd extension */
    FN_KEY("logFormat", h_log_format), /* zkd extension */
    /* Audit log (audit.c); Apache reads zookeeper.audit.enable. */
    BOOL_KEY("audit.enable", audit_enable),
    PATH_KEY("audit.logFile", audit_log_file),          /* zkd extension */
    BOOL_KEY("audit.sessionEvents", audit_session_events), /* zkd extension */
    IGNORED_WHY("audit.impl.class", "names a Java AuditLogger class; zkd writes Apache's "
                                    "Slf4jAuditLogger lines itself"),
    /* Apache JVM-server tuning with no zkd counterpart. */
    IGNORED("syncEnabled"),
    IGNORED("forceSync"),
    BOOL_KEY("quorumListenOnAllIPs", quorum_listen_all),
    IGNORED("leaderServes"),
    IGNORED("cnxTimeout"),
    IGNORED("electionPortBindRetry"),
    IGNORED("tcpKeepAlive"),
    IGNORED("clientTcpKeepAlive"),
    IGNORED("serverCnxnFactory"),
    IGNORED("clientCnxnSocket"),
    IGNORED("observerMasterPort"),
    IGNORED("connectToLearnerMasterLimit"),
    IGNORED("peerType"), /* Apache too lets the server.N role win */
    IGNORED("jvm.pause.*"),
    IGNORED("maxCnxns"),
    IGNORED_WHY("maxResponseCacheSize", "sizes Apache's cache of serialized replies; zkd has none"),
    IGNORED_WHY("maxGetChildrenResponseCacheSize",
                "sizes Apache's cache of serialized replies; zkd has none"),
    IGNORED_WHY("bitHashCacheSize", "tunes Apache's WatchManagerOptimized"),
    IGNORED_WHY("fastleader.*", "times Apache's leader election; zkd's election has its own"),
    IGNORED_WHY("maxTimeToWaitForEpoch", "times Apache's leader election; zkd's has its own"),
    IGNORED_WHY("quorumCnxnTimeoutMs", "times Apache's quorum connections; zkd's has its own"),
    IGNORED_WHY("observer.*", "times Apache's observers; zkd's reconnect on their own timers"),
    IGNORED_WHY("connection*", "Apache's connection throttle (token bucket); zkd limits clients "
                               "with maxClientCnxns"),
    IGNORED_WHY("requestThrottle*", "Apache's request throttle; zkd pauses a connection's reads "
                                    "when its replies queue up instead"),
    IGNORED_WHY("advancedFlowControlEnabled", "Apache's Netty flow control"),
    IGNORED_WHY("outstandingHandshake.limit", "limits Apache's concurrent TLS handshakes"),
    IGNORED_WHY("maxConcurrentSnapSyncs", "throttles Apache's learner syncs"),
    IGNORED_WHY("maxConcurrentDiffSyncs", "throttles Apache's learner syncs"),
    IGNORED_WHY("jute.maxbuffer.extrasize",
                "Apache's allowance above jute.maxbuffer; zkd checks frames against "
                "jute.maxbuffer"),
    IGNORED_WHY("enableEagerACLCheck",
                "zkd checks a write's ACL when the leader prepares it, before any transaction"),
    IGNORED_WHY("serializeLastProcessedZxid.enabled",
                "a field of Apache 3.9's snapshot format, not zkd's"),
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
    IGNORED("closeSessionTxn.enabled"),
    IGNORED("largeRequestMaxBytes"),
    IGNORED("largeRequestThreshold"),
    BOOL_KEY("kerberos.removeHostFromPrincipal", krb_remove_host),   /* kerberos.h */
    BOOL_KEY("kerberos.removeRealmFromPrincipal", krb_remove_realm), /* kerberos.h */
    IGNORED("kerberos.*"),
    STR_KEY("superUser", sasl_super_user),
    IGNORED_WHY("skipACL", "zkd always enforces ACLs"),
    IGNORED_WHY("requireClientAuthScheme",
                "Apache 3.8/3.9 do not read it either; sessionRequireClientSASLAuth and "
                "enforce.auth.enabled are the keys that require authentication"),
    IGNORED("fips-mode"),
    IGNORED("netty.*"),
    IGNORED("nio.*"),
    IGNORED("traceFile"),
};

#define NKEYS (sizeof keys / sizeof keys[0])

/* X509Util's keys, after "ssl." or "ssl.quorum."; fields of struct zkd_tls_config. */
#define TFIELD(f) offsetof(struct zkd_tls_config, f), sizeof(((struct zkd_tls_config *)0)->f)
static const struct key_spec tls_keys[] = {
    FN_KEY("keyStore.location", h_keystore),
    FN_KEY("keyStore.password", h_password),
    FN_KEY("keyStore.passwordPath", h_password_path),
    FN_KEY("keyStore.type", h_store_type),
    FN_KEY("trustStore.location", h_truststore),
    FN_KEY("trustStore.password", h_password),
    FN_KEY("trustStore.passwordPath", h_password_path),
    FN_KEY("trustStore.type", h_store_type),
    FN_KEY("certFile", h_cert_file), /* zkd extensions: PEM files by name */
    FN_KEY("keyFile", h_key_file),
    FN_KEY("caFile", h_ca_file),
    FN_KEY("protocol", h_protocol),
    FN_KEY("enabledProtocols", h_enabled_protocols),
    {"ciphersuites", K_STR, TFIELD(ciphersuites), 0, 0, 0, NULL, NULL},
    FN_KEY("clientAuth", h_client_auth),
    {"hostnameVerification", K_BOOL, TFIELD(hostname_verification), 0, 0, 0, NULL, NULL},
    {"clientHostnameVerification", K_BOOL, TFIELD(client_hostname_verification), 0, 0, 0, NULL,
     NULL},
    {"crl", K_BOOL, TFIELD(crl), 0, 0, 0, NULL, NULL},
    {"ocsp", K_BOOL, TFIELD(ocsp), 0, 0, 0, NULL, NULL},
    REJECTED("context.supplier.class", "zkd cannot load a Java SSLContext supplier"),
    FN_KEY("authProvider", h_ssl_auth_provider),
    IGNORED_WHY("allowReverseDnsLookup",
                "zkd matches a peer's certificate against its IP address only (stricter)"),
    IGNORED_WHY("handshakeDetectionTimeoutMillis", "tunes Netty's port unification"),
    IGNORED_WHY("sslProvider", "zkd always uses OpenSSL"),
};

static int apply_spec(struct parse *p, const struct key_spec *k, void *base, const char *key,
                      char *val);

/* ssl.<name> and ssl.quorum.<name> (also with "zookeeper." in front). */
static int h_ssl(struct parse *p, const char *key, char *val)
{
    const char *name = key + (strncmp(key, "zookeeper.", 10) ? 0 : 10);
    name += tls_side(key) ? strlen("ssl.quorum.") : strlen("ssl.");
    for (size_t i = 0; i < sizeof tls_keys / sizeof tls_keys[0]; i++)
        if (!strcmp(name, tls_keys[i].name))
            return apply_spec(p, &tls_keys[i], tls_of(p, key), key, val);
    if (name != key + strlen(tls_side(key) ? "ssl.quorum." : "ssl.")) {
        /* As for any other system property zkd has no use for. */
        log_info("%s:%d: system property '%s' ignored: zkd does not read it", p->file, p->line,
                 key);
        return 0;
    }
    return fail(p, "unknown key '%s'", key);
}

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

/* Applies one key=value according to its row; fields are at base + k->off. */
static int apply_spec(struct parse *p, const struct key_spec *k, void *base, const char *key,
                      char *val)
{
    char *field = (char *)base + k->off;
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
        log_info("%s:%d: '%s' ignored: %s", p->file, p->line, key,
                 k->why ? k->why : "it tunes Apache's JVM server; zkd has no counterpart");
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
            log_info("%s:%d: system property '%s' ignored: zkd does not read it", p->file,
                     p->line, key);
            return 0;
        }
    }
    if (!k)
        return fail(p, "unknown key '%s'", key);
    return apply_spec(p, k, p->cfg, key, val);
}

/* A dynamic config file holds server.N lines and, as in Apache, the
 * group.G/weight.S lines of a hierarchical quorum. */
static int apply_dynamic_key(struct parse *p, const char *key, char *val)
{
    if (!strncmp(key, "server.", 7))
        return h_server(p, key, val);
    if (!strncmp(key, "group.", 6))
        return h_group(p, key, val);
    if (!strncmp(key, "weight.", 7))
        return h_weight(p, key, val);
    if (!strcmp(key, "version"))
        return fail(p, "a dynamic config file must not contain 'version'");
    return fail(p, "unknown key '%s' (a dynamic config file holds only server.N, group.N "
                   "and weight.N lines)", key);
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
/* System properties: -Dname=value in SERVER_JVMFLAGS / JVMFLAGS              */
/* ------------------------------------------------------------------------ */

/*
 * Keys QuorumPeerConfig.parseProperties reads from zoo.cfg itself: Apache
 * never looks at a "zookeeper.<key>" system property for them, so neither
 * does zkd (a -Dzookeeper.clientPort flag does nothing in Apache either).
 */
static const char *const zoo_cfg_only[] = {
    "dataDir", "dataLogDir", "clientPort", "localSessionsEnabled",
    "localSessionsUpgradingEnabled", "clientPortAddress", "secureClientPort",
    "secureClientPortAddress", "observerMasterPort", "clientPortListenBacklog", "tickTime",
    "maxClientCnxns", "minSessionTimeout", "maxSessionTimeout", "initLimit", "syncLimit",
    "connectToLearnerMasterLimit", "electionAlg", "quorumListenOnAllIPs", "peerType",
    "syncEnabled", "dynamicConfigFile", "autopurge.snapRetainCount", "autopurge.purgeInterval",
    "standaloneEnabled", "reconfigEnabled", "sslQuorum", "portUnification",
    "sslQuorumReloadCertFiles", "quorum.cnxn.threads.size", "oraclePath",
    "multiAddress.", "metricsProvider.", "quorum.auth.", "jvm.pause.", "server.", "group",
    "weight", NULL,
};

/* Properties Apache reads without the "zookeeper." prefix. */
static const char *const bare_props[] = {
    "jute.maxbuffer", "readonlymode.enabled", "znode.container.checkIntervalMs",
    "znode.container.maxPerMinute", NULL,
};

static int in_list(const char *const *list, const char *name)
{
    for (int i = 0; list[i]; i++) {
        size_t n = strlen(list[i]);
        int prefix = list[i][n - 1] == '.' || !strcmp(list[i], "group") ||
                     !strcmp(list[i], "weight");
        if (prefix ? !strncmp(name, list[i], n) : !strcmp(name, list[i]))
            return 1;
    }
    return 0;
}

/* Applies one -Dname=value. */
static int apply_sysprop(struct parse *p, char *name, char *val)
{
    static const char zk[] = "zookeeper.";
    if (!strcmp(name, "java.security.auth.login.config"))
        return copy_str(p, name, val, p->cfg->jaas_file, sizeof p->cfg->jaas_file, 0);
    if (in_list(bare_props, name))
        return apply_key(p, name, val);
    if (strncmp(name, zk, sizeof zk - 1))
        return 0; /* a JVM or logging flag (-Xmx is not even a property) */
    const char *bare = name + sizeof zk - 1;
    if (in_list(zoo_cfg_only, bare)) {
        log_info("%s: -D%s ignored: Apache reads '%s' only from zoo.cfg", p->file, name, bare);
        return 0;
    }
    return apply_key(p, name, val);
}

static int on_sysprop(char *name, char *value, void *data)
{
    return apply_sysprop(data, name, value) < 0 ? -1 : 0;
}

/* The -D flags (zk/jvmflags.h: split at blanks as the shell does, a later
 * flag of the same name wins); errors name "SERVER_JVMFLAGS/JVMFLAGS". */
static int parse_jvmflags(struct parse *p, char *flags)
{
    const char *file = p->file;
    p->file = "SERVER_JVMFLAGS/JVMFLAGS";
    if (jvmflags_each(flags, on_sysprop, p))
        return -1;
    p->file = file;
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

/* KeyStoreFileType.fromFilename: .jks, .p12/.pfx, .pem name their format;
 * zkd reads any other name as PEM (as it always has: "server.crt").  -1 for
 * .bcfks, which needs BouncyCastle. */
static int type_from_name(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (dot && strchr(dot, '/'))
        dot = NULL;
    if (dot && !strcasecmp(dot, ".jks"))
        return ZKD_STORE_JKS;
    if (dot && (!strcasecmp(dot, ".p12") || !strcasecmp(dot, ".pfx")))
        return ZKD_STORE_PKCS12;
    if (dot && !strcasecmp(dot, ".bcfks"))
        return -1;
    return ZKD_STORE_PEM;
}

/* The store format: the .type key, else the file name.  Returns 0 or -1. */
static int resolve_type(struct parse *p, const char *path, int typed, const char *what, int *out)
{
    *out = typed >= 0 ? typed : type_from_name(path);
    if (*out < 0)
        return fail(p, "%s '%s': BCFKS stores need BouncyCastle; convert it to PKCS12 or PEM",
                    what, path);
    return 0;
}

/* One side's paths and formats; explicit PEM files win over the stores
 * whatever their order in the file. */
static int finish_tls_side(struct parse *p, int side)
{
    struct zkd_tls_config *t = side ? &p->cfg->tls_quorum : &p->cfg->tls;
    const char *const *slot = p->tls_paths[side];
    const char *cert = slot[SLOT_CERT_FILE] ? slot[SLOT_CERT_FILE] : slot[SLOT_KEYSTORE];
    const char *ca = slot[SLOT_CA_FILE] ? slot[SLOT_CA_FILE] : slot[SLOT_TRUSTSTORE];
    if (cert) {
        snprintf(t->cert, sizeof t->cert, "%s", cert);
        if (slot[SLOT_KEY_FILE])
            snprintf(t->key, sizeof t->key, "%s", slot[SLOT_KEY_FILE]);
        if (slot[SLOT_CERT_FILE])
            t->key_type = ZKD_STORE_PEM;
        else if (resolve_type(p, cert, p->tls_types[side][0], "ssl.keyStore.location",
                              &t->key_type) < 0)
            return -1;
        if (t->key_type != ZKD_STORE_PEM && t->key[0])
            return fail(p, "ssl.keyFile goes with a PEM certificate, not a %s key store",
                        t->key_type == ZKD_STORE_JKS ? "JKS" : "PKCS12");
    }
    if (ca) {
        snprintf(t->ca, sizeof t->ca, "%s", ca);
        if (slot[SLOT_CA_FILE])
            t->trust_type = ZKD_STORE_PEM;
        else if (resolve_type(p, ca, p->tls_types[side][1], "ssl.trustStore.location",
                              &t->trust_type) < 0)
            return -1;
    }
    if (p->enabled_protocols[side][0]) {
        t->min_version = p->enabled_protocols[side][0];
        t->max_version = p->enabled_protocols[side][1];
    }
    return 0;
}

/* Both sides; the quorum side falls back to the client side's identity and
 * trust (a zkd convenience: Apache would need the ssl.quorum.* keys). */
static int finish_tls(struct parse *p)
{
    struct zkd_config *cfg = p->cfg;
    if (finish_tls_side(p, 0) < 0 || finish_tls_side(p, 1) < 0)
        return -1;
    struct zkd_tls_config *q = &cfg->tls_quorum;
    if (!q->cert[0]) {
        memcpy(q->cert, cfg->tls.cert, sizeof q->cert);
        memcpy(q->key, cfg->tls.key, sizeof q->key);
        q->key_type = cfg->tls.key_type;
        if (!q->key_password[0])
            memcpy(q->key_password, cfg->tls.key_password, sizeof q->key_password);
    }
    if (!q->ca[0]) {
        memcpy(q->ca, cfg->tls.ca, sizeof q->ca);
        q->trust_type = cfg->tls.trust_type;
        if (!q->trust_password[0])
            memcpy(q->trust_password, cfg->tls.trust_password, sizeof q->trust_password);
    }
    return 0;
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

/* Session ids carry the low byte of the server id (see config.h). */
static int validate_server_ids(struct parse *p)
{
    const struct zkd_config *cfg = p->cfg;
    for (int i = 0; i < cfg->nservers; i++) {
        int a = cfg->servers[i].id;
        if (cfg->extended_types_enabled && a > 254)
            return fail(p, "server.%d: extendedTypesEnabled needs server ids below 255", a);
        for (int j = i + 1; j < cfg->nservers; j++)
            if ((cfg->servers[j].id & 0xff) == (a & 0xff))
                return fail(p, "server.%d and server.%d: ids that agree in their low byte would "
                               "give the same session ids", a, cfg->servers[j].id);
    }
    return 0;
}

static int validate_ensemble(struct parse *p)
{
    const struct zkd_config *cfg = p->cfg;
    if (validate_server_ids(p) < 0)
        return -1;
    for (int i = 0; i < cfg->nservers; i++) {
        const struct zkd_server_line *sl = &cfg->servers[i];
        if (!sl->extra_addrs)
            continue;
        if (!cfg->multi_address_enabled)
            return fail(p, "server.%d has several addresses but multiAddress.enabled is not true",
                        sl->id);
        /* Availability, not safety: every member reaches server.N on the
         * same first address. */
        log_warn("%s: server.%d: zkd uses only its first address %s:%d:%d", p->file, sl->id,
                 sl->host, sl->quorum_port, sl->election_port);
    }
    char why[300];
    if (qv_resolve(p->cfg, why, sizeof why) < 0)
        return fail(p, "%s", why);
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

/* Whether `scheme` has an authentication provider in this configuration
 * (Apache's ProviderRegistry): ip always, digest unless disabled, sasl with
 * authProvider.N=...SASLAuthenticationProvider; x509 is built into zkd's TLS
 * (its identity is added whenever a client presents a certificate). */
static int scheme_available(const struct zkd_config *cfg, const char *scheme, size_t len)
{
#define IS(name) (len == strlen(name) && !strncmp(scheme, name, len))
    return IS("ip") || (IS("digest") && cfg->digest_auth_enabled) ||
           (IS("sasl") && cfg->sasl_enabled) || IS("x509");
#undef IS
}

/* AuthenticationHelper's start-up checks: enforcement needs at least one
 * scheme, and every scheme a provider, else the server must not start (an
 * operator who asked for authentication never gets a server without it). */
static int validate_enforce_auth(struct parse *p)
{
    struct zkd_config *cfg = p->cfg;
    if (cfg->session_require_sasl) {
        cfg->enforce_auth_enabled = 1;
        strcpy(cfg->enforce_auth_schemes, "sasl");
    }
    if (!cfg->enforce_auth_enabled)
        return 0;
    const char *key = cfg->session_require_sasl ? "sessionRequireClientSASLAuth"
                                                : "enforce.auth.schemes";
    if (!cfg->enforce_auth_schemes[0])
        return fail(p, "enforce.auth.enabled is true: enforce.auth.schemes must name the "
                       "schemes (digest, ip, sasl, x509) a client must authenticate with");
    for (const char *s = cfg->enforce_auth_schemes; *s;) {
        size_t n = strcspn(s, ",");
        if (!scheme_available(cfg, s, n))
            return fail(p, "%s: authentication scheme '%.*s' is not available%s", key, (int)n, s,
                        !strncmp(s, "sasl", n) && n == 4
                            ? " (set authProvider.1=org.apache.zookeeper.server.auth."
                              "SASLAuthenticationProvider)"
                            : "");
        s += n + (s[n] == ',');
    }
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
    if (cfg->ssl_quorum && (!cfg->tls_quorum.cert[0] || !cfg->tls_quorum.ca[0]))
        return fail(p, "sslQuorum needs ssl.quorum.keyStore.location (certificate and key) "
                       "and ssl.quorum.trustStore.location (the CA), or the ssl.* ones");
    if (cfg->admin_enable && (cfg->admin_force_https || cfg->admin_port_unification) &&
        !cfg->tls_quorum.cert[0])
        return fail(p, "admin.%s needs ssl.quorum.keyStore.location (or "
                       "ssl.keyStore.location): the AdminServer's certificate and key, as Apache's "
                       "JettyAdminServer reads them",
                    cfg->admin_force_https ? "forceHttps" : "portUnification");
    if (cfg->admin_enable && (cfg->admin_force_https || cfg->admin_port_unification) &&
        cfg->admin_need_client_auth && !cfg->tls_quorum.ca[0])
        return fail(p, "admin.needClientAuth needs ssl.quorum.trustStore.location (or "
                       "ssl.trustStore.location): the CAs that sign the admin clients' "
                       "certificates");
    /* Apache's QuorumPeerConfig refuses the same combinations: a member that
     * requires SASL from learners but does not authenticate itself could not
     * join its own ensemble. */
    if (!cfg->quorum_sasl && (cfg->quorum_server_require_sasl || cfg->quorum_learner_require_sasl))
        return fail(p, "quorum.auth.enableSasl is disabled, so cannot enable %s",
                    cfg->quorum_server_require_sasl ? "quorum.auth.serverRequireSasl"
                                                    : "quorum.auth.learnerRequireSasl");
    if (!cfg->quorum_learner_require_sasl && cfg->quorum_server_require_sasl)
        return fail(p, "quorum.auth.learnerRequireSasl is disabled, so cannot enable "
                       "quorum.auth.serverRequireSasl");
    if (cfg->client_port_unification && !cfg->tls.cert[0])
        return fail(p, "client.portUnification needs ssl.keyStore.location (certificate and key)");
    if (cfg->secure_client_port && !cfg->tls.cert[0])
        return fail(p, "secureClientPort needs ssl.keyStore.location (certificate and key) "
                       "or ssl.certFile and ssl.keyFile");
    if (validate_enforce_auth(p) < 0)
        return -1;
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
    cfg->pre_alloc_kb = 65536; /* Apache's FilePadding default, 64 MiB */
    cfg->autopurge_snap_retain_count = 3;
    cfg->autopurge_purge_interval = 0;
    cfg->fourlw_mask = 1u << four_letter_index("srvr", 4);
    cfg->standalone_enabled = 1;
    cfg->reconfig_enabled = 0;
    cfg->global_outstanding_limit = 1000;
    cfg->poll_spin_us = 100;
    cfg->requests_per_turn = 100;
    cfg->requests_per_loop_turn = 0; /* opt-in: see docs/zkd.md for its cost */
    cfg->client_listen_backlog = -1;
    cfg->notify_writes_per_turn = 4;
    cfg->children_slice = 16384;
    cfg->container_check_ms = 60000;
    cfg->container_max_per_minute = 10000;
    cfg->digest_auth_enabled = 1;
    cfg->digest_enabled = 1; /* ZooKeeperServer.isDigestEnabled, 3.6+ */
    strcpy(cfg->quorum_learner_context, "QuorumLearner");
    strcpy(cfg->quorum_server_context, "QuorumServer");
    strcpy(cfg->quorum_kerberos_principal, "zkquorum/localhost");
    struct zkd_tls_config *sides[] = {&cfg->tls, &cfg->tls_quorum};
    for (int i = 0; i < 2; i++) {
        sides[i]->client_auth = 2; /* X509Util: an unset ssl.clientAuth means NEED */
        sides[i]->hostname_verification = 1;
        sides[i]->client_hostname_verification = -1;
        sides[i]->min_version = 0x0303; /* JSSE's TLSv1.3 context: 1.2 and 1.3 */
        sides[i]->max_version = 0x0304;
    }
    cfg->admin_enable = 1;
    strcpy(cfg->admin_address, "0.0.0.0");
    cfg->admin_port = 8080;
    strcpy(cfg->admin_command_url, "/commands");
    cfg->admin_idle_timeout_ms = 30000;
    cfg->admin_snapshot_enabled = 1;
    cfg->admin_restore_enabled = 1;
    cfg->admin_rate_limit_ms = 300000;
    cfg->admin_restore_max_mb = 1024;
    strcpy(cfg->metrics_host, "0.0.0.0");
    cfg->metrics_port = 7000;
    cfg->fsync_warn_ms = 1000;
    cfg->slow_request_ms = 1000;
    cfg->log_level = -1;
}

int config_parse(const char *path, struct zkd_config *cfg, char *err, int errlen)
{
    return config_parse_flags(path, NULL, cfg, err, errlen);
}

int config_parse_flags(const char *path, const char *jvmflags, struct zkd_config *cfg, char *err,
                       int errlen)
{
    struct parse p = {.cfg = cfg, .file = path, .err = err, .errlen = errlen};
    for (int side = 0; side < 2; side++)
        p.tls_types[side][0] = p.tls_types[side][1] = -2;
    if (err && errlen > 0)
        err[0] = '\0';
    config_defaults(cfg);
    if (strlen(path) >= sizeof cfg->path)
        return fail(&p, "path too long");
    strcpy(cfg->path, path);
    cfg->min_session_timeout = cfg->max_session_timeout = -1; /* derive from tickTime */

    /* The flags first: a zoo.cfg key becomes the same system property in
     * Apache and so overrides a -D flag. */
    char *flags = jvmflags ? strdup(jvmflags) : NULL; /* lives to the end: paths point into it */
    if (jvmflags && !flags)
        return fail(&p, "out of memory");
    if (parse_jvmflags(&p, flags) < 0) {
        free(flags);
        return -1;
    }
    size_t len;
    char *text = slurp(&p, path, &len);
    if (!text) {
        free(flags);
        return -1;
    }
    int rc = parse_text(&p, text, len);
    if (rc == 0 && cfg->dynamic_config_file[0])
        rc = read_dynamic_file(&p);
    if (rc == 0) {
        rc = finish_tls(&p); /* before free(text): the paths point into it */
    }
    if (rc == 0) {
        derive(cfg);
        rc = validate(&p);
    }
    free(text);
    free(flags);
    return rc;
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
