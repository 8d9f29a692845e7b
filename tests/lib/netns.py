"""Real network partitions for ensemble tests: one network namespace per member, on one bridge.

    net = Network(3)                 # members 1..3; nothing exists yet
    net.create()                     # namespaces, bridge, veth pairs, addresses
    net.addr(1)                      # "10.A.B.11": member 1's address (bind and announce it)
    net.exec_prefix(1)               # ["ip", "netns", "exec", NAME]: run a command inside
    net.isolate(1); net.reconnect(1) # pull / plug member 1's cable (clients lose it too)
    net.partition([1], [2, 3])       # members of different groups drop each other's packets
    net.cut([1], [2, 3]); net.heal() # the same, explicitly; heal() undoes every fault
    net.close()                      # processes killed, namespaces, bridge and veths deleted

Layout.  The bridge <tag>b lives in the root namespace with address 10.A.B.1/24, so the test
process (kazoo clients, the root namespace) reaches every member directly through it.  Member i
lives in namespace <tag>m<i> with lo and eth0 = 10.A.B.(10+i)/24, the inner end of a veth pair
whose outer end <tag>h<i> is a port of the bridge.  Each member has an address of its own, so every
member listens on the standard ports (2181, 2888, 3888) and announces its real address: there are
no proxies and no address rewriting, and Apache's election layer, which connects back to the
address a peer announces, is simply right.

Names and addresses.  <tag> is "zkn<pid in hex>r<counter>", unique per Network in this process and
across concurrent processes; interface names stay within the kernel's 15 characters.  The /24 is
derived from the pid and counter inside 10.100.0.0-10.227.255.0 and moved on while it overlaps an
address or route of the root namespace.  A run that died without its teardown (SIGKILL, OOM) leaves
namespaces and links whose tag names a pid that no longer exists: the first Network of every
process removes those (processes in them killed first), and only those, so concurrent runs never
touch each other.

Faults, and why these two mechanisms.
  isolate(i): the bridge-side end of member i's veth goes down.  Frames to and from the member are
    dropped silently (no carrier: the inner end's qdisc discards, the bridge does not forward), as
    when a cable is pulled: peers and clients notice only by their timeouts.  It cuts the member
    from everyone, clients included; reconnect(i) plugs it back.
  cut(a, b): every namespace in `a` drops, in its netfilter input hook, the packets coming from the
    addresses in `b`, and the other way round (an nft table `zkpart` with a set `blocked` per member
    namespace; the root namespace's netfilter is never touched).  Dropping on input on both sides
    loses every packet in both directions without any local error (a drop in the output hook would
    fail the sender's connect() with EPERM, which a real partition never does).  Clients in the root
    namespace still reach every member, so this is the partition "the leader reaches its clients
    but not its followers".  It needs `nft` (Debian's nftables, in packaging/install-deps.sh):
    plain routes cannot do it (a blackhole route fails connect() with EINVAL at once, a silent drop
    it is not), and `tc netem` is unavailable on the machines we run on.
Both take effect at once for established connections too (no proxy state, no socket killing), and
both are undone by heal().

A socket can be made inside a member's namespace (socket_in()), so that a test can ask a member
that is cut off from the root namespace its four-letter words (tests/lib/servers.py four_letter).

Requires root (CAP_NET_ADMIN and CAP_SYS_ADMIN) and iproute2; unavailable_reason() says why not.
Where br_netfilter is loaded with bridge-nf-call-iptables=1 (as here), frames between members
cross the root namespace's forward hook: a root ruleset that drops forwarded traffic (Docker's
does) would keep the members apart from the start, and the ensemble would never form.
"""
import atexit
import ctypes
import errno
import ipaddress
import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

PREFIX = "zkn"
NETNS_DIR = "/run/netns"
CLONE_NEWNET = 0x40000000
_TAG_RE = re.compile(r"^%s([0-9a-f]+)r(\d+)" % PREFIX)

_counter = itertools.count(1)
_cleaned = False
_live = set()  # Networks created and not closed, for the atexit hook
_lock = threading.Lock()

try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover
    _libc = None


class NetnsError(Exception):
    """A namespace, link or rule could not be set up or changed."""


def _run(cmd, check=True, timeout=20):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    if check and p.returncode != 0:
        raise NetnsError("%s: exit %d: %s" % (" ".join(cmd), p.returncode,
                                              p.stdout.decode("utf-8", "replace").strip()))
    return p.stdout.decode("utf-8", "replace")


def unavailable_reason():
    """Why network namespaces cannot be used here (not root, no `ip`, no kernel support), or None."""
    if shutil.which("ip") is None:
        return "no `ip` command (apt-get install iproute2)"
    name = "%s%xrprobe" % (PREFIX, os.getpid())
    try:
        p = subprocess.run(["ip", "netns", "add", name], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "`ip netns add` failed: %s" % e
    if p.returncode != 0:
        return "`ip netns add` is not possible here: %s" % p.stdout.decode().strip()
    subprocess.run(["ip", "netns", "del", name], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return None


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_namespace_processes(ns):
    """SIGKILLs every process in namespace `ns` and waits (briefly) until they are gone."""
    deadline = time.monotonic() + 10
    while True:
        out = _run(["ip", "netns", "pids", ns], check=False)
        pids = [int(p) for p in out.split() if p.isdigit()]
        if not pids or time.monotonic() > deadline:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)


def _left_over(name):
    """True if `name` was made by a Network of a process that no longer exists."""
    m = _TAG_RE.match(name)
    if m is None:
        return False
    pid = int(m.group(1), 16)
    return pid != os.getpid() and not _pid_alive(pid)


def clean_leftovers():
    """Deletes the namespaces and links of earlier runs whose process is gone."""
    for line in _run(["ip", "netns", "list"], check=False).splitlines():
        name = line.split()[0] if line.split() else ""
        if _left_over(name):
            _kill_namespace_processes(name)
            _run(["ip", "netns", "del", name], check=False)
    for line in _run(["ip", "-o", "link", "show"], check=False).splitlines():
        parts = line.split(":")
        if len(parts) > 1:
            name = parts[1].strip().split("@")[0]
            if _left_over(name):
                _run(["ip", "link", "del", name], check=False)


def _used_networks():
    nets = []
    for cmd in (["ip", "-4", "-o", "addr", "show"], ["ip", "-4", "route", "show", "table", "all"]):
        for tok in _run(cmd, check=False).split():
            try:
                nets.append(ipaddress.ip_network(tok, strict=False))
            except ValueError:
                pass
    return [n for n in nets if n.prefixlen > 0]


def _pick_subnet(seq):
    used = _used_networks()
    start = (os.getpid() * 64 + seq) % (128 * 256)
    for i in range(128 * 256):
        idx = (start + i) % (128 * 256)
        net = ipaddress.ip_network("10.%d.%d.0/24" % (100 + idx // 256, idx % 256))
        if not any(net.overlaps(u) for u in used):
            return net
    raise NetnsError("no free /24 in 10.100.0.0/9")


def socket_in(ns, family=socket.AF_INET, type=socket.SOCK_STREAM):
    """A new socket that belongs to network namespace `ns` (it is made by a short-lived thread
    that enters the namespace; the socket stays in it wherever it is used afterwards)."""
    out = {}

    def make():
        try:
            fd = os.open(os.path.join(NETNS_DIR, ns), os.O_RDONLY)
            try:
                if _libc is None or _libc.setns(fd, CLONE_NEWNET) != 0:
                    e = ctypes.get_errno() if _libc else errno.ENOSYS
                    raise OSError(e, "setns(%s): %s" % (ns, os.strerror(e)))
            finally:
                os.close(fd)
            out["sock"] = socket.socket(family, type)
        except BaseException as e:  # handed to the caller's thread
            out["error"] = e

    t = threading.Thread(target=make, name="netns " + ns, daemon=True)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out["sock"]


class Network:
    """N member namespaces on one bridge; see the module docstring."""

    def __init__(self, n, first_host=10):
        global _cleaned
        with _lock:
            if not _cleaned:
                clean_leftovers()
                _cleaned = True
        seq = next(_counter)
        self.tag = "%s%xr%d" % (PREFIX, os.getpid(), seq)
        self.bridge = self.tag + "b"
        self.members = list(range(1, n + 1))
        self.subnet = _pick_subnet(seq)
        hosts = list(self.subnet.hosts())
        self.gateway = str(hosts[0])  # the root namespace's address on the bridge
        self._addr = {i: str(hosts[first_host + i - 1]) for i in self.members}
        self.created = False
        self.isolated = set()
        self.blocked = {i: set() for i in self.members}  # member -> addresses it drops
        self._nft_ready = set()

    # -- names --------------------------------------------------------------

    def ns(self, i):
        return "%sm%d" % (self.tag, i)

    def host_veth(self, i):
        return "%sh%d" % (self.tag, i)

    def addr(self, i):
        return self._addr[i]

    def exec_prefix(self, i):
        """Prefix of a command line that runs the command in member i's namespace (`ip netns
        exec` enters the namespace and execs the command, so the pid is the command's)."""
        return ["ip", "netns", "exec", self.ns(i)]

    def run_in(self, i, cmd, check=True):
        return _run(self.exec_prefix(i) + list(cmd), check=check)

    def __repr__(self):
        return "<Network %s %s members %s>" % (self.tag, self.subnet, self.members)

    # -- lifecycle ------------------------------------------------------------

    def create(self):
        """Creates bridge, namespaces and links; on failure removes what it made and raises."""
        with _lock:
            _live.add(self)
        self.created = True
        try:
            _run(["ip", "link", "add", self.bridge, "type", "bridge", "forward_delay", "0"])
            _run(["ip", "addr", "add", "%s/%d" % (self.gateway, self.subnet.prefixlen),
                  "dev", self.bridge])
            _run(["ip", "link", "set", self.bridge, "up"])
            for i in self.members:
                ns, outer = self.ns(i), self.host_veth(i)
                _run(["ip", "netns", "add", ns])
                _run(["ip", "link", "add", outer, "type", "veth", "peer", "name", "eth0",
                      "netns", ns])
                _run(["ip", "link", "set", outer, "master", self.bridge, "up"])
                _run(["ip", "-n", ns, "addr", "add",
                      "%s/%d" % (self.addr(i), self.subnet.prefixlen), "dev", "eth0"])
                _run(["ip", "-n", ns, "link", "set", "lo", "up"])
                _run(["ip", "-n", ns, "link", "set", "eth0", "up"])
        except BaseException:
            self.close()
            raise
        return self

    def close(self):
        """Kills every process left in the namespaces, deletes namespaces, veths and bridge.
        Safe to call twice and after a failed create()."""
        if not self.created:
            return
        for i in self.members:
            ns = self.ns(i)
            if os.path.exists(os.path.join(NETNS_DIR, ns)):
                _kill_namespace_processes(ns)
                _run(["ip", "netns", "del", ns], check=False)
            _run(["ip", "link", "del", self.host_veth(i)], check=False)  # gone with the ns
        _run(["ip", "link", "del", self.bridge], check=False)
        self.created = False
        with _lock:
            _live.discard(self)

    def __enter__(self):
        return self.create()

    def __exit__(self, *exc):
        self.close()

    # -- faults ---------------------------------------------------------------

    def isolate(self, i):
        """Pulls member i's cable: nothing reaches it or leaves it, clients included."""
        _run(["ip", "link", "set", self.host_veth(i), "down"])
        self.isolated.add(i)

    def reconnect(self, i):
        _run(["ip", "link", "set", self.host_veth(i), "up"])
        self.isolated.discard(i)

    def _ensure_nft(self, i):
        if i in self._nft_ready:
            return
        if shutil.which("nft") is None:
            raise NetnsError("partitions between members need `nft` (apt-get install nftables; "
                             "packaging/install-deps.sh installs it)")
        self.run_in(i, ["nft", "add table inet zkpart; "
                               "add set inet zkpart blocked { type ipv4_addr; }; "
                               "add chain inet zkpart input "
                               "{ type filter hook input priority 0; policy accept; }; "
                               "add rule inet zkpart input ip saddr @blocked drop"])
        self._nft_ready.add(i)

    def drop_from(self, i, sources):
        """Member i drops every packet from the members in `sources` (one direction only)."""
        self._ensure_nft(i)
        addrs = sorted(self.addr(j) for j in sources if j != i)
        if addrs:
            self.run_in(i, ["nft", "add element inet zkpart blocked { %s }" % ", ".join(addrs)])
            self.blocked[i].update(addrs)

    def accept_all(self, i):
        if self.blocked[i]:
            self.run_in(i, ["nft", "flush set inet zkpart blocked"])
            self.blocked[i].clear()

    def cut(self, a, b):
        """No packet passes between a member of `a` and a member of `b`, either way; both still
        reach the root namespace (the clients)."""
        for i in a:
            self.drop_from(i, b)
        for j in b:
            self.drop_from(j, a)

    def partition(self, *groups):
        """Splits the members into `groups` (members not named form one more group) and cuts
        every pair of groups."""
        named = {i for g in groups for i in g}
        groups = [list(g) for g in groups]
        rest = [i for i in self.members if i not in named]
        if rest:
            groups.append(rest)
        for x, ga in enumerate(groups):
            for gb in groups[x + 1:]:
                self.cut(ga, gb)

    def uncut(self, a, b):
        """Undoes cut(a, b) (and any other drop rule of those members)."""
        for i in list(a) + list(b):
            self.accept_all(i)

    def heal(self):
        """Every cable plugged, every drop rule gone."""
        for i in sorted(self.isolated):
            self.reconnect(i)
        for i in self.members:
            self.accept_all(i)

    # -- observation ----------------------------------------------------------

    def socket_in(self, i, family=socket.AF_INET, type=socket.SOCK_STREAM):
        return socket_in(self.ns(i), family, type)


@atexit.register
def _close_live():
    for net in list(_live):
        try:
            net.close()
        except Exception:
            pass
