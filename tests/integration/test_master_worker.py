"""The master-worker example (examples/master_worker.c, after Junqueira and Reed):
two masters, three workers and a client; the active master and one worker are
killed with SIGKILL mid-run, and every task must still complete exactly once.

Exactly once is checked three ways: /status holds every submitted task (a
status node is created once, in the same multi that deletes the assignment);
each task is committed in exactly one worker's log; and a task's status names
the worker whose log commits it (the killed worker may have died between its
commit and the log line, so its own commits are matched by its "work" lines).
"""
import os
import queue
import signal
import subprocess
import threading
import time

import pytest

from tests.lib.paths import BUILD_BIN

BINARY = os.path.join(BUILD_BIN, "master_worker")
NTASKS = 240

pytestmark = pytest.mark.skipif(not os.access(BINARY, os.X_OK),
                                reason="master_worker not built (cmake --build build --target master_worker)")


class Proc:
    """A running role whose stdout lines are collected as they come."""

    def __init__(self, *args):
        self.p = subprocess.Popen([BINARY, *args], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        self.lines = []
        self.q = queue.Queue()
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.p.stdout:
            self.lines.append(line.rstrip("\n"))
            self.q.put(line)
        self.q.put(None)

    def wait_for(self, pred, timeout=60):
        """Waits for an output line satisfying pred; fails on timeout or exit."""
        deadline = time.monotonic() + timeout
        for line in list(self.lines):
            if pred(line):
                return line
        while True:
            left = deadline - time.monotonic()
            assert left > 0, "timed out; output so far:\n" + "\n".join(self.lines[-30:])
            try:
                line = self.q.get(timeout=left)
            except queue.Empty:
                continue
            assert line is not None, "exited (rc %s):\n%s" % (self.p.wait(), "\n".join(self.lines[-30:]))
            if pred(line.rstrip("\n")):
                return line

    def kill(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGKILL)
        self.p.wait(timeout=10)


def status_at_least(n):
    def pred(line):
        if not line.startswith("status "):
            return False
        return int(line.split()[1].split("/")[0]) >= n
    return pred


@pytest.mark.parametrize("kind", ["zkd", "apache"])
def test_master_worker_survives_master_and_worker_death(server_factory, kazoo_client, tmp_path, kind):
    srv = server_factory(kind)
    procs = []
    try:
        m1 = Proc("master", srv.hosts, "m1")
        procs.append(m1)
        m1.wait_for(lambda l: l == "MASTER m1 elected")
        m2 = Proc("master", srv.hosts, "m2")
        procs.append(m2)
        m2.wait_for(lambda l: l == "backup m2")
        logs = {}
        workers = {}
        for i in (1, 2, 3):
            logs[i] = str(tmp_path / ("worker-%d.log" % i))
            workers[i] = Proc("worker", srv.hosts, str(i), logs[i], "15")
            procs.append(workers[i])
            workers[i].wait_for(lambda l: l.startswith("WORKER"))
        client = Proc("client", srv.hosts, str(NTASKS))
        procs.append(client)
        client.wait_for(status_at_least(NTASKS // 5))

        m1.kill()
        workers[1].kill()
        m2.wait_for(lambda l: l == "MASTER m2 elected", timeout=60)
        client.wait_for(lambda l: l.startswith("ALL DONE"), timeout=120)
        assert any(l.startswith("requeued") for l in m2.lines), \
            "the killed worker's unfinished tasks were not reassigned"
        zk = kazoo_client(srv)
        names = {"task-%010d" % i for i in range(NTASKS)}
        assert set(zk.get_children("/status")) == names
        owners = {t: zk.get("/status/" + t)[0].decode() for t in names}
        # A survivor prints "done <task>" after logging its commit: wait for
        # those lines before reading the logs.
        for i in (2, 3):
            for task, owner in owners.items():
                if owner == "worker-%d" % i:
                    workers[i].wait_for(lambda l, t=task: l == "done " + t)
        assert zk.get_children("/tasks") == []
        for w in (2, 3):
            assert zk.get_children("/assign/worker-%d" % w) == []
        committed = {}
        worked = {}
        for i, path in logs.items():
            with open(path) as f:
                for line in f:
                    what, task = line.split()
                    (committed if what == "commit" else worked).setdefault(task, []).append(i)
        for task in names:
            owner = owners[task]
            assert owner.startswith("worker-")
            w = int(owner.split("-")[1])
            commits = committed.get(task, [])
            assert len(commits) <= 1, "%s committed by workers %s" % (task, commits)
            if w == 1:
                assert commits in ([], [1]) and 1 in worked.get(task, []), task
            else:
                assert commits == [w], "%s: status says worker-%d, logs say %s" % (task, w, commits)
    finally:
        for p in procs:
            p.kill()
