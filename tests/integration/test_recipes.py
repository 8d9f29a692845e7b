"""The recipes of include/zk/recipes.h with many contenders at once, through the
driver client/recipes_test.c, against Apache ZooKeeper 3.8 and zkd (`server`).

Each scenario opens 15 (or the number given) independent sessions in one process
and checks what its recipe promises; see the driver's comments.  The driver
prints "PASS <scenario>" only when every check held.
"""
import os
import subprocess

import pytest

from tests.lib.paths import BUILD_BIN

DRIVER = os.path.join(BUILD_BIN, "recipes_test")

pytestmark = pytest.mark.skipif(not os.access(DRIVER, os.X_OK),
                                reason="recipes_test not built (cmake --build build --target recipes_test)")


def run_driver(scenario, hosts, base, contenders=None, timeout=240):
    args = [DRIVER, scenario, hosts, base]
    if contenders:
        args.append(str(contenders))
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out[-4000:]
    assert "PASS %s" % scenario in p.stdout, out[-4000:]
    return p.stdout


# (scenario, contenders): 15 sessions unless the scenario fixes its own number.
SCENARIOS = [
    ("lock", 15),             # counter incremented non-atomically under the lock is exact
    ("lock_chaos", 12),       # same, with connections dropped under the contenders
    ("rwlock", 15),           # writers exclusive, readers never beside a writer
    ("trylock", None),        # try-lock fails at once and leaves no node
    ("lock_expire", None),    # expiry: lock and leadership lost, then moved
    ("leader", 12),           # each leads once, never two at a time
    ("barrier", 15),          # nobody released before removal, everyone after
    ("dbarrier", 12),         # enter waits for all, leave waits for all
    ("queue", 14),            # 4 producers, 10 consumers, each item exactly once
    ("counter", 15),          # 300 concurrent CAS increments, exact, values unique
    ("group", 15),            # membership follows joins, deaths and leaves
    ("blocking", 8),          # 8 threads on blocking handles: lock, counter, queue
    ("treecache", None),      # persistent recursive watch; random burst + reconnect
    ("treecache_nodes", None),  # per-node watches; same burst
]


@pytest.mark.parametrize("scenario,contenders", SCENARIOS, ids=[s for s, _ in SCENARIOS])
def test_recipe(server, scenario, contenders):
    run_driver(scenario, server.hosts, "/recipes-" + scenario, contenders)


def test_lock_nodes_are_protected_names(server, kazoo_client):
    """Lock nodes carry Curator-style protection (a guid) and the holder's id as data,
    so other clients (here kazoo) can see who holds what."""
    out = run_driver("trylock", server.hosts, "/recipes-names")
    assert "PASS trylock" in out
    zk = kazoo_client(server)
    zk.create("/recipes-names/probe", b"")
    assert zk.get_children("/recipes-names/trylock") == []
