#!/usr/bin/python3
"""One parent with a million children (issue 20), measured by hand on zkd:

    /usr/bin/python3 bench/million_children.py [--wide 1000000] [--out FILE.json]

Rows, each with a get 1x1 probe on another session (p50/p99/p99.9/max, microseconds) for a
baseline second before and for the whole phase:
  create    W children under /wide/d000 (pipelined, 1000 in flight)
  list      one raw getChildren of the parent: seconds and reply bytes
  zkfs ls   `ls -f MOUNT/wide/d000 | wc -l` through a zkfs mount; zkfs peak RSS (VmHWM)
  delete    all W by a client loop (pipelined delete, 1000 in flight)
  zkfs rm   W again (or --fuse-wide), then `find MOUNT/wide/d000 -mindepth 1 -delete`
zkd's RSS after each phase.  Not part of the suite (minutes at 1M); the result file of record
is bench/results/2026-12-06-million-children.md."""
import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)
import scale as S  # noqa: E402
import bench as B  # noqa: E402
import loader  # noqa: E402

PROBE_N, PROBE_PARENTS = 10000, 10
WIDE_ROOT = b"/wide"
PARENT = WIDE_ROOT + b"/d000"


def phase(srv, workdir, fn):
    probe = S.Probe(srv.port, PROBE_N, PROBE_PARENTS, workdir)
    time.sleep(1.2)
    t0 = time.monotonic()
    extra = fn() or {}
    t1 = time.monotonic()
    probe.finish()
    out = {"seconds": t1 - t0, "baseline": probe.window(probe.t0 + 0.2, t0),
           "during": probe.window(t0, t1), "zkd_rss_bytes": B.rss(srv.pid)}
    out.update(extra)
    return out


def create(srv, w):
    r = loader.load("127.0.0.1", srv.port, w, root=WIDE_ROOT, parents=1, size=0, conns=1,
                    window=1000)
    return {"errors": r["errors"], "per_s": r["ops_per_s"]}


def delete_all(srv, w):
    bodies = ((S.OP_DELETE, loader.jstr(b"%s/n%05d" % (PARENT, c)) + struct.pack(">i", -1)) for c in range(w))
    r = S.pipelined(srv.port, bodies)
    return {"errors": r["errors"]}


def mount(srv, workdir):
    mnt = os.path.join(workdir, "mnt")
    os.makedirs(mnt)
    log = open(os.path.join(workdir, "zkfs.log"), "ab")
    p = subprocess.Popen([os.path.join(S.BUILD_BIN, "zkfs"), "127.0.0.1:%d" % srv.port, mnt, "-f"],
                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while not os.path.ismount(mnt):
        if p.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("zkfs did not mount")
        time.sleep(0.05)
    return p, mnt


def unmount(p, mnt):
    subprocess.run(["fusermount3", "-u", mnt], capture_output=True, timeout=60)
    try:
        p.wait(30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(10)


def mem(pid):
    st = B.proc_status(pid)
    return {k: st.get(k) for k in ("VmRSS", "VmHWM")}


def sh_timed(cmd):
    t0 = time.monotonic()
    r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=3600)
    return {"cmd": cmd, "rc": r.returncode, "stdout": r.stdout.strip()[-200:],
            "stderr": r.stderr.strip()[-400:], "wall_s": time.monotonic() - t0}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wide", type=int, default=1000000)
    ap.add_argument("--fuse-wide", type=int, help="children for the zkfs rm row (default --wide)")
    ap.add_argument("--out")
    args = ap.parse_args()
    w = args.wide
    fw = args.fuse_wide or w
    workdir = tempfile.mkdtemp(prefix="million-")
    srv = S.make_server("zkd", workdir, {"cfg": {}}, None)
    res = {"wide": w, "fuse_wide": fw}
    zkfs = None
    try:
        B.start_timed(srv, timeout=300)
        loader.load("127.0.0.1", srv.port, PROBE_N, root=S.ROOT_PATH, parents=PROBE_PARENTS,
                    size=100, conns=1)
        res["zkd_rss_bytes_before"] = B.rss(srv.pid)
        res["create"] = phase(srv, workdir, lambda: create(srv, w))
        S.log("create: %s" % res["create"])
        res["list"] = phase(srv, workdir, lambda: S.timed_get_children(srv.port, PARENT))
        S.log("list: %s" % res["list"])
        zkfs, mnt = mount(srv, workdir)
        d = os.path.join(mnt, PARENT.decode().lstrip("/"))
        res["zkfs_ls"] = phase(srv, workdir, lambda: sh_timed("ls -f %s | wc -l" % d))
        res["zkfs_ls"]["zkfs"] = mem(zkfs.pid)
        S.log("zkfs ls: %s" % res["zkfs_ls"])
        res["delete"] = phase(srv, workdir, lambda: delete_all(srv, w))
        S.log("delete: %s" % res["delete"])
        res["create_again"] = create(srv, fw)
        res["zkfs_rm"] = phase(srv, workdir,
                               lambda: sh_timed("find %s -mindepth 1 -delete" % d))
        res["zkfs_rm"]["zkfs"] = mem(zkfs.pid)
        S.log("zkfs rm: %s" % res["zkfs_rm"])
    finally:
        if zkfs:
            unmount(zkfs, mnt)
        srv.close()
        shutil.rmtree(workdir, ignore_errors=True)
    text = json.dumps(res, indent=1, default=str)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
