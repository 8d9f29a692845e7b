/*
 * wide_micro.c - the loop-thread cost of one parent with many children
 * (issue 20), in thread CPU time so that other processes on the machine do
 * not count: the slowest single tree_add and tree_unlink while N children
 * are created and then deleted (a child-table rebuild shows as the
 * maximum), and encoding one getChildren body of all N.
 *
 *     build/bin/wide_micro [N]     (default 1,000,000)
 *
 * Results: bench/results/2026-12-06-million-children.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tree.h"
#include "zk/jute.h"

static double cpu_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void put_name(struct znode *c, void *out)
{
    jute_put_buffer(out, c->name, (int32_t)tree_namelen(c));
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1000000;
    if (n <= 0)
        return 2;
    struct tree *t = tree_new();
    struct znode *p = tree_add(t, tree_root(t), "wide", 4, NULL, 0, 0, 0, 1, 0);
    struct znode **kids = malloc(sizeof *kids * (size_t)n);
    char name[32];
    double worst = 0, start = cpu_ms();
    for (int i = 0; i < n; i++) {
        int len = snprintf(name, sizeof name, "n%05d", i);
        double a = cpu_ms();
        kids[i] = tree_add(t, p, name, (size_t)len, NULL, 0, 0, 0, i + 2, 0);
        double d = cpu_ms() - a;
        worst = d > worst ? d : worst;
    }
    printf("create %d children: %.0f ms CPU, slowest create %.2f ms\n", n, cpu_ms() - start,
           worst);
    struct jute_out out = {0};
    double a = cpu_ms();
    tree_foreach_child(p, put_name, &out);
    printf("getChildren body: %zu bytes in %.1f ms CPU\n", out.len, cpu_ms() - a);
    jute_out_free(&out);
    worst = 0;
    start = cpu_ms();
    for (int i = 0; i < n; i++) {
        double b = cpu_ms();
        tree_unlink(t, kids[i]);
        tree_node_free(t, kids[i]);
        double d = cpu_ms() - b;
        worst = d > worst ? d : worst;
    }
    printf("delete them all: %.0f ms CPU, slowest delete %.2f ms\n", cpu_ms() - start, worst);
    free(kids);
    tree_free(t);
    return 0;
}
