/*
 * wide_micro.c - the loop-thread cost of one parent with many children
 * (issue 20), in thread CPU time so that other processes on the machine do
 * not count: the slowest single tree_add and tree_unlink while N children
 * are created and then deleted (a child-table rebuild shows as the
 * maximum), and encoding one getChildren body of all N: in one piece (as
 * with getChildrenSlice=0), and in slices of SLICE names as zkd's listing
 * does (listing.h: tree_kid_walk_step per loop turn, the body reserved for
 * the rest after the first; conn_put_body then takes the buffer when the
 * connection has nothing else queued, else copies it: that copy is timed
 * too), reporting the longest piece.  Also
 * getAllChildrenNumber's count (tree_count_descendants) of the parent.
 *
 *     build/bin/wide_micro [N] [SLICE]     (defaults 1,000,000 and 16,384)
 *
 * Results: bench/results/2026-12-06-million-children.md.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* The listing's pieces: one walk step per turn, then the copy into the
 * connection's output (the case where it cannot take the buffer: a fresh
 * one here).  Prints the longest step and the copy. */
static void sliced_body(struct tree *t, struct znode *p, uint32_t slice)
{
    struct jute_out body = {0};
    struct tree_kid_walk w;
    tree_kid_walk_open(t, &w, p);
    jute_put_int(&body, (int32_t)tree_nkids(p));
    double worst = 0, total = 0;
    int turns = 0, st;
    do {
        double a = cpu_ms();
        st = tree_kid_walk_step(&w, slice, put_name, &body);
        double d = cpu_ms() - a;
        if (turns == 0 && st == TREE_WALK_MORE) { /* as listing.c body_size */
            double b = cpu_ms();
            size_t per = (body.len - 4) / slice + 1, left = tree_nkids(p) - slice;
            jute_out_reserve(&body, left * per + left * per / 8 + 256);
            d += cpu_ms() - b;
        }
        worst = d > worst ? d : worst;
        total += d;
        turns++;
    } while (st == TREE_WALK_MORE);
    tree_kid_walk_close(&w);
    double a = cpu_ms();
    struct jute_out out = {0};
    jute_put_raw(&out, body.p, body.len);
    double copy = cpu_ms() - a;
    printf("getChildren body in slices of %u: %d turns, %.1f ms CPU in all, longest slice "
           "%.2f ms; a copy of the %zu bytes (when it cannot be taken) %.2f ms\n", slice, turns, total, worst, out.len,
           copy);
    jute_out_free(&out);
    jute_out_free(&body);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1000000;
    int slice = argc > 2 ? atoi(argv[2]) : 16384;
    if (n <= 0 || slice <= 0)
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
    printf("getChildren body: %zu bytes in %.1f ms CPU (one piece)\n", out.len, cpu_ms() - a);
    jute_out_free(&out);
    sliced_body(t, p, (uint32_t)slice);
    a = cpu_ms();
    uint64_t all = tree_count_descendants(p);
    printf("getAllChildrenNumber: %llu in %.1f ms CPU\n", (unsigned long long)all, cpu_ms() - a);
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
