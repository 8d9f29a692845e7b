/*
 * json.h - a small JSON writer for the AdminServer's answers.
 *
 * Writes into a growable buffer (struct jute_out), indented two spaces per
 * level as Jackson's pretty printer does, so `curl` output reads like
 * Apache's.  Every value call takes the member name: pass NULL inside an
 * array.  Strings are escaped per RFC 8259 (control characters as \u00XX);
 * bytes >= 0x80 are copied as they are (zkd's paths are UTF-8).
 *
 * Usage:  json_open(&j, &out); json_int(&j, "n", 1); json_obj(&j, "o"); ...
 *         json_end(&j); json_close(&j);   (json_close ends the top object)
 */
#ifndef ZKD_JSON_H
#define ZKD_JSON_H

#include <stdint.h>

#include "zk/jute.h"

#define JSON_MAX_DEPTH 16

struct json {
    struct jute_out *o;
    int depth;
    int count[JSON_MAX_DEPTH]; /* members written at each level */
    char closer[JSON_MAX_DEPTH];
};

/* Starts the top-level object in `o` (which the caller owns). */
void json_open(struct json *j, struct jute_out *o);
/* Ends every open object and array. */
void json_close(struct json *j);

void json_obj(struct json *j, const char *key);  /* opens a nested object */
void json_arr(struct json *j, const char *key);  /* opens a nested array */
void json_end(struct json *j);                   /* closes the innermost one */

void json_str(struct json *j, const char *key, const char *v); /* NULL writes null */
void json_strn(struct json *j, const char *key, const char *v, size_t n);
void json_int(struct json *j, const char *key, int64_t v);
void json_uint(struct json *j, const char *key, uint64_t v);
void json_double(struct json *j, const char *key, double v);
void json_bool(struct json *j, const char *key, int v);
void json_null(struct json *j, const char *key);

/* How a JSON string spells byte c: writes its escape ("\\n", "\\u0001", ...)
 * to out (8 bytes) and returns its length, or returns 0 when c stands for
 * itself.  Shared with log.c's JSON lines. */
size_t json_escape_char(unsigned char c, char out[8]);

#endif
