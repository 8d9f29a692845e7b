/*
 * json.c - see json.h.
 */
#include "json.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

static void put(struct json *j, const char *s, size_t n)
{
    jute_put_raw(j->o, s, n);
}

static void puts_(struct json *j, const char *s)
{
    put(j, s, strlen(s));
}

static void indent(struct json *j, int level)
{
    put(j, "\n", 1);
    for (int i = 0; i < level; i++)
        put(j, "  ", 2);
}

size_t json_escape_char(unsigned char c, char out[8])
{
    if (c >= 0x20 && c != '"' && c != '\\')
        return 0;
    if (c == '"' || c == '\\')
        return (size_t)snprintf(out, 8, "\\%c", c);
    if (c == '\n')
        return (size_t)snprintf(out, 8, "\\n");
    if (c == '\t')
        return (size_t)snprintf(out, 8, "\\t");
    return (size_t)snprintf(out, 8, "\\u%04x", c);
}

static void quoted(struct json *j, const char *s, size_t n)
{
    put(j, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        char esc[8];
        size_t e = json_escape_char((unsigned char)s[i], esc);
        if (!e)
            continue;
        put(j, s + run, i - run);
        run = i + 1;
        put(j, esc, e);
    }
    put(j, s + run, n - run);
    put(j, "\"", 1);
}

/* Separator, indentation and "key" : before a member's value. */
static void member(struct json *j, const char *key)
{
    if (j->count[j->depth]++)
        put(j, ",", 1);
    indent(j, j->depth + 1);
    if (key) {
        quoted(j, key, strlen(key));
        put(j, " : ", 3);
    }
}

static void open_level(struct json *j, const char *key, char open, char close)
{
    member(j, key);
    put(j, &open, 1);
    assert(j->depth + 1 < JSON_MAX_DEPTH); /* callers nest a few levels */
    if (j->depth + 1 >= JSON_MAX_DEPTH)
        return;
    j->depth++;
    j->count[j->depth] = 0;
    j->closer[j->depth] = close;
}

void json_open(struct json *j, struct jute_out *o)
{
    memset(j, 0, sizeof *j);
    j->o = o;
    put(j, "{", 1);
    j->closer[0] = '}';
}

void json_end(struct json *j)
{
    assert(j->o); /* between json_open and json_close */
    char c = j->closer[j->depth];
    int empty = !j->count[j->depth];
    int level = j->depth > 0 ? j->depth-- : 0; /* the opening line's level */
    if (empty)
        put(j, " ", 1);
    else
        indent(j, level);
    put(j, &c, 1);
}

void json_close(struct json *j)
{
    while (j->depth > 0)
        json_end(j);
    json_end(j);
    put(j, "\n", 1);
}

void json_obj(struct json *j, const char *key) { open_level(j, key, '{', '}'); }
void json_arr(struct json *j, const char *key) { open_level(j, key, '[', ']'); }

void json_strn(struct json *j, const char *key, const char *v, size_t n)
{
    member(j, key);
    quoted(j, v, n);
}

void json_str(struct json *j, const char *key, const char *v)
{
    if (!v) {
        json_null(j, key);
        return;
    }
    json_strn(j, key, v, strlen(v));
}

void json_int(struct json *j, const char *key, int64_t v)
{
    char b[32];
    member(j, key);
    puts_(j, (snprintf(b, sizeof b, "%lld", (long long)v), b));
}

void json_uint(struct json *j, const char *key, uint64_t v)
{
    char b[32];
    member(j, key);
    puts_(j, (snprintf(b, sizeof b, "%llu", (unsigned long long)v), b));
}

void json_double(struct json *j, const char *key, double v)
{
    char b[64];
    member(j, key);
    /* Always with a decimal point, so readers see a float as Jackson writes it. */
    puts_(j, (snprintf(b, sizeof b, "%.4f", v), b));
}

void json_bool(struct json *j, const char *key, int v)
{
    member(j, key);
    puts_(j, v ? "true" : "false");
}

void json_null(struct json *j, const char *key)
{
    member(j, key);
    puts_(j, "null");
}
