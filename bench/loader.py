#!/usr/bin/python3
"""A pipelined ZooKeeper load generator speaking the raw wire protocol.

No client library: every request is packed by hand (jute encoding, big
endian), so the generator stays cheap enough to push a server with one
Python process per connection.  Used by bench/bench.py; also runs alone:

    /usr/bin/python3 bench/loader.py load  --port 2181 -n 100000
    /usr/bin/python3 bench/loader.py bench --port 2181 --op get --conns 4 --window 100 --duration 5
    /usr/bin/python3 bench/loader.py ready --port 2181 --path /bench/d099/n00999

Wire format (ZooKeeper 3.x, see zookeeper-jute/src/main/resources/zookeeper.jute):
  frame            int length, then `length` bytes
  ConnectRequest   int protocolVersion=0, long lastZxidSeen=0, int timeOut,
                   long sessionId=0, buffer passwd (16 zero bytes), bool readOnly
  ConnectResponse  int protocolVersion, int timeOut, long sessionId, buffer passwd, [bool readOnly]
  RequestHeader    int xid, int type        (create=1, getData=4, setData=5, closeSession=-11)
  ReplyHeader      int xid, long zxid, int err
  CreateRequest    string path, buffer data, vector<ACL> acl, int flags
  GetDataRequest   string path, bool watch
  SetDataRequest   string path, buffer data, int version

Each worker keeps `window` requests in flight on one connection: it reads
whatever replies arrived, checks every header (xid in order, err == 0) and
sends as many new requests as it got replies.  Workers are processes (one
connection each) so that they scale past the GIL; bench.py pins them with
os.sched_setaffinity.
"""
import argparse
import json
import multiprocessing
import os
import random
import resource
import signal
import socket
import struct
import sys
import time

OP_CREATE = 1
OP_GETDATA = 4
OP_SETDATA = 5
OP_CLOSE = -11

_I = struct.Struct(">i")
_HDR = struct.Struct(">iii")        # frame length, xid, type
_REPLY = struct.Struct(">iqi")      # xid, zxid, err
# vector<ACL> with one entry: perms=ALL(31), id=world:anyone; then flags=0 (persistent)
_OPEN_ACL_FLAGS = (_I.pack(1) + _I.pack(31) + _I.pack(5) + b"world" + _I.pack(6) + b"anyone"
                   + _I.pack(0))


class ProtocolError(Exception):
    pass


def jstr(b):
    return _I.pack(len(b)) + b


def connect(host, port, timeout_ms=30000, sock_timeout=10.0):
    """Opens a session; returns (socket, session_id, negotiated_timeout)."""
    s = socket.create_connection((host, port), timeout=sock_timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    body = struct.pack(">iqiq", 0, 0, timeout_ms, 0) + jstr(b"\0" * 16) + b"\0"
    s.sendall(_I.pack(len(body)) + body)
    frame = recv_frame(s)
    if len(frame) < 36:
        raise ProtocolError("short ConnectResponse (%d bytes)" % len(frame))
    _proto, neg_timeout, sid = struct.unpack_from(">iiq", frame, 0)
    if neg_timeout <= 0 or sid == 0:
        raise ProtocolError("session refused (timeout %d, id %#x)" % (neg_timeout, sid))
    return s, sid, neg_timeout


def recv_exact(s, n):
    out = bytearray()
    while len(out) < n:
        b = s.recv(n - len(out))
        if not b:
            raise ProtocolError("connection closed by server")
        out += b
    return bytes(out)


def recv_frame(s):
    (n,) = _I.unpack(recv_exact(s, 4))
    return recv_exact(s, n)


def close_session(s, xid=0x7ffffff0):
    """Sends closeSession and waits for its reply (best effort), then closes the socket."""
    try:
        s.settimeout(5.0)
        s.sendall(_HDR.pack(8, xid, OP_CLOSE))
        while True:
            f = recv_frame(s)
            if _REPLY.unpack_from(f, 0)[0] == xid:
                break
    except (OSError, ProtocolError, struct.error):
        pass
    finally:
        s.close()


def call(s, xid, op, body):
    """One synchronous request; returns (zxid, err, reply body)."""
    s.sendall(_HDR.pack(8 + len(body), xid, op) + body)
    while True:
        f = recv_frame(s)
        rxid, zxid, err = _REPLY.unpack_from(f, 0)
        if rxid == xid:
            return zxid, err, f[16:]
        if rxid not in (-1, -2):  # watch events / pings are not ours
            raise ProtocolError("reply xid %d, expected %d" % (rxid, xid))


def create_body(path, data):
    return jstr(path) + jstr(data) + _OPEN_ACL_FLAGS


def get_body(path):
    return jstr(path) + b"\0"


def set_body(path, data, version=-1):
    return jstr(path) + jstr(data) + _I.pack(version)


# The layout's twin is zkbench.c's (--op load: layout, znode_path), which creates the tree
# bench/scale.py reads back with these; scale.py checks after each load that both name the
# same last znode.

def znode_path(root, parent, child):
    return b"%s/d%03d/n%05d" % (root, parent, child)


def layout(n, parents):
    """(parents, children per parent) for n znodes; the last parent may be short."""
    parents = max(1, min(parents, n))
    per = -(-n // parents)
    return parents, per


def all_paths(root, n, parents):
    p, per = layout(n, parents)
    k = 0
    for d in range(p):
        for c in range(per):
            if k >= n:
                return
            yield znode_path(root, d, c)
            k += 1


def last_path(root, n, parents):
    p, per = layout(n, parents)
    return znode_path(root, (n - 1) // per, (n - 1) % per)


# --------------------------------------------------------------------------
# The pipelined worker
# --------------------------------------------------------------------------

def _cpu_seconds():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime, ru.ru_stime


def pipeline(s, requests, window, deadline=None, record_latency=False, first_xid=1):
    """Runs `requests` (an iterator of (op, body)) over socket `s` with `window` in flight.

    Stops when the iterator is exhausted or, if `deadline` (time.monotonic) is set, when
    it passes; waits for every outstanding reply either way.  Returns a dict with
    ops, errors (err != 0, by code), wall seconds, CPU seconds of this process and,
    if asked, per-request latencies in microseconds."""
    s.settimeout(60.0)
    pack_hdr = _HDR.pack
    unpack_reply = _REPLY.unpack_from
    unpack_len = _I.unpack_from
    perf = time.perf_counter_ns
    mono = time.monotonic
    sent_at = []  # ring of send times (record_latency only), replies come back in order
    lat = []
    xid = first_xid
    next_xid = first_xid  # xid expected in the next reply
    errors = {}
    done = 0
    outstanding = 0
    exhausted = False
    it = iter(requests)
    buf = bytearray()
    u0, s0 = _cpu_seconds()
    t0 = mono()

    def send(k):
        nonlocal xid, outstanding, exhausted
        parts = []
        now = perf() if record_latency else 0
        for _ in range(k):
            try:
                op, body = next(it)
            except StopIteration:
                exhausted = True
                break
            parts.append(pack_hdr(8 + len(body), xid, op))
            parts.append(body)
            xid += 1
            outstanding += 1
            if record_latency:
                sent_at.append(now)
        if parts:
            s.sendall(b"".join(parts))

    send(window)
    head = 0  # index into sent_at of the oldest outstanding request
    while outstanding:
        chunk = s.recv(1 << 20)
        if not chunk:
            raise ProtocolError("connection closed by server with %d requests outstanding"
                                % outstanding)
        buf += chunk
        pos = 0
        got = 0
        end = len(buf)
        now = perf() if record_latency else 0
        while end - pos >= 4:
            (n,) = unpack_len(buf, pos)
            if end - pos - 4 < n:
                break
            rxid, _zxid, err = unpack_reply(buf, pos + 4)
            pos += 4 + n
            if rxid < 0:  # -1 watch event, -2 ping: not ours
                continue
            if rxid != next_xid:
                raise ProtocolError("reply xid %d, expected %d" % (rxid, next_xid))
            next_xid += 1
            if err:
                errors[err] = errors.get(err, 0) + 1
            if record_latency:
                lat.append((now - sent_at[head]) // 1000)
                head += 1
            got += 1
        if pos:
            del buf[:pos]
        if record_latency and head > 65536:
            del sent_at[:head]
            head = 0
        done += got
        outstanding -= got
        if got and not exhausted and (deadline is None or mono() < deadline):
            send(got)
    wall = mono() - t0
    u1, s1 = _cpu_seconds()
    out = {"ops": done, "errors": sum(errors.values()), "error_codes": errors,
           "wall_s": wall, "cpu_user_s": u1 - u0, "cpu_sys_s": s1 - s0, "last_xid": xid - 1}
    if record_latency:
        out["lat_us"] = lat
    return out


# --------------------------------------------------------------------------
# Workloads, each run by one worker process over its own session
# --------------------------------------------------------------------------

def _pin(cpus):
    if cpus:
        try:
            os.sched_setaffinity(0, cpus)
        except OSError:
            pass


def _wait_until(t):
    """Sleeps until wall-clock time t (the common start of all workers)."""
    while True:
        d = t - time.time()
        if d <= 0:
            return
        time.sleep(min(d, 0.05))


def _load_worker(args):
    host, port, root, n, parents, size, window, index, nworkers, cpus, start_at = args
    _pin(cpus)
    data = bytes(random.Random(index).getrandbits(8) for _ in range(size))
    p, per = layout(n, parents)
    tail = jstr(data) + _OPEN_ACL_FLAGS

    def reqs():
        for d in range(index, p, nworkers):
            base = b"%s/d%03d/n" % (root, d)
            for c in range(per):
                if d * per + c >= n:
                    return
                path = base + b"%05d" % c
                yield OP_CREATE, _I.pack(len(path)) + path + tail

    s, _sid, _to = connect(host, port)
    try:
        _wait_until(start_at)
        r = pipeline(s, reqs(), window)
        r["t_end"] = time.time()
        return r
    finally:
        close_session(s)


def _bench_worker(args):
    (host, port, op, root, n, parents, size, window, duration, seed, record_latency,
     cpus, start_at) = args
    _pin(cpus)
    rnd = random.Random(seed)
    p, per = layout(n, parents)
    data = bytes(rnd.getrandbits(8) for _ in range(size))
    # A pool of prepared bodies for random znodes; cycling through it costs
    # no random() call per request.
    pool = []
    for _ in range(4096):
        k = rnd.randrange(n)
        path = znode_path(root, k // per, k % per)
        pool.append(get_body(path) if op == "get" else set_body(path, data))
    code = OP_GETDATA if op == "get" else OP_SETDATA

    def reqs():
        while True:
            for b in pool:
                yield code, b

    s, _sid, _to = connect(host, port)
    try:
        # Start together: every worker has its session before the clock runs.
        _wait_until(start_at)
        r = pipeline(s, reqs(), window, deadline=time.monotonic() + duration,
                     record_latency=record_latency)
        r["t_end"] = time.time()
        return r
    finally:
        close_session(s)


def _worker_init():
    # A parent's SIGTERM/SIGINT handlers must not run in the workers (Pool.terminate()
    # sends SIGTERM; a handler raising SystemExit there can leave the pool hanging).
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_workers(fn, argsets, start_at=None, on_start=None, on_end=None):
    """Runs fn over argsets, one process each.  on_start() is called at wall time start_at
    (when the workers begin, each already connected), on_end() when the last one is done."""
    if len(argsets) == 1 and on_start is None and on_end is None:
        return [fn(argsets[0])]
    ctx = multiprocessing.get_context("fork")
    pool = ctx.Pool(len(argsets), initializer=_worker_init)
    try:
        ar = pool.map_async(fn, argsets)
        if on_start is not None:
            _wait_until(start_at)
            on_start()
        res = ar.get()
        if on_end is not None:
            on_end()
        pool.close()
        pool.join()
        return res
    finally:
        pool.terminate()


def _start_time(conns):
    """A common start far enough ahead for every worker to fork and connect."""
    return time.time() + 0.3 + 0.05 * conns


def ensure_parents(host, port, root, n, parents):
    """Creates root and its parent directories (NODEEXISTS is fine); returns how many were new."""
    p, _per = layout(n, parents)
    s, _sid, _to = connect(host, port)
    try:
        bodies = [(OP_CREATE, create_body(root, b""))]
        bodies += [(OP_CREATE, create_body(b"%s/d%03d" % (root, d), b"")) for d in range(p)]
        r = pipeline(s, bodies, 200)
    finally:
        close_session(s)
    bad = {k: v for k, v in r["error_codes"].items() if k != -110}  # -110 NODEEXISTS
    if bad:
        raise ProtocolError("creating parents failed: %r" % bad)
    return r["ops"] - r["errors"]


def load(host, port, n, root=b"/bench", parents=100, size=100, conns=4, window=1000, cpus=None,
         on_start=None, on_end=None):
    """Creates n znodes of `size` bytes under root/dNNN/nNNNNN; returns a summary dict.
    Wall time runs from the common start (all workers connected) to the last reply."""
    ensure_parents(host, port, root, n, parents)
    start_at = _start_time(conns)
    argsets = [(host, port, root, n, parents, size, window, i, conns, cpus, start_at)
               for i in range(conns)]
    res = _run_workers(_load_worker, argsets, start_at, on_start, on_end)
    wall = max(r["t_end"] for r in res) - start_at
    return _merge(res, wall)


def bench(host, port, op, n, root=b"/bench", parents=100, size=100, conns=1, window=1,
          duration=5.0, record_latency=True, cpus=None, seed=1, on_start=None, on_end=None):
    """Closed-loop get or set against random existing znodes for `duration` seconds;
    returns a summary dict (ops/s over the longest worker's run)."""
    start_at = _start_time(conns)
    argsets = [(host, port, op, root, n, parents, size, window, duration, seed + i,
                record_latency, cpus, start_at) for i in range(conns)]
    res = _run_workers(_bench_worker, argsets, start_at, on_start, on_end)
    return _merge(res, None)  # wall = the longest worker's measured run


def _merge(res, wall):
    ops = sum(r["ops"] for r in res)
    errs = {}
    for r in res:
        for k, v in r["error_codes"].items():
            errs[k] = errs.get(k, 0) + v
    w = wall if wall is not None else max(r["wall_s"] for r in res)
    cpu = sum(r["cpu_user_s"] + r["cpu_sys_s"] for r in res)
    out = {"ops": ops, "errors": sum(errs.values()), "error_codes": {str(k): v for k, v in errs.items()},
           "wall_s": w, "ops_per_s": ops / w if w > 0 else 0.0,
           "gen_cpu_s": cpu, "gen_cpu_user_s": sum(r["cpu_user_s"] for r in res),
           "gen_cpu_sys_s": sum(r["cpu_sys_s"] for r in res),
           "gen_cpu_util": cpu / w if w > 0 else 0.0,  # 1.0 = one core busy all the time
           "workers": len(res)}
    lat = [x for r in res for x in r.get("lat_us", ())]
    if lat:
        lat.sort()
        out["lat_us"] = {"p50": percentile(lat, 50), "p90": percentile(lat, 90),
                         "p99": percentile(lat, 99), "p999": percentile(lat, 99.9),
                         "max": lat[-1], "mean": sum(lat) / len(lat), "count": len(lat)}
    return out


def percentile(sorted_vals, p):
    if not sorted_vals:
        return None
    k = min(len(sorted_vals) - 1, max(0, int(round(p / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


def try_get(host, port, path, timeout=2.0):
    """Opens a session and reads `path`; returns its data length, or raises."""
    s, _sid, _to = connect(host, port, sock_timeout=timeout)
    try:
        _zxid, err, body = call(s, 1, OP_GETDATA, get_body(path))
        if err:
            raise ProtocolError("getData %s: err %d" % (path.decode(), err))
        (dlen,) = _I.unpack_from(body, 0)
        return dlen
    finally:
        close_session(s)


def try_session(host, port, timeout=2.0):
    s, sid, _to = connect(host, port, sock_timeout=timeout)
    close_session(s)
    return sid


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=["load", "bench", "ready"])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("-n", type=int, default=100000, help="znodes (load) / key space (bench)")
    ap.add_argument("--parents", type=int, default=100)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--conns", type=int, default=4)
    ap.add_argument("--window", type=int, default=1000)
    ap.add_argument("--op", choices=["get", "set"], default="get")
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--path", default="/")
    ap.add_argument("--cpus", default="", help="pin workers to these CPUs, e.g. 0")
    a = ap.parse_args(argv)
    cpus = {int(c) for c in a.cpus.split(",") if c} or None
    if a.mode == "load":
        r = load(a.host, a.port, a.n, parents=a.parents, size=a.size, conns=a.conns,
                 window=a.window, cpus=cpus)
    elif a.mode == "bench":
        r = bench(a.host, a.port, a.op, a.n, parents=a.parents, size=a.size, conns=a.conns,
                  window=a.window, duration=a.duration, cpus=cpus)
    else:
        r = {"data_len": try_get(a.host, a.port, a.path.encode())}
    json.dump(r, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 1 if r.get("errors") else 0


if __name__ == "__main__":
    sys.exit(main())
