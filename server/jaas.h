/*
 * jaas.h - a reader for Java's JAAS login configuration files, as Apache
 * ZooKeeper's operators write them (java.security.auth.login.config):
 *
 *   QuorumServer {
 *       org.apache.zookeeper.server.auth.DigestLoginModule required
 *       user_zkpeer="secret";
 *   };
 *   Server {
 *       com.sun.security.auth.module.Krb5LoginModule required
 *       useKeyTab=true keyTab="/etc/zk.keytab" storeKey=true
 *       principal="zookeeper/host@REALM";
 *   };
 *
 * Grammar (Java's sun.security.provider.ConfigFile): sections `Name { entry*
 * };`, each entry `ModuleClass Flag (key=value)* ;`, values quoted ("...",
 * no escapes) or bare words; comments are `//...`, `/ * ... * /` and `#...`.
 * The whole file is parsed into memory; lookups are by exact (case-sensitive)
 * name, as Java's are.  Parsing outside text: a malformed file is an error
 * naming the line, never a crash (tests/fuzz/fuzz_jaas.c).
 */
#ifndef ZKD_JAAS_H
#define ZKD_JAAS_H

#include <stddef.h>

struct jaas_option {
    char *key, *value;
};

struct jaas_entry {
    char *module; /* e.g. "org.apache.zookeeper.server.auth.DigestLoginModule" */
    char *flag;   /* required, requisite, sufficient or optional */
    struct jaas_option *opts;
    int nopts;
};

struct jaas_section {
    char *name;
    struct jaas_entry *entries;
    int nentries;
};

struct jaas_file {
    struct jaas_section *sections;
    int nsections;
};

/* Parses `text` (NUL-terminated).  Returns 0, or -1 with a message naming the
 * line in err (size errlen); *out is then empty.  Free with jaas_free. */
int jaas_parse(const char *text, struct jaas_file *out, char *err, size_t errlen);
/* Reads and parses the file at `path`; -1 with the reason in err. */
int jaas_load(const char *path, struct jaas_file *out, char *err, size_t errlen);
/* Frees everything the file holds; it is then empty. */
void jaas_free(struct jaas_file *f);

/* The section named `name` (the first one, as Java does), or NULL. */
const struct jaas_section *jaas_section(const struct jaas_file *f, const char *name);
/* The value of option `key` in the entry, or NULL. */
const char *jaas_option(const struct jaas_entry *e, const char *key);
/* The value of option `key` in the first entry of the section that has it,
 * or NULL (s may be NULL). */
const char *jaas_section_option(const struct jaas_section *s, const char *key);
/* Whether some entry of the section (may be NULL) names a login module
 * whose class name ends in `suffix` (e.g. "Krb5LoginModule"). */
int jaas_section_uses(const struct jaas_section *s, const char *suffix);

#endif
