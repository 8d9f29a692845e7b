"""Waiting for a condition that another process or session makes true.

Used where no event can be awaited: a change made by one ZooKeeper session reaches
another session (zkfs, a follower) a little later, with no ordering between the two."""
import time


def wait_until(pred, timeout=30.0, what="condition", interval=0.02):
    """Polls pred() until it is true; fails after `timeout` seconds naming `what`."""
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("%s not met in %.0fs" % (what, timeout))
        time.sleep(interval)
