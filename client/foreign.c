/*
 * foreign.c - foreign-loop mode: libzk driven by a program's own event loop
 * (select, poll, epoll, another library's loop), as Apache's C client
 * offers with zookeeper_interest/zookeeper_process.
 *
 * The handle runs on a private libuv loop.  libuv can be embedded: its
 * backend file descriptor (an epoll fd on Linux) turns readable whenever
 * any of the loop's sockets has work, and uv_backend_timeout says when its
 * next timer is due.  So the program polls one fd for reading with that
 * timeout, and calls zk_process, which runs the loop once without
 * blocking.  Every callback runs inside zk_process, on the caller's thread;
 * all calls on the handle must be made from that thread.
 */
#include "session.h"

#include "zk/zk.h"

#include <stdlib.h>
#include <uv.h>

struct foreign {
    uv_loop_t loop;
};

int zk_open_foreign(const struct zk_options *o, zk_t **out)
{
    *out = NULL;
    struct foreign *f = calloc(1, sizeof *f);
    if (!f)
        return ZK_SYSTEMERROR;
    if (uv_loop_init(&f->loop) != 0) {
        free(f);
        return ZK_SYSTEMERROR;
    }
    int rc = zk_open(&f->loop, o, out);
    if (rc != 0) {
        uv_loop_close(&f->loop);
        free(f);
        return rc;
    }
    zk__session_set_foreign(*out, f);
    return 0;
}

int zk_interest(zk_t *zk, int *fd, int *timeout_ms)
{
    struct foreign *f = zk__session_foreign(zk);
    if (!f)
        return ZK_BADARGUMENTS;
    *fd = uv_backend_fd(&f->loop);
    *timeout_ms = uv_backend_timeout(&f->loop);
    return 0;
}

int zk_process(zk_t *zk)
{
    struct foreign *f = zk__session_foreign(zk);
    if (!f)
        return ZK_BADARGUMENTS;
    uv_run(&f->loop, UV_RUN_NOWAIT);
    return 0;
}

void zk_close_foreign(zk_t *zk, zk_close_fn cb, void *data)
{
    struct foreign *f = zk__session_foreign(zk);
    if (!f)
        return;
    zk_close(zk, cb, data);
    /* Until every handle of the loop is closed: at most the closeSession
     * round trip (bounded by libzk's close wait). */
    while (uv_run(&f->loop, UV_RUN_DEFAULT) != 0) {
    }
    uv_loop_close(&f->loop);
    free(f);
}
