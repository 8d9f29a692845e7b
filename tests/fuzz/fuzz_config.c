/*
 * fuzz_config.c - libFuzzer target for zkd's configuration files: zoo.cfg
 * (config_parse, the java.util.Properties reader and every key's value
 * parser), the dynamic config file it may name (server.N lines), the myid
 * file (config_read_myid), one server.N value as a reconfig request carries
 * it (config_parse_server), and the conf four-letter word's rendering of
 * whatever parsed (config_format).
 *
 * Input: up to four parts separated by NUL bytes: zoo.cfg, the dynamic
 * file, myid, and the text of SERVER_JVMFLAGS (config_parse_flags; the
 * effective settings are then rendered as zkd --check prints them).  Each part goes to a file in a private temp directory made
 * once per process; when a dynamic part is present, zoo.cfg gets a last
 * line "dynamicConfigFile=<that file>".  The files are rewritten for every
 * input and removed at exit.
 * Build: CC=clang cmake -DZK_FUZZ=ON; seeds: tests/fuzz/corpus/config.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static char dir[64], cfg_path[96], dyn_path[96], myid_path[96];

static void cleanup(void)
{
    unlink(cfg_path);
    unlink(dyn_path);
    unlink(myid_path);
    rmdir(dir);
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/zkfuzz-config.XXXXXX");
    if (!mkdtemp(dir))
        abort();
    snprintf(cfg_path, sizeof cfg_path, "%s/zoo.cfg", dir);
    snprintf(dyn_path, sizeof dyn_path, "%s/zoo.cfg.dynamic", dir);
    snprintf(myid_path, sizeof myid_path, "%s/myid", dir);
    setenv("ZKD_LOG_LEVEL", "error", 0); /* ZKD_LOG_LEVEL=info shows what each input does */
    atexit(cleanup);
}

static void put_file(const char *path, const uint8_t *p, size_t n, const char *extra)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    fwrite(p, 1, n, f);
    if (extra)
        fputs(extra, f);
    fclose(f);
}

/* Splits off the part before the next NUL.  OUT len.  Returns its start. */
static const uint8_t *part(const uint8_t **p, const uint8_t *end, size_t *len)
{
    const uint8_t *start = *p;
    const uint8_t *nul = memchr(start, 0, (size_t)(end - start));
    *len = (size_t)((nul ? nul : end) - start);
    *p = nul ? nul + 1 : end;
    return start;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0])
        setup();
    const uint8_t *p = data, *end = data + size;
    size_t ncfg, ndyn = 0, nmyid = 0;
    const uint8_t *cfg_text = part(&p, end, &ncfg);
    int has_dyn = ncfg < size; /* a NUL followed zoo.cfg */
    const uint8_t *dyn_text = has_dyn ? part(&p, end, &ndyn) : NULL;
    int has_myid = has_dyn && ncfg + 1 + ndyn < size;
    const uint8_t *myid_text = has_myid ? part(&p, end, &nmyid) : NULL;
    size_t nflags = 0;
    const uint8_t *flags_text = has_myid && p < end ? part(&p, end, &nflags) : NULL;
    char *flags = flags_text ? strndup((const char *)flags_text, nflags) : NULL;

    char extra[160];
    snprintf(extra, sizeof extra, "\ndynamicConfigFile=%s\n", dyn_path);
    put_file(cfg_path, cfg_text, ncfg, has_dyn ? extra : NULL);
    if (has_dyn)
        put_file(dyn_path, dyn_text, ndyn, NULL);
    else
        unlink(dyn_path);
    if (myid_text)
        put_file(myid_path, myid_text, nmyid, NULL);
    else
        unlink(myid_path);

    static struct zkd_config cfg;
    char err[512];
    if (config_parse_flags(cfg_path, flags, &cfg, err, sizeof err) == 0) {
        static char out[65536];
        config_format(&cfg, out, sizeof out);
        config_format_effective(&cfg, out, sizeof out);
    }
    free(flags);
    config_read_myid(dir);

    /* A reconfig's joining server is a server.N value from a client. */
    if (has_dyn) {
        char *val = strndup((const char *)dyn_text, ndyn);
        struct zkd_server_line sl;
        const char *why;
        if (config_parse_server(1, val, &sl, &why) == 0) {
            char line[1024];
            config_format_server(&sl, line, sizeof line);
        }
        free(val);
    }
    return 0;
}
