"""Randomized differential test: seeded op sequences against Apache ZooKeeper 3.8 and zkd.

A seed determines, before anything runs, a sequence of operations over a small
namespace under a private base node (/rnd-<seed>, shown as /B):

    /B/a  /B/b  /B/c  /B/a/x  /B/a/y  /B/b/x  /B/a/x/z   (and /B itself)

issued by three sessions with different identities: A is anonymous, B has
added digest u1, C digest u2 (and any session may add another identity
later).  Nodes get ACLs that differ per node (world:anyone with all or some
permissions, digest-only with various permissions, the `auth` scheme meaning
"the creator's identities").  The ops are create (persistent, ephemeral,
sequential, container, TTL), delete and setData (version -1, or a small guess
that is sometimes right), getData / exists / getChildren(2) with and without
watches, setACL, getACL, multi (with failing members) and multi of checks,
sync, addWatch (persistent and persistent-recursive), removeWatches, adding an
identity, closing a session and opening a new one in its role, dropping a
connection and resuming the session on a new one (setWatches2 with the
client's watches, as the Java client does), and letting a session expire.
The generator never looks at replies, so both servers get the same sequence.

The transcript has one line per op (normalized reply or error name) and,
after every op, one line per session that received notifications: after each
op every connected session does a round trip (exists /), so the events the
op caused have arrived; they are compared per session, in arrival order
(sorted only for a session close or expiry, whose deletions Apache fires in
hash-set order).  Normalization is test_diff_ops.py's: zxids named by the
step that first shows them (plus their value order), session ids by role and
incarnation (B2 = the second session in role B), times as T.

Servers: one Apache and one zkd per module, both with tickTime=500 (sessions
can expire in about two seconds) and a container/TTL check interval of an hour
(so no reaping happens in the middle of a sequence: it would race the ops).
Each seed runs under its own base node.

Knobs:
  ZK_DIFF_SEED=<n>       run just seed n (replays a failure exactly)
  ZK_DIFF_SEEDS=<count>  run seeds 1..count (default: the CI set, CI_SEEDS)
  ZK_DIFF_SEED_BASE=<n>  first seed for ZK_DIFF_SEEDS (default 1)
  ZK_DIFF_OPS=<n>        ops per seed (default CI_OPS)
  ZK_DIFF_DUMP=DIR       write both transcripts of every seed to DIR/<kind>/<seed>.txt

A divergence fails the seed's test with the seed, the op index of the first
differing line and a unified diff of the two transcripts around it.

Deliberate differences of zkd (docs/zkd.md, "Limits and deliberate
differences") that this tester normalizes away are marked DELIBERATE below.
"""
import base64
import difflib
import hashlib
import os
import random
import time

import pytest

from tests.lib import zkwire as W
from tests.lib.zkwire import Lost, WireSession, ZkError

pytest.importorskip("kazoo")  # test_diff_ops (the transcript code) needs it
from tests.integration.test_diff_ops import NStat, Ms, Transcript, Zxid, render  # noqa: E402

CI_SEEDS = 40
CI_OPS = 80

SERVER_CFG = {"tickTime": "500", "znode.container.checkIntervalMs": "3600000"}
SESSION_TIMEOUT_MS = 2000    # 4 ticks: an expiry takes about 2 s
ADMIN_TIMEOUT_MS = 10000

NAMES = ["a", "b", "c", "a/x", "a/y", "b/x", "a/x/z"]
NAME_WEIGHT = {0: 5, 1: 3, 2: 3}  # by depth below /B
ROLES = ["A", "B", "C"]

CREDS = {"u1": b"u1:pw1", "u2": b"u2:pw2", "u3": b"u3:pw3"}
ROLE_CRED = {"A": None, "B": "u1", "C": "u2"}


def digest_id(cred):
    user = cred.split(b":")[0].decode()
    return "%s:%s" % (user, base64.b64encode(hashlib.sha1(cred).digest()).decode())


DIGEST = {k: digest_id(v) for k, v in CREDS.items()}
R, Wr, Cr, D, Ad, ALL = 1, 2, 4, 8, 16, 31

# name -> (weight, ACL list)
ACLS = {
    "open": (8, [(ALL, "world", "anyone")]),
    "world-r": (2, [(R, "world", "anyone")]),
    "world-noread": (2, [(ALL & ~R, "world", "anyone")]),
    "u1": (3, [(ALL, "digest", DIGEST["u1"])]),
    "u1-u2r": (2, [(ALL, "digest", DIGEST["u1"]), (R, "digest", DIGEST["u2"])]),
    "u2-noread+world-c": (2, [(ALL & ~R, "digest", DIGEST["u2"]), (Cr | D, "world", "anyone")]),
    "u1r+world-cdw": (2, [(R | Ad, "digest", DIGEST["u1"]), (Cr | D | Wr, "world", "anyone")]),
    "creator": (3, [(ALL, "auth", "")]),
    "creator-r+world-c": (1, [(R | Ad, "auth", ""), (Cr | D | Wr, "world", "anyone")]),
}


def pick_weighted(rng, table):
    names = sorted(table)
    return rng.choices(names, weights=[table[n][0] for n in names])[0]


# --------------------------------------------------------------------------
# The generator: a pure function of the seed
# --------------------------------------------------------------------------

class Gen:
    """Builds the op list.  It tracks only what it decides itself (which sessions are
    open, closed or disconnected), never what a server answered."""

    def __init__(self, seed, nops):
        self.rng = random.Random(seed)
        self.nops = nops
        self.state = {r: "open" for r in ROLES}
        self.down_since = {}

    def path(self, base_ok=True):
        """A name, shallow ones more often (deep ones exist only when their parents do)."""
        rng = self.rng
        if base_ok and rng.random() < 0.08:
            return ""
        return rng.choices(NAMES, weights=[NAME_WEIGHT[n.count("/")] for n in NAMES])[0]

    def version(self):
        return self.rng.choice([-1, -1, 0, 0, 1, 2])

    def data(self):
        return b"d%d" % self.rng.randrange(1000)

    def create_args(self):
        rng = self.rng
        mode = rng.choices(["persistent", "ephemeral", "sequential", "eph-seq", "container", "ttl"],
                           weights=[10, 5, 1, 1, 2, 2])[0]
        path = self.path(base_ok=False)
        if mode in ("sequential", "eph-seq"):
            path = rng.choice(["", "a", "b"]) + "/s-"
            if path.startswith("/"):
                path = path[1:]
        flags, ttl = {"persistent": (W.PERSISTENT, None), "ephemeral": (W.EPHEMERAL, None),
                      "sequential": (W.SEQUENTIAL, None), "eph-seq": (W.EPHEMERAL_SEQUENTIAL, None),
                      "container": (W.CONTAINER, None), "ttl": (W.TTL, 3600000)}[mode]
        return dict(path=path, data=self.data(), acl=pick_weighted(rng, ACLS), flags=flags, ttl=ttl,
                    mode=mode)

    def multi_args(self, checks_only=False):
        rng = self.rng
        ops = []
        for _ in range(rng.randint(1, 4)):
            kind = "check" if checks_only else rng.choice(["create", "create", "delete", "setData", "check"])
            if kind == "create":
                a = self.create_args()
                if a["mode"] in ("sequential", "eph-seq", "ttl"):
                    a["flags"], a["ttl"], a["mode"] = W.PERSISTENT, None, "persistent"
                ops.append(("create", a["path"], a["data"], a["acl"], a["flags"], a["ttl"]))
            elif kind == "setData":
                ops.append(("setData", self.path(False), self.data(), self.version()))
            else:
                ops.append((kind, self.path(False), self.version()))
        return dict(ops=ops)

    def ops(self):
        out = []
        rng = self.rng
        while len(out) < self.nops:
            i = len(out)
            # A dropped connection is resumed within a few ops (well inside the timeout).
            late = [r for r, since in sorted(self.down_since.items()) if i - since >= 4]
            if late or (self.down_since and rng.random() < 0.25):
                role = late[0] if late else sorted(self.down_since)[0]
                del self.down_since[role]
                self.state[role] = "open"
                out.append((role, "reconnect", {}))
                continue
            closed = [r for r in ROLES if self.state[r] == "closed"]
            if closed and rng.random() < 0.3:
                role = rng.choice(closed)
                self.state[role] = "open"
                out.append((role, "reopen", {}))
                continue
            live = [r for r in ROLES if self.state[r] == "open"]
            if not live:
                continue
            role = rng.choice(live)
            # An expiry takes seconds: only when no connection is down (a dropped one must be
            # resumed well within its session timeout).
            kind = rng.choices(
                ["create", "delete", "setData", "getData", "exists", "getChildren", "setACL",
                 "getACL", "multi", "multiCheck", "sync", "addWatch", "removeWatches", "auth",
                 "close", "disconnect", "expire"],
                weights=[20, 6, 12, 8, 9, 7, 7, 3, 6, 2, 2, 6, 3, 1.5, 2, 1.5, 0.4])[0]
            if kind == "expire" and self.down_since:
                kind = "sync"
            if kind == "create":
                args = self.create_args()
            elif kind in ("delete",):
                args = dict(path=self.path(False), version=self.version())
            elif kind == "setData":
                args = dict(path=self.path(), data=self.data(), version=self.version())
            elif kind in ("getData", "exists"):
                args = dict(path=self.path(), watch=rng.random() < 0.7)
            elif kind == "getChildren":
                args = dict(path=self.path(), watch=rng.random() < 0.7, with_stat=rng.random() < 0.5)
            elif kind == "setACL":
                args = dict(path=self.path(False), acl=pick_weighted(rng, ACLS),
                            version=rng.choice([-1, -1, -1, 0, 1]))
            elif kind in ("getACL", "sync"):
                args = dict(path=self.path())
            elif kind == "multi":
                args = self.multi_args()
            elif kind == "multiCheck":
                kind, args = "multi", self.multi_args(checks_only=True)
            elif kind == "addWatch":
                args = dict(path=self.path(), mode=rng.choice([W.ADD_WATCH_PERSISTENT, W.ADD_WATCH_RECURSIVE]))
            elif kind == "removeWatches":
                args = dict(path=self.path(), wtype=rng.choice([W.WATCHER_CHILDREN, W.WATCHER_DATA, W.WATCHER_ANY]))
            elif kind == "auth":
                args = dict(cred=rng.choice(sorted(CREDS)))
            elif kind in ("close", "expire"):
                self.state[role] = "closed"
                args = {}
            elif kind == "disconnect":
                self.state[role] = "down"
                self.down_since[role] = i
                args = {}
            out.append((role, kind, args))
        return out


def describe(role, kind, args):
    parts = [role, kind]
    for k in sorted(args):
        v = args[k]
        if k == "path":
            v = "/B" + ("/" + v if v else "")
        elif k == "ops":
            v = "[" + "; ".join(" ".join(str(x) if not isinstance(x, bytes) else x.decode() for x in o
                                          if x is not None) for o in v) + "]"
        elif isinstance(v, bytes):
            v = v.decode()
        parts.append("%s=%s" % (k, v))
    return " ".join(parts)


# --------------------------------------------------------------------------
# Running a sequence against one server
# --------------------------------------------------------------------------

class OpTranscript(Transcript):
    """test_diff_ops's transcript, but zxids are named after the op that first shows
    them (s12, s12.2), not the transcript line: an extra or missing event line then
    renames nothing after it."""

    def zxid_group(self, i, label):
        return label.split()[0][1:]  # "o12 B create ..." -> "12"


EVENT_NAMES = {1: "NodeCreated", 2: "NodeDeleted", 3: "NodeDataChanged", 4: "NodeChildrenChanged",
               5: "DataWatchRemoved", 6: "ChildWatchRemoved", 7: "PersistentWatchRemoved"}


class Runner:
    def __init__(self, srv, seed):
        self.srv = srv
        self.seed = seed
        self.base = "/rnd-%d" % seed
        self.marks = self.base + "-m"  # expiry markers: outside every watched subtree
        self.t = OpTranscript(srv.kind, "seed %d" % seed)
        self.kind = srv.kind
        self.t0_ms = int(time.time() * 1000) - 1000
        self.sessions = {}  # role -> WireSession (connected or dropped)
        self.incarnation = {r: 0 for r in ROLES}
        self.labels = {}  # session id -> "B2"
        self.admin = None

    # -- normalization ---------------------------------------------------

    def abs(self, name):
        return self.base + ("/" + name if name else "")

    def path(self, s):
        if isinstance(s, str) and s.startswith(self.base):
            return "/B" + s[len(self.base):]
        return s

    def ms(self, v):
        now = int(time.time() * 1000) + 1000
        return "T" if self.t0_ms <= v <= now else Ms(v)

    def stat(self, st):
        f = {"czxid": Zxid(st["czxid"]), "mzxid": Zxid(st["mzxid"]), "pzxid": Zxid(st["pzxid"]),
             "ctime": self.ms(st["ctime"])}
        if st["mtime"] == st["ctime"] and st["mzxid"] == st["czxid"]:
            f["mtime"] = "=ctime"
        else:
            f["mtime"] = self.ms(st["mtime"])
        for k in ("version", "cversion", "aversion", "dataLength", "numChildren"):
            f[k] = st[k]
        owner = st["ephemeralOwner"]
        f["ephemeralOwner"] = 0 if owner == 0 else self.labels.get(owner, "0x%x" % (owner & (2**64 - 1)))
        return NStat(**f)

    def acl(self, acl):
        # DELIBERATE (docs/zkd.md, "Limits and deliberate differences": order of an `auth`
        # ACL's expansion): Apache expands `auth` to the creator's identities in the
        # iteration order of a ConcurrentHashMap, zkd in the order they were added.  An
        # expansion is a run of digest entries with the same permissions; sort such runs.
        out, run = [], []
        for entry in acl + [(None, None, None)]:
            if run and (entry[1] != "digest" or entry[0] != run[0][0]):
                out += sorted(run, key=lambda e: e[2])
                run = []
            if entry[1] == "digest":
                run.append(entry)
            elif entry[0] is not None:
                out.append(entry)
        rev = {v: k for k, v in DIGEST.items()}
        return ["%s:%s:%d" % (s, rev.get(i, i) if s == "digest" else i, p) for p, s, i in out]

    def norm(self, v):
        if isinstance(v, dict) and "czxid" in v:
            return self.stat(v)
        if isinstance(v, str):
            return self.path(v)
        if isinstance(v, (list, tuple)):
            return type(v)(self.norm(x) for x in v)
        return v

    # -- sessions --------------------------------------------------------

    def open(self, role):
        s = WireSession(self.srv.port, timeout_ms=SESSION_TIMEOUT_MS)
        self.incarnation[role] += 1
        self.labels[s.session_id] = "%s%d" % (role, self.incarnation[role])
        cred = ROLE_CRED[role]
        if cred:
            s.add_auth("digest", CREDS[cred])
        self.sessions[role] = s
        return s

    def connected(self):
        return [(r, s) for r, s in sorted(self.sessions.items()) if s.sock is not None]

    def record(self, label, value):
        self.t.steps.append([label, value])

    def collect_events(self, i, unordered=False):
        """A round trip on every connected session, then one line per session with news."""
        for role, s in self.connected():
            try:
                s.call("exists", W.w_str("/") + W.w_bool(False))
            except (Lost, ZkError) as e:
                self.record("#%d events %s" % (i, role), "!barrier failed: %s" % e)
                s.close_socket()
        for role, s in sorted(self.sessions.items()):
            evs = s.take_events()
            if not evs:
                continue
            out = []
            for etype, state, path in evs:
                e = "%s %s" % (EVENT_NAMES.get(etype, "type%d" % etype), self.path(path))
                if state != 3:
                    e += " state=%d" % state
                out.append(e)
            self.record("#%d events %s" % (i, role), sorted(out) if unordered else out)

    # -- one op ----------------------------------------------------------

    def do(self, role, kind, a):
        s = self.sessions.get(role)
        if kind == "create":
            acl = ACLS[a["acl"]][1]
            return s.create(self.abs(a["path"]), a["data"], acl, a["flags"], a["ttl"])
        if kind == "delete":
            return s.delete(self.abs(a["path"]), a["version"])
        if kind == "setData":
            return s.set_data(self.abs(a["path"]), a["data"], a["version"])
        if kind == "getData":
            return s.get_data(self.abs(a["path"]), a["watch"])
        if kind == "exists":
            # DELIBERATE (docs/zkd.md, "Limits and deliberate differences": exists needs
            # READ): zkd refuses exists on an unreadable node with NoAuth and no watch, as
            # Apache 3.8.4+ (ZOOKEEPER-2590); Debian's 3.8.0 answers the stat and sets the
            # watch.  On Apache the newer server is emulated: a getData probe, which
            # changes nothing, and NoAuth without sending exists when it is refused.
            if self.kind == "apache":
                try:
                    s.get_data(self.abs(a["path"]), False)
                except ZkError as e:
                    if e.code == -102:
                        raise
            return s.exists(self.abs(a["path"]), a["watch"])
        if kind == "getChildren":
            return s.get_children(self.abs(a["path"]), a["watch"], a["with_stat"])
        if kind == "setACL":
            return s.set_acl(self.abs(a["path"]), ACLS[a["acl"]][1], a["version"])
        if kind == "getACL":
            acl, st = s.get_acl(self.abs(a["path"]))
            return self.acl(acl), st
        if kind == "sync":
            return s.sync(self.abs(a["path"]))
        if kind == "multi":
            ops = []
            for op in a["ops"]:
                op = list(op)
                op[1] = self.abs(op[1])
                if op[0] == "create":
                    op[3] = ACLS[op[3]][1]
                ops.append(tuple(op))
            return s.multi(ops)
        if kind == "addWatch":
            return s.add_watch(self.abs(a["path"]), a["mode"])
        if kind == "removeWatches":
            return s.remove_watches(self.abs(a["path"]), a["wtype"])
        if kind == "auth":
            return s.add_auth("digest", CREDS[a["cred"]])
        if kind == "close":
            return s.close_session()
        if kind == "reopen":
            s = self.open(role)
            return "opened %s" % self.labels[s.session_id]
        if kind == "disconnect":
            return s.close_socket()
        if kind == "reconnect":
            s.reconnect()
            return "expired" if s.expired else "resumed"
        if kind == "expire":
            return self.expire(role)
        raise ValueError(kind)

    def expire(self, role):
        """Gives the role's session an ephemeral marker outside the namespace, drops its
        connection and waits (bounded, pinging every other session) until the marker is
        gone: the session has expired and its closing is applied, so the round trips that
        follow see every event it caused.  Then a resume attempt must be refused."""
        s = self.sessions[role]
        marker = "%s/%s" % (self.marks, self.labels[s.session_id])
        s.create(marker, b"", [(ALL, "world", "anyone")], W.EPHEMERAL)
        s.close_socket()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for _, other in self.connected():
                other.ping()
            try:
                self.admin.exists(marker)
            except ZkError:
                break
            time.sleep(0.05)
        else:
            return "did not expire within 30 s"
        s.reconnect()
        return "expired" if s.expired else "still known after its marker went"

    def run(self, ops):
        self.admin = WireSession(self.srv.port, timeout_ms=ADMIN_TIMEOUT_MS)
        for cred in ("u1", "u2"):
            self.admin.add_auth("digest", CREDS[cred])
        for p in (self.base, self.marks):
            self.admin.create(p, b"", [(ALL, "world", "anyone")], W.PERSISTENT)
        for role in ROLES:
            self.open(role)
        try:
            for i, (role, kind, args) in enumerate(ops):
                label = "#%d %s" % (i, describe(role, kind, args))
                try:
                    value = self.norm(self.do(role, kind, args))
                except ZkError as e:
                    value = "!" + e.name
                except Lost:
                    value = "!Lost"
                    self.sessions[role].close_socket()
                self.record(label, value)
                self.collect_events(i, unordered=kind in ("close", "expire"))
                self.admin.ping()
        finally:
            for role, s in self.sessions.items():
                if s.sock is not None:
                    try:
                        s.close_session()
                    except (Lost, ZkError, OSError):
                        s.close_socket()
            self.admin.close_socket()
        return self.t.finalize()


# --------------------------------------------------------------------------
# The test
# --------------------------------------------------------------------------

def seeds():
    if os.environ.get("ZK_DIFF_SEED"):
        return [int(os.environ["ZK_DIFF_SEED"])]
    first = int(os.environ.get("ZK_DIFF_SEED_BASE", "1"))
    return list(range(first, first + int(os.environ.get("ZK_DIFF_SEEDS", CI_SEEDS))))


@pytest.fixture(scope="module")
def server_pair(module_server_factory):
    return (module_server_factory("apache", cfg=SERVER_CFG),
            module_server_factory("zkd", cfg=SERVER_CFG))


def op_index(line):
    return int(line.split()[0][1:]) if line.startswith("#") else None


def compare(seed, ref, got):
    if ref.lines == got.lines:
        return
    first = next((i for i, (r, g) in enumerate(zip(ref.lines, got.lines)) if r != g),
                 min(len(ref.lines), len(got.lines)))
    idxs = [op_index(t.lines[first]) for t in (ref, got) if first < len(t.lines)]
    idxs = [i for i in idxs if i is not None]
    idx = min(idxs) if idxs else None
    lo = max(0, first - 8)
    diff = list(difflib.unified_diff(ref.lines[lo:first + 12], got.lines[lo:first + 12],
                                     "apache", "zkd", lineterm="", n=8))
    pytest.fail("seed %d: zkd differs from Apache at op #%s (transcript line %d)\n"
                "replay: ZK_DIFF_SEED=%d /usr/bin/python3 -m pytest tests/integration/test_diff_random.py\n%s"
                % (seed, idx, first + 1, seed, "\n".join(diff)), pytrace=False)


@pytest.mark.parametrize("seed", seeds())
def test_diff_random(server_pair, seed):
    apache, zkd = server_pair
    nops = int(os.environ.get("ZK_DIFF_OPS", CI_OPS))
    ops = Gen(seed, nops).ops()
    transcripts = {}
    for srv in (apache, zkd):
        if not srv.running:
            pytest.fail("%s is not running\n%s" % (srv.name, srv.describe_log()), pytrace=False)
        transcripts[srv.kind] = Runner(srv, seed).run(ops)
    dump = os.environ.get("ZK_DIFF_DUMP")
    if dump:
        for kind, t in transcripts.items():
            os.makedirs(os.path.join(dump, kind), exist_ok=True)
            with open(os.path.join(dump, kind, "%d.txt" % seed), "w") as f:
                f.write("\n".join(t.lines) + "\n")
    compare(seed, transcripts["apache"], transcripts["zkd"])
