/*
 * test_jaas.c - the JAAS file parser (server/jaas.h), the Server section's
 * users as client SASL reads them with it (server/sasl.h) and Apache's rule
 * for the identity of a Kerberos principal (server/kerberos.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jaas.h"
#include "kerberos.h"
#include "sasl.h"
#include "ztest.h"

static void test_sections_entries_options(void)
{
    struct jaas_file f;
    char err[256];
    ASSERT_INT_EQ(jaas_parse("# comment\nQuorumServer {\n"
                             "  org.apache.zookeeper.server.auth.DigestLoginModule required\n"
                             "  user_a=\"one two\" user_b = \"x\";\n};\n"
                             "/* block */ Server{ com.sun.security.auth.module.Krb5LoginModule "
                             "required useKeyTab=true keyTab=\"/k\" principal=\"zk/h@R\"; "
                             "other.Module optional; };\n// end\n",
                             &f, err, sizeof err),
                  0);
    ASSERT_INT_EQ(f.nsections, 2);
    const struct jaas_section *q = jaas_section(&f, "QuorumServer");
    ASSERT_TRUE(q != NULL);
    ASSERT_STR_EQ(jaas_section_option(q, "user_a"), "one two");
    ASSERT_STR_EQ(jaas_section_option(q, "user_b"), "x");
    ASSERT_TRUE(!krb_section_is_kerberos(q));
    const struct jaas_section *s = jaas_section(&f, "Server");
    ASSERT_INT_EQ(s->nentries, 2);
    ASSERT_STR_EQ(s->entries[1].flag, "optional");
    ASSERT_STR_EQ(jaas_option(&s->entries[0], "useKeyTab"), "true");
    ASSERT_TRUE(krb_section_is_kerberos(s));
    ASSERT_TRUE(jaas_section(&f, "server") == NULL); /* names are case-sensitive, as in Java */
    jaas_free(&f);
    ASSERT_INT_EQ(jaas_parse("", &f, err, sizeof err), 0);
    ASSERT_INT_EQ(f.nsections, 0);
}

static void test_errors_name_the_line(void)
{
    struct jaas_file f;
    char err[256];
    ASSERT_INT_EQ(jaas_parse("A {\n  M required\n  k=\"v\";\n", &f, err, sizeof err), -1);
    ASSERT_STR_EQ(err, "line 4: section 'A' is not closed with '};'");
    ASSERT_INT_EQ(jaas_parse("A {\n  M required\n  k=\"v\"\n", &f, err, sizeof err), -1);
    ASSERT_STR_EQ(err, "line 4: expected an option name or ';'");
    ASSERT_INT_EQ(jaas_parse("A {\n M required k=;\n};", &f, err, sizeof err), -1);
    ASSERT_STR_EQ(err, "line 2: expected a value for option 'k'");
    ASSERT_INT_EQ(jaas_parse("A { M required k=\"v };", &f, err, sizeof err), -1);
    ASSERT_STR_EQ(err, "line 1: unterminated quoted string");
    ASSERT_INT_EQ(jaas_parse("A { M; };", &f, err, sizeof err), -1);
    ASSERT_INT_EQ(f.nsections, 0);
}

static void test_principal_identity(void)
{
    char id[128];
    krb_principal_to_id("alice@EX.COM", 0, 0, id, sizeof id);
    ASSERT_STR_EQ(id, "alice@EX.COM");
    krb_principal_to_id("svc/h1.ex.com@EX.COM", 0, 0, id, sizeof id);
    ASSERT_STR_EQ(id, "svc/h1.ex.com@EX.COM");
    krb_principal_to_id("svc/h1.ex.com@EX.COM", 1, 0, id, sizeof id);
    ASSERT_STR_EQ(id, "svc@EX.COM");
    krb_principal_to_id("svc/h1.ex.com@EX.COM", 0, 1, id, sizeof id);
    ASSERT_STR_EQ(id, "svc/h1.ex.com");
    krb_principal_to_id("svc/h1.ex.com@EX.COM", 1, 1, id, sizeof id);
    ASSERT_STR_EQ(id, "svc");
    krb_principal_to_id("bob", 1, 1, id, sizeof id);
    ASSERT_STR_EQ(id, "bob");
}

/* zkd_sasl_load_jaas on a file holding `text`. */
static int load_users(const char *text)
{
    char path[] = "/tmp/zk-test-jaas.XXXXXX";
    int fd = mkstemp(path);
    ASSERT_TRUE(fd >= 0);
    ASSERT_INT_EQ((int)write(fd, text, strlen(text)), (int)strlen(text));
    close(fd);
    int n = zkd_sasl_load_jaas(path);
    unlink(path);
    zkd_sasl_clear_users();
    return n;
}

static void test_server_section_users(void)
{
    /* No Server section, an empty file included: no SASL, not an error. */
    ASSERT_INT_EQ(load_users(""), 0);
    ASSERT_INT_EQ(load_users("Client { M required username=\"bob\" password=\"x\"; };\n"), 0);
    ASSERT_INT_EQ(load_users("QuorumServer { M required user_q=\"x\"; };\n"), 0);
    ASSERT_INT_EQ(load_users("Client { M required; };\nServer {\n  M required\n"
                             "  user_bob=\"pw\" user_al=\"x\";\n  N optional user_cy=\"z\";\n};\n"),
                  3);
    /* A user only in a comment is no user (the old text scan counted it). */
    ASSERT_INT_EQ(load_users("Server { M required // user_eve=\"pw\"\n; };\n"), -1);
    /* A malformed file is an error, wherever the fault is. */
    ASSERT_INT_EQ(load_users("Server { M required user_bob=\"pw\"; };\nClient { M"), -1);
    ASSERT_INT_EQ(load_users("Server { M required user_bob=\"pw\";\n"), -1);
}

ZTEST_MAIN(ZT(test_sections_entries_options), ZT(test_errors_name_the_line),
           ZT(test_principal_identity), ZT(test_server_section_users))
