/*
 * config_print.h - the text of a parsed configuration: the `conf`
 * four-letter word (Apache's ZooKeeperServer/QuorumZooKeeperServer
 * .dumpConf layout) and the effective settings `zkd --check` prints.
 * Both only read the struct zkd_config that config.h's parser filled
 * (and, for an ensemble member, dataDir/myid); neither allocates.
 */
#ifndef ZKD_CONFIG_PRINT_H
#define ZKD_CONFIG_PRINT_H

struct zkd_config;

/*
 * Writes the `conf` four-letter word's text (Apache's dumpConf layout, one
 * key=value per line, -1 for an absent port) into buf.  For an ensemble
 * member it reads dataDir/myid to find its own server.N line.  Returns the
 * length written (without the NUL), or -1 if buflen is too small (buf then
 * holds a NUL-terminated prefix).
 */
int config_format(const struct zkd_config *cfg, char *buf, int buflen);

/* config_format's text followed by the other effective settings (TLS
 * stores and checks, authentication, server lines) for `zkd --check`;
 * secrets are left out.  Same return values as config_format. */
int config_format_effective(const struct zkd_config *cfg, char *buf, int buflen);

#endif
