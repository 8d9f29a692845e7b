"""History recording and checking for ensemble fault tests.

A Workload runs several kazoo clients (threads) doing reads, writes (setData), version-conditioned
writes and sync+reads on a few keys while the test injects faults; every operation is recorded as
an Op with its invoke and completion times (time.monotonic), the session it ran in, and its outcome:

    ok      completed: reads carry (value, version, mzxid), writes the returned (version, mzxid)
    fail    definitely not applied (BADVERSION of a conditional write); failed reads are dropped
    info    indeterminate (connection loss, timeout): a write may or may not have happened

Every written value is unique, so a value read names the write that produced it.  check() then
verifies, using zxids (every write is one transaction with a unique mzxid) to keep it cheap:

  writes (linearizable): acknowledged writes have distinct mzxids; their mzxid order respects
    real time (a write that completed before another was invoked has the lower mzxid); on each key
    the states seen (by acks and reads) agree at each mzxid and versions strictly increase with
    mzxid (a lost acknowledged write shows as two states with one version); missing versions are no
    more than the writes of unknown outcome; a conditional write succeeded only with the expected
    version + 1, and never failed with BADVERSION while the key surely had the expected version;
    the final state (read from every member) agrees everywhere, is at least as new as every
    acknowledged write, and its version counts the acknowledged writes.
  reads (ZooKeeper's guarantees): every value read was written, by a write invoked before the read
    completed and (if acknowledged) at the mzxid read; within a session nothing read is older than
    a state the session already saw (monotonic reads across reconnects, read-your-writes: no read
    of key K returns mzxid m when K was written at some zxid in (m, H], H being the highest zxid the
    session observed); sync then read sees every write completed before the sync was invoked.

Runs are random: the seed is printed and HISTORY_SEED=<seed> replays the same choices (the timing,
and so the interleaving, is the machine's).
"""
import bisect
import os
import random
import threading
import time
from collections import defaultdict

INF = float("inf")


class Op:
    __slots__ = ("client", "session", "kind", "key", "value", "expected", "invoke", "complete",
                 "outcome", "version", "mzxid", "error")

    def __init__(self, client, session, kind, key, value=None, expected=None, invoke=0.0):
        self.client = client
        self.session = session
        self.kind = kind  # read | sync_read | write | cas
        self.key = key
        self.value = value  # written value (write/cas) or value read
        self.expected = expected  # cas: the version it was conditioned on
        self.invoke = invoke
        self.complete = INF
        self.outcome = None  # ok | fail | info
        self.version = None
        self.mzxid = None
        self.error = None

    @property
    def is_write(self):
        return self.kind in ("write", "cas")

    def __repr__(self):
        return "<%s c%s s%x %s %r exp=%s %s v=%s z=%s [%.3f,%.3f]%s>" % (
            self.kind, self.client, self.session or 0, self.key, self.value, self.expected,
            self.outcome, self.version, hex(self.mzxid) if self.mzxid is not None else None,
            self.invoke, self.complete, " " + self.error if self.error else "")


class History:
    def __init__(self):
        self.ops = []
        self.initial = {}  # key -> (value, version, mzxid) before the workload
        self.final = {}  # key -> list of (member, value, version, mzxid) after it
        self._lock = threading.Lock()

    def add(self, op):
        with self._lock:
            self.ops.append(op)

    def summary(self):
        counts = defaultdict(int)
        for op in self.ops:
            counts["%s %s" % (op.kind, op.outcome)] += 1
        return ", ".join("%s: %d" % kv for kv in sorted(counts.items()))


# --------------------------------------------------------------------------
# Checker
# --------------------------------------------------------------------------

def check(history):
    """Returns a list of violations (strings); empty when the history is valid."""
    v = []
    ops = history.ops
    writes = [op for op in ops if op.is_write]
    acked = [op for op in writes if op.outcome == "ok"]
    reads = [op for op in ops if op.kind in ("read", "sync_read") and op.outcome == "ok"]
    keys = sorted(set(op.key for op in ops) | set(history.initial))

    # Which write produced each value.
    by_value = {}
    for op in writes:
        if op.value in by_value:
            v.append("value %r written twice: %r and %r" % (op.value, by_value[op.value], op))
        by_value[op.value] = op

    # Acknowledged writes: distinct mzxids, consistent with real time.
    zx_owner = {}
    for op in acked:
        if op.mzxid in zx_owner:
            v.append("two acknowledged writes share mzxid %#x: %r and %r" % (
                op.mzxid, zx_owner[op.mzxid], op))
        zx_owner[op.mzxid] = op
    v += _real_time_violations(acked)

    # The states of each key seen at each mzxid, by acks, reads and the final reads.
    states = defaultdict(dict)  # key -> mzxid -> (value, version, source)

    def see(key, mzxid, value, version, source):
        prev = states[key].get(mzxid)
        if prev is None:
            states[key][mzxid] = (value, version, source)
        elif prev[:2] != (value, version):
            v.append("%s at mzxid %#x: %r (version %s) per %s but %r (version %s) per %s" % (
                key, mzxid, prev[0], prev[1], prev[2], value, version, source))

    for key, (value, version, mzxid) in history.initial.items():
        see(key, mzxid, value, version, "initial state")
    for op in acked:
        see(op.key, op.mzxid, op.value, op.version, repr(op))
    for op in reads:
        see(op.key, op.mzxid, op.value, op.version, repr(op))
    for key, rows in history.final.items():
        for member, value, version, mzxid in rows:
            see(key, mzxid, value, version, "final read on member %s" % member)

    for op in acked:
        if op.kind == "cas" and op.version != op.expected + 1:
            v.append("conditional write on version %d succeeded with version %d: %r" % (
                op.expected, op.version, op))

    for key in keys:
        v += _key_violations(key, states[key], history, writes, by_value)

    # Every value read was written, before the read completed, at the mzxid read.
    initial_values = {(k, s[0]) for k, s in history.initial.items()}
    for op in reads:
        w = by_value.get(op.value)
        if w is None:
            if (op.key, op.value) not in initial_values:
                v.append("read a value nobody wrote: %r" % op)
            continue
        if w.key != op.key:
            v.append("read on %s returned a value written to %s: %r" % (op.key, w.key, op))
        if w.invoke > op.complete:
            v.append("read returned a value before it was written: %r, written by %r" % (op, w))
        if w.outcome == "ok" and w.mzxid != op.mzxid:
            v.append("read %r at mzxid %#x but its write was acknowledged at %#x" % (
                op.value, op.mzxid, w.mzxid))
        if w.outcome == "fail":
            v.append("read a value whose write failed: %r (write %r)" % (op, w))

    v += _session_violations(ops, states)
    v += _sync_read_violations(reads, acked)
    return v


def _real_time_violations(acked):
    """A write completed before another was invoked must have the lower mzxid."""
    out = []
    by_complete = sorted(acked, key=lambda op: op.complete)
    completes = [op.complete for op in by_complete]
    # prefix maximum of mzxid over writes in completion order
    best, prefix = None, []
    for op in by_complete:
        if best is None or op.mzxid > best.mzxid:
            best = op
        prefix.append(best)
    for op in acked:
        i = bisect.bisect_left(completes, op.invoke)  # writes completed strictly before op.invoke
        if i and prefix[i - 1].mzxid >= op.mzxid:
            out.append("real-time order violated: %r completed before %r was invoked but has "
                       "a higher mzxid" % (prefix[i - 1], op))
    return out


def _key_violations(key, seen, history, writes, by_value):
    out = []
    order = sorted(seen.items())  # by mzxid
    for (z1, (val1, ver1, src1)), (z2, (val2, ver2, src2)) in zip(order, order[1:]):
        if ver2 <= ver1:
            out.append("%s: version %d at mzxid %#x (%s) not above version %d at mzxid %#x (%s): "
                       "a write was lost or reordered" % (key, ver2, z2, src2, ver1, z1, src1))
    key_writes = [op for op in writes if op.key == key]
    observed_values = {s[0] for s in seen.values()}
    unknown = [op for op in key_writes if op.outcome == "info" and op.value not in observed_values]
    if order:
        versions = [s[1] for _, s in order]
        missing = (versions[-1] - versions[0] + 1) - len(set(versions))
        if missing > len(unknown):
            out.append("%s: %d versions between %d and %d were never seen but only %d writes "
                       "have an unknown outcome: acknowledged writes lost?" % (
                           key, missing, versions[0], versions[-1], len(unknown)))
    # Final state: agreed by every member, newer than every acknowledged write.
    final = history.final.get(key, [])
    if final:
        states = {(value, version, mzxid) for _, value, version, mzxid in final}
        if len(states) != 1:
            out.append("%s: members disagree on the final state: %s" % (key, final))
        fz = max(mzxid for _, _, _, mzxid in final)
        fver = max(version for _, _, version, _ in final)
        for op in key_writes:
            if op.outcome == "ok" and op.mzxid > fz:
                out.append("%s: acknowledged %r is newer than the final state (mzxid %#x)" % (
                    key, op, fz))
        if key in history.initial:
            applied = fver - history.initial[key][1]
            n_ok = sum(1 for op in key_writes if op.outcome == "ok")
            n_info = sum(1 for op in key_writes if op.outcome == "info")
            if not n_ok <= applied <= n_ok + n_info:
                out.append("%s: %d writes applied (final version %d) but %d acknowledged and %d "
                           "of unknown outcome" % (key, applied, fver, n_ok, n_info))
    # BADVERSION while the key surely had the expected version.
    by_version = {}
    for z, (value, version, _) in order:
        by_version.setdefault(version, (z, value))
    for op in key_writes:
        if op.kind != "cas" or op.outcome != "fail" or op.expected not in by_version:
            continue
        z, value = by_version[op.expected]
        producer = by_value.get(value)
        since = producer.complete if producer is not None else -INF  # initial state: always
        # Until the first write that may come after it was invoked.
        until = min([w.invoke for w in key_writes if w.outcome != "fail" and w is not producer
                     and (w.outcome == "info" or w.mzxid > z)] or [INF])
        if since < op.invoke and op.complete < until:
            out.append("%s: conditional write on version %d failed although the key had that "
                       "version throughout: %r" % (key, op.expected, op))
    return out


def _session_violations(ops, states):
    """Per session, in completion order: no read older than what the session has seen."""
    out = []
    zx_sorted = {key: sorted(seen) for key, seen in states.items()}
    by_session = defaultdict(list)
    for op in ops:
        if op.outcome == "ok" and op.session:
            by_session[op.session].append(op)
    for session, sops in by_session.items():
        high, high_op = 0, None
        for op in sorted(sops, key=lambda o: o.complete):
            if op.kind in ("read", "sync_read"):
                zs = zx_sorted.get(op.key, [])
                i = bisect.bisect_right(zs, op.mzxid)
                if i < len(zs) and zs[i] <= high:
                    out.append("session %#x read %s at mzxid %#x after it had seen zxid %#x "
                               "(by %r); %s was written at %#x in between: %r" % (
                                   session, op.key, op.mzxid, high, high_op, op.key, zs[i], op))
            if op.mzxid is not None and op.mzxid > high:
                high, high_op = op.mzxid, op
    return out


def _sync_read_violations(reads, acked):
    out = []
    by_key = defaultdict(list)
    for w in acked:
        by_key[w.key].append(w)
    for op in reads:
        if op.kind != "sync_read":
            continue
        for w in by_key[op.key]:
            if w.complete < op.invoke and w.mzxid > op.mzxid:
                out.append("sync+read %r missed %r, which completed before the sync" % (op, w))
                break
    return out


# --------------------------------------------------------------------------
# Workload
# --------------------------------------------------------------------------

def seed_from_env():
    """HISTORY_SEED if set, else a fresh random seed; printed so a run can be replayed."""
    env = os.environ.get("HISTORY_SEED")
    seed = int(env) if env else random.SystemRandom().randrange(1 << 32)
    print("history seed: %d (replay with HISTORY_SEED=%d)" % (seed, seed))
    return seed


class Workload:
    """`clients` kazoo clients (threads), each connected to the members in its own random order,
    doing random operations on `keys` znodes under /history until stop().  `client_hosts` adds
    one client per list of hosts, which tries them in the order given (e.g. clients that start on
    one member, or that can reach only one); they come after the others (Op.client numbers them
    from `clients` on)."""

    def __init__(self, hosts_list, seed, clients=5, keys=3, op_timeout=8.0, root="/history",
                 client_hosts=()):
        from kazoo.client import KazooClient

        self.seed = seed
        self.rng = random.Random(seed)
        self.root = root
        self.keys = ["%s/k%d" % (root, i) for i in range(keys)]
        self.history = History()
        self.op_timeout = op_timeout
        self._stop = threading.Event()
        self._threads = []
        self.clients = []
        for i in range(clients):
            hosts = list(hosts_list)
            self.rng.shuffle(hosts)
            self.clients.append(KazooClient(hosts=",".join(hosts), timeout=4.0,
                                            randomize_hosts=False))
        for hosts in client_hosts:
            self.clients.append(KazooClient(hosts=",".join(hosts), timeout=4.0,
                                            randomize_hosts=False))
        self.errors = []  # unexpected exceptions in client threads

    # -- set-up and final state --------------------------------------------

    def start(self):
        for c in self.clients:
            c.start(timeout=30)
        admin = self.clients[0]
        admin.ensure_path(self.root)
        for key in self.keys:
            if admin.exists(key) is None:
                admin.create(key, b"init:" + key.encode())
            value, stat = admin.get(key)
            self.history.initial[key] = (value.decode(), stat.version, stat.mzxid)
        for i, c in enumerate(self.clients):
            t = threading.Thread(target=self._run, args=(i, c, random.Random(self.seed * 1000 + i)),
                                 name="history-client-%d" % i, daemon=True)
            self._threads.append(t)
            t.start()

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(self.op_timeout + 10)
        for c in self.clients:
            _stop_client(c)

    def read_final(self, members):
        """Reads every key from every member, each on its own client after a sync.
        `members`: {name: hosts}."""
        from kazoo.client import KazooClient

        for name, hosts in members.items():
            c = KazooClient(hosts=hosts, timeout=4.0)
            try:
                c.start(timeout=30)
                for key in self.keys:
                    c.sync(key)
                    value, stat = c.get(key)
                    self.history.final.setdefault(key, []).append(
                        (name, value.decode(), stat.version, stat.mzxid))
            finally:
                _stop_client(c)

    # -- client loop -----------------------------------------------------------

    def _run(self, idx, client, rng):
        from kazoo.exceptions import BadVersionError, KazooException
        from kazoo.handlers.threading import KazooTimeoutError

        n = 0
        last_version = {}
        while not self._stop.is_set():
            key = rng.choice(self.keys)
            r = rng.random()
            kind = ("read" if r < 0.35 else "sync_read" if r < 0.45 else
                    "write" if r < 0.75 else "cas")
            if kind == "cas" and key not in last_version:
                kind = "read"  # learn a version to condition on first
            n += 1
            value = "c%d-%d" % (idx, n) if kind in ("write", "cas") else None
            expected = last_version[key] if kind == "cas" else None
            op = Op(idx, client.client_id[0] if client.client_id else None, kind, key, value,
                    expected, time.monotonic())
            try:
                if kind in ("read", "sync_read"):
                    if kind == "sync_read":
                        client.sync_async(key).get(timeout=self.op_timeout)
                    data, stat = client.get_async(key).get(timeout=self.op_timeout)
                    op.value = data.decode()
                else:
                    stat = client.set_async(key, value.encode(),
                                            -1 if kind == "write" else expected).get(
                                                timeout=self.op_timeout)
                op.complete = time.monotonic()
                op.outcome = "ok"
                op.version, op.mzxid = stat.version, stat.mzxid
                last_version[key] = stat.version
            except BadVersionError:
                op.complete = time.monotonic()
                op.outcome = "fail"
                last_version.pop(key, None)
            except (KazooException, KazooTimeoutError) as e:
                op.error = type(e).__name__
                op.outcome = "info"  # complete stays INF: it may take effect at any later time
            except Exception as e:  # a bug in the workload, not the server: report it
                self.errors.append("%r: %s: %s" % (op, type(e).__name__, e))
                op.outcome = "info"
            # The session the op ran in: kazoo may have replaced an expired one meanwhile.
            sid = client.client_id[0] if client.client_id else None
            if sid != op.session:
                op.session = None  # spans two sessions: no session guarantee applies
            if op.is_write or op.outcome == "ok":
                self.history.add(op)
            if op.outcome == "info":
                self._stop.wait(0.05)  # don't spin while the ensemble is failing over


def _stop_client(c):
    t = threading.Thread(target=lambda: (c.stop(), c.close()), daemon=True)
    t.start()
    t.join(10)


def format_violations(violations, history, limit=20):
    head = "%d violations (%s):\n" % (len(violations), history.summary())
    return head + "\n".join(violations[:limit])
