/*
 * cli_fmt.h - output formats of zkcli: Apache zkCli.sh's text layout and
 * --json, plus parsing of ACL arguments.
 *
 * Every function writes to the FILE it is given and holds no state, so the
 * watcher thread and the command thread can both use them (callers
 * serialize whole records with their own lock).
 */
#ifndef ZK_CLIENT_CLI_FMT_H
#define ZK_CLIENT_CLI_FMT_H

#include <stdint.h>
#include <stdio.h>

#include "zk/zk.h"

/* The stat block as zkCli.sh prints it (cZxid = 0x..., ctime = ...). */
void fmt_stat(FILE *f, const struct zk_stat *st);
/* {"czxid":..,...} */
void fmt_stat_json(FILE *f, const struct zk_stat *st);
/* Node data: printed as is when it is text (UTF-8 without control characters
 * other than tab and newline), otherwise with \xNN escapes, so that binary
 * data can never drive the terminal.  NULL data prints "null". */
void fmt_data(FILE *f, const char *data, int32_t len);
/* A JSON string literal for (s, len); invalid UTF-8 bytes become \u00NN. */
void fmt_json_str(FILE *f, const char *s, size_t len);
/* 1 if (s, len) is valid UTF-8. */
int fmt_is_utf8(const char *s, size_t len);
/* Standard base64 of (s, len), no line breaks. */
void fmt_base64(FILE *f, const char *s, size_t len);
/* "cdrwa" letters for a permission mask. */
void fmt_perms(char out[6], int32_t perms);
/* Parses "scheme:id:perms[,scheme:id:perms...]" (perms from "cdrwa"; the id
 * may itself contain ':').  OUT acl, n: malloc'ed array whose strings are
 * malloc'ed too; free with acl_free.  Returns 0 or ZK_BADARGUMENTS. */
int parse_acl(const char *s, struct zk_acl **acl, int32_t *n);
void acl_free(struct zk_acl *acl, int32_t n);

#endif
