"""Differential tests: the same client scenarios against Apache ZooKeeper 3.8 and zkd.

Each scenario (a function `sc_<name>(ctx)` below) performs small steps through
kazoo (or raw protocol requests where kazoo lacks the call or would rewrite the
input) and records a transcript: one line per step with the normalized reply,
the exception class name, or the watch events received.  The transcript from
Apache is the reference; zkd's must be identical, line for line.

Normalization, so that transcripts do not depend on timing or history:
  * paths under the scenario's private base node are shown as /B/...
  * zxids (czxid, mzxid, pzxid) are named after the step that first shows them
    (s7; 0 stays z0) and their value order is checked separately: equality and
    order are compared, values not
  * ctime is "T" when it is a plausible "now", mtime is "=ctime" when the node
    was never modified (mzxid == czxid) and mtime equals ctime, else "T"; a raw
    number otherwise (e.g. 0 for /zookeeper)
  * ephemeralOwner is the label of the session that owns it (A, B, ...)
  * children lists are sorted (ZooKeeper promises no order)
  * watch events are the raw notifications on the wire, in arrival order,
    collected after a round trip on the watching session (no sleeps)

Scenarios share one server per module, each under its own base node /diff-<name>;
those marked fresh=True get a server of their own (e.g. to look at the root).

Useful knobs:
  ZK_DIFF_DUMP=DIR   write every transcript to DIR/<kind>/<scenario>.txt
  -k 'apache'        run only the reference side (checks the harness itself)
"""
import difflib
import hashlib
import os
import struct
import threading
import time
from collections import namedtuple

import pytest

kazoo = pytest.importorskip("kazoo")

import kazoo.exceptions as KE  # noqa: E402
from kazoo.handlers.threading import KazooTimeoutError  # noqa: E402
from kazoo.client import KazooClient  # noqa: E402
from kazoo.protocol.serialization import (  # noqa: E402
    Watch, ZnodeStat, int_struct, long_struct, read_string, stat_struct)
from kazoo.security import ACL, Id, make_digest_acl, make_digest_acl_credential  # noqa: E402

from tests.conftest import stop_kazoo  # noqa: E402

# kazoo 2.8 lacks the exception classes of newer error codes; an unknown code
# would kill its reader thread instead of failing the one request.
for _code, _name in [(-9, "UnknownSessionError"), (-120, "EphemeralOnLocalSessionError"),
                     (-121, "NoWatcherError"), (-122, "ReconfigDisabledError"),
                     (-123, "SessionClosedRequireSaslError"), (-124, "QuotaExceededError"),
                     (-125, "ThrottledOpError")]:
    if _code not in KE.EXCEPTIONS:
        KE._zookeeper_exception(_code)(type(_name, (KE.ZookeeperError,), {}))

# --------------------------------------------------------------------------
# Raw protocol requests (kazoo 2.8 has no TTL/container create, addWatch,
# removeWatches, whoAmI, getEphemerals, getAllChildrenNumber, multiRead, and
# normalizes paths client-side, which would hide the server's validation).
# --------------------------------------------------------------------------

OP = dict(create=1, delete=2, exists=3, getData=4, setData=5, getACL=6, setACL=7,
          getChildren=8, sync=9, getChildren2=12, check=13, multi=14, create2=15,
          checkWatches=17, removeWatches=18, createContainer=19, createTTL=21,
          multiRead=22, getEphemerals=103, getAllChildrenNumber=104, addWatch=106,
          whoAmI=107)

PERSISTENT, EPHEMERAL, SEQUENTIAL, EPHEMERAL_SEQUENTIAL = 0, 1, 2, 3
CONTAINER, TTL, TTL_SEQUENTIAL = 4, 5, 6
ADD_WATCH_PERSISTENT, ADD_WATCH_RECURSIVE = 0, 1
WATCHER_CHILDREN, WATCHER_DATA, WATCHER_ANY = 1, 2, 3

EVENT_NAMES = {1: "NodeCreated", 2: "NodeDeleted", 3: "NodeDataChanged", 4: "NodeChildrenChanged",
               5: "DataWatchRemoved", 6: "ChildWatchRemoved", 7: "PersistentWatchRemoved", -1: "None"}
STATE_NAMES = {3: "SyncConnected", 0: "Disconnected", -112: "Expired", 4: "AuthFailed",
               5: "ConnectedReadOnly", 6: "SaslAuthenticated", 7: "Closed"}


def w_str(s):
    """A jute ustring; unlike kazoo's write_string, "" stays "" (None is the null string)."""
    if s is None:
        return int_struct.pack(-1)
    b = s.encode("utf-8") if isinstance(s, str) else s
    return int_struct.pack(len(b)) + b


def w_buf(b):
    return int_struct.pack(-1) if b is None else int_struct.pack(len(b)) + b


def w_int(i):
    return int_struct.pack(i)


def w_bool(v):
    return b"\1" if v else b"\0"


def w_acls(acls):
    out = w_int(len(acls))
    for a in acls:
        out += w_int(a.perms) + w_str(a.id.scheme) + w_str(a.id.id)
    return out


def r_int(b, o):
    return int_struct.unpack_from(b, o)[0], o + 4


def r_stat(b, o):
    return ZnodeStat._make(stat_struct.unpack_from(b, o)), o + stat_struct.size


def r_strings(b, o):
    n, o = r_int(b, o)
    out = []
    for _ in range(max(n, 0)):
        s, o = read_string(b, o)
        out.append(s)
    return out, o


class RawRequest(namedtuple("RawRequest", "type body decode")):
    """Any request: `body` is the serialized record after the header; `decode(buf, off)`
    reads the response record (None: the reply has no body)."""
    watcher = None  # never let kazoo register a watcher for these

    def serialize(self):
        return self.body

    def deserialize(self, buf, off):
        return self.decode(buf, off) if self.decode else True


def raw_call(client, op, body=b"", decode=None, timeout=10.0):
    async_result = client.handler.async_result()
    client._call(RawRequest(OP[op] if isinstance(op, str) else op, body, decode), async_result)
    return async_result.get(timeout=timeout)


OPEN_ACL = [ACL(31, Id("world", "anyone"))]


def dec_path(b, o):
    return read_string(b, o)[0]


def dec_path_stat(b, o):
    path, o = read_string(b, o)
    return path, r_stat(b, o)[0]


def raw_create(client, path, data=b"", flags=PERSISTENT, acl=None, ttl=None, op=None):
    """create/create2/createContainer/createTTL with the path exactly as given."""
    if op is None:
        op = "createTTL" if ttl is not None else ("createContainer" if flags == CONTAINER else "create2")
    body = w_str(path) + w_buf(data) + w_acls(OPEN_ACL if acl is None else acl) + w_int(flags)
    if op == "createTTL":
        body += long_struct.pack(ttl)
    return raw_call(client, op, body, dec_path if op == "create" else dec_path_stat)


def raw_path_op(client, op, path, **kw):
    """getData/exists/getChildren/delete/setData/sync with the path exactly as given."""
    if op in ("getData", "exists", "getChildren", "getChildren2"):
        body = w_str(path) + w_bool(False)
        dec = {"getData": lambda b, o: read_string(b, o)[0] is not None or True,
               "exists": lambda b, o: r_stat(b, o)[0],
               "getChildren": lambda b, o: sorted(r_strings(b, o)[0]),
               "getChildren2": lambda b, o: sorted(r_strings(b, o)[0])}[op]
        if op == "getData":
            def dec(b, o):
                n, o2 = r_int(b, o)
                data = None if n < 0 else bytes(b[o2:o2 + n])
                return data, r_stat(b, o2 + max(n, 0))[0]
        return raw_call(client, op, body, dec)
    if op == "delete":
        return raw_call(client, op, w_str(path) + w_int(kw.get("version", -1)))
    if op == "setData":
        return raw_call(client, op, w_str(path) + w_buf(kw.get("data", b"x")) + w_int(kw.get("version", -1)),
                        lambda b, o: r_stat(b, o)[0])
    if op == "sync":
        return raw_call(client, op, w_str(path), dec_path)
    if op in ("getAllChildrenNumber",):
        return raw_call(client, op, w_str(path), lambda b, o: r_int(b, o)[0])
    if op in ("getEphemerals",):
        return raw_call(client, op, w_str(path), lambda b, o: sorted(r_strings(b, o)[0]))
    raise ValueError(op)


def add_watch(client, path, mode):
    return raw_call(client, "addWatch", w_str(path) + w_int(mode))


def remove_watches(client, path, wtype):
    return raw_call(client, "removeWatches", w_str(path) + w_int(wtype))


def check_watches(client, path, wtype):
    return raw_call(client, "checkWatches", w_str(path) + w_int(wtype))


def whoami(client):
    def dec(b, o):
        n, o = r_int(b, o)
        out = []
        for _ in range(max(n, 0)):
            scheme, o = read_string(b, o)
            user, o = read_string(b, o)
            out.append((scheme, user))
        return out
    return raw_call(client, "whoAmI", b"", dec)


def multi_read(client, ops):
    """ops: [("getData"|"getChildren", path)]; returns per-op (value) or exception name."""
    body = b""
    for op, path in ops:
        body += w_int(OP[op]) + w_bool(False) + w_int(-1) + w_str(path) + w_bool(False)
    body += w_int(-1) + w_bool(True) + w_int(-1)

    def dec(b, o):
        out = []
        while True:
            (t, done, _err), o = struct.unpack_from("!iBi", b, o), o + 9
            if done:
                return out
            if t == -1:
                code, o = r_int(b, o)
                out.append(KE.EXCEPTIONS[code]())
            elif t == OP["getData"]:
                n, o = r_int(b, o)
                data = None if n < 0 else bytes(b[o:o + n])
                o += max(n, 0)
                stat, o = r_stat(b, o)
                out.append((data, stat))
            elif t == OP["getChildren"]:
                kids, o = r_strings(b, o)
                out.append(sorted(kids))
            else:
                raise ValueError("multiRead: unexpected result type %d" % t)
    return raw_call(client, "multiRead", body, dec)


def raw_multi(client, ops):
    """A multi (transaction) with paths exactly as given and every op kind:
    ("create"|"create2", path, data, flags), ("createContainer", path, data),
    ("createTTL", path, data, flags, ttl), ("delete", path, version),
    ("setData", path, data, version), ("check", path, version), ("getData", path).
    Returns the per-op results: path, (path, stat), True, stat, or an exception."""
    body = b""
    for op in ops:
        kind, path = op[0], op[1]
        body += w_int(OP[kind]) + w_bool(False) + w_int(-1) + w_str(path)
        if kind in ("create", "create2"):
            body += w_buf(op[2]) + w_acls(OPEN_ACL) + w_int(op[3])
        elif kind == "createContainer":
            body += w_buf(op[2]) + w_acls(OPEN_ACL) + w_int(CONTAINER)
        elif kind == "createTTL":
            body += w_buf(op[2]) + w_acls(OPEN_ACL) + w_int(op[3]) + long_struct.pack(op[4])
        elif kind == "delete" or kind == "check":
            body += w_int(op[2])
        elif kind == "setData":
            body += w_buf(op[2]) + w_int(op[3])
        elif kind == "getData":
            body += w_bool(False)
        else:
            raise ValueError(kind)
    body += w_int(-1) + w_bool(True) + w_int(-1)

    def dec(b, o):
        out = []
        while True:
            (t, done, _err), o = struct.unpack_from("!iBi", b, o), o + 9
            if done:
                return out
            if t == -1:
                code, o = r_int(b, o)
                out.append(KE.EXCEPTIONS[code]())
            elif t == OP["create"]:
                path, o = read_string(b, o)
                out.append(path)
            elif t in (OP["create2"], OP["createContainer"], OP["createTTL"]):
                path, o = read_string(b, o)
                stat, o = r_stat(b, o)
                out.append((path, stat))
            elif t in (OP["delete"], OP["check"]):
                out.append(True)
            elif t == OP["setData"]:
                stat, o = r_stat(b, o)
                out.append(stat)
            else:
                out.append("result type %d" % t)
                return out  # cannot know its length
    return raw_call(client, "multi", body, dec)


# --------------------------------------------------------------------------
# Transcript values
# --------------------------------------------------------------------------

class Zxid:
    __slots__ = ("v",)

    def __init__(self, v):
        self.v = v


class Ms:
    """A timestamp shown relative to the scenario's run time."""
    __slots__ = ("v",)

    def __init__(self, v):
        self.v = v


class NStat:
    FIELDS = ("czxid", "mzxid", "pzxid", "ctime", "mtime", "version", "cversion", "aversion",
              "ephemeralOwner", "dataLength", "numChildren")
    SHORT = dict(czxid="cz", mzxid="mz", pzxid="pz", ctime="ct", mtime="mt", version="v",
                 cversion="cv", aversion="av", ephemeralOwner="owner", dataLength="len",
                 numChildren="kids")

    def __init__(self, **fields):
        self.fields = fields


class Transcript:
    def __init__(self, kind, name):
        self.kind, self.name = kind, name
        self.steps = []  # [label, value]
        self.aborted = None
        self.lines = None

    def zxid_group(self, i, label):
        """What the zxids step i first shows are named after: the step's number."""
        return str(i + 1)

    def finalize(self):
        """Names every zxid by the step that first shows it (s7, or s7.2 for the second new one
        in step 7, by value), so one extra or missing write does not renumber the rest; then
        adds one line giving the value order of those names when it is not their order of
        first appearance."""
        names = {0: "z0"}
        appearance = []

        def collect(v, found):
            if isinstance(v, Zxid):
                if v.v not in names and v.v not in found:
                    found.append(v.v)
            elif isinstance(v, NStat):
                for k in NStat.FIELDS:
                    if k in v.fields:
                        collect(v.fields[k], found)
            elif isinstance(v, (list, tuple)):
                for x in v:
                    collect(x, found)
            elif isinstance(v, dict):
                for k in sorted(v):
                    collect(v[k], found)
        count = {}
        for i, (label, v) in enumerate(self.steps):
            found = []
            collect(v, found)
            key = self.zxid_group(i, label)
            for z in sorted(found):
                count[key] = count.get(key, 0) + 1
                names[z] = "s%s" % key if count[key] == 1 else "s%s.%d" % (key, count[key])
                appearance.append(z)
        self.lines = ["%s => %s" % (label, render(v, names)) for label, v in self.steps]
        by_value = sorted(appearance)
        if by_value != appearance:
            self.lines.append("zxid value order => " + " < ".join(names[z] for z in by_value))
        if self.aborted:
            self.lines.append("ABORTED: " + self.aborted)
        return self

    def text(self):
        return "\n".join("%3d  %s" % (i + 1, line) for i, line in enumerate(self.lines))


def render(v, names):
    if isinstance(v, Zxid):
        return names.get(v.v, "z?%d" % v.v)
    if isinstance(v, NStat):
        return "{" + " ".join("%s=%s" % (NStat.SHORT[k], render(v.fields[k], names))
                              for k in NStat.FIELDS if k in v.fields) + "}"
    if isinstance(v, Ms):
        return str(v.v)
    if isinstance(v, BaseException):
        return "!" + type(v).__name__
    if isinstance(v, (list, tuple)):
        inner = ", ".join(render(x, names) for x in v)
        return "[" + inner + "]" if isinstance(v, list) else "(" + inner + ")"
    if isinstance(v, dict):
        return "{" + ", ".join("%s: %s" % (k, render(v[k], names)) for k in sorted(v)) + "}"
    if isinstance(v, (bytes, bytearray)):
        v = bytes(v)
        if len(v) > 48:
            return "bytes(len=%d sha1=%s)" % (len(v), hashlib.sha1(v).hexdigest()[:12])
        return repr(v)
    if isinstance(v, str) and len(v) > 120:
        return "%r...(len=%d sha1=%s)" % (v[:40], len(v), hashlib.sha1(v.encode("utf-8", "surrogatepass")).hexdigest()[:12])
    return repr(v)


# --------------------------------------------------------------------------
# Scenario context
# --------------------------------------------------------------------------

class Ctx:
    """What a scenario gets: sessions, a private base path, and the recorder."""

    def __init__(self, server, name):
        self.server = server
        self.name = name
        self.base = "/diff-" + name
        self.t = Transcript(server.kind, name)
        self.t0_ms = int(time.time() * 1000) - 1000
        self.clients = {}  # label -> KazooClient
        self.session_labels = {}  # session id -> label
        self.events = {}  # label -> [raw Watch]
        self.cond = threading.Condition()

    # -- sessions --------------------------------------------------------

    def client(self, label, **kw):
        """Opens session `label` (A, B, ...), tapping every watch notification it receives."""
        kw.setdefault("timeout", 10.0)
        c = KazooClient(hosts=self.server.hosts, **kw)
        sink = self.events.setdefault(label, [])
        conn = c._connection
        orig = conn._read_watch_event
        cond = self.cond

        def tapped(buffer, offset):
            w, _ = Watch.deserialize(buffer, offset)
            with cond:
                sink.append(w)
                cond.notify_all()
            return orig(buffer, offset)
        conn._read_watch_event = tapped
        self.clients[label] = c
        c.start(timeout=15)
        self.session_labels[c.client_id[0]] = label
        return c

    def close(self, label):
        c = self.clients.pop(label)
        c.stop()
        c.close()

    def close_all(self):
        for label in list(self.clients):
            stop_kazoo(self.clients.pop(label))

    # -- normalization ---------------------------------------------------

    def path(self, s):
        if isinstance(s, str):
            return s.replace(self.base, "/B")
        return s

    def ms(self, v):
        now = int(time.time() * 1000) + 1000
        return "T" if self.t0_ms <= v <= now else Ms(v)

    def stat(self, st, only=None):
        if st is None:
            return None
        f = {}
        f["czxid"], f["mzxid"], f["pzxid"] = Zxid(st.czxid), Zxid(st.mzxid), Zxid(st.pzxid)
        f["ctime"] = self.ms(st.ctime)
        # A node never modified has mtime == ctime; after a change, equality is
        # only timing (a fast server changes it within the same millisecond).
        if st.mtime == st.ctime and st.mzxid == st.czxid:
            f["mtime"] = "=ctime"
        else:
            f["mtime"] = self.ms(st.mtime)
            if f["mtime"] == "T" and st.mtime < st.ctime:
                f["mtime"] = "T<ctime"
        f["version"], f["cversion"], f["aversion"] = st.version, st.cversion, st.aversion
        owner = st.ephemeralOwner
        f["ephemeralOwner"] = 0 if owner == 0 else self.session_labels.get(owner, "session?")
        f["dataLength"], f["numChildren"] = st.dataLength, st.numChildren
        if only:
            f = {k: v for k, v in f.items() if k in only}
        return NStat(**f)

    def acl(self, a):
        return "%s:%s:%d" % (a.id.scheme, a.id.id, a.perms)

    def norm(self, v):
        if isinstance(v, ZnodeStat):
            return self.stat(v)
        if isinstance(v, ACL):
            return self.acl(v)
        if isinstance(v, str):
            return self.path(v)
        if isinstance(v, BaseException):
            return v
        if isinstance(v, (list, tuple)):
            return type(v)(self.norm(x) for x in v)
        return v

    # -- recording -------------------------------------------------------

    def step(self, label, fn, *args, **kw):
        """Runs fn(*args, **kw) and records its normalized result or its exception class."""
        try:
            value = self.norm(fn(*args, **kw))
        except (KE.KazooException, KE.ZookeeperError) as e:
            value = e
        except KazooTimeoutError as e:
            value = e
        self.t.steps.append([self.path(label), value])
        return value

    def note(self, label, value):
        self.t.steps.append([self.path(label), self.norm(value)])

    def barrier(self, label):
        """A round trip on session `label`: notifications triggered before it are in."""
        c = self.clients[label]
        c.exists("/")

    def drain(self, label):
        with self.cond:
            evs = self.events[label][:]
            del self.events[label][:]
        out = []
        for w in evs:
            s = "%s %s" % (EVENT_NAMES.get(w.type, "type%d" % w.type), self.path(w.path))
            if w.state != 3:
                s += " state=" + STATE_NAMES.get(w.state, str(w.state))
            out.append(s)
        return out

    def events_step(self, label, note="", unordered=False):
        """Records the notifications session `label` received since the last such step.
        unordered=True sorts them, for events of one transaction on several nodes (e.g. a
        session's ephemerals going away) whose relative order ZooKeeper does not define."""
        self.barrier(label)
        evs = self.drain(label)
        if unordered:
            evs = sorted(evs)
        self.t.steps.append(["events %s%s" % (label, (" " + note) if note else ""), evs])

    def drop_probe(self, label, what, fn, *args):
        """Runs fn on session `label` and records its reply, then whether the server dropped the
        connection after it (kazoo went SUSPENDED before the next round trip answered) and
        whether the session is usable again afterwards (same session id)."""
        c = self.clients[label]
        sid = c.client_id[0]
        lost = threading.Event()

        def listener(state):
            if state != "CONNECTED":
                lost.set()
        c.add_listener(listener)
        try:
            self.step(label + ": " + what, fn, *args)
            try:
                c.exists("/")
            except KE.ConnectionLoss:
                lost.set()
            self.note(label + ": connection dropped", lost.is_set())
            self.step(label + ": session usable afterwards",
                      lambda: c.retry(c.exists, "/") is not None and c.client_id[0] == sid)
        finally:
            c.remove_listener(listener)

    def await_event(self, label, etype, path, timeout=15.0):
        """Waits (bounded) for a notification of `etype` on `path` to reach session `label`;
        records whether it came.  For server-side timers (TTL, containers)."""
        deadline = time.monotonic() + timeout
        want = {v: k for k, v in EVENT_NAMES.items()}[etype]
        with self.cond:
            while True:
                if any(w.type == want and w.path == path for w in self.events[label]):
                    got = True
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    got = False
                    break
                self.cond.wait(left)
        self.t.steps.append(["await %s %s on %s" % (etype, self.path(path), label),
                             "arrived" if got else "NOT within %.0fs" % timeout])
        return got


def p(ctx, *parts):
    return "/".join((ctx.base,) + parts)


def children(c, path, **kw):
    r = c.get_children(path, **kw)
    if isinstance(r, tuple):
        return sorted(r[0]), r[1]
    return sorted(r)


def delete_tree(c, path):
    try:
        for child in c.get_children(path):
            delete_tree(c, path + "/" + child)
        c.delete(path)
    except KE.NoNodeError:
        pass


# --------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------

SCENARIOS = {}


def scenario(fn=None, fresh=False):
    def reg(f):
        name = f.__name__[3:] if f.__name__.startswith("sc_") else f.__name__
        f.fresh = fresh
        SCENARIOS[name] = f
        return f
    return reg(fn) if fn else reg


def raw_reconfig(client, joining=None, leaving=None, members=None, config_id=-1):
    body = w_str(joining) + w_str(leaving) + w_str(members) + long_struct.pack(config_id)
    return raw_call(client, 16, body, decode=lambda b, o: True)


@scenario
def sc_reconfig_on_a_standalone_server(ctx):
    """reconfig where no ensemble exists: each request on its own session, since a
    client that does not know the answer's code may drop its connection."""
    for i, (label, kw) in enumerate((
            ("add a member", dict(joining="server.9=127.0.0.1:2888:3888:participant;2181")),
            ("malformed joining", dict(joining="server.x=nonsense")),
            ("remove a member", dict(leaving="1")),
            ("new membership", dict(members="server.1=127.0.0.1:2888:3888;2181")),
            ("stale config id", dict(joining="server.9=127.0.0.1:2888:3888;2181", config_id=12345)))):
        c = ctx.client("R%d" % i)
        ctx.step("reconfig " + label, raw_reconfig, c, **kw)


@scenario(fresh=True)
def sc_fresh_root(ctx):
    """A new server's tree: /, /zookeeper, /zookeeper/quota, /zookeeper/config."""
    a = ctx.client("A")
    ctx.step("ls /", children, a, "/")
    for path in ("/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"):
        ctx.step("get " + path, a.get, path)
        ctx.step("ls2 " + path, children, a, path, include_data=True)
        ctx.step("getacl " + path, a.get_acls, path)
    ctx.step("create /a", a.create, "/a", b"1")
    ctx.step("stat / after create", a.exists, "/")
    ctx.step("delete /a", a.delete, "/a")
    ctx.step("stat / after delete", a.exists, "/")
    ctx.step("sequential under /", a.create, "/s-", sequence=True)


@scenario
def sc_system_nodes(ctx):
    """What clients may do to /zookeeper and its children (harness-independent fields only)."""
    a = ctx.client("A")
    ctx.step("ls / has zookeeper", lambda: "zookeeper" in a.get_children("/"))
    ctx.step("ls /zookeeper", children, a, "/zookeeper")
    ctx.step("get /zookeeper/config", a.get, "/zookeeper/config")
    ctx.step("set /zookeeper/config", a.set, "/zookeeper/config", b"x")
    ctx.step("create /zookeeper/config/x", a.create, "/zookeeper/config/x")
    ctx.step("delete /zookeeper/config", a.delete, "/zookeeper/config")
    ctx.step("delete /zookeeper", a.delete, "/zookeeper")
    ctx.step("delete /zookeeper/quota", a.delete, "/zookeeper/quota")
    ctx.step("delete /", raw_path_op, a, "delete", "/")
    ctx.step("set /", lambda: ctx.stat(a.set("/", b""), only=("version", "dataLength")))
    ctx.step("create /", raw_create, a, "/", op="create")
    name = "diff-%s-zk" % ctx.name
    ctx.step("create /zookeeper/<x>", a.create, "/zookeeper/" + name, b"q")
    ctx.step("get /zookeeper/<x>", a.get, "/zookeeper/" + name)
    ctx.step("delete /zookeeper/<x>", a.delete, "/zookeeper/" + name)
    ctx.step("stat /zookeeper/quota", lambda: ctx.stat(a.exists("/zookeeper/quota"),
                                                       only=("czxid", "ctime", "aversion", "ephemeralOwner")))


@scenario
def sc_create_modes(ctx):
    a = ctx.client("A")
    ctx.step("create persistent", a.create, p(ctx, "pers"), b"data")
    ctx.step("get persistent", a.get, p(ctx, "pers"))
    ctx.step("create ephemeral", a.create, p(ctx, "eph"), b"e", ephemeral=True)
    ctx.step("get ephemeral", a.get, p(ctx, "eph"))
    ctx.step("create sequential", a.create, p(ctx, "seq-"), b"s", sequence=True)
    ctx.step("create sequential again", a.create, p(ctx, "seq-"), b"s", sequence=True)
    ctx.step("create ephemeral sequential", a.create, p(ctx, "eseq-"), ephemeral=True, sequence=True)
    ctx.step("create2 (include_data)", a.create, p(ctx, "c2"), b"12345", include_data=True)
    ctx.step("create2 ephemeral (include_data)", a.create, p(ctx, "c2e"), b"", ephemeral=True,
             include_data=True)
    ctx.step("create op=create (no stat)", raw_create, a, p(ctx, "plain"), b"x", op="create")
    ctx.step("create container", raw_create, a, p(ctx, "cont"), b"c", flags=CONTAINER)
    ctx.step("create container via create2", raw_create, a, p(ctx, "cont2"), b"c", flags=CONTAINER,
             op="create2")
    ctx.step("create flags=container via create", raw_create, a, p(ctx, "cont3"), flags=CONTAINER,
             op="create")
    ctx.step("createContainer with flags=0", raw_create, a, p(ctx, "cont4"), flags=PERSISTENT,
             op="createContainer")
    ctx.step("create ttl", raw_create, a, p(ctx, "ttl"), b"t", flags=TTL, ttl=60000)
    ctx.step("create ttl sequential", raw_create, a, p(ctx, "ttlseq-"), b"t", flags=TTL_SEQUENTIAL,
             ttl=60000)
    ctx.step("create ttl=0", raw_create, a, p(ctx, "ttl0"), flags=TTL, ttl=0)
    ctx.step("create ttl=-1", raw_create, a, p(ctx, "ttlneg"), flags=TTL, ttl=-1)
    ctx.step("create ttl too big", raw_create, a, p(ctx, "ttlbig"), flags=TTL, ttl=1 << 41)
    ctx.step("createTTL with flags=0", raw_create, a, p(ctx, "ttlf0"), flags=PERSISTENT, ttl=1000)
    ctx.step("createTTL with ephemeral flag", raw_create, a, p(ctx, "ttlf1"), flags=EPHEMERAL, ttl=1000)
    ctx.step("create flags=ttl via create2", raw_create, a, p(ctx, "ttlf5"), flags=TTL, op="create2")
    ctx.step("create flags=99", raw_create, a, p(ctx, "f99"), flags=99, op="create2")
    ctx.step("create flags=-1", raw_create, a, p(ctx, "fneg"), flags=-1, op="create2")
    ctx.step("create null data", raw_create, a, p(ctx, "nulldata"), None)
    ctx.step("get null data", a.get, p(ctx, "nulldata"))
    ctx.step("create makepath", a.create, p(ctx, "mk", "a", "b"), b"leaf", makepath=True)
    ctx.step("get makepath parent", a.get, p(ctx, "mk", "a"))
    ctx.step("create existing", a.create, p(ctx, "pers"))
    ctx.step("create existing ephemeral", a.create, p(ctx, "pers"), ephemeral=True)
    ctx.step("create missing parent", a.create, p(ctx, "nope", "child"))
    ctx.step("create seq missing parent", a.create, p(ctx, "nope", "child"), sequence=True)
    ctx.step("ls base", children, a, ctx.base)
    ctx.step("ls2 base", children, a, ctx.base, include_data=True)


@scenario
def sc_sequential_format(ctx):
    a = ctx.client("A")
    a.create(p(ctx, "q"))
    for i in range(3):
        ctx.step("seq %d" % i, a.create, p(ctx, "q", "n-"), sequence=True)
    ctx.step("plain child", a.create, p(ctx, "q", "plain"))
    ctx.step("seq after plain", a.create, p(ctx, "q", "n-"), sequence=True)
    ctx.step("delete plain", a.delete, p(ctx, "q", "plain"))
    ctx.step("seq after delete", a.create, p(ctx, "q", "x"), sequence=True)
    ctx.step("seq with empty prefix (path ends in /)", raw_create, a, p(ctx, "q") + "/", op="create")
    ctx.step("ephemeral seq", a.create, p(ctx, "q", "e-"), ephemeral=True, sequence=True)
    ctx.step("stat q", a.exists, p(ctx, "q"))
    for i in range(8):
        a.create(p(ctx, "q", "bulk-"), sequence=True)
    ctx.step("seq after 8 more", a.create, p(ctx, "q", "last-"), sequence=True)
    ctx.step("ls q", children, a, p(ctx, "q"))
    ctx.step("plain child named like the next sequence", a.create, p(ctx, "q", "dup0000000017"))
    ctx.step("seq collides (NodeExists)", a.create, p(ctx, "q", "dup"), sequence=True)
    ctx.step("seq after collision", a.create, p(ctx, "q", "dup"), sequence=True)
    ctx.step("stat q at end", a.exists, p(ctx, "q"))


@scenario
def sc_ephemerals(ctx):
    a, b = ctx.client("A"), ctx.client("B")
    a.create(p(ctx, "dir"))
    ctx.step("A creates ephemeral", a.create, p(ctx, "dir", "e"), b"x", ephemeral=True)
    ctx.step("B sees owner", b.exists, p(ctx, "dir", "e"))
    ctx.step("child under ephemeral", a.create, p(ctx, "dir", "e", "c"))
    ctx.step("seq child under ephemeral", a.create, p(ctx, "dir", "e", "c"), sequence=True)
    ctx.step("ephemeral child under ephemeral", b.create, p(ctx, "dir", "e", "c"), ephemeral=True)
    ctx.step("makepath through ephemeral", a.create, p(ctx, "dir", "e", "x", "y"), makepath=True)
    ctx.step("B deletes A's ephemeral", lambda: (b.delete(p(ctx, "dir", "e")), a.create(
        p(ctx, "dir", "e"), b"again", ephemeral=True))[1])
    ctx.step("A ephemeral seq", a.create, p(ctx, "dir", "s-"), ephemeral=True, sequence=True)
    ctx.step("getEphemerals A base", raw_path_op, a, "getEphemerals", ctx.base)
    ctx.step("getEphemerals A /", lambda: [x for x in raw_path_op(a, "getEphemerals", "/")
                                           if x.startswith(ctx.base)])
    ctx.step("getEphemerals B", raw_path_op, b, "getEphemerals", ctx.base)
    ctx.step("getEphemerals A prefix 'dir/s'", raw_path_op, a, "getEphemerals", p(ctx, "dir", "s"))
    ctx.step("B watches A's ephemeral", b.exists, p(ctx, "dir", "e"), watch=lambda e: None)
    ctx.step("B watches children", children, b, p(ctx, "dir"), watch=lambda e: None)
    ctx.close("A")
    ctx.events_step("B", "after A closed", unordered=True)
    ctx.step("B: ephemeral gone", b.exists, p(ctx, "dir", "e"))
    ctx.step("B: ls dir", children, b, p(ctx, "dir"))
    ctx.step("B: stat dir", b.exists, p(ctx, "dir"))


@scenario
def sc_delete_versions(ctx):
    a = ctx.client("A")
    a.create(p(ctx, "n"), b"v0")
    ctx.step("delete bad version", a.delete, p(ctx, "n"), version=5)
    ctx.step("set", a.set, p(ctx, "n"), b"v1")
    ctx.step("delete stale version 0", a.delete, p(ctx, "n"), version=0)
    ctx.step("delete version 1", a.delete, p(ctx, "n"), version=1)
    ctx.step("delete again", a.delete, p(ctx, "n"))
    a.create(p(ctx, "m", "child"), makepath=True)
    ctx.step("delete non-empty", a.delete, p(ctx, "m"))
    ctx.step("delete non-empty bad version", a.delete, p(ctx, "m"), version=7)
    ctx.step("delete child", a.delete, p(ctx, "m", "child"), version=-1)
    ctx.step("delete now empty", a.delete, p(ctx, "m"), version=0)
    ctx.step("delete missing with version", a.delete, p(ctx, "missing"), version=3)
    ctx.step("delete version -2", lambda: (a.create(p(ctx, "v2")), a.delete(p(ctx, "v2"), version=-2)))
    ctx.step("ls base", children, a, ctx.base)


@scenario
def sc_set_get_versions(ctx):
    a = ctx.client("A")
    a.create(p(ctx, "n"), b"init")
    ctx.step("get", a.get, p(ctx, "n"))
    ctx.step("set version 0", a.set, p(ctx, "n"), b"one", version=0)
    ctx.step("set stale version 0", a.set, p(ctx, "n"), b"two", version=0)
    ctx.step("set version 1", a.set, p(ctx, "n"), b"two", version=1)
    ctx.step("set version -1", a.set, p(ctx, "n"), b"three", version=-1)
    ctx.step("set same data", a.set, p(ctx, "n"), b"three")
    ctx.step("set empty", a.set, p(ctx, "n"), b"")
    ctx.step("get empty", a.get, p(ctx, "n"))
    ctx.step("set null data", raw_path_op, a, "setData", p(ctx, "n"), data=None)
    ctx.step("get after null", a.get, p(ctx, "n"))
    ctx.step("set future version", a.set, p(ctx, "n"), b"x", version=100)
    ctx.step("set version -2", a.set, p(ctx, "n"), b"x", version=-2)
    ctx.step("set missing", a.set, p(ctx, "missing"), b"x")
    ctx.step("get missing", a.get, p(ctx, "missing"))
    ctx.step("set binary", a.set, p(ctx, "n"), bytes(range(256)))
    ctx.step("get binary", a.get, p(ctx, "n"))
    ctx.step("set 100000 bytes", a.set, p(ctx, "n"), b"z" * 100000)
    ctx.step("get 100000 bytes", a.get, p(ctx, "n"))
    ctx.step("stat", a.exists, p(ctx, "n"))


@scenario
def sc_stat_fields(ctx):
    a = ctx.client("A")
    ctx.step("exists missing", a.exists, p(ctx, "par"))
    ctx.step("create par", a.create, p(ctx, "par"), b"abc", include_data=True)
    ctx.step("stat par", a.exists, p(ctx, "par"))
    ctx.step("create c1", a.create, p(ctx, "par", "c1"), b"", include_data=True)
    ctx.step("stat par after c1", a.exists, p(ctx, "par"))
    ctx.step("create c2", a.create, p(ctx, "par", "c2"), b"1", include_data=True)
    ctx.step("stat par after c2", a.exists, p(ctx, "par"))
    ctx.step("set c1", a.set, p(ctx, "par", "c1"), b"changed")
    ctx.step("stat par after set c1 (pzxid unchanged)", a.exists, p(ctx, "par"))
    ctx.step("set par", a.set, p(ctx, "par"), b"abcd")
    ctx.step("stat par after set", a.exists, p(ctx, "par"))
    ctx.step("delete c1", a.delete, p(ctx, "par", "c1"))
    ctx.step("stat par after delete c1", a.exists, p(ctx, "par"))
    ctx.step("set_acls par", a.set_acls, p(ctx, "par"), OPEN_ACL)
    ctx.step("stat par after set_acls", a.exists, p(ctx, "par"))
    ctx.step("set_acls par again", a.set_acls, p(ctx, "par"), OPEN_ACL, version=1)
    ctx.step("failed create under par (exists)", a.create, p(ctx, "par", "c2"))
    ctx.step("stat par after failed create", a.exists, p(ctx, "par"))
    ctx.step("ls2 par", children, a, p(ctx, "par"), include_data=True)
    ctx.step("getAllChildrenNumber base", raw_path_op, a, "getAllChildrenNumber", ctx.base)
    ctx.step("getAllChildrenNumber par", raw_path_op, a, "getAllChildrenNumber", p(ctx, "par"))
    ctx.step("getAllChildrenNumber missing", raw_path_op, a, "getAllChildrenNumber", p(ctx, "x"))
    ctx.step("get_children missing", a.get_children, p(ctx, "x"))
    ctx.step("ls2 missing", a.get_children, p(ctx, "x"), include_data=True)


@scenario
def sc_invalid_paths(ctx):
    """Server-side path validation: raw requests carry the path exactly as written."""
    a = ctx.client("A")
    a.create(p(ctx, "a"))
    bad = ["a", "/a/", "//", "/a//b", "/a/./b", "/a/../b", "/.", "/..", "/a/.", "/a/..",
           "/a\x01b", "/a\x7fb", "/a\x00b", "/\ue000", "/\ufff0", "/\u00e9", "/a b", "/a.b",
           "/...", "/.x"]
    for raw in bad:
        path = raw if not raw.startswith("/") else ctx.base + raw
        shown = "%r" % raw
        ctx.step("create %s" % shown, raw_create, a, path, op="create")
        ctx.step("create seq %s" % shown, raw_create, a, path, flags=SEQUENTIAL, op="create")
        ctx.step("set %s" % shown, raw_path_op, a, "setData", path)
        ctx.step("delete %s" % shown, raw_path_op, a, "delete", path)
        ctx.step("exists %s" % shown, raw_path_op, a, "exists", path)
        ctx.step("ls %s" % shown, raw_path_op, a, "getChildren", path)
    ctx.step("ls base", children, a, ctx.base)


def exists_needs_read(ctx, c, path):
    """DELIBERATE (docs/zkd.md, "Limits and deliberate differences": exists needs READ):
    zkd answers exists on a node the session may not READ with NoAuth and sets no watch, as
    Apache 3.8.4+/3.9.2+ do (ZOOKEEPER-2590).  The reference, Debian's Apache 3.8.0, still
    returns the stat; on it the newer answer is emulated: a getData probe first, and NoAuth
    without asking exists when the probe is refused.  test_exists_needs_read asserts zkd's
    answer without any emulation."""
    if ctx.server.kind == "apache":
        try:
            c.get(path)
        except KE.NoAuthError:
            raise KE.NoAuthError()
        except KE.NoNodeError:
            pass
    return c.exists(path)


@scenario
def sc_acls(ctx):
    a, b = ctx.client("A"), ctx.client("B")
    read_only = [ACL(1, Id("world", "anyone"))]
    ctx.step("create read-only", a.create, p(ctx, "ro"), b"r", acl=read_only)
    ctx.step("get read-only", a.get, p(ctx, "ro"))
    ctx.step("set read-only", a.set, p(ctx, "ro"), b"w")
    ctx.step("create child of read-only", a.create, p(ctx, "ro", "c"))
    ctx.step("getacl read-only", a.get_acls, p(ctx, "ro"))
    ctx.step("setacl read-only (no ADMIN)", a.set_acls, p(ctx, "ro"), OPEN_ACL)
    ctx.step("delete read-only (parent allows)", a.delete, p(ctx, "ro"))
    create_only = [ACL(4, Id("world", "anyone"))]
    ctx.step("create create-only", a.create, p(ctx, "co"), b"c", acl=create_only)
    ctx.step("get create-only", a.get, p(ctx, "co"))
    ctx.step("exists create-only (DELIBERATE: needs READ)", exists_needs_read, ctx, a,
             p(ctx, "co"))
    ctx.step("ls create-only", a.get_children, p(ctx, "co"))
    ctx.step("getacl create-only", a.get_acls, p(ctx, "co"))
    ctx.step("create under create-only", a.create, p(ctx, "co", "x"))
    ctx.step("delete under create-only", a.delete, p(ctx, "co", "x"))
    ctx.step("add_auth digest A", a.add_auth, "digest", "alice:secret")
    ctx.step("whoami A", lambda: sorted(whoami(a)))
    ctx.step("whoami B", lambda: sorted(whoami(b)))
    dig = make_digest_acl("alice", "secret", all=True)
    ctx.step("digest acl id", lambda: dig.id.id)
    ctx.step("create digest-protected", a.create, p(ctx, "d"), b"secret", acl=[dig])
    ctx.step("A get", a.get, p(ctx, "d"))
    ctx.step("B get (no auth)", b.get, p(ctx, "d"))
    ctx.step("B set (no auth)", b.set, p(ctx, "d"), b"x")
    ctx.step("B exists (DELIBERATE: needs READ)", exists_needs_read, ctx, b, p(ctx, "d"))
    ctx.step("B getacl", b.get_acls, p(ctx, "d"))
    ctx.step("B add_auth wrong password", b.add_auth, "digest", "alice:wrong")
    ctx.step("B get (wrong password)", b.get, p(ctx, "d"))
    ctx.step("B add_auth right password", b.add_auth, "digest", "alice:secret")
    ctx.step("B get (authed)", b.get, p(ctx, "d"))
    ctx.step("whoami B after two digests", lambda: sorted(whoami(b)))
    ctx.step("create with auth scheme", a.create, p(ctx, "au"), b"", acl=[ACL(31, Id("auth", ""))])
    ctx.step("getacl auth-scheme node", a.get_acls, p(ctx, "au"))
    c = ctx.client("C")
    ctx.step("C create with auth scheme (no auth)", c.create, p(ctx, "au2"), acl=[ACL(31, Id("auth", ""))])
    ctx.step("create empty acl", raw_create, a, p(ctx, "e"), acl=[], op="create")
    ctx.step("create bad digest id", a.create, p(ctx, "bd"), acl=[ACL(31, Id("digest", "nocolon"))])
    ctx.step("create unknown scheme", a.create, p(ctx, "us"), acl=[ACL(31, Id("nosuch", "x"))])
    ctx.step("create world:someone", a.create, p(ctx, "ws"), acl=[ACL(31, Id("world", "someone"))])
    ctx.step("create perms 0", a.create, p(ctx, "p0"), acl=[ACL(0, Id("world", "anyone"))])
    ctx.step("create perms 63", a.create, p(ctx, "p63"), acl=[ACL(63, Id("world", "anyone"))])
    ctx.step("getacl perms 63", a.get_acls, p(ctx, "p63"))
    ctx.step("create ip acl", a.create, p(ctx, "ip"), acl=[ACL(31, Id("ip", "127.0.0.1"))])
    ctx.step("get ip acl", c.get, p(ctx, "ip"))
    ctx.step("create ip subnet acl (other)", a.create, p(ctx, "ip2"), acl=[ACL(31, Id("ip", "10.0.0.0/8"))])
    ctx.step("get ip subnet (other)", c.get, p(ctx, "ip2"))
    ctx.step("create bad ip", a.create, p(ctx, "ip3"), acl=[ACL(31, Id("ip", "not-an-ip"))])
    ctx.step("create duplicate acl entries", a.create, p(ctx, "dup"), acl=OPEN_ACL + OPEN_ACL)
    ctx.step("getacl duplicate", a.get_acls, p(ctx, "dup"))
    ctx.step("setacl bad version", a.set_acls, p(ctx, "dup"), read_only, version=3)
    ctx.step("setacl version 0", a.set_acls, p(ctx, "dup"), read_only, version=0)
    ctx.step("setacl empty", a.set_acls, p(ctx, "dup"), [])
    ctx.step("setacl missing", a.set_acls, p(ctx, "nope"), OPEN_ACL)
    ctx.step("getacl missing", a.get_acls, p(ctx, "nope"))
    ctx.step("B ls base", children, b, ctx.base)


@scenario
def sc_auth_failed(ctx):
    a = ctx.client("A")
    ctx.step("whoami fresh", whoami, a)
    ctx.step("add_auth unknown scheme", a.add_auth, "nosuchscheme", "x")
    ctx.step("state after", lambda: a.state)
    ctx.step("op after auth failure", a.exists, "/")
    b = ctx.client("B")
    ctx.step("digest without colon", b.add_auth, "digest", "nocolon")
    ctx.step("whoami after odd digest", lambda: sorted(whoami(b)))
    ctx.step("add_auth world", b.add_auth, "world", "anyone")
    ctx.step("B still usable", lambda: b.exists("/") is not None)
    c = ctx.client("C", auth_data=[("digest", "bob:pw")])
    ctx.step("auth_data at connect", lambda: sorted(whoami(c)))
    ctx.step("create with bob acl", c.create, p(ctx, "bob"), acl=[make_digest_acl("bob", "pw", all=True)])
    ctx.step("getacl", c.get_acls, p(ctx, "bob"))
    ctx.step("credential", make_digest_acl_credential, "bob", "pw")


@scenario
def sc_transactions(ctx):
    a = ctx.client("A")
    a.create(p(ctx, "x"), b"x0")

    def txn(*ops):
        t = a.transaction()
        for op in ops:
            getattr(t, op[0])(*op[1:])
        return t.commit()

    ctx.step("multi ok", txn, ("create", p(ctx, "t1"), b"1"), ("set_data", p(ctx, "x"), b"x1"),
             ("check", p(ctx, "x"), 1), ("create", p(ctx, "t2"), b"2"))
    ctx.step("stat t1", a.exists, p(ctx, "t1"))
    ctx.step("stat t2 (same zxid)", a.exists, p(ctx, "t2"))
    ctx.step("stat x", a.exists, p(ctx, "x"))
    ctx.step("multi fails at op 2 (NodeExists)", txn, ("create", p(ctx, "t3")), ("create", p(ctx, "t1")),
             ("set_data", p(ctx, "x"), b"no"))
    ctx.step("t3 not created", a.exists, p(ctx, "t3"))
    ctx.step("x unchanged", a.get, p(ctx, "x"))
    ctx.step("multi fails at check", txn, ("set_data", p(ctx, "x"), b"no"), ("check", p(ctx, "x"), 0))
    ctx.step("multi fails at op 1 (NoNode)", txn, ("delete", p(ctx, "missing")), ("create", p(ctx, "t4")))
    ctx.step("multi delete+create same path", txn, ("delete", p(ctx, "t1")), ("create", p(ctx, "t1"), b"new"))
    ctx.step("get t1", a.get, p(ctx, "t1"))
    ctx.step("multi create parent+child", txn, ("create", p(ctx, "par")), ("create", p(ctx, "par", "kid")))
    ctx.step("multi ephemeral then child", txn, ("create", p(ctx, "eph"), b"", None, True),
             ("create", p(ctx, "eph", "kid")))
    ctx.step("multi sequential", txn, ("create", p(ctx, "s-"), b"", None, False, True),
             ("create", p(ctx, "s-"), b"", None, True, True))
    ctx.step("multi delete non-empty", txn, ("delete", p(ctx, "par")))
    ctx.step("multi check missing", txn, ("check", p(ctx, "nothere"), 0))
    ctx.step("multi check -1", txn, ("check", p(ctx, "x"), -1))
    ctx.step("multi set bad version then ok", txn, ("set_data", p(ctx, "x"), b"y", 99),
             ("set_data", p(ctx, "x"), b"z"))
    ctx.step("multi empty", txn)
    ctx.step("ls base", children, a, ctx.base)


@scenario
def sc_multi_raw(ctx):
    """Transactions with op kinds and inputs kazoo's transaction() cannot send."""
    a = ctx.client("A")
    B = ctx.base
    ctx.step("create2 + container + ttl in one multi", raw_multi, a, [
        ("create2", B + "/c2", b"x", PERSISTENT), ("createContainer", B + "/cont", b""),
        ("createTTL", B + "/ttl", b"t", TTL, 60000), ("create", B + "/eph", b"", EPHEMERAL)])
    ctx.step("stat eph", a.exists, B + "/eph")
    ctx.step("multi invalid path (trailing /)", raw_multi, a, [("create", B + "/bad/", b"", PERSISTENT)])
    ctx.step("multi invalid path (relative)", raw_multi, a, [("create", "rel", b"", PERSISTENT)])
    ctx.step("multi seq with trailing /", raw_multi, a, [("create", B + "/", b"", SEQUENTIAL)])
    ctx.step("multi ttl=0", raw_multi, a, [("create", B + "/ok", b"", PERSISTENT),
                                           ("createTTL", B + "/t0", b"", TTL, 0)])
    ctx.step("multi bad flags", raw_multi, a, [("create", B + "/f", b"", 99)])
    ctx.step("multi getData inside write multi", raw_multi, a, [("getData", B + "/c2")])
    ctx.step("multi set+check same node", raw_multi, a, [("setData", B + "/c2", b"y", 0),
                                                         ("check", B + "/c2", 1), ("setData", B + "/c2", b"z", 1)])
    ctx.step("multi delete then check deleted", raw_multi, a, [("delete", B + "/c2", -1), ("check", B + "/c2", -1)])
    ctx.step("multi create then delete same", raw_multi, a, [("create", B + "/tmp", b"", PERSISTENT),
                                                             ("delete", B + "/tmp", 0)])
    ctx.step("multi delete /", raw_multi, a, [("delete", "/", -1)])
    ctx.step("multi create under /zookeeper/config", raw_multi, a,
             [("create", "/zookeeper/config/x", b"", PERSISTENT)])
    ctx.step("ls base", children, a, B)


@scenario
def sc_multi_read(ctx):
    a = ctx.client("A")
    a.create(p(ctx, "r", "k1"), b"one", makepath=True)
    a.create(p(ctx, "r", "k2"), b"two")
    ctx.step("multiRead ok", multi_read, a, [("getData", p(ctx, "r", "k1")), ("getChildren", p(ctx, "r"))])
    ctx.step("multiRead partial failure", multi_read, a,
             [("getData", p(ctx, "missing")), ("getData", p(ctx, "r", "k2")), ("getChildren", p(ctx, "nope"))])
    ctx.step("multiRead empty", multi_read, a, [])


@scenario
def sc_sync(ctx):
    a = ctx.client("A")
    a.create(p(ctx, "s"))
    ctx.step("sync existing", a.sync, p(ctx, "s"))
    ctx.step("sync missing", a.sync, p(ctx, "missing"))
    ctx.step("sync /", a.sync, "/")
    ctx.step("sync invalid", raw_path_op, a, "sync", "noslash")


@scenario
def sc_one_time_watches(ctx):
    a, b = ctx.client("A"), ctx.client("B")
    n = p(ctx, "n")
    ctx.step("A exists-watch missing", a.exists, n, watch=lambda e: None)
    ctx.step("B create", b.create, n, b"0")
    ctx.events_step("A", "NodeCreated on exists watch")
    ctx.step("A get-watch", a.get, n, watch=lambda e: None)
    ctx.step("B set", b.set, n, b"1")
    ctx.step("B set again (watch already fired)", b.set, n, b"2")
    ctx.events_step("A", "one NodeDataChanged only")
    ctx.step("A get-watch + exists-watch on same node", lambda: (a.get(n, watch=lambda e: None),
                                                                  a.exists(n, watch=lambda e: None))[1])
    ctx.step("B set", b.set, n, b"3")
    ctx.events_step("A", "deduplicated")
    ctx.step("A child-watch", children, a, n, watch=lambda e: None)
    ctx.step("B create child", b.create, n + "/c", b"")
    ctx.step("B set child (no parent event)", b.set, n + "/c", b"x")
    ctx.events_step("A", "NodeChildrenChanged")
    ctx.step("A child-watch + get-watch", lambda: (children(a, n, watch=lambda e: None),
                                                   a.get(n, watch=lambda e: None))[0])
    ctx.step("B delete child", b.delete, n + "/c")
    ctx.step("B delete node", b.delete, n)
    ctx.events_step("A", "children changed, then deleted")
    ctx.step("A get-watch + child-watch", lambda: (b.create(n), a.get(n, watch=lambda e: None),
                                                   children(a, n, watch=lambda e: None))[2])
    ctx.step("B delete", b.delete, n)
    ctx.events_step("A", "one NodeDeleted for data+child watch")
    ctx.step("A exists-watch existing", lambda: (b.create(n), a.exists(n, watch=lambda e: None))[1])
    ctx.step("B delete", b.delete, n)
    ctx.events_step("A", "NodeDeleted on exists watch")
    ctx.step("A exists-watch missing, B creates and deletes", lambda: (
        a.exists(n, watch=lambda e: None), b.create(n), b.delete(n))[0])
    ctx.events_step("A", "only NodeCreated")
    ctx.step("A watches own changes", lambda: (a.create(n), a.get(n, watch=lambda e: None), a.set(n, b"self"))[2])
    ctx.events_step("A", "own change")
    ctx.step("failed write fires nothing", lambda: (a.get(n, watch=lambda e: None),
                                                    b.set(n, b"x", version=99)))
    ctx.events_step("A")
    ctx.step("set_acls fires no data watch", lambda: b.set_acls(n, OPEN_ACL))
    ctx.events_step("A")
    ctx.step("multi fires watches", lambda: b.transaction().commit() if False else (
        lambda t: (t.set_data(n, b"m"), t.create(n + "/k"), t.commit())[2])(b.transaction()))
    ctx.events_step("A", "after multi")
    ctx.step("ls watch via getChildren2", lambda: children(a, n, watch=lambda e: None, include_data=True)[0])
    ctx.step("B delete kid", b.delete, n + "/k")
    ctx.events_step("A")
    ctx.events_step("B", "B set no watches")
    ctx.step("checkWatches data on n (A)", check_watches, a, n, WATCHER_DATA)
    ctx.step("set data watch, checkWatches", lambda: (a.get(n, watch=lambda e: None),
                                                      check_watches(a, n, WATCHER_DATA))[1])
    ctx.step("removeWatches data", remove_watches, a, n, WATCHER_DATA)
    ctx.step("removeWatches again", remove_watches, a, n, WATCHER_DATA)
    ctx.step("B set after removal", b.set, n, b"after-remove")
    ctx.events_step("A", "nothing after removal")


@scenario
def sc_persistent_watches(ctx):
    a, b = ctx.client("A"), ctx.client("B")
    pw, rw = p(ctx, "pw"), p(ctx, "rw")
    ctx.step("addWatch persistent on missing", add_watch, a, pw, ADD_WATCH_PERSISTENT)
    ctx.step("B create pw", b.create, pw, b"0")
    ctx.step("B set pw", b.set, pw, b"1")
    ctx.step("B set pw again", b.set, pw, b"2")
    ctx.step("B create pw/c", b.create, pw + "/c")
    ctx.step("B create pw/c/g (not watched)", b.create, pw + "/c/g")
    ctx.step("B set pw/c (not watched)", b.set, pw + "/c", b"x")
    ctx.events_step("A", "persistent: created, changed x2, children")
    ctx.step("B delete pw/c/g, pw/c, pw", lambda: (b.delete(pw + "/c/g"), b.delete(pw + "/c"), b.delete(pw)))
    ctx.step("B re-create pw", b.create, pw)
    ctx.events_step("A", "persistent survives delete")
    ctx.step("addWatch recursive", add_watch, a, rw, ADD_WATCH_RECURSIVE)
    ctx.step("B create rw/a/b (makepath)", b.create, rw + "/a/b", b"", makepath=True)
    ctx.step("B set rw/a/b", b.set, rw + "/a/b", b"x")
    ctx.step("B delete rw/a/b", b.delete, rw + "/a/b")
    ctx.step("B set rw", b.set, rw, b"top")
    ctx.events_step("A", "recursive: no NodeChildrenChanged")
    ctx.step("A one-time get-watch on recursive path too", a.get, rw + "/a", watch=lambda e: None)
    ctx.step("B set rw/a", b.set, rw + "/a", b"both")
    ctx.events_step("A", "persistent + one-time on the same node")
    ctx.step("removeWatches any on rw", remove_watches, a, rw, WATCHER_ANY)
    ctx.step("B set rw/a after recursive removal", b.set, rw + "/a", b"gone")
    ctx.events_step("A", "after removing recursive watch")
    ctx.step("removeWatches data on pw (persistent)", remove_watches, a, pw, WATCHER_DATA)
    ctx.step("B set pw after data removal", b.set, pw, b"y")
    ctx.step("B create pw/z after data removal", b.create, pw + "/z")
    ctx.events_step("A")
    ctx.step("removeWatches children on pw", remove_watches, a, pw, WATCHER_CHILDREN)
    ctx.step("B set pw after children removal", b.set, pw, b"yy")
    ctx.step("B delete pw/z after children removal", b.delete, pw + "/z")
    ctx.events_step("A")
    ctx.step("addWatch bad mode", add_watch, a, pw, 7)
    ctx.step("addWatch recursive on /", lambda: add_watch(a, "/", ADD_WATCH_RECURSIVE))
    ctx.step("B create under base", b.create, p(ctx, "root-rec"))
    ctx.events_step("A", "recursive on /")
    ctx.step("remove recursive on /", remove_watches, a, "/", WATCHER_ANY)


@scenario
def sc_acl_filtered_watches(ctx):
    """Apache 3.8 as Debian ships it (3.8.0 plus ZOOKEEPER-4799, CVE-2024-23944) delivers a
    watch event only if the watcher's connection may READ the node, judged when the event
    fires, against the node's ACL (for NodeChildrenChanged: the parent's); a one-time watch
    is used up even when its event is withheld.  Found by test_diff_random.py."""
    a = ctx.client("A")
    u = ctx.client("U", auth_data=[("digest", "u1:pw1")])
    u1 = [make_digest_acl("u1", "pw1", all=True)]
    n = p(ctx, "n")
    nop = lambda e: None  # noqa: E731
    ctx.step("A exists-watch on missing n", a.exists, n, watch=nop)
    ctx.step("U creates n readable by u1 only", u.create, n, b"x", acl=u1)
    ctx.events_step("A", "nothing: NodeCreated withheld")
    ctx.step("U opens n's ACL", u.set_acls, n, OPEN_ACL)
    ctx.step("U sets n", u.set, n, b"y")
    ctx.events_step("A", "nothing: the withheld NodeCreated used the watch up")
    ctx.step("A get-watch on n", a.get, n, watch=nop)
    ctx.step("U takes READ away (setACL)", u.set_acls, n, u1)
    ctx.step("U sets n again", u.set, n, b"z")
    ctx.events_step("A", "nothing: A may no longer read n")
    ctx.step("A child-watch on the base", children, a, ctx.base, watch=nop)
    ctx.step("U creates k readable by u1 only", u.create, p(ctx, "k"), acl=u1)
    ctx.events_step("A", "NodeChildrenChanged: judged by the parent's ACL")
    ctx.step("A recursive watch on the base", add_watch, a, ctx.base, ADD_WATCH_RECURSIVE)
    ctx.step("A persistent watch on k", add_watch, a, p(ctx, "k"), ADD_WATCH_PERSISTENT)
    ctx.step("U sets n", u.set, n, b"w")
    ctx.step("U creates k/c (open, under unreadable k)", u.create, p(ctx, "k", "c"))
    ctx.step("U creates o (open)", u.create, p(ctx, "o"))
    ctx.step("U deletes k/c", u.delete, p(ctx, "k", "c"))
    ctx.events_step("A", "NodeCreated k/c and o, NodeDeleted k/c; nothing about n or k's children")
    ctx.step("A adds u1 (identities count when the event fires)", a.add_auth, "digest", "u1:pw1")
    ctx.step("U sets n", u.set, n, b"v")
    ctx.events_step("A", "NodeDataChanged n")


@scenario
def sc_recursive_watch_in_both_tables(ctx):
    """Apache's DataTree.addWatch puts a persistent-recursive watch in the data and the child
    table.  The child-table twin never fires NodeChildrenChanged, and NodeDeleted from it is
    suppressed while the data-table one fires too; once a one-time getData watch has re-armed
    the data-table entry, the twin alone reports deletions below.  Found by test_diff_random.py."""
    a = ctx.client("A")
    u = ctx.client("U")
    r = p(ctx, "r")
    u.create(r)
    ctx.step("A recursive watch on r", add_watch, a, r, ADD_WATCH_RECURSIVE)
    ctx.step("removeWatches(Children) finds it", remove_watches, a, r, WATCHER_CHILDREN)
    ctx.step("removeWatches(Data) too", remove_watches, a, r, WATCHER_DATA)
    ctx.step("and then nothing is left", remove_watches, a, r, WATCHER_ANY)
    ctx.step("A recursive watch on r again", add_watch, a, r, ADD_WATCH_RECURSIVE)
    ctx.step("A get-watch on r (re-arms the data-table entry)", a.get, r, watch=lambda e: None)
    ctx.step("U creates r/c", u.create, r + "/c")
    ctx.step("U sets r/c", u.set, r + "/c", b"x")
    ctx.step("U deletes r/c", u.delete, r + "/c")
    ctx.step("U sets r", u.set, r, b"y")
    ctx.events_step("A", "NodeDeleted r/c (child-table twin), NodeDataChanged r (one-time)")


@scenario
def sc_container_and_ttl(ctx):
    a, w = ctx.client("A"), ctx.client("W")
    cont = p(ctx, "cont")
    ctx.step("create container", raw_create, a, cont, b"", flags=CONTAINER)
    ctx.step("create child", a.create, cont + "/kid")
    ctx.step("W exists-watch container", w.exists, cont, watch=lambda e: None)
    ctx.step("delete child", a.delete, cont + "/kid")
    ctx.await_event("W", "NodeDeleted", cont)
    ctx.step("container gone", a.exists, cont)
    ctx.step("ls base", children, a, ctx.base)
    ttl = p(ctx, "ttl")
    ctx.step("create ttl 300ms", raw_create, a, ttl, b"", flags=TTL, ttl=300)
    ctx.step("W exists-watch ttl", lambda: w.exists(ttl, watch=lambda e: None) is not None)
    ctx.await_event("W", "NodeDeleted", ttl)
    ctx.step("ttl node gone", a.exists, ttl)
    ctx.step("events W", lambda: (ctx.barrier("W"), ctx.drain("W"))[1])


@scenario
def sc_children_bulk(ctx):
    a = ctx.client("A")
    a.create(p(ctx, "many"))
    t = a.transaction()
    for i in range(200):
        t.create(p(ctx, "many", "c%03d" % i), b"%d" % i)
    ctx.step("multi create 200", lambda: len(t.commit()))
    ctx.step("ls2 many", lambda: (lambda r: (len(r[0]), r[0][:3], ctx.stat(r[1])))(children(
        a, p(ctx, "many"), include_data=True)))
    a.create(p(ctx, "u"))
    for n in ("\u00fc", "\u65e5\u672c", "emoji\U0001F600", "sp ace", "tab\tname", "nl\nname"):
        ctx.step("create name %r" % n, a.create, p(ctx, "u", n))
    ctx.step("ls unicode", children, a, p(ctx, "u"))
    long_name = "n" * 1000
    ctx.step("long name", a.create, p(ctx, long_name))
    ctx.step("get long name", a.exists, p(ctx, long_name))


@scenario
def sc_data_limit(ctx):
    """1 MiB is above the default jute.maxbuffer (0xfffff): Apache drops the connection."""
    a = ctx.client("A")
    sid = a.client_id[0]
    a.create(p(ctx, "big"))
    ctx.step("set 1,000,000 bytes", a.set, p(ctx, "big"), b"x" * 1000000)
    ctx.drop_probe("A", "set 1 MiB", a.set, p(ctx, "big"), b"y" * (1 << 20))
    ctx.drop_probe("A", "create with 1 MiB", a.create, p(ctx, "big2"), b"y" * (1 << 20))
    ctx.step("data unchanged", lambda: a.get(p(ctx, "big"))[1].dataLength)
    ctx.step("same session", lambda: a.client_id[0] == sid)
    ctx.step("big2 absent", a.exists, p(ctx, "big2"))


@scenario
def sc_four_letter_words(ctx):
    a = ctx.client("A")
    srv = ctx.server
    ctx.step("ruok", srv.four_letter, "ruok")
    srvr = srv.four_letter("srvr")
    keys = [line.split(":", 1)[0] for line in srvr.splitlines() if ":" in line]
    ctx.note("srvr keys", keys)
    ctx.note("srvr Mode", [line for line in srvr.splitlines() if line.startswith("Mode:")])
    stat = srv.four_letter("stat")
    ctx.note("stat has Clients section", "Clients:" in stat)
    ctx.note("stat keys", sorted({line.split(":", 1)[0] for line in stat.splitlines()
                                  if ":" in line and not line.startswith(" ")}))
    ctx.step("isro", srv.four_letter, "isro")
    ctx.step("kazoo server_version (envi) major.minor", lambda: a.server_version()[:2])
    envi = srv.four_letter("envi")
    ctx.note("envi first line", envi.splitlines()[0] if envi else "")
    ctx.note("envi has zookeeper.version", any(l.startswith("zookeeper.version=") for l in envi.splitlines()))
    mntr = srv.four_letter("mntr")
    ctx.note("mntr has zk_version, zk_server_state, zk_znode_count",
             [k in mntr for k in ("zk_version", "zk_server_state\tstandalone", "zk_znode_count")])
    ctx.note("conf has clientPort", "clientPort=%d" % srv.port in srv.four_letter("conf"))
    ctx.note("wchs shape", srv.four_letter("wchs").splitlines()[-1:] and
             srv.four_letter("wchs").splitlines()[-1].startswith("Total watches:"))
    ctx.note("cons lists a session", "sid=0x" in srv.four_letter("cons"))
    ctx.note("dump first line", srv.four_letter("dump").splitlines()[:1])
    ctx.step("kazoo command ruok", a.command, b"ruok")


@scenario
def sc_quirks(ctx):
    """Odd corners where Apache 3.8's answers are surprising; zkd follows them for now."""
    a = ctx.client("A")
    ctx.step("get '' (Apache: the root)", lambda: raw_path_op(a, "getData", "")[0])
    ctx.step("exists ''", lambda: raw_path_op(a, "exists", "") is not None)
    ctx.step("ls ''", lambda: "zookeeper" in raw_path_op(a, "getChildren", ""))
    ctx.step("removeWatches persistent-recursive type (3.8.0: Marshalling)",
             lambda: (add_watch(a, p(ctx, "q"), ADD_WATCH_RECURSIVE), remove_watches(a, p(ctx, "q"), 5))[1])
    ctx.step("addWatch on invalid path", add_watch, a, "noslash", ADD_WATCH_PERSISTENT)
    ctx.step("getacl /zookeeper/config aversion", lambda: a.get_acls("/zookeeper/config")[1].aversion)
    b = ctx.client("B")
    ctx.drop_probe("B", "unknown opcode 999", raw_call, b, 999, b"")


SCENARIO_NAMES = list(SCENARIOS)

# --------------------------------------------------------------------------
# Running and comparing
# --------------------------------------------------------------------------

_TRANSCRIPTS = {}  # (kind, scenario) -> Transcript, per test session


def run_scenario(srv, name):
    if not srv.running:
        pytest.fail("%s is not running (died in an earlier test?)\n%s" % (srv.name, srv.describe_log()),
                    pytrace=False)
    fn = SCENARIOS[name]
    ctx = Ctx(srv, name)
    admin = KazooClient(hosts=srv.hosts, timeout=10.0)
    try:
        admin.start(timeout=15)
        if not fn.fresh:
            delete_tree(admin, ctx.base)
            admin.create(ctx.base)
        try:
            fn(ctx)
        except Exception as e:  # a scenario that cannot go on: record where
            ctx.t.aborted = "%s: %s (after step %d)" % (type(e).__name__, e, len(ctx.t.steps))
        finally:
            ctx.close_all()
        try:
            if not fn.fresh:
                delete_tree(admin, ctx.base)
        except KE.KazooException:
            pass  # e.g. nodes whose ACL forbids it; the base name is private anyway
    finally:
        stop_kazoo(admin)
    if not srv.running:
        ctx.t.aborted = (ctx.t.aborted or "") + " [server %s died: status %s]" % (srv.name, srv.proc.returncode)
    t = ctx.t.finalize()
    dump = os.environ.get("ZK_DIFF_DUMP")
    if dump:
        os.makedirs(os.path.join(dump, srv.kind), exist_ok=True)
        with open(os.path.join(dump, srv.kind, name + ".txt"), "w") as f:
            f.write(t.text() + "\n")
    return t


def compare(ref, got):
    if ref.lines == got.lines:
        return
    n = max(len(ref.lines), len(got.lines))
    diffs = []
    for i in range(n):
        r = ref.lines[i] if i < len(ref.lines) else "(missing)"
        g = got.lines[i] if i < len(got.lines) else "(missing)"
        if r != g:
            diffs.append("  step %d:\n    apache: %s\n    zkd:    %s" % (i + 1, r, g))
    msg = ["zkd differs from Apache ZooKeeper in scenario %r at %d of %d steps:" % (ref.name, len(diffs), n)]
    msg += diffs[:15]
    if len(diffs) > 15:
        msg.append("  ... %d more" % (len(diffs) - 15))
    msg.append("unified diff (apache -> zkd):")
    msg += list(difflib.unified_diff(ref.lines, got.lines, "apache", "zkd", lineterm="", n=1))
    pytest.fail("\n".join(msg), pytrace=False)


def get_transcript(request, srv, name):
    scen = SCENARIOS[name]
    if scen.fresh:
        srv = request.getfixturevalue("server_factory")(srv.kind)
    key = (srv.kind, name)
    if srv.kind == "apache" and key in _TRANSCRIPTS:
        return _TRANSCRIPTS[key]
    t = run_scenario(srv, name)
    _TRANSCRIPTS[key] = t
    return t


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_diff(request, server, name):
    t = get_transcript(request, server, name)
    if server.kind == "apache":
        # The reference side only checks that the harness got through the scenario.
        assert not t.aborted, "scenario %r aborted against Apache:\n%s" % (name, t.text())
        return
    ref = _TRANSCRIPTS.get(("apache", name))
    if ref is None:
        ref = get_transcript(request, request.getfixturevalue("apache_zk"), name)
    if ref.aborted:
        pytest.fail("reference run of %r against Apache aborted, nothing to compare:\n%s" % (
            name, ref.text()), pytrace=False)
    compare(ref, t)


def test_diff_reconfig_enabled_on_a_standalone_server(server_factory):
    """reconfigEnabled=true without an ensemble: Apache answers UNIMPLEMENTED
    (its standalone server is no LeaderZooKeeperServer), after the disabled check."""
    name = "reconfig_on_a_standalone_server"
    ref = run_scenario(server_factory("apache", cfg={"reconfigEnabled": "true"}), name)
    assert not ref.aborted, ref.text()
    got = run_scenario(server_factory("zkd", cfg={"reconfigEnabled": "true"}), name)
    compare(ref, got)


def read_header_zxids(srv):
    """The ReplyHeader zxid of each read by session R, each after a write by session W
    (W has its reply, so the write is applied and durable) that the read does not show.
    A zxid is named after the write whose reply carried it: "w3", or "w3<z<w4" between."""
    from tests.lib.rawzk import RawSession, i32, zbuf, zstr, acls, OPEN_ACL
    w, r = RawSession(srv.port), RawSession(srv.port)
    writes = []  # (zxid, label)

    def name(z):
        below = [lab for zx, lab in writes if zx < z]
        above = [lab for zx, lab in writes if zx > z]
        exact = [lab for zx, lab in writes if zx == z]
        if exact:
            return exact[0]
        return "%s<z<%s" % (below[-1] if below else "", above[0] if above else "")

    def write(sess, label, op, path, data=b"", flags=0):
        body = zstr(path) + zbuf(data) + (acls(OPEN_ACL) + i32(flags) if op == "create" else i32(-1))
        assert sess.call(op, body)[0] == 0, (label, path)
        writes.append((sess.reply_zxid, label))

    lines = []

    def read(op, path, watch=None):
        body = zstr(path) + (b"" if watch is None else (b"\1" if watch else b"\0"))
        err = r.call(op, body)[0]
        lines.append("R %s %s: err %d, header %s" % (op, path, err, name(r.reply_zxid)))

    try:
        write(w, "w1", "create", "/t")
        write(w, "w2", "create", "/t/a", b"x")
        write(w, "w3", "create", "/t/b")
        write(w, "w4", "setData", "/t/a", b"y")
        rounds = [("getData", "/t/a", False), ("exists", "/t/a", False),
                  ("exists", "/t/missing", False), ("exists", "/gone/deeper", False),
                  ("getChildren", "/t", False), ("getChildren2", "/t", False),
                  ("getData", "/t/b", True), ("getACL", "/t/a", None),
                  ("getAllChildrenNumber", "/t", None), ("getEphemerals", "/t", None),
                  ("exists", "/zookeeper/config", False), ("getData", "/t/a", False)]
        for i, (op, path, watch) in enumerate(rounds):
            write(w, "u%d" % (i + 1), "create", "/u%d" % (i + 1))  # shown by no read below
            read(op, path, watch)
        write(r, "own", "setData", "/t/b", b"z")  # R's own write, then reads again
        read("getData", "/t/a", False)
        write(w, "last", "create", "/v")
        assert r.call("sync", zstr("/"))[0] == 0
        lines.append("R sync: header %s" % name(r.reply_zxid))
        read("getData", "/t/a", False)
    finally:
        w.close_session()
        r.close_session()
    return lines


def test_diff_read_reply_header_zxid(server_factory):
    """A read's ReplyHeader zxid is the last zxid the server processed (Apache's
    FinalRequestProcessor: getDataTreeLastProcessedZxid), not the last one that changed
    the node read: a client reconnects with it as lastZxidSeen.  Here every write of the
    other session is answered (so durable) before the read: zkd must send the same."""
    ref = read_header_zxids(server_factory("apache"))
    got = read_header_zxids(server_factory("zkd"))
    assert got == ref, "\n".join("%-60s %s" % (a, "" if a == b else "zkd: " + b)
                                 for a, b in zip(ref, got))
