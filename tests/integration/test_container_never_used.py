"""A never-used container's age counts from its mtime, as in Apache's ContainerManager.

Apache deletes a container that never had a child (cversion 0) once
`znode.container.maxNeverUsedIntervalMs` has passed since the node's *mtime*
(ContainerManager.getElapsed), so a setData keeps an unused container alive.
zkd counted from ctime and reaped such a container while it was being written.

Here container /kept is written every few tens of milliseconds while two
untouched containers created after it age out: /first (created with /kept)
and /second (created once /first is gone, so at least one whole check passes
after /kept would have been due by its ctime).  /kept must outlive both, and
go itself once the writes stop.
"""
import threading

import pytest

kazoo = pytest.importorskip("kazoo")

from tests.conftest import stop_kazoo  # noqa: E402
from tests.integration.test_apache_datadir import client  # noqa: E402
from tests.integration.test_diff_ops import CONTAINER, raw_create  # noqa: E402
from tests.lib.waiting import wait_until  # noqa: E402

NEVER_USED_MS = 2000
TOUCH_EVERY_S = 0.05  # far below NEVER_USED_MS: the slack for a slow machine


def touch_until_gone(zk, kept, path):
    """Write `kept` until `path` is deleted (observed by a watch)."""
    gone = threading.Event()

    def watch(event):
        if event.type == "DELETED":
            gone.set()
    if zk.exists(path, watch=watch) is None:
        gone.set()
    n = 0
    while not gone.wait(TOUCH_EVERY_S):
        zk.set(kept, b"%d" % n)
        n += 1
        assert n < 60 / TOUCH_EVERY_S, path + " was never reaped"
    return n


@pytest.mark.parametrize("kind", ["apache", "zkd"])
def test_never_used_container_ages_from_mtime(server_factory, kind):
    srv = server_factory(kind, cfg={"znode.container.checkIntervalMs": "100",
                                    "znode.container.maxNeverUsedIntervalMs": str(NEVER_USED_MS)})
    zk = client(srv)
    try:
        raw_create(zk, "/kept", b"", flags=CONTAINER)
        raw_create(zk, "/first", b"", flags=CONTAINER)
        assert touch_until_gone(zk, "/kept", "/first") > 0
        assert zk.exists("/kept") is not None, "reaped while written: aged from ctime"
        raw_create(zk, "/second", b"", flags=CONTAINER)
        touch_until_gone(zk, "/kept", "/second")
        st = zk.exists("/kept")
        assert st is not None, "reaped while written: aged from ctime"
        assert st.cversion == 0 and st.mtime > st.ctime
        wait_until(lambda: zk.exists("/kept") is None, 60, "/kept reaped once left alone")
    finally:
        stop_kazoo(zk)
