"""Launchers for the servers under test: zkd (ours) and Apache ZooKeeper (the reference).

Both take the same zoo.cfg keys and run in a private work directory:

    <workdir>/zoo.cfg       the config written by the launcher
    <workdir>/data/         dataDir (kept across restart(), for crash tests)
    <workdir>/server.log    stdout+stderr of every start, appended, with a marker line per start
    <workdir>/zookeeper.log Apache only: its log4j output

Every started server is registered in a process-wide table until close() so
that pytest's report hook (tests/conftest.py) can attach its log to a failing
test and an atexit hook can kill anything a crashed test run left behind.

Typical use outside the fixtures:

    srv = Zkd(tmpdir)          # or ApacheZK(tmpdir)
    srv.start()                # waits until `ruok` answers `imok`
    ... KazooClient(hosts=srv.hosts) ...
    srv.kill(signal.SIGKILL)   # crash it
    srv.start()                # same port, same dataDir
    srv.close()                # SIGTERM, then SIGKILL after a timeout

A server can run in a network namespace (tests/lib/netns.py): Zkd(tmpdir, host="10.1.2.11",
netns="zkn...m1") is started with `ip netns exec`, listens on that address, and is asked its
four-letter words from inside the namespace (so even while it is cut off from the test process).
"""
import atexit
import ctypes
import fcntl
import os
import re
import shlex
import signal
import socket
import subprocess
import threading
import time

from tests.lib.paths import BUILD_BIN

HOST = "127.0.0.1"

APACHE_JAVA_DIR = "/usr/share/java"
APACHE_JAR = os.path.join(APACHE_JAVA_DIR, "zookeeper.jar")
# zookeeper.jar's manifest Class-Path names its dependencies; it ships no slf4j
# binding, so add log4j 1.2 and its binding to get a server log at all.  It also
# misses netty-codec, which sslQuorum needs (UnifiedServerSocket uses netty's
# SslHandler): without it the election listener thread dies silently on its first
# TLS connection (NoClassDefFoundError io/netty/handler/codec/ByteToMessageDecoder,
# swallowed by its executor) and the member never elects.
APACHE_CLASSPATH = [
    APACHE_JAR,
    os.path.join(APACHE_JAVA_DIR, "slf4j-log4j12.jar"),
    os.path.join(APACHE_JAVA_DIR, "log4j-1.2.jar"),
    os.path.join(APACHE_JAVA_DIR, "netty-codec.jar"),
]
APACHE_MAIN = "org.apache.zookeeper.server.quorum.QuorumPeerMain"

# Apache reads these as JVM system properties, not zoo.cfg keys; zkd reads them
# from zoo.cfg.  The Apache launcher passes them both ways.
APACHE_SYSPROP_KEYS = ("znode.container.checkIntervalMs", "znode.container.maxPerMinute",
                      "znode.container.maxNeverUsedIntervalMs")

# Keys every test server gets unless the caller overrides them.
DEFAULT_CFG = {
    "tickTime": "2000",
    "initLimit": "10",
    "syncLimit": "5",
    "4lw.commands.whitelist": "*",
    "extendedTypesEnabled": "true",
    "admin.enableServer": "false",
    # Containers and TTL nodes are reaped by a periodic check (Apache: 60 s by
    # default); keep it short so tests can await the reaping.
    "znode.container.checkIntervalMs": "200",
}

SANITIZER_PATTERNS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",  # UBSan
    "WARNING: ThreadSanitizer",
    "LeakSanitizer has encountered a fatal error",
)


class ServerError(Exception):
    """A server could not be started, answered wrongly, or misbehaved at exit."""


# --------------------------------------------------------------------------
# Ports
# --------------------------------------------------------------------------

_port_lock = threading.Lock()
_ports_handed_out = set()


def _port_range():
    """A range outside the kernel's ephemeral ports, so that no client socket can grab a
    port between our pick, the server's bind, or a restart of that server: the larger
    gap below or above ip_local_port_range (at most 20000 ports).  A kernel whose range
    leaves no gap (e.g. 1024-65535) gets 12000-32000 and the risk that a connection's
    source port takes a stopped member's port."""
    lo, hi = 32768, 60999
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split()[:2])
    except (OSError, ValueError):
        pass
    if lo - 2000 >= 1000:  # below the range; from 12000 when there is room (clear of 2181, 8080)
        start = 12000 if lo > 22000 else 2000
        return start, min(lo, start + 20000)
    if 65536 - (hi + 1) >= 1000:
        return hi + 1, min(65536, hi + 1 + 20000)
    return 12000, 32000


_PORT_START, _PORT_END = _port_range()
# Each process (e.g. parallel CI jobs or pytest-xdist workers) starts at its own offset.
_port_cursor = (os.getpid() * 7919) % (_PORT_END - _PORT_START)

# Ports are reserved machine-wide, not only in this process: a port handed out here is
# locked until this process exits, so another test process -- a parallel CI job, another
# developer's run -- never picks it, not even while the server on it is stopped for a
# restart.  Without that, a member restarted right after it stopped could find its quorum
# port taken by someone else's server ("address already in use"); binding alone cannot
# tell a port that is free from one that is ours.
#
# The lock on port P is a POSIX record lock on byte P of one shared file, all taken through
# one descriptor: a descriptor per port (flock on a file per port) made a whole suite run
# hold over a thousand descriptors, and select() in the tests refuses descriptors above
# 1023.  The kernel drops record locks when the process exits, however it exits; a child
# process never inherits them.  The file must not be opened and closed anywhere else in
# this process: closing any descriptor of it drops all of this process's locks on it.
PORT_LOCK_FILE = os.path.join(os.environ.get("ZK_TEST_PORT_DIR", "/tmp/zk-test-ports"),
                              "locks")
_port_lock_fd = None
_port_locks = set()  # ports whose byte this process has locked


def _lock_file_fd():
    global _port_lock_fd
    if _port_lock_fd is None:
        d = os.path.dirname(PORT_LOCK_FILE)
        if not os.path.isdir(d):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o1777)  # shared by every user's test runs
        _port_lock_fd = os.open(PORT_LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
    return _port_lock_fd


def _reserve(port):
    """Takes port's machine-wide lock; False if another live process holds it."""
    try:
        fd = _lock_file_fd()
    except OSError:
        return True  # no shared directory: fall back to this process's own bookkeeping
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, port)
    except OSError:
        return False
    _port_locks.add(port)
    return True


def _release(port):
    if port in _port_locks:
        _port_locks.discard(port)
        fcntl.lockf(_port_lock_fd, fcntl.LOCK_UN, 1, port)


def _bindable(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("0.0.0.0", port))  # stricter than 127.0.0.1: also catches wildcard listeners
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_port():
    """A TCP port that is free now, was not handed out before in this process, and is
    reserved for this process (no other test process picks it) until it exits."""
    global _port_cursor
    span = _PORT_END - _PORT_START
    with _port_lock:
        for i in range(span):
            port = _PORT_START + (_port_cursor + i) % span
            if port in _ports_handed_out or not _reserve(port):
                continue
            if not _bindable(port):
                _release(port)
                continue
            _port_cursor = (port - _PORT_START + 1) % span
            _ports_handed_out.add(port)
            return port
        # Whole range busy: let the kernel choose.
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((HOST, 0))
        port = s.getsockname()[1]
        s.close()
        _ports_handed_out.add(port)
        return port


def free_ports(n):
    return [free_port() for _ in range(n)]


# --------------------------------------------------------------------------
# Four-letter words
# --------------------------------------------------------------------------

def four_letter(port, cmd, host=HOST, timeout=5.0, netns=None):
    """Sends a four-letter word and returns the whole answer (until the server closes).
    With `netns`, the connection is made from inside that network namespace."""
    if isinstance(cmd, str):
        cmd = cmd.encode()
    deadline = time.monotonic() + timeout
    if netns is None:
        sock = socket.create_connection((host, port), timeout=timeout)
    else:
        from tests.lib.netns import socket_in

        sock = socket_in(netns)
        try:
            sock.settimeout(timeout)
            sock.connect((host, port))
        except BaseException:
            sock.close()
            raise
    with sock as s:
        s.sendall(cmd)
        chunks = []
        while True:
            s.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                b = s.recv(65536)
            except ConnectionResetError:
                break
            if not b:
                break
            chunks.append(b)
    return b"".join(chunks).decode("utf-8", "replace")


# --------------------------------------------------------------------------
# Process registry
# --------------------------------------------------------------------------

_registry_lock = threading.Lock()
_registry = []  # servers started and not yet closed


def live_servers():
    with _registry_lock:
        return list(_registry)


@atexit.register
def _kill_leftovers():
    for srv in live_servers():
        try:
            srv.kill(signal.SIGKILL)
        except Exception:
            pass


_PR_SET_PDEATHSIG = 1
try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover
    _libc = None


def _die_with_parent():
    # Runs in the child between fork and exec: the server gets SIGKILL if the
    # thread that started it (the pytest main thread) dies, even by SIGKILL.
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


# --------------------------------------------------------------------------
# Launchers
# --------------------------------------------------------------------------

class ServerProcess:
    """Common part of the zkd and Apache launchers; see the module docstring."""

    kind = "server"
    start_timeout = 30.0
    stop_timeout = 15.0

    def __init__(self, workdir, port=None, cfg=None, name=None, myid=None, env=None, host=HOST,
                 netns=None):
        self.workdir = os.path.abspath(str(workdir))
        self.host = host  # the client address it listens on (clientPortAddress)
        self.netns = netns  # network namespace it runs in (tests/lib/netns.py), or None
        os.makedirs(self.workdir, exist_ok=True)
        self.port = port or free_port()
        self.name = name or "%s:%d" % (self.kind, self.port)
        self.myid = myid
        self.extra_env = dict(env or {})
        self.data_dir = os.path.join(self.workdir, "data")
        self.cfg_path = os.path.join(self.workdir, "zoo.cfg")
        self.log_path = os.path.join(self.workdir, "server.log")
        self.cfg = dict(DEFAULT_CFG)
        self.cfg.update({
            "dataDir": self.data_dir,
            "clientPort": str(self.port),
            "clientPortAddress": host,
        })
        for k, v in (cfg or {}).items():
            if v is None:
                self.cfg.pop(k, None)
            else:
                self.cfg[k] = str(v)
        self.proc = None
        self._reaped = None
        self.starts = 0
        self.returncodes = []  # exit status of every process that ended, in order
        self._log_file = None

    # -- description ------------------------------------------------------

    @property
    def hosts(self):
        """Connection string for KazooClient(hosts=...)."""
        return "%s:%d" % (self.host, self.port)

    def __repr__(self):
        state = "running pid %d" % self.proc.pid if self.running else "stopped"
        return "<%s %s %s, %s>" % (type(self).__name__, self.name, state, self.workdir)

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    # -- subclass hooks ---------------------------------------------------

    def command(self):
        raise NotImplementedError

    def full_command(self):
        """command(), run inside self.netns if there is one."""
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        return prefix + self.command()

    def environment(self):
        env = dict(os.environ)
        env.update(self.extra_env)
        return env

    def check_ready(self):
        """True when the server serves clients; may raise OSError while it cannot be reached."""
        return self.four_letter("ruok", timeout=2.0) == "imok"

    # -- config -----------------------------------------------------------

    def config_text(self):
        lines = ["# written by tests/lib/servers.py for %s" % self.name]
        lines += ["%s=%s" % (k, v) for k, v in self.cfg.items()]
        return "\n".join(lines) + "\n"

    def write_config(self):
        os.makedirs(self.data_dir, exist_ok=True)
        if self.myid is not None:
            with open(os.path.join(self.data_dir, "myid"), "w") as f:
                f.write("%d\n" % self.myid)
        with open(self.cfg_path, "w") as f:
            f.write(self.config_text())

    # -- lifecycle --------------------------------------------------------

    def start(self, timeout=None, wait=True):
        """Starts the server (again, on the same port and dataDir) and waits until it is ready."""
        if self.running:
            raise ServerError("%s is already running" % self.name)
        self.write_config()
        self.starts += 1
        self._log_file = open(self.log_path, "ab", buffering=0)
        self._log_file.write(("\n===== start #%d: %s =====\n" % (
            self.starts, " ".join(self.full_command()))).encode())
        popen_kw = {}
        if threading.current_thread() is threading.main_thread():
            popen_kw["preexec_fn"] = _die_with_parent
        self.proc = subprocess.Popen(
            self.full_command(), cwd=self.workdir, env=self.environment(),
            stdin=subprocess.DEVNULL, stdout=self._log_file, stderr=subprocess.STDOUT,
            **popen_kw)
        with _registry_lock:
            if self not in _registry:
                _registry.append(self)
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=None):
        timeout = self.start_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        delay = 0.01
        last_err = None
        while True:
            rc = self.proc.poll()
            if rc is not None:
                self._reap()
                raise ServerError("%s exited with status %s while starting\n%s" % (
                    self.name, rc, self.describe_log()))
            try:
                if self.check_ready():
                    return
                last_err = "not ready yet"
            except OSError as e:
                last_err = "%s: %s" % (type(e).__name__, e)
            if time.monotonic() >= deadline:
                self.kill(signal.SIGKILL)
                raise ServerError("%s not ready after %.0fs (last check: %s)\n%s" % (
                    self.name, timeout, last_err, self.describe_log()))
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    def _reap(self):
        """Records the exit of self.proc once; returns its status."""
        if self._reaped is not self.proc:
            self._reaped = self.proc
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None
            self.returncodes.append(self.proc.returncode)
        return self.proc.returncode

    def kill(self, sig=signal.SIGKILL, timeout=None):
        """Sends `sig` and waits for the exit; returns the exit status (negative: killed by
        that signal).  A process that outlives `timeout` gets SIGKILL and ServerError."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            timeout = self.stop_timeout if timeout is None else timeout
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self._reap()
                raise ServerError("%s ignored signal %d for %.0fs and was killed\n%s" % (
                    self.name, sig, timeout, self.describe_log()))
        return self._reap()

    def stop(self, timeout=None):
        """Graceful stop: SIGTERM, then SIGKILL after `timeout` (which raises ServerError)."""
        return self.kill(signal.SIGTERM, timeout)

    def restart(self, sig=signal.SIGTERM):
        self.kill(sig)
        return self.start()

    def close(self):
        """Stops the server for good and unregisters it; problems it shows at exit raise ServerError."""
        try:
            self.stop()
        finally:
            if self.running:  # stop() raised before the process was gone
                self.proc.kill()
                self.proc.wait()
            with _registry_lock:
                if self in _registry:
                    _registry.remove(self)
        self.check_exit()

    def check_exit(self):
        """Raises ServerError if the server's log shows a problem (subclasses decide what counts)."""

    # -- logs and admin ---------------------------------------------------

    def log_files(self):
        return [self.log_path]

    def log_tail(self, lines=200):
        out = []
        for path in self.log_files():
            try:
                with open(path, "rb") as f:
                    f.seek(0, os.SEEK_END)
                    size = f.tell()
                    f.seek(max(0, size - 256 * 1024))
                    text = f.read().decode("utf-8", "replace")
            except OSError:
                continue
            out.append("--- %s (last %d lines) ---\n%s" % (
                path, lines, "\n".join(text.splitlines()[-lines:])))
        return "\n".join(out)

    def describe_log(self, lines=60):
        return self.log_tail(lines) or "(no log written)"

    def four_letter(self, cmd, timeout=5.0):
        return four_letter(self.port, cmd, host=self.host, timeout=timeout, netns=self.netns)

    def mntr_int(self, key):
        """One numeric `mntr` value."""
        for line in self.four_letter("mntr").splitlines():
            k, _, v = line.partition("\t")
            if k == key:
                return int(v)
        raise AssertionError("mntr has no " + key)


class Zkd(ServerProcess):
    """Our server: <ZK_BUILD_DIR or build>/bin/zkd zoo.cfg."""

    kind = "zkd"
    start_timeout = 30.0

    def __init__(self, workdir, binary=None, **kw):
        self.binary = binary or os.path.join(BUILD_BIN, "zkd")
        super().__init__(workdir, **kw)

    @classmethod
    def missing_reason(cls, binary=None):
        binary = binary or os.path.join(BUILD_BIN, "zkd")
        if not os.path.exists(binary):
            return ("zkd binary not found at %s: build it with `bash packaging/build.sh` "
                    "(or point ZK_BUILD_DIR at another build)" % binary)
        if not os.access(binary, os.X_OK):
            return "zkd binary %s is not executable" % binary
        return None

    def command(self):
        return [self.binary, self.cfg_path]

    def environment(self):
        env = super().environment()
        # Only matter for sanitizer builds; keep what the caller set.
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:allocator_may_return_null=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        return env

    def start(self, timeout=None, wait=True):
        reason = self.missing_reason(self.binary)
        if reason:
            raise ServerError(reason)
        return super().start(timeout, wait)

    def sanitizer_reports(self):
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return []
        return [line for line in text.splitlines() if any(p in line for p in SANITIZER_PATTERNS)]

    def check_exit(self):
        reports = self.sanitizer_reports()
        if reports:
            raise ServerError("%s: sanitizer reports in %s:\n%s\n%s" % (
                self.name, self.log_path, "\n".join(reports[:20]), self.log_tail(200)))


class ApacheZK(ServerProcess):
    """Apache ZooKeeper 3.8 from Debian's `zookeeper` package, run from its jars."""

    kind = "apache"
    start_timeout = 60.0  # JVM start on a loaded 2-core machine

    def __init__(self, workdir, java=None, heap="512m", sysprops=None, **kw):
        self.java = java or os.environ.get("ZK_JAVA") or "/usr/bin/java"
        self.heap = heap
        # Extra JVM system properties (-Dk=v), e.g. election timeouts for ensembles.
        self.sysprops = dict(sysprops or {})
        super().__init__(workdir, **kw)
        self.log4j_path = os.path.join(self.workdir, "log4j.properties")
        self.zk_log_path = os.path.join(self.workdir, "zookeeper.log")
        self.audit_log_path = os.path.join(self.workdir, "zookeeper_audit.log")

    @classmethod
    def missing_reason(cls, java=None):
        java = java or os.environ.get("ZK_JAVA") or "/usr/bin/java"
        if not os.access(java, os.X_OK):
            return "java not found at %s (apt-get install default-jre-headless)" % java
        if not os.path.exists(APACHE_JAR):
            return "%s not found (apt-get install zookeeper)" % APACHE_JAR
        return None

    def classpath(self):
        return ":".join(p for p in APACHE_CLASSPATH if p and os.path.exists(p))

    def command(self):
        props = ["-D%s=%s" % (k, self.cfg[k]) for k in APACHE_SYSPROP_KEYS if k in self.cfg]
        props += ["-D%s=%s" % kv for kv in sorted(self.sysprops.items())]
        # SERVER_JVMFLAGS (env=/extra_env) reach java as zkServer.sh hands them over, so one
        # setting (e.g. -Djava.security.auth.login.config=jaas.conf) serves zkd and Apache.
        props += shlex.split(self.environment().get("SERVER_JVMFLAGS", ""))
        return [
            self.java,
            "-Xmx" + self.heap, "-Xms32m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
            "-Xshare:auto", "-Djava.awt.headless=true",
            "-Dzookeeper.log.dir=" + self.workdir,
            "-Dlog4j.configuration=file:" + self.log4j_path,
            "-Dzookeeper.jmx.log4j.disable=true",
        ] + props + ["-cp", self.classpath(), APACHE_MAIN, self.cfg_path]

    def write_config(self):
        super().write_config()
        with open(self.log4j_path, "w") as f:
            f.write(
                "log4j.rootLogger=INFO, FILE\n"
                "log4j.appender.FILE=org.apache.log4j.FileAppender\n"
                "log4j.appender.FILE.File=%s\n"
                "log4j.appender.FILE.Append=true\n"
                "log4j.appender.FILE.layout=org.apache.log4j.PatternLayout\n"
                "log4j.appender.FILE.layout.ConversionPattern="
                "%%d{ISO8601} %%-5p [%%t:%%C{1}@%%L] - %%m%%n\n"
                # The audit logger (audit.enable) to its own file, as Apache's
                # shipped logging config does (pattern "%%d{ISO8601} %%p %%c{2}: %%m%%n").
                "log4j.logger.org.apache.zookeeper.audit.Slf4jAuditLogger=INFO, AUDIT\n"
                "log4j.additivity.org.apache.zookeeper.audit.Slf4jAuditLogger=false\n"
                "log4j.appender.AUDIT=org.apache.log4j.FileAppender\n"
                "log4j.appender.AUDIT.File=%s\n"
                "log4j.appender.AUDIT.Append=true\n"
                "log4j.appender.AUDIT.layout=org.apache.log4j.PatternLayout\n"
                "log4j.appender.AUDIT.layout.ConversionPattern=%%d{ISO8601} %%p %%c{2}: %%m%%n\n"
                % (self.zk_log_path, self.audit_log_path))

    def check_ready(self):
        # ruok answers as soon as the socket listens; srvr says whether it serves.
        if self.four_letter("ruok", timeout=2.0) != "imok":
            return False
        return "Zookeeper version:" in self.four_letter("srvr", timeout=2.0)

    def log_files(self):
        return [self.log_path, self.zk_log_path]


LAUNCHERS = {"zkd": Zkd, "apache": ApacheZK}


def parse_srvr(text):
    """`srvr`/`stat` output as a dict of its "Key: value" lines."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z][A-Za-z /]*?):\s*(.*)$", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def close_all(things):
    """Closes every server, ensemble or rig in `things`, newest first, even when one fails, then
    fails the test on what they showed at exit (sanitizer reports, ServerError)."""
    errors = []
    for t in reversed(things):
        try:
            t.close()
        except ServerError as e:
            errors.append(str(e))
    if errors:
        import pytest
        pytest.fail("\n\n".join(errors), pytrace=False)
