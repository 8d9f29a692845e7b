/*
 * zkcli.c - the zkfs command-line shell, a compatible take on Apache's
 * zkCli.sh, built on libzk's blocking API.
 *
 *   zkcli [-s|-server host:port[,...][/chroot]] [-timeout ms] [--json]
 *         [--tls --cafile F [--certfile F --keyfile F] [--no-hostname-check] [--ocsp]]
 *         [--sasl-user U [--sasl-password P] [--sasl-mechanism M]]
 *         [--sasl-mechanism GSSAPI [--sasl-keytab F [--sasl-principal P]]]
 *         [--sasl-service S]
 *         [command [args...]]
 *
 * The zookeeper.* client properties of $CLIENT_JVMFLAGS and $JVMFLAGS are
 * read as Apache's client reads them (cli_jvmflags.h); options win.
 *
 * With a command it runs that one command and exits: status 0 on success,
 * 1 when the server (or libzk) refused it, with "<ERRNAME>: <text>: <path>"
 * on stderr, 2 for a usage error.  Without one it reads commands from stdin
 * - with libedit line editing and history (~/.zkcli_history) on a terminal
 * - and prints watch events as they arrive, as zkCli.sh does.
 *
 * Threads: commands run on the main thread and block in libzk; watch events
 * and session changes arrive on libzk's loop thread and are printed whole
 * under `out_mu`.  A command cannot hold that lock while it waits (the loop
 * thread that completes it would block on the lock), so an event may land
 * between two lines of a command's output, as in zkCli.sh.
 *
 * Node data is printed through fmt_data: binary bytes come out as \xNN
 * escapes, never raw to the terminal.  --json prints one JSON object per
 * command (and per event) on one line; data that is not UTF-8 comes as
 * "dataBase64" instead of "data".
 */
#include "cli_fmt.h"
#include "cli_jvmflags.h"

#include "zk/statstrack.h"
#include "zk/zk.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#ifdef ZKCLI_HAVE_LIBEDIT
#include <editline/readline.h>
#endif

#define MAX_ARGS 64
#define USAGE_ERR 1000 /* internal: a usage error, not a ZK_* code */
#define CMD_FAILED 1001 /* internal: the command printed why it failed */

struct cli {
    zk_blocking_t *b;
    struct zk_options opts;
    char *hosts;
    int json;
    int interactive;
    int quit;
    int ncmd;
    pthread_mutex_t out_mu;
};

/* ---- output ---- */

static const char *state_name(int s)
{
    switch (s) {
    case ZK_STATE_SYNC_CONNECTED: return "SyncConnected";
    case ZK_STATE_DISCONNECTED: return "Disconnected";
    case ZK_STATE_EXPIRED: return "Expired";
    case ZK_STATE_AUTH_FAILED: return "AuthFailed";
    case ZK_STATE_CONNECTED_READONLY: return "ConnectedReadOnly";
    case ZK_STATE_CLOSED: return "Closed";
    }
    return "Unknown";
}

static void print_event(struct cli *c, const char *type, int state, const char *path)
{
    pthread_mutex_lock(&c->out_mu);
    if (c->json) {
        printf("{\"event\":\"%s\",\"state\":\"%s\",\"path\":", type, state_name(state));
        if (path)
            fmt_json_str(stdout, path, strlen(path));
        else
            fputs("null", stdout);
        printf("}\n");
    } else {
        printf("\nWATCHER::\n\nWatchedEvent state:%s type:%s path:%s\n", state_name(state), type,
               path ? path : "null");
    }
    fflush(stdout);
    pthread_mutex_unlock(&c->out_mu);
}

/* Watch events: on libzk's loop thread. */
static void on_watch(zk_t *zk, const struct zk_event *ev, void *data)
{
    (void)zk;
    print_event(data, zk_event_type_name(ev->type), ev->state, ev->path);
}

static void on_session(zk_t *zk, int ev, void *data)
{
    struct cli *c = data;
    (void)zk;
    if (!c->interactive)
        return;
    int state = ev == ZK_SESSION_SUSPENDED     ? ZK_STATE_DISCONNECTED
                : ev == ZK_SESSION_EXPIRED     ? ZK_STATE_EXPIRED
                : ev == ZK_SESSION_AUTH_FAILED ? ZK_STATE_AUTH_FAILED
                : ev == ZK_SESSION_CLOSED      ? ZK_STATE_CLOSED
                                               : ZK_STATE_SYNC_CONNECTED;
    print_event(c, "None", state, NULL);
}

static void print_error(struct cli *c, int rc, const char *what)
{
    pthread_mutex_lock(&c->out_mu);
    if (c->json) {
        printf("{\"error\":\"%s\",\"code\":%d,\"message\":\"%s\",\"path\":", zk_errname(rc), rc,
               zk_strerror(rc));
        if (what)
            fmt_json_str(stdout, what, strlen(what));
        else
            fputs("null", stdout);
        printf("}\n");
        fflush(stdout);
    }
    fprintf(stderr, "%s: %s%s%s\n", zk_errname(rc), zk_strerror(rc), what ? ": " : "",
            what ? what : "");
    pthread_mutex_unlock(&c->out_mu);
}

/* ---- argument handling ---- */

struct flags {
    int on[128];
    const char *val[128];
    char *pos[MAX_ARGS];
    int npos;
};

/* Splits argv[1..] into flags (bool_flags: letters; val_flags: letters
 * taking a value) and positional arguments.  A lone "-" or anything that
 * does not look like a flag is positional.  Returns 0 or USAGE_ERR. */
static int parse_flags(int argc, char **argv, const char *bool_flags, const char *val_flags,
                       struct flags *fl)
{
    memset(fl, 0, sizeof *fl);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] == '-' && a[1] && !a[2] && fl->npos == 0) {
            unsigned char f = (unsigned char)a[1];
            if (f < 128 && strchr(bool_flags, f)) {
                fl->on[f] = 1;
                continue;
            }
            if (f < 128 && strchr(val_flags, f)) {
                if (i + 1 >= argc)
                    return USAGE_ERR;
                fl->on[f] = 1;
                fl->val[f] = argv[++i];
                continue;
            }
            return USAGE_ERR;
        }
        if (fl->npos == MAX_ARGS)
            return USAGE_ERR;
        fl->pos[fl->npos++] = argv[i];
    }
    return 0;
}

/* zkCli.sh lets flags follow the path too ("removewatches /p -d"): move
 * every recognised flag in front of the positionals first. */
static void flags_first(int argc, char **argv, const char *flag_letters)
{
    char *tmp[MAX_ARGS];
    int n = 0;
    tmp[n++] = argv[0];
    for (int pass = 0; pass < 2; pass++)
        for (int i = 1; i < argc && n < MAX_ARGS; i++) {
            int is_flag = argv[i][0] == '-' && argv[i][1] && !argv[i][2] &&
                          strchr(flag_letters, argv[i][1]);
            if (is_flag == (pass == 0))
                tmp[n++] = argv[i];
        }
    memcpy(argv, tmp, (size_t)n * sizeof *argv);
}

static int parse_int(const char *s, long long *out)
{
    char *end;
    if (!s || !*s)
        return USAGE_ERR;
    long long v = strtoll(s, &end, 10);
    if (*end)
        return USAGE_ERR;
    *out = v;
    return 0;
}

/* ---- commands ---- */

static int need_session(struct cli *c)
{
    return c->b ? 0 : ZK_CONNECTIONLOSS;
}

static int submit(struct cli *c, const struct zk_request *r, struct zk_result **res)
{
    int rc = need_session(c);
    if (rc != 0) {
        if (res)
            *res = NULL;
        return rc;
    }
    return zk_blocking_submit(c->b, r, res);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void print_stat(struct cli *c, const struct zk_stat *st)
{
    if (c->json)
        fmt_stat_json(stdout, st);
    else
        fmt_stat(stdout, st);
}

static int ls_recursive(struct cli *c, const char *path, int *first)
{
    struct zk_request r = {.op = ZK_OP_GETCHILDREN, .path = path};
    struct zk_result *res;
    int rc = submit(c, &r, &res);
    if (rc != 0) {
        zk_result_free(res);
        return rc;
    }
    if (c->json) {
        printf("%s", *first ? "" : ",");
        fmt_json_str(stdout, path, strlen(path));
    } else {
        printf("%s\n", path);
    }
    *first = 0;
    qsort(res->children, (size_t)res->nchildren, sizeof(char *), cmp_str);
    for (int i = 0; i < res->nchildren && rc == 0; i++) {
        size_t n = strlen(path) + strlen(res->children[i]) + 2;
        char *child = malloc(n);
        snprintf(child, n, "%s%s%s", path, strcmp(path, "/") ? "/" : "", res->children[i]);
        rc = ls_recursive(c, child, first);
        if (rc == ZK_NONODE)
            rc = 0; /* deleted meanwhile */
        free(child);
    }
    zk_result_free(res);
    return rc;
}

static int cmd_ls(struct cli *c, int argc, char **argv, const char **what)
{
    struct flags fl;
    flags_first(argc, argv, "swR");
    if (parse_flags(argc, argv, "swR", "", &fl) || fl.npos > 1)
        return USAGE_ERR;
    const char *path = fl.npos ? fl.pos[0] : "/";
    *what = path;
    if (fl.on['R']) {
        int first = 1;
        if (c->json)
            printf("{\"paths\":[");
        int rc = ls_recursive(c, path, &first);
        if (c->json)
            printf("]}\n");
        return rc;
    }
    struct zk_request r = {.op = fl.on['s'] ? ZK_OP_GETCHILDREN2 : ZK_OP_GETCHILDREN, .path = path,
                           .watcher = fl.on['w'] ? on_watch : NULL, .watcher_data = c};
    struct zk_result *res;
    int rc = submit(c, &r, &res);
    if (rc == 0) {
        qsort(res->children, (size_t)res->nchildren, sizeof(char *), cmp_str);
        if (c->json) {
            printf("{\"path\":");
            fmt_json_str(stdout, path, strlen(path));
            printf(",\"children\":[");
            for (int i = 0; i < res->nchildren; i++) {
                printf("%s", i ? "," : "");
                fmt_json_str(stdout, res->children[i], strlen(res->children[i]));
            }
            printf("]");
            if (fl.on['s']) {
                printf(",\"stat\":");
                fmt_stat_json(stdout, &res->stat);
            }
            printf("}\n");
        } else {
            printf("[");
            for (int i = 0; i < res->nchildren; i++)
                printf("%s%s", i ? ", " : "", res->children[i]);
            printf("]\n");
            if (fl.on['s'])
                fmt_stat(stdout, &res->stat);
        }
    }
    zk_result_free(res);
    return rc;
}

static int cmd_get(struct cli *c, int argc, char **argv, const char **what)
{
    struct flags fl;
    flags_first(argc, argv, "sw");
    if (parse_flags(argc, argv, "sw", "", &fl) || fl.npos != 1)
        return USAGE_ERR;
    *what = fl.pos[0];
    struct zk_request r = {.op = ZK_OP_GETDATA, .path = fl.pos[0],
                           .watcher = fl.on['w'] ? on_watch : NULL, .watcher_data = c};
    struct zk_result *res;
    int rc = submit(c, &r, &res);
    if (rc == 0) {
        if (c->json) {
            printf("{\"path\":");
            fmt_json_str(stdout, fl.pos[0], strlen(fl.pos[0]));
            /* Text as a JSON string; anything else as base64, so that no
             * byte is lost or guessed at. */
            printf(",\"data\":");
            if (res->data && fmt_is_utf8(res->data, (size_t)res->data_len)) {
                fmt_json_str(stdout, res->data, (size_t)res->data_len);
            } else if (res->data) {
                printf("null,\"dataBase64\":\"");
                fmt_base64(stdout, res->data, (size_t)res->data_len);
                printf("\"");
            } else {
                printf("null");
            }
            printf(",\"stat\":");
            fmt_stat_json(stdout, &res->stat);
            printf("}\n");
        } else {
            fmt_data(stdout, res->data, res->data_len);
            printf("\n");
            if (fl.on['s'])
                fmt_stat(stdout, &res->stat);
        }
    }
    zk_result_free(res);
    return rc;
}

static int cmd_stat(struct cli *c, int argc, char **argv, const char **what)
{
    struct flags fl;
    flags_first(argc, argv, "w");
    if (parse_flags(argc, argv, "w", "", &fl) || fl.npos != 1)
        return USAGE_ERR;
    *what = fl.pos[0];
    struct zk_request r = {.op = ZK_OP_EXISTS, .path = fl.pos[0],
                           .watcher = fl.on['w'] ? on_watch : NULL, .watcher_data = c};
    struct zk_result *res;
    int rc = submit(c, &r, &res);
    if (rc == 0) {
        print_stat(c, &res->stat);
        if (c->json)
            printf("\n");
    }
    zk_result_free(res);
    return rc;
}

static int cmd_set(struct cli *c, int argc, char **argv, const char **what)
{
    struct flags fl;
    long long version = -1;
    if (parse_flags(argc, argv, "s", "v", &fl) || fl.npos != 2 ||
        (fl.on['v'] && parse_int(fl.val['v'], &version)))
        return USAGE_ERR;
    *what = fl.pos[0];
    struct zk_request r = {.op = ZK_OP_SETDATA, .path = fl.pos[0], .data = fl.pos[1],
                           .data_len = (int32_t)strlen(fl.pos[1]), .version = (int32_t)version};
    struct zk_result *res;
    int rc = submit(c, &r, &res);
    if (rc == 0 && (fl.on['s'] || c->json)) {
        print_stat(c, &res->stat);
        if (c->json)
            printf("\n");
    }
    zk_result_free(res);
    return rc;
}

static int cmd_create(struct cli *c, int argc, char **argv, const char **what)
{
    struct flags fl;
    long long ttl = 0;
    if (parse_flags(argc, argv, "esc", "t", &fl) || fl.npos < 1 || fl.npos > 3 ||
        (fl.on['t'] && parse_int(fl.val['t'], &ttl)))
        return USAGE_ERR;
    int mode = ZK_PERSISTENT;
    if (fl.on['c']) {
        if (fl.on['e'] || fl.on['s'] || fl.on['t'])
            return USAGE_ERR;
        mode = ZK_CONTAINER;
    } else if (fl.on['t']) {
        if (fl.on['e'])
            return USAGE_ERR;
        mode = fl.on['s'] ? ZK_PERSISTENT_SEQUENTIAL_WITH_TTL : ZK_PERSISTENT_WITH_TTL;
    } else if (fl.on['e']) {
        mode = fl.on['s'] ? ZK_EPHEMERAL_SEQUENTIAL : ZK_EPHEMERAL;
    } else if (fl.on['s']) {
        mode = ZK_PERSISTENT_SEQUENTIAL;
    }
    struct zk_acl *acl = NULL;
    int32_t nacl = 0;
    if (fl.npos == 3 && parse_acl(fl.pos[2], &acl, &nacl) != 0)
        return USAGE_ERR;
    *what = fl.pos[0];
    const char *data = fl.npos >= 2 ? fl.pos[1] : NULL;
    struct zk_request r = {.op = ZK_OP_CREATE, .path = fl.pos[0], .data = data,
                           .data_len = data ? (int32_t)strlen(data) : -1, .create_mode = mode,
                           .ttl = ttl, .acl = acl, .nacl = nacl};
    struct zk_result *res;
    int rc = submit(c, &r, &res);
    if (rc == 0) {
        if (c->json) {
            printf("{\"created\":");
            fmt_json_str(stdout, res->path, strlen(res->path));
            printf("}\n");
        } else {
            printf("Created %s\n", res->path);
        }
    }
    zk_result_free(res);
    acl_free(acl, nacl);
    return rc;
}

static int cmd_delete(struct cli *c, int argc, char **argv, const char **what)
{
    struct flags fl;
    long long version = -1;
    if (parse_flags(argc, argv, "", "v", &fl) || fl.npos != 1 ||
        (fl.on['v'] && parse_int(fl.val['v'], &version)))
        return USAGE_ERR;
    *what = fl.pos[0];
    struct zk_request r = {.op = ZK_OP_DELETE, .path = fl.pos[0], .version = (int32_t)version};
    return submit(c, &r, NULL);
}

static int delete_tree(struct cli *c, const char *path)
{
    struct zk_request r = {.op = ZK_OP_GETCHILDREN, .path = path};
    struct zk_result *res;
    int rc = submit(c, &r, &res);
    for (int i = 0; rc == 0 && i < res->nchildren; i++) {
        size_t n = strlen(path) + strlen(res->children[i]) + 2;
        char *child = malloc(n);
        snprintf(child, n, "%s%s%s", path, strcmp(path, "/") ? "/" : "", res->children[i]);
        rc = delete_tree(c, child);
        free(child);
    }
    zk_result_free(res);
    if (rc != 0)
        return rc;
    struct zk_request d = {.op = ZK_OP_DELETE, .path = path, .version = -1};
    rc = submit(c, &d, NULL);
    return rc == ZK_NONODE ? 0 : rc;
}

static int cmd_deleteall(struct cli *c, int argc, char **argv, const char **what)
{
    struct flags fl;
    if (parse_flags(argc, argv, "", "b", &fl) || fl.npos != 1)
        return USAGE_ERR;
    *what = fl.pos[0];
    if (strcmp(fl.pos[0], "/") == 0)
        return ZK_BADARGUMENTS;
    struct zk_request r = {.op = ZK_OP_EXISTS, .path = fl.pos[0]};
    int rc = submit(c, &r, NULL);
    return rc != 0 ? rc : delete_tree(c, fl.pos[0]);
}

static void print_acl(struct cli *c, const struct zk_result *res)
{
    if (c->json) {
        printf("\"acl\":[");
        for (int i = 0; i < res->nacl; i++) {
            char p[6];
            fmt_perms(p, res->acl[i].perms);
            printf("%s{\"scheme\":", i ? "," : "");
            fmt_json_str(stdout, res->acl[i].scheme, strlen(res->acl[i].scheme));
            printf(",\"id\":");
            fmt_json_str(stdout, res->acl[i].id, strlen(res->acl[i].id));
            printf(",\"perms\":\"%s\"}", p);
        }
        printf("]");
        return;
    }
    for (int i = 0; i < res->nacl; i++) {
        char p[6];
        fmt_perms(p, res->acl[i].perms);
        printf("'%s,'%s\n: %s\n", res->acl[i].scheme, res->acl[i].id, p);
    }
}

static int cmd_getacl(struct cli *c, int argc, char **argv, const char **what)
{
    struct flags fl;
    if (parse_flags(argc, argv, "s", "", &fl) || fl.npos != 1)
        return USAGE_ERR;
    *what = fl.pos[0];
    struct zk_request r = {.op = ZK_OP_GETACL, .path = fl.pos[0]};
    struct zk_result *res;
    int rc = submit(c, &r, &res);
    if (rc == 0) {
        if (c->json)
            printf("{");
        print_acl(c, res);
        if (c->json) {
            printf(",\"stat\":");
            fmt_stat_json(stdout, &res->stat);
            printf("}\n");
        } else if (fl.on['s']) {
            fmt_stat(stdout, &res->stat);
        }
    }
    zk_result_free(res);
    return rc;
}

static int set_acl_tree(struct cli *c, const char *path, const struct zk_acl *acl, int32_t nacl,
                        int32_t version, int recurse, struct zk_result **last)
{
    struct zk_request r = {.op = ZK_OP_SETACL, .path = path, .acl = acl, .nacl = nacl,
                           .version = version};
    int rc = submit(c, &r, last);
    if (rc != 0 || !recurse)
        return rc;
    struct zk_request l = {.op = ZK_OP_GETCHILDREN, .path = path};
    struct zk_result *res;
    rc = submit(c, &l, &res);
    for (int i = 0; rc == 0 && i < res->nchildren; i++) {
        size_t n = strlen(path) + strlen(res->children[i]) + 2;
        char *child = malloc(n);
        struct zk_result *ignored = NULL;
        snprintf(child, n, "%s%s%s", path, strcmp(path, "/") ? "/" : "", res->children[i]);
        rc = set_acl_tree(c, child, acl, nacl, -1, 1, &ignored);
        zk_result_free(ignored);
        free(child);
    }
    zk_result_free(res);
    return rc;
}

static int cmd_setacl(struct cli *c, int argc, char **argv, const char **what)
{
    struct flags fl;
    long long version = -1;
    if (parse_flags(argc, argv, "sR", "v", &fl) || fl.npos != 2 ||
        (fl.on['v'] && parse_int(fl.val['v'], &version)))
        return USAGE_ERR;
    struct zk_acl *acl;
    int32_t nacl;
    if (parse_acl(fl.pos[1], &acl, &nacl) != 0)
        return USAGE_ERR;
    *what = fl.pos[0];
    struct zk_result *res = NULL;
    int rc = set_acl_tree(c, fl.pos[0], acl, nacl, (int32_t)version, fl.on['R'], &res);
    if (rc == 0 && (fl.on['s'] || c->json) && res) {
        print_stat(c, &res->stat);
        if (c->json)
            printf("\n");
    }
    zk_result_free(res);
    acl_free(acl, nacl);
    return rc;
}

static int cmd_addauth(struct cli *c, int argc, char **argv, const char **what)
{
    if (argc != 3)
        return USAGE_ERR;
    *what = argv[1];
    struct zk_request r = {.op = ZK_OP_AUTH, .scheme = argv[1], .data = argv[2],
                           .data_len = (int32_t)strlen(argv[2])};
    return submit(c, &r, NULL);
}

static int cmd_sync(struct cli *c, int argc, char **argv, const char **what)
{
    if (argc != 2)
        return USAGE_ERR;
    *what = argv[1];
    struct zk_request r = {.op = ZK_OP_SYNC, .path = argv[1]};
    int rc = submit(c, &r, NULL);
    if (rc == 0)
        printf(c->json ? "{\"sync\":\"ok\"}\n" : "Sync is OK\n");
    return rc;
}

static int cmd_addwatch(struct cli *c, int argc, char **argv, const char **what)
{
    struct flags fl;
    if (parse_flags(argc, argv, "", "m", &fl) || fl.npos != 1)
        return USAGE_ERR;
    int mode = ZK_ADDWATCH_PERSISTENT_RECURSIVE;
    if (fl.on['m']) {
        if (strcasecmp(fl.val['m'], "PERSISTENT") == 0)
            mode = ZK_ADDWATCH_PERSISTENT;
        else if (strcasecmp(fl.val['m'], "PERSISTENT_RECURSIVE") != 0)
            return USAGE_ERR;
    }
    *what = fl.pos[0];
    struct zk_request r = {.op = ZK_OP_ADDWATCH, .path = fl.pos[0], .watch_mode = mode,
                           .watcher = on_watch, .watcher_data = c};
    return submit(c, &r, NULL);
}

static int cmd_removewatches(struct cli *c, int argc, char **argv, const char **what)
{
    struct flags fl;
    flags_first(argc, argv, "cdal");
    if (parse_flags(argc, argv, "cdal", "", &fl) || fl.npos != 1)
        return USAGE_ERR;
    int type = fl.on['c'] ? ZK_WATCH_CHILDREN : fl.on['d'] ? ZK_WATCH_DATA : ZK_WATCH_ANY;
    *what = fl.pos[0];
    struct zk_request r = {.op = ZK_OP_REMOVEWATCHES, .path = fl.pos[0], .watcher_type = type};
    return submit(c, &r, NULL);
}

static int cmd_whoami(struct cli *c, int argc, char **argv, const char **what)
{
    (void)argv;
    (void)what;
    if (argc != 1)
        return USAGE_ERR;
    struct zk_request r = {.op = ZK_OP_WHOAMI};
    struct zk_result *res;
    int rc = submit(c, &r, &res);
    if (rc == 0) {
        if (c->json) {
            printf("{\"clients\":[");
            for (int i = 0; i < res->nclients; i++) {
                printf("%s{\"scheme\":", i ? "," : "");
                fmt_json_str(stdout, res->clients[i].scheme, strlen(res->clients[i].scheme));
                printf(",\"user\":");
                fmt_json_str(stdout, res->clients[i].user, strlen(res->clients[i].user));
                printf("}");
            }
            printf("]}\n");
        } else {
            printf("Auth scheme: User\n");
            for (int i = 0; i < res->nclients; i++)
                printf("%s: %s\n", res->clients[i].scheme, res->clients[i].user);
        }
    }
    zk_result_free(res);
    return rc;
}

static int cmd_getephemerals(struct cli *c, int argc, char **argv, const char **what)
{
    if (argc > 2)
        return USAGE_ERR;
    const char *path = argc == 2 ? argv[1] : "/";
    *what = path;
    struct zk_request r = {.op = ZK_OP_GETEPHEMERALS, .path = path};
    struct zk_result *res;
    int rc = submit(c, &r, &res);
    if (rc == 0) {
        qsort(res->children, (size_t)res->nchildren, sizeof(char *), cmp_str);
        printf(c->json ? "{\"ephemerals\":[" : "[");
        for (int i = 0; i < res->nchildren; i++) {
            printf("%s", i ? (c->json ? "," : ", ") : "");
            if (c->json)
                fmt_json_str(stdout, res->children[i], strlen(res->children[i]));
            else
                printf("%s", res->children[i]);
        }
        printf(c->json ? "]}\n" : "]\n");
    }
    zk_result_free(res);
    return rc;
}

static int cmd_getallchildrennumber(struct cli *c, int argc, char **argv, const char **what)
{
    if (argc > 2)
        return USAGE_ERR;
    const char *path = argc == 2 ? argv[1] : "/";
    *what = path;
    struct zk_request r = {.op = ZK_OP_GETALLCHILDRENNUMBER, .path = path};
    struct zk_result *res;
    int rc = submit(c, &r, &res);
    if (rc == 0)
        printf(c->json ? "{\"number\":%" PRId64 "}\n" : "%" PRId64 "\n", res->number);
    zk_result_free(res);
    return rc;
}

static int cmd_config(struct cli *c, int argc, char **argv, const char **what)
{
    struct flags fl;
    if (parse_flags(argc, argv, "sw", "c", &fl) || fl.npos != 0)
        return USAGE_ERR;
    *what = "/zookeeper/config";
    struct zk_request r = {.op = ZK_OP_GETDATA, .path = "/zookeeper/config", .no_chroot = 1,
                           .watcher = fl.on['w'] ? on_watch : NULL, .watcher_data = c};
    struct zk_result *res;
    int rc = submit(c, &r, &res);
    if (rc == 0) {
        if (c->json) {
            printf("{\"config\":");
            if (res->data)
                fmt_json_str(stdout, res->data, (size_t)res->data_len);
            else
                printf("null");
            printf("}\n");
        } else {
            fmt_data(stdout, res->data, res->data_len);
            printf("\n");
            if (fl.on['s'])
                fmt_stat(stdout, &res->stat);
        }
    }
    zk_result_free(res);
    return rc;
}

static int open_session(struct cli *c)
{
    c->opts.hosts = c->hosts;
    c->opts.on_session = on_session;
    c->opts.data = c;
    int rc = zk_blocking_open(&c->opts, &c->b);
    if (rc != 0)
        c->b = NULL;
    return rc;
}

static int cmd_close(struct cli *c, int argc, char **argv, const char **what)
{
    (void)argc;
    (void)argv;
    (void)what;
    if (c->b) {
        zk_blocking_close(c->b);
        c->b = NULL;
    }
    return 0;
}

static int cmd_connect(struct cli *c, int argc, char **argv, const char **what)
{
    if (argc > 2)
        return USAGE_ERR;
    cmd_close(c, 1, argv, what);
    if (argc == 2) {
        free(c->hosts);
        c->hosts = strdup(argv[1]);
    }
    *what = c->hosts;
    return open_session(c);
}

static int cmd_quit(struct cli *c, int argc, char **argv, const char **what)
{
    cmd_close(c, argc, argv, what);
    c->quit = 1;
    return 0;
}

/* ---- quotas (zkCli.sh's setquota, listquota, delquota) ----
 *
 * A quota on /a is /zookeeper/quota/a/zookeeper_limits beside .../zookeeper_stats, whose text
 * is zk/statstrack.h's; the server keeps the usage (server/quota.h).  Like zkCli.sh these
 * commands refuse a quota on a path that has one above or below it, and print the same
 * messages. */

#define QUOTA_ROOT "/zookeeper/quota"

/* A malloc'd "<prefix><path><suffix>". */
static char *join3(const char *a, const char *b, const char *c3)
{
    size_t n = strlen(a) + strlen(b) + strlen(c3) + 1;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s%s%s", a, b, c3);
    return p;
}

static int cli_fail(const char *fmt, const char *arg, const char *arg2)
{
    fprintf(stderr, fmt, arg, arg2);
    fputc('\n', stderr);
    return CMD_FAILED;
}

/* Reads a StatsTrack node.  Returns 0, a ZK_* code, or CMD_FAILED for text
 * that does not parse. */
static int get_statstrack(struct cli *c, const char *path, struct statstrack *st)
{
    struct zk_request r = {.op = ZK_OP_GETDATA, .path = path};
    struct zk_result *res;
    int rc = submit(c, &r, &res);
    if (rc == 0 && statstrack_parse(st, res->data, res->data ? res->data_len : -1))
        rc = cli_fail("%s: not a quota record%s", path, "");
    zk_result_free(res);
    return rc;
}

static int put_node(struct cli *c, int op, const char *path, const char *text)
{
    struct zk_request r = {.op = op, .path = path, .data = text,
                           .data_len = text ? (int32_t)strlen(text) : -1, .version = -1};
    return submit(c, &r, NULL);
}

static int exists(struct cli *c, const char *path)
{
    struct zk_request r = {.op = ZK_OP_EXISTS, .path = path};
    return submit(c, &r, NULL);
}

/* zkCli's checkIfChildQuota: a zookeeper_limits anywhere below the quota
 * node of `path` (not directly in it) means a descendant has a quota. */
static int child_quota(struct cli *c, const char *path, const char *qpath, int top)
{
    struct zk_request r = {.op = ZK_OP_GETCHILDREN, .path = qpath};
    struct zk_result *res;
    int rc = submit(c, &r, &res);
    if (rc == ZK_NONODE)
        rc = 0; /* nothing below: no quota there */
    else
        for (int i = 0; rc == 0 && i < res->nchildren; i++) {
            if (!top && !strcmp(res->children[i], "zookeeper_limits")) {
                rc = cli_fail("%s has a child %s which has a quota", path,
                              qpath + strlen(QUOTA_ROOT));
                break;
            }
            char *sub = join3(qpath, "/", res->children[i]);
            rc = sub ? child_quota(c, path, sub, 0) : ZK_SYSTEMERROR;
            free(sub);
        }
    zk_result_free(res);
    return rc;
}

/* zkCli's checkIfParentQuota: a zookeeper_limits in the quota node of a
 * proper ancestor of `path`. */
static int parent_quota(struct cli *c, const char *path)
{
    char *q = join3(QUOTA_ROOT, path, "");
    if (!q)
        return ZK_SYSTEMERROR;
    int rc = 0;
    size_t root = strlen(QUOTA_ROOT);
    for (char *slash = strchr(q + root + 1, '/'); slash && !rc; slash = strchr(slash + 1, '/')) {
        *slash = 0;
        struct zk_request r = {.op = ZK_OP_GETCHILDREN, .path = q};
        struct zk_result *res;
        rc = submit(c, &r, &res);
        if (rc == ZK_NONODE) { /* no quota node this high: none above either */
            zk_result_free(res);
            *slash = '/';
            rc = 0;
            break;
        }
        for (int i = 0; rc == 0 && i < res->nchildren; i++)
            if (!strcmp(res->children[i], "zookeeper_limits"))
                rc = cli_fail("%s has a parent %s which has a quota", path, q + root);
        zk_result_free(res);
        *slash = '/';
    }
    free(q);
    return rc;
}

/* zkCli's warning when a new limit is already below the usage. */
static void warn_below_usage(const struct statstrack *q, const struct statstrack *u)
{
    long long count = statstrack_get(u, STATSTRACK_COUNT), bytes = statstrack_get(u, STATSTRACK_BYTES);
    long long n = statstrack_get(q, STATSTRACK_COUNT), nh = statstrack_get(q, STATSTRACK_COUNT_HARD);
    long long b = statstrack_get(q, STATSTRACK_BYTES), bh = statstrack_get(q, STATSTRACK_BYTES_HARD);
    if ((n > -1 && n < count) || (nh > -1 && nh < count))
        printf("[Warning]: the count quota you create is less than the existing count:%lld\n", count);
    if ((b > -1 && b < bytes) || (bh > -1 && bh < bytes))
        printf("[Warning]: the bytes quota you create is less than the existing bytes:%lld\n", bytes);
}

/* The quota nodes of `path` (created as zkCli does: each missing level of
 * /zookeeper/quota/<path>, then limits and stats), or the new limits merged
 * into existing ones. */
static int create_quota(struct cli *c, const char *path, const struct statstrack *quota)
{
    char *qpath = join3(QUOTA_ROOT, path, ""), *limits = join3(QUOTA_ROOT, path, "/zookeeper_limits"),
         *stats = join3(QUOTA_ROOT, path, "/zookeeper_stats");
    int rc = qpath && limits && stats ? 0 : ZK_SYSTEMERROR;
    for (char *slash = qpath ? qpath + strlen(QUOTA_ROOT) : NULL; !rc && slash; ) {
        slash = strchr(slash + 1, '/');
        if (slash)
            *slash = 0;
        if (exists(c, qpath) == ZK_NONODE) {
            rc = put_node(c, ZK_OP_CREATE, qpath, NULL);
            rc = rc == ZK_NODEEXISTS ? 0 : rc;
        }
        if (slash)
            *slash = '/';
    }
    struct statstrack lim, use;
    char text[STATSTRACK_FMT_MAX];
    int fresh = !rc && exists(c, limits) == ZK_NONODE;
    if (!rc && fresh) {
        statstrack_format(quota, text, sizeof text);
        rc = put_node(c, ZK_OP_CREATE, limits, text);
        if (!rc)
            rc = put_node(c, ZK_OP_CREATE, stats, "count=0,bytes=0");
        if (!rc)
            rc = get_statstrack(c, limits, &lim);
    } else if (!rc) {
        rc = get_statstrack(c, limits, &lim);
        for (int i = 0; !rc && i < quota->n; i++)
            if (quota->kv[i].val > -1)
                statstrack_set(&lim, quota->kv[i].key, quota->kv[i].val);
    }
    if (!rc)
        rc = get_statstrack(c, stats, &use);
    if (!rc)
        warn_below_usage(&lim, &use);
    if (!rc && !fresh) {
        statstrack_format(&lim, text, sizeof text);
        rc = put_node(c, ZK_OP_SETDATA, limits, text);
    }
    free(qpath);
    free(limits);
    free(stats);
    return rc;
}

/* Option value checks of zkCli's SetQuotaCommand: counts are Integer.parseInt
 * and > 0, bytes Long.parseLong and >= 0. */
static int quota_value(char flag, const char *val, long long *out)
{
    int is_count = flag == 'n' || flag == 'N';
    char *end;
    errno = 0;
    long long v = strtoll(val, &end, 10);
    if (!*val || *end || errno == ERANGE || (is_count && (v < INT32_MIN || v > INT32_MAX))) {
        fprintf(stderr, "NumberFormatException happens when parsing the option value\n");
        return CMD_FAILED;
    }
    if (is_count ? v <= 0 : v < 0) {
        fprintf(stderr, is_count ? "the num quota must be greater than zero\n"
                                 : "the bytes quota must be greater than or equal to zero\n");
        return CMD_FAILED;
    }
    *out = v;
    return 0;
}

static const char *const quota_keys[128] = {
    ['n'] = STATSTRACK_COUNT, ['b'] = STATSTRACK_BYTES,
    ['N'] = STATSTRACK_COUNT_HARD, ['B'] = STATSTRACK_BYTES_HARD,
};

/* The one flag of -n|-b|-N|-B given (0: none); more than one is a usage error. */
static int quota_flag(const struct flags *fl, char *out)
{
    *out = 0;
    for (const char *f = "nbNB"; *f; f++)
        if (fl->on[(unsigned char)*f]) {
            if (*out)
                return USAGE_ERR;
            *out = *f;
        }
    return 0;
}

static int cmd_setquota(struct cli *c, int argc, char **argv, const char **what)
{
    struct flags fl;
    char flag;
    flags_first(argc, argv, "nbNB");
    if (parse_flags(argc, argv, "", "nbNB", &fl) || fl.npos != 1 || quota_flag(&fl, &flag) || !flag)
        return USAGE_ERR;
    const char *path = *what = fl.pos[0];
    if (!strncmp(path, QUOTA_ROOT, strlen(QUOTA_ROOT)))
        return cli_fail("cannot set a quota under the path: %s%s", QUOTA_ROOT, "");
    long long v;
    int rc = quota_value(flag, fl.val[(unsigned char)flag], &v);
    if (rc)
        return rc;
    struct statstrack quota;
    statstrack_init(&quota);
    for (const char *f = "nbNB"; *f; f++) /* zkCli writes all four, unset ones as -1 */
        statstrack_set(&quota, quota_keys[(unsigned char)*f], *f == flag ? v : -1);
    rc = exists(c, path);
    if (rc == ZK_NONODE)
        return cli_fail("%s does not exist.%s", path, "");
    if (!rc) {
        char *qpath = join3(QUOTA_ROOT, path, "");
        rc = qpath ? child_quota(c, path, qpath, 1) : ZK_SYSTEMERROR;
        free(qpath);
    }
    if (!rc)
        rc = parent_quota(c, path);
    return rc ? rc : create_quota(c, path, &quota);
}

static int cmd_listquota(struct cli *c, int argc, char **argv, const char **what)
{
    struct flags fl;
    if (parse_flags(argc, argv, "", "", &fl) || fl.npos != 1)
        return USAGE_ERR;
    const char *path = *what = fl.pos[0];
    char *limits = join3(QUOTA_ROOT, path, "/zookeeper_limits");
    char *stats = join3(QUOTA_ROOT, path, "/zookeeper_stats");
    if (!limits || !stats) {
        free(limits);
        free(stats);
        return ZK_SYSTEMERROR;
    }
    if (!c->json)
        fprintf(stderr, "absolute path is %s\n", limits);
    struct statstrack lim, use;
    int rc = get_statstrack(c, limits, &lim);
    if (!rc)
        rc = get_statstrack(c, stats, &use);
    if (rc == ZK_NONODE)
        rc = cli_fail("quota for %s does not exist.%s", path, "");
    char lt[STATSTRACK_FMT_MAX], ut[STATSTRACK_FMT_MAX];
    if (!rc) {
        statstrack_format(&lim, lt, sizeof lt);
        statstrack_format(&use, ut, sizeof ut);
        if (c->json) {
            printf("{\"path\":");
            fmt_json_str(stdout, path, strlen(path));
            printf(",\"quota\":");
            fmt_json_str(stdout, lt, strlen(lt));
            printf(",\"stat\":");
            fmt_json_str(stdout, ut, strlen(ut));
            printf("}\n");
        } else {
            printf("Output quota for %s %s\nOutput stat for %s %s\n", path, lt, path, ut);
        }
    }
    free(limits);
    free(stats);
    return rc;
}

/* zkCli's trimProcQuotas: removes quota nodes left without children, from
 * `qpath` up to (not including) /zookeeper/quota. */
static int trim_quota_nodes(struct cli *c, char *qpath)
{
    while (strcmp(qpath, QUOTA_ROOT)) {
        struct zk_request r = {.op = ZK_OP_GETCHILDREN, .path = qpath};
        struct zk_result *res;
        int rc = submit(c, &r, &res);
        int empty = rc == 0 && res->nchildren == 0;
        zk_result_free(res);
        if (rc || !empty)
            return rc;
        if ((rc = put_node(c, ZK_OP_DELETE, qpath, NULL)))
            return rc;
        *strrchr(qpath, '/') = 0;
    }
    return 0;
}

static int cmd_delquota(struct cli *c, int argc, char **argv, const char **what)
{
    struct flags fl;
    char flag;
    flags_first(argc, argv, "nbNB");
    if (parse_flags(argc, argv, "nbNB", "", &fl) || fl.npos != 1 || quota_flag(&fl, &flag))
        return USAGE_ERR;
    const char *path = *what = fl.pos[0];
    char *qpath = join3(QUOTA_ROOT, path, ""), *limits = join3(QUOTA_ROOT, path, "/zookeeper_limits");
    int rc = qpath && limits ? exists(c, limits) : ZK_SYSTEMERROR;
    struct statstrack lim;
    if (rc == ZK_NONODE) {
        printf("Quota does not exist for %s\n", path);
        rc = 0;
    } else if (!rc && !(rc = get_statstrack(c, limits, &lim)) && flag) {
        char text[STATSTRACK_FMT_MAX];
        statstrack_set(&lim, quota_keys[(unsigned char)flag], -1);
        statstrack_format(&lim, text, sizeof text);
        rc = put_node(c, ZK_OP_SETDATA, limits, text);
    } else if (!rc) {
        /* No flag: the whole quota, then the levels it leaves empty. */
        struct zk_request r = {.op = ZK_OP_GETCHILDREN, .path = qpath};
        struct zk_result *res;
        rc = submit(c, &r, &res);
        for (int i = 0; rc == 0 && i < res->nchildren; i++) {
            char *child = join3(qpath, "/", res->children[i]);
            rc = child ? put_node(c, ZK_OP_DELETE, child, NULL) : ZK_SYSTEMERROR;
            free(child);
        }
        zk_result_free(res);
        if (!rc)
            rc = trim_quota_nodes(c, qpath);
    }
    free(qpath);
    free(limits);
    return rc;
}

static int cmd_help(struct cli *c, int argc, char **argv, const char **what);

static const struct command {
    const char *name;
    int (*fn)(struct cli *c, int argc, char **argv, const char **what);
    const char *usage;
} commands[] = {
    {"addauth", cmd_addauth, "addauth scheme auth"},
    {"addWatch", cmd_addwatch, "addWatch [-m mode] path # mode: PERSISTENT, PERSISTENT_RECURSIVE"},
    {"close", cmd_close, "close"},
    {"config", cmd_config, "config [-s] [-w]"},
    {"connect", cmd_connect, "connect host:port"},
    {"create", cmd_create, "create [-s] [-e] [-c] [-t ttl] path [data] [acl]"},
    {"delete", cmd_delete, "delete [-v version] path"},
    {"deleteall", cmd_deleteall, "deleteall path"},
    {"delquota", cmd_delquota, "delquota [-n|-b|-N|-B] path"},
    {"get", cmd_get, "get [-s] [-w] path"},
    {"getAcl", cmd_getacl, "getAcl [-s] path"},
    {"getAllChildrenNumber", cmd_getallchildrennumber, "getAllChildrenNumber path"},
    {"getEphemerals", cmd_getephemerals, "getEphemerals path"},
    {"help", cmd_help, "help"},
    {"listquota", cmd_listquota, "listquota path"},
    {"ls", cmd_ls, "ls [-s] [-w] [-R] path"},
    {"quit", cmd_quit, "quit"},
    {"removewatches", cmd_removewatches, "removewatches path [-c|-d|-a] [-l]"},
    {"set", cmd_set, "set [-s] [-v version] path data"},
    {"setAcl", cmd_setacl, "setAcl [-s] [-v version] [-R] path acl"},
    {"setquota", cmd_setquota, "setquota -n|-b|-N|-B val path"},
    {"stat", cmd_stat, "stat [-w] path"},
    {"sync", cmd_sync, "sync path"},
    {"whoami", cmd_whoami, "whoami"},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static int cmd_help(struct cli *c, int argc, char **argv, const char **what)
{
    (void)c;
    (void)argc;
    (void)argv;
    (void)what;
    printf("ZooKeeper -server host:port -client-configuration properties-file cmd args\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        printf("\t%s\n", commands[i].usage);
    return 0;
}

/* Runs one command.  Returns 0, a ZK_* code, USAGE_ERR or CMD_FAILED. */
static int run_command(struct cli *c, int argc, char **argv)
{
    const struct command *cmd = NULL;
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcasecmp(commands[i].name, argv[0]) == 0)
            cmd = &commands[i];
    if (!cmd) {
        fprintf(stderr, "Unknown command: %s\n", argv[0]);
        cmd_help(c, 0, NULL, NULL);
        return USAGE_ERR;
    }
    const char *what = NULL;
    int rc = cmd->fn(c, argc, argv, &what);
    fflush(stdout);
    if (rc == USAGE_ERR)
        fprintf(stderr, "usage: %s\n", cmd->usage);
    else if (rc != 0 && rc != CMD_FAILED)
        print_error(c, rc, what);
    return rc;
}

/* ---- the shell ---- */

/* Splits a line into words; "..." and '...' quote, backslash escapes inside
 * double quotes and outside.  Modifies line.  Returns the count, -1 on an
 * unterminated quote. */
static int tokenize(char *line, char **argv, int max)
{
    int argc = 0;
    char *r = line, *w = line;
    while (*r) {
        while (*r == ' ' || *r == '\t' || *r == '\n' || *r == '\r')
            r++;
        if (!*r)
            break;
        if (argc == max)
            return -1;
        argv[argc++] = w;
        while (*r && *r != ' ' && *r != '\t' && *r != '\n' && *r != '\r') {
            if (*r == '"' || *r == '\'') {
                char q = *r++;
                while (*r && *r != q) {
                    if (q == '"' && *r == '\\' && r[1])
                        r++;
                    *w++ = *r++;
                }
                if (*r != q)
                    return -1;
                r++;
            } else if (*r == '\\' && r[1]) {
                r++;
                *w++ = *r++;
            } else {
                *w++ = *r++;
            }
        }
        if (*r)
            r++;
        *w++ = 0;
    }
    return argc;
}

static const char *prompt(struct cli *c)
{
    static char buf[512];
    const char *st = "CLOSED";
    if (c->b) {
        int s = zk_state(zk_blocking_handle(c->b));
        st = s == ZK_STATE_SYNC_CONNECTED ? "CONNECTED"
             : s == ZK_STATE_EXPIRED      ? "EXPIRED"
             : s == ZK_STATE_CLOSED       ? "CLOSED"
                                          : "CONNECTING";
    }
    snprintf(buf, sizeof buf, "[zk: %s(%s) %d] ", c->hosts, st, c->ncmd);
    return buf;
}

static char *read_line(struct cli *c, int tty)
{
#ifdef ZKCLI_HAVE_LIBEDIT
    if (tty) {
        char *l = readline(prompt(c));
        if (l && *l)
            add_history(l);
        return l;
    }
#else
    if (tty) {
        printf("%s", prompt(c));
        fflush(stdout);
    }
#endif
    (void)c;
    (void)tty;
    char *line = NULL;
    size_t cap = 0;
    if (getline(&line, &cap, stdin) < 0) {
        free(line);
        return NULL;
    }
    return line;
}

static int shell(struct cli *c)
{
    int tty = isatty(0);
    char hist[1024] = "";
#ifdef ZKCLI_HAVE_LIBEDIT
    const char *home = getenv("HOME");
    if (tty && home) {
        snprintf(hist, sizeof hist, "%s/.zkcli_history", home);
        read_history(hist);
    }
#endif
    int last = 0;
    char *line;
    while (!c->quit && (line = read_line(c, tty)) != NULL) {
        char *argv[MAX_ARGS];
        int argc = tokenize(line, argv, MAX_ARGS);
        if (argc < 0)
            fprintf(stderr, "syntax error: unterminated quote\n");
        else if (argc > 0) {
            last = run_command(c, argc, argv);
            c->ncmd++;
        }
        free(line);
    }
#ifdef ZKCLI_HAVE_LIBEDIT
    if (tty && hist[0])
        write_history(hist);
#endif
    (void)hist;
    return last;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: zkcli [-s|-server host:port[,...][/chroot]] [-timeout ms] [--json]\n"
            "             [--tls --cafile F [--certfile F --keyfile F] [--no-hostname-check]\n"
            "              [--ocsp]]\n"
            "             [--sasl-user U [--sasl-password P] [--sasl-mechanism DIGEST-MD5]]\n"
            "             [--sasl-mechanism GSSAPI [--sasl-keytab F [--sasl-principal P]]]\n"
            "             [--sasl-service S (default zookeeper)]\n"
            "             [command [args...]]\n");
}

int main(int argc, char **argv)
{
    struct cli c;
    memset(&c, 0, sizeof c);
    pthread_mutex_init(&c.out_mu, NULL);
    zk_options_init(&c.opts);
    /* zkCli.sh's $CLIENT_JVMFLAGS $JVMFLAGS, before the options, which win. */
    static char flags[8192];
    const char *cf = getenv("CLIENT_JVMFLAGS"), *jf = getenv("JVMFLAGS");
    if ((size_t)snprintf(flags, sizeof flags, "%s %s", cf ? cf : "", jf ? jf : "") >= sizeof flags) {
        fprintf(stderr, "zkcli: CLIENT_JVMFLAGS/JVMFLAGS: longer than %zu bytes\n", sizeof flags);
        return 2;
    }
    if (cli_apply_jvmflags(&c.opts, flags, "CLIENT_JVMFLAGS/JVMFLAGS"))
        return 2;
    c.hosts = strdup("localhost:2181");
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if ((!strcmp(a, "-s") || !strcmp(a, "-server") || !strcmp(a, "--server")) && next) {
            free(c.hosts);
            c.hosts = strdup(next);
            i++;
        } else if ((!strcmp(a, "-timeout") || !strcmp(a, "--timeout")) && next) {
            c.opts.session_timeout_ms = atoi(next);
            i++;
        } else if (!strcmp(a, "--json")) {
            c.json = 1;
        } else if (!strcmp(a, "-r")) {
            c.opts.read_only = 1;
        } else if (!strcmp(a, "--tls")) {
            c.opts.use_tls = 1;
        } else if (!strcmp(a, "--cafile") && next) {
            c.opts.tls.ca_file = argv[++i];
        } else if (!strcmp(a, "--certfile") && next) {
            c.opts.tls.cert_file = argv[++i];
        } else if (!strcmp(a, "--keyfile") && next) {
            c.opts.tls.key_file = argv[++i];
        } else if (!strcmp(a, "--no-hostname-check")) {
            c.opts.tls.verify_hostname = 0;
        } else if (!strcmp(a, "--ocsp")) {
            c.opts.tls_ocsp = 1;
        } else if (!strcmp(a, "--sasl-user") && next) {
            c.opts.sasl.user = argv[++i];
        } else if (!strcmp(a, "--sasl-password") && next) {
            c.opts.sasl.password = argv[++i];
        } else if (!strcmp(a, "--sasl-mechanism") && next) {
            c.opts.sasl.mechanism = argv[++i];
        } else if (!strcmp(a, "--sasl-keytab") && next) {
            c.opts.sasl.keytab = argv[++i];
        } else if (!strcmp(a, "--sasl-principal") && next) {
            c.opts.sasl.principal = argv[++i];
        } else if (!strcmp(a, "--sasl-service") && next) {
            c.opts.sasl.service = argv[++i];
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage();
            return 0;
        } else {
            usage();
            return 2;
        }
    }
    if (c.opts.sasl.keytab && !c.opts.sasl.mechanism)
        c.opts.sasl.mechanism = "GSSAPI"; /* a keytab is Kerberos */
    if (c.opts.sasl.user && !(c.opts.sasl.mechanism && !strcmp(c.opts.sasl.mechanism, "GSSAPI"))) {
        /* The password may stay off the command line (ps shows that). */
        if (!c.opts.sasl.password)
            c.opts.sasl.password = getenv("ZKCLI_SASL_PASSWORD");
        if (!c.opts.sasl.mechanism)
            c.opts.sasl.mechanism = "DIGEST-MD5";
        if (!c.opts.sasl.password) {
            fprintf(stderr, "zkcli: --sasl-user needs --sasl-password or $ZKCLI_SASL_PASSWORD\n");
            return 2;
        }
    }
    c.interactive = i == argc;
    int rc = open_session(&c);
    int status;
    if (c.interactive) {
        if (rc != 0)
            print_error(&c, rc, c.hosts);
        status = shell(&c) == 0 ? 0 : 1;
    } else if (rc != 0) {
        print_error(&c, rc, c.hosts);
        status = 1;
    } else {
        char *args[MAX_ARGS];
        int n = argc - i < MAX_ARGS ? argc - i : MAX_ARGS;
        memcpy(args, argv + i, (size_t)n * sizeof *args);
        rc = run_command(&c, n, args);
        status = rc == 0 ? 0 : rc == USAGE_ERR ? 2 : 1;
    }
    if (c.b)
        zk_blocking_close(c.b);
    free(c.hosts);
    pthread_mutex_destroy(&c.out_mu);
    return status;
}
