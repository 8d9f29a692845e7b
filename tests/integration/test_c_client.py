"""Differential tests with Apache's own C client: the `cli_mt` shell from Debian's zookeeper-bin.

cli_mt is driven on stdin, one command at a time.  Its replies arrive
asynchronously on stderr, so after every command we send a sentinel
(`sync /zkfs-sentinel-N`, whose completion is printed after those of every
earlier request of the session, watch events included) and take everything
printed before the sentinel's reply as that command's output.

Each scenario's normalized output from Apache is the reference; zkd's must be
identical.  Normalized: "time = N msec" lines dropped, timestamps (except the
epoch) shown as <time>, zxids named by first appearance (zx1, zx2, ...),
session ids as <own session>/<other session>, children lists sorted, and the
scenario's base path shown as /B.
"""
import difflib
import os
import queue
import re
import shutil
import subprocess
import threading
import time

import pytest

CLI = shutil.which("cli_mt") or "/usr/lib/zookeeper/bin/cli_mt"

pytestmark = pytest.mark.skipif(
    not os.access(CLI, os.X_OK),
    reason="cli_mt not found (apt-get install zookeeper-bin)")

EPOCH_TEXT = "Thu Jan  1 00:00:00 1970"


class CliError(Exception):
    pass


class Cli:
    """A running cli_mt session."""

    def __init__(self, hosts, timeout=15.0):
        self.timeout = timeout
        self.proc = subprocess.Popen(
            [CLI, "-h", hosts], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, errors="replace", bufsize=1)
        self.lines = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.n = 0
        self.session = None
        # Wait for the session before sending anything, so that connection
        # messages never interleave with a command's output.
        for line in self._until(lambda l: l.startswith("Got a new session id: ")):
            pass
        self.session = int(self._last.split(":", 1)[1].strip(), 16)

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def _until(self, pred):
        """Yields lines until one satisfies pred (kept in self._last, not yielded)."""
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CliError("cli_mt: no expected output within %.0fs" % self.timeout)
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise CliError("cli_mt exited (status %s)" % self.proc.poll())
            if pred(line):
                self._last = line
                return
            yield line

    def run(self, command):
        """Sends one command; returns the raw lines it printed."""
        self.n += 1
        sentinel = "/zkfs-sentinel-%d" % self.n
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.write("sync %s\n" % sentinel)
        self.proc.stdin.flush()
        out = list(self._until(lambda l: l.startswith("[%s]: rc = " % sentinel)))
        if self._last.endswith("rc = 0"):  # the completion also prints "\tname = <path>"
            list(self._until(lambda l: l.startswith("\tname = ")))
        return out

    def close(self):
        try:
            if self.proc.poll() is None:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.stdin.close()
                self.proc.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            pass
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()


class Normalizer:
    def __init__(self, base, own_session):
        self.base = base
        self.own_session = own_session
        self.zxids = {0: "0"}

    def zxid(self, hexval):
        v = int(hexval, 16)
        if v not in self.zxids:
            self.zxids[v] = "zx%d" % len(self.zxids)
        return self.zxids[v]

    def lines(self, raw):
        raw = [l.replace(self.base, "/B") for l in raw]
        out = []
        i = 0
        while i < len(raw):
            line = raw[i]
            # A children list: "<path>: rc = 0", then "\t<child>" lines, then "time = ...".
            if re.match(r"^/\S*: rc = 0$", line):
                j = i + 1
                while j < len(raw) and raw[j].startswith("\t"):
                    j += 1
                if j < len(raw) and raw[j].startswith("time = "):
                    out.append(line)
                    out.extend(sorted(raw[i + 1:j]))
                    i = j
                    continue
            out.append(self.line(line))
            i += 1
        return [l for l in out if l is not None]

    def line(self, line):
        if line.startswith("time = "):
            return None
        # C client log lines: "2024-01-01 00:00:00,000:PID(0xTID):ZOO_ERROR@func@line: msg"
        line = re.sub(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+:\d+\(0x[0-9a-f]+\):", "", line)
        m = re.match(r"^(\t(?:ctime = |mtime=))(.*)$", line)
        if m:
            return m.group(1) + (m.group(2) if m.group(2) == EPOCH_TEXT else "<time>")
        m = re.match(r"^(\t[cm]zxid=)([0-9a-f]+)$", line)
        if m:
            return m.group(1) + self.zxid(m.group(2))
        m = re.match(r"^(\tephemeralOwner = )([0-9a-f]+)$", line)
        if m:
            v = int(m.group(2), 16)
            return m.group(1) + ("0" if v == 0 else "<own session>" if v == self.own_session
                                 else "<other session>")
        return line


# --------------------------------------------------------------------------
# Scenarios: lists of cli commands; "{B}" is the scenario's base path.
# --------------------------------------------------------------------------

SCENARIOS = {
    "basic_ops": [
        "create {B}",
        "create {B}/x",
        "create2 {B}/y",
        "create {B}/x",
        "create {B}/nope/x",
        "create {B}-sibling",
        "create rel",
        "get {B}/x",
        "set {B}/x world",
        "get {B}/x",
        "ls {B}",
        "ls2 {B}/x",
        "ls {B}/nope",
        "exists {B}/x",
        "exists {B}/nope",
        "sync {B}/x",
        "delete {B}",
        "delete {B}/y",
        "delete {B}/y",
        "get {B}/y",
        "set {B}/y data",
        "delete {B}-sibling",
    ],
    "modes": [
        "create {B}",
        "create +e {B}/e",
        "create +s {B}/s-",
        "create +s {B}/s-",
        "create +es {B}/es-",
        "create +c {B}/c",
        "create +t=600000 {B}/t",
        "create2 +e {B}/e2",
        "create +t=0 {B}/t0",
        "create +x {B}/bad",
        "ls {B}",
        "get {B}/e",
        "get {B}/c",
        "ls2 {B}",
        "create {B}/e/child",
    ],
    "watches": [
        "create {B}",
        "create {B}/w",
        "get {B}/w",
        "set {B}/w one",
        "set {B}/w two",
        "ls {B}",
        "create {B}/k",
        "wexists {B}/later",
        "create {B}/later",
        "get {B}/k",
        "delete {B}/k",
        "exists {B}/gone",
        "create {B}/gone",
        "delete {B}/gone",
    ],
    "auth": [
        "create {B}",
        "addauth digest user:secret",
        "create {B}/a",
        "set {B}/a x",
        "addauth digest other:pw",
        "get {B}/a",
        # (an unknown scheme makes the server fail the auth and cli_mt crash: not usable here)
    ],
    "system_nodes": [
        "ls /zookeeper",
        "get /zookeeper/config",
        "config",
        "set /zookeeper/config x",
        "delete /zookeeper",
        "create /zookeeper/config/x",
    ],
}

_REFERENCE = {}


def run_cli_scenario(srv, name):
    if not srv.running:
        pytest.fail("%s is not running\n%s" % (srv.name, srv.describe_log()), pytrace=False)
    base = "/diff-cli-" + name
    cli = Cli(srv.hosts)
    lines = []
    try:
        norm = Normalizer(base, cli.session)
        for command in SCENARIOS[name]:
            command = command.format(B=base)
            try:
                raw = cli.run(command)
            except CliError as e:
                lines.append("> " + command.replace(base, "/B"))
                lines.append("ABORTED: %s" % e)
                break
            lines.append("> " + command.replace(base, "/B"))
            lines.extend(norm.lines(raw))
    finally:
        cli.close()
        _cleanup(srv, base)
    return lines


def _cleanup(srv, base):
    from kazoo.client import KazooClient
    from tests.conftest import stop_kazoo
    c = KazooClient(hosts=srv.hosts)
    try:
        c.start(timeout=15)
        for path in (base, base + "-sibling"):
            try:
                c.delete(path, recursive=True)
            except Exception:
                pass
    except Exception:
        pass
    finally:
        stop_kazoo(c)


def reference(request, name):
    if name not in _REFERENCE:
        _REFERENCE[name] = run_cli_scenario(request.getfixturevalue("apache_zk"), name)
    return _REFERENCE[name]


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_cli_mt(request, server, name):
    if server.kind == "apache":
        lines = reference(request, name)
        assert not any(l.startswith("ABORTED") for l in lines), "\n".join(lines)
        return
    got = run_cli_scenario(server, name)
    ref = reference(request, name)
    if got != ref:
        pytest.fail("cli_mt output against zkd differs from Apache in scenario %r:\n%s" % (
            name, "\n".join(difflib.unified_diff(ref, got, "apache", "zkd", lineterm="", n=3))),
            pytrace=False)


def test_cli_mt_batch_mode(request, server):
    """cli_mt -c CMD: one command, then exit."""
    base = "/diff-cli-batch"

    def run(srv):
        out = []
        try:
            for cmd in ("create %s" % base, "get %s" % base, "ls /zookeeper", "delete %s" % base):
                p = subprocess.run([CLI, "-h", srv.hosts, "-c", cmd], capture_output=True, text=True,
                                   errors="replace", timeout=30)
                session = re.search(r"Got a new session id: 0x([0-9a-f]+)", p.stderr)
                norm = Normalizer(base, int(session.group(1), 16) if session else -1)
                raw = [l for l in p.stderr.splitlines()
                       if not l.startswith(("Got a new session id", "Watcher SESSION_EVENT"))]
                out += ["$ cli_mt -c %r => exit %d" % (cmd.replace(base, "/B"), p.returncode)]
                out += norm.lines(raw)
        finally:
            _cleanup(srv, base)
        return out

    got = run(server)
    if server.kind == "apache":
        assert all("exit 0" in l for l in got if l.startswith("$")), "\n".join(got)
        _REFERENCE["<batch>"] = got
        return
    ref = _REFERENCE.get("<batch>") or run(request.getfixturevalue("apache_zk"))
    assert got == ref, "\n".join(difflib.unified_diff(ref, got, "apache", "zkd", lineterm=""))
