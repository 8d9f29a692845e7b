/*
 * jvmflags.c - -Dname=value words of a JVMFLAGS-style variable (jvmflags.h).
 */
#include "zk/jvmflags.h"

#include <string.h>

int jvmflags_each(char *flags, jvmflags_fn fn, void *data)
{
    if (!flags)
        return 0;
    int rc = 0;
    char *save = NULL;
    for (char *w = strtok_r(flags, " \t\n", &save); w && !rc; w = strtok_r(NULL, " \t\n", &save)) {
        if (strncmp(w, "-D", 2) || !w[2])
            continue; /* a JVM option (-Xmx...), not a property */
        char *name = w + 2, *eq = strchr(name, '=');
        if (eq)
            *eq = '\0';
        rc = fn(name, eq ? eq + 1 : name + strlen(name), data);
    }
    return rc;
}
