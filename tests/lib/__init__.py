"""The test harness (servers, ensembles, raw sessions, fault tools), also used by bench/.

Importing it guards every KazooClient made afterwards against kazoo 2.8's wake-up socket hang
(kazoo_wake.py): the tests and the benches that drive servers through these modules alike."""
from tests.lib import kazoo_wake

kazoo_wake.install()
