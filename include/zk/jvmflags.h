/*
 * jvmflags.h - the Java system properties of a JVMFLAGS-style variable.
 *
 * zkServer.sh and zkCli.sh pass $SERVER_JVMFLAGS / $CLIENT_JVMFLAGS /
 * $JVMFLAGS to java unquoted, so the shell splits them at blanks; only the
 * words "-Dname=value" ("-Dname" alone: value "") set system properties, and
 * a later -D of the same name wins, as in Java.  zkd (server/config.c) and
 * zkcli read the same variables through this one tokenizer.
 *
 * Internal to zkfs's programs (linked from the codec library both use); not
 * part of libzk's installed API.
 */
#ifndef ZK_JVMFLAGS_H
#define ZK_JVMFLAGS_H

/* Called for each -D word, in order.  `name` and `value` point into the
 * caller's `flags`, which jvmflags_each cuts into NUL-terminated words (so
 * they live as long as that buffer).  A nonzero return stops the walk and is
 * returned by jvmflags_each. */
typedef int (*jvmflags_fn)(char *name, char *value, void *data);

/* Walks `flags` (writable; NULL = none), modifying it in place.  Returns 0
 * or fn's first nonzero return. */
int jvmflags_each(char *flags, jvmflags_fn fn, void *data);

#endif
