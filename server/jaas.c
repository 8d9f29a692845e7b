/*
 * jaas.c - see jaas.h.  A small tokenizer (words, quoted strings and the
 * punctuation { } ; =) under a recursive-descent parser for
 * `file := section*`, `section := NAME '{' entry* '}' ';'`,
 * `entry := MODULE FLAG (KEY '=' VALUE)* ';'`.
 */
#include "jaas.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zk/jute.h"

/* Bounds that keep a hostile file from costing more than its own size. */
#define JAAS_MAX_FILE (1u << 20)

enum tok { T_END, T_WORD, T_STRING, T_PUNCT, T_ERROR };

struct lexer {
    const char *p;
    int line;
    enum tok kind;
    const char *start; /* the token's text (for T_STRING, inside the quotes) */
    size_t len;
    char *err;
    size_t errlen;
};

static int lex_fail(struct lexer *lx, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(lx->err, lx->errlen, "line %d: %s", lx->line, msg);
    lx->kind = T_ERROR;
    return -1;
}

static void skip_space_and_comments(struct lexer *lx)
{
    for (;;) {
        while (isspace((unsigned char)*lx->p)) {
            lx->line += *lx->p == '\n';
            lx->p++;
        }
        if (*lx->p == '#' || (lx->p[0] == '/' && lx->p[1] == '/')) {
            while (*lx->p && *lx->p != '\n')
                lx->p++;
        } else if (lx->p[0] == '/' && lx->p[1] == '*') {
            const char *end = strstr(lx->p + 2, "*/");
            for (const char *q = lx->p; q < (end ? end : lx->p + strlen(lx->p)); q++)
                lx->line += *q == '\n';
            lx->p = end ? end + 2 : lx->p + strlen(lx->p);
        } else {
            return;
        }
    }
}

/* Advances to the next token. */
static int next(struct lexer *lx)
{
    skip_space_and_comments(lx);
    lx->start = lx->p;
    lx->len = 0;
    if (!*lx->p) {
        lx->kind = T_END;
        return 0;
    }
    if (strchr("{};=", *lx->p)) {
        lx->kind = T_PUNCT;
        lx->len = 1;
        lx->p++;
        return 0;
    }
    if (*lx->p == '"') {
        const char *end = strchr(lx->p + 1, '"');
        if (!end)
            return lex_fail(lx, "unterminated quoted string");
        lx->kind = T_STRING;
        lx->start = lx->p + 1;
        lx->len = (size_t)(end - lx->start);
        for (const char *q = lx->start; q < end; q++)
            lx->line += *q == '\n';
        lx->p = end + 1;
        return 0;
    }
    while (*lx->p && !isspace((unsigned char)*lx->p) && !strchr("{};=\"", *lx->p))
        lx->p++;
    lx->kind = T_WORD;
    lx->len = (size_t)(lx->p - lx->start);
    return 0;
}

static int is_punct(const struct lexer *lx, char c)
{
    return lx->kind == T_PUNCT && *lx->start == c;
}

static int expect_punct(struct lexer *lx, char c, const char *where)
{
    if (!is_punct(lx, c))
        return lex_fail(lx, "expected '%c' %s", c, where);
    return next(lx);
}

static char *take_word(struct lexer *lx, const char *what)
{
    if (lx->kind != T_WORD) {
        lex_fail(lx, "expected %s", what);
        return NULL;
    }
    char *s = zk_xstrndup(lx->start, lx->len);
    if (next(lx)) {
        free(s);
        return NULL;
    }
    return s;
}

static int parse_option(struct lexer *lx, struct jaas_entry *e)
{
    char *key = take_word(lx, "an option name or ';'");
    if (!key)
        return -1;
    if (expect_punct(lx, '=', "after an option name")) {
        free(key);
        return -1;
    }
    if (lx->kind != T_WORD && lx->kind != T_STRING) {
        lex_fail(lx, "expected a value for option '%.100s'", key);
        free(key);
        return -1;
    }
    e->opts = zk_xrealloc(e->opts, (size_t)(e->nopts + 1) * sizeof *e->opts);
    e->opts[e->nopts].key = key;
    e->opts[e->nopts].value = zk_xstrndup(lx->start, lx->len);
    e->nopts++;
    return next(lx);
}

static void entry_free(struct jaas_entry *e)
{
    for (int i = 0; i < e->nopts; i++) {
        free(e->opts[i].key);
        free(e->opts[i].value);
    }
    free(e->opts);
    free(e->module);
    free(e->flag);
}

static int parse_entry(struct lexer *lx, struct jaas_section *s)
{
    struct jaas_entry e = {0};
    if (!(e.module = take_word(lx, "a login module class name")) ||
        !(e.flag = take_word(lx, "a control flag (required, requisite, sufficient, optional)")))
        goto fail_entry;
    while (!is_punct(lx, ';'))
        if (parse_option(lx, &e))
            goto fail_entry;
    if (next(lx))
        goto fail_entry;
    s->entries = zk_xrealloc(s->entries, (size_t)(s->nentries + 1) * sizeof *s->entries);
    s->entries[s->nentries++] = e;
    return 0;
fail_entry:
    entry_free(&e);
    return -1;
}

static void section_free(struct jaas_section *s)
{
    for (int i = 0; i < s->nentries; i++)
        entry_free(&s->entries[i]);
    free(s->entries);
    free(s->name);
}

static int parse_section(struct lexer *lx, struct jaas_file *f)
{
    struct jaas_section s = {0};
    if (!(s.name = take_word(lx, "a section name")) ||
        expect_punct(lx, '{', "after the section name"))
        goto fail_section;
    while (!is_punct(lx, '}')) {
        if (lx->kind == T_END) {
            lex_fail(lx, "section '%.100s' is not closed with '};'", s.name);
            goto fail_section;
        }
        if (parse_entry(lx, &s))
            goto fail_section;
    }
    if (next(lx) || expect_punct(lx, ';', "after '}'"))
        goto fail_section;
    f->sections = zk_xrealloc(f->sections, (size_t)(f->nsections + 1) * sizeof *f->sections);
    f->sections[f->nsections++] = s;
    return 0;
fail_section:
    section_free(&s);
    return -1;
}

void jaas_free(struct jaas_file *f)
{
    for (int i = 0; i < f->nsections; i++)
        section_free(&f->sections[i]);
    free(f->sections);
    f->sections = NULL;
    f->nsections = 0;
}

int jaas_parse(const char *text, struct jaas_file *out, char *err, size_t errlen)
{
    struct lexer lx = {.p = text, .line = 1, .err = err, .errlen = errlen};
    memset(out, 0, sizeof *out);
    if (next(&lx))
        return -1;
    while (lx.kind != T_END)
        if (parse_section(&lx, out)) {
            jaas_free(out);
            return -1;
        }
    return 0;
}

int jaas_load(const char *path, struct jaas_file *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    FILE *fp = fopen(path, "r");
    if (!fp) {
        snprintf(err, errlen, "cannot read %s", path);
        return -1;
    }
    struct jute_out text;
    jute_out_init(&text);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, fp)) > 0 && text.len <= JAAS_MAX_FILE)
        jute_put_raw(&text, buf, n);
    fclose(fp);
    int rc = -1;
    if (text.len > JAAS_MAX_FILE) {
        snprintf(err, errlen, "%s is larger than %u bytes", path, JAAS_MAX_FILE);
    } else if (text.len && memchr(text.p, '\0', text.len)) {
        snprintf(err, errlen, "%s is not a text file", path);
    } else {
        jute_put_raw(&text, "", 1);
        char why[240];
        rc = jaas_parse((const char *)text.p, out, why, sizeof why);
        if (rc)
            snprintf(err, errlen, "%s: %s", path, why);
    }
    jute_out_free(&text);
    return rc;
}

const struct jaas_section *jaas_section(const struct jaas_file *f, const char *name)
{
    for (int i = 0; i < f->nsections; i++)
        if (!strcmp(f->sections[i].name, name))
            return &f->sections[i];
    return NULL;
}

const char *jaas_option(const struct jaas_entry *e, const char *key)
{
    for (int i = 0; i < e->nopts; i++)
        if (!strcmp(e->opts[i].key, key))
            return e->opts[i].value;
    return NULL;
}

const char *jaas_section_option(const struct jaas_section *s, const char *key)
{
    for (int i = 0; s && i < s->nentries; i++) {
        const char *v = jaas_option(&s->entries[i], key);
        if (v)
            return v;
    }
    return NULL;
}

int jaas_section_uses(const struct jaas_section *s, const char *suffix)
{
    size_t n = strlen(suffix);
    for (int i = 0; s && i < s->nentries; i++) {
        size_t m = strlen(s->entries[i].module);
        if (m >= n && !strcmp(s->entries[i].module + m - n, suffix))
            return 1;
    }
    return 0;
}
