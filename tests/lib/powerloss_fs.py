"""A FUSE file system that forgets, at a "cut", everything that was never made durable.

Power-loss testing (issue 17).  A process that survives SIGKILL keeps everything it wrote, because
the kernel's page cache survives it; a power cut keeps only what was made durable.  This module is
a pass-through file system over a backing directory that tracks what is durable under the strict
POSIX model and, when the test cuts the power, throws the rest away.

The model
---------
Everything present when the file system is mounted is durable.  Afterwards:

  * file data and size: a write(), truncate() or fallocate() is durable only once fsync() or
    fdatasync() (the same for this purpose) has been called on some descriptor of that file.
    The fsync makes the file's data and size durable, NOT the directory entry that names it.
  * directory entries: create, mkdir, symlink, link, rename (on both sides) and unlink/rmdir of an
    entry are durable only once the directory holding the entry is fsync'd.  A new file whose
    parent was never fsync'd disappears at the cut, whatever was fsync'd on the file; an un-synced
    rename is reverted (the old name comes back, naming the inode it named before); an un-synced
    unlink is undone (the file comes back, with its durable contents).
  * nothing else makes anything durable: not close(), not sync_file_range() (FUSE never sees it:
    with the kernel's write-through FUSE cache the pages are clean), not an fsync of another file,
    not the fsync of a parent of the parent (durability is per directory, all the way to the root:
    a durable entry in a directory that is itself not durably named is lost with it).

The cut may optionally tear writes (`torn`): after the rollback, a random prefix (possibly all or
nothing) of each file's last un-synced write survives, as when a sector or page of a write that was
in flight reached the disk and the rest did not.

Not modelled (limits): metadata other than names, data and size (mode, owner, times, xattrs are
passed through and always survive); sync()/syncfs() (FUSE does not forward them); O_SYNC/O_DSYNC
writes (treated as un-synced writes: stricter than a disk); mmap writes (the kernel may write them
back at any time); reordering between what *was* made durable (a real disk keeps all of it, as we
do); hard-link counts across durable and non-durable names (each durable name gets the inode's
durable data).  While mounted, every change to the backing directory must go through the mount
(the tracking sees only what passes through it).

How it works
------------
Files are tracked by the backing inode number.  On the first change to a file after its last
fsync the file becomes "dirty" and its size is recorded as the durable size; every later write or
shrinking truncate saves the bytes it overwrites below the durable size (an undo journal), so the
durable contents can be rebuilt by applying the journal backwards and truncating to the durable
size.  fsync drops the journal.  On the first change to a directory after its last fsync its
entries (name -> inode, kind) are recorded; fsyncdir drops the record.  Unlinked files and removed
directories are kept alive by a hard link (or a rename) into a graveyard next to the backing
directory, so an un-synced unlink can be undone and inode numbers are never reused while mounted.

The cut, when the mount ends (the test unmounts it after killing the server): every dirty file is
rolled back in place, then the durable tree is materialised into a NEW directory: starting from the
root, each directory's durable entries (the recorded ones if the directory is dirty, its current
ones otherwise) are re-created there, files as hard links to the rolled-back inodes.  The next
mount serves that directory: a fresh mount, a fresh page cache, as after a reboot.

Freeze: before killing the server the test freezes the file system (a command on its stdin), so
nothing the dying server (or a forked snapshot child that SIGKILL of the parent leaves running)
does after the cut instant reaches the disk: every operation fails with EIO from then on.

Why Python (fusepy on libfuse2, Debian's python3-fusepy) and not a C libfuse3 program: the model is
bookkeeping (maps of directory entries, undo journals, a tree walk at the cut) that is short and
easy to check in Python, and zkd's disk traffic is batched (group commit: one write() and one
fdatasync() per batch, the log preallocated with fallocate()), so the file system costs per
batch, not per request: a pwrite()+fdatasync() pair through the mount takes about 0.5 ms on the
2-core test machine, and the durability tests run hundreds of writes per cut.  fusepy
does not bind libfuse2's fallocate, which zkd's log preallocation uses (without it zkd falls back to
plain appends, a path we would then not test); this module adds it (FuseWithFallocate).

Process and protocol
--------------------
    python3 -m tests.lib.powerloss_fs BACKING MOUNTPOINT OUTDIR [--seed N] [--torn]

runs in the foreground until MOUNTPOINT is unmounted, then applies the cut, writes the durable tree
to OUTDIR (which must not exist; same file system as BACKING) and prints one JSON line: the report
of what the cut undid.  Commands on stdin, each answered by one line on stdout:
"freeze" -> "ok"; "arm N [OP]" -> "ok", and the file system freezes itself right after the N-th
mutating operation (of kind OP, if given) from now (write, truncate, fallocate, create, mkdir, rmdir, unlink, rename,
link, symlink, fsync, fsyncdir), so cuts land anywhere in the server's stream of operations, e.g.
between a write() and its fdatasync(); "wait-frozen SECONDS" -> "frozen <why>" or "timeout";
"stats" -> JSON counters; "ping" -> "ok".  PowerLossFS below drives all this
for tests: mount(), freeze(), cut() (freeze, kill the given processes, unmount, remount the
survivors), close().
"""
import argparse
import atexit
import ctypes
import errno
import json
import os
import random
import shutil
import stat
import subprocess
import sys
import threading
import time

# --------------------------------------------------------------------------
# The model and the pass-through (runs in the daemon process)
# --------------------------------------------------------------------------

FALLOC_FL_KEEP_SIZE = 1

# Operations that change the backing directory or make something durable; an armed cut counts
# them.
MUTATING = frozenset(("write", "truncate", "fallocate", "create", "mkdir", "rmdir", "unlink",
                      "rename", "link", "symlink", "fsync", "fsyncdir"))


def _kind(mode):
    if stat.S_ISDIR(mode):
        return "d"
    if stat.S_ISLNK(mode):
        return "l"
    return "f"


class _Dirty:
    """A file changed since its last fsync: its durable size and the undo journal."""

    __slots__ = ("durable_size", "undo", "last_write")

    def __init__(self, durable_size):
        self.durable_size = durable_size
        self.undo = []          # (offset, old bytes), oldest first; only bytes below durable_size
        self.last_write = None  # (offset, data) of the last un-synced write, for torn writes


class Model:
    """The durability bookkeeping; every method is called with self.lock held."""

    def __init__(self, root, grave):
        self.root = root
        self.grave = grave
        self.files = {}  # ino -> _Dirty
        self.dirs = {}   # dir ino -> {name: (ino, kind)} as of its last fsync
        self.stats = {"writes": 0, "write_bytes": 0, "fsyncs": 0, "fsyncdirs": 0,
                      "dir_ops": 0, "fallocates": 0, "truncates": 0}

    def real(self, path):
        return self.root + path

    # -- directories ------------------------------------------------------

    def entries_now(self, dirpath):
        out = {}
        for name in os.listdir(dirpath):
            st = os.lstat(os.path.join(dirpath, name))
            out[name] = (st.st_ino, _kind(st.st_mode))
        return out

    def dirty_dir(self, real_dir):
        self.stats["dir_ops"] += 1
        ino = os.lstat(real_dir).st_ino
        if ino not in self.dirs:
            self.dirs[ino] = self.entries_now(real_dir)

    def dirty_parent(self, path):
        self.dirty_dir(os.path.dirname(self.real(path)) or self.root)

    def bury(self, real_path):
        """Keeps the inode at real_path alive in the graveyard before its name goes away."""
        st = os.lstat(real_path)
        if stat.S_ISDIR(st.st_mode):
            if os.listdir(real_path):
                raise OSError(errno.ENOTEMPTY, "directory not empty")
            os.rename(real_path, os.path.join(self.grave, "d%d" % st.st_ino))
            return True  # moved: the name is gone already
        dst = os.path.join(self.grave, "%d" % st.st_ino)
        if not os.path.lexists(dst):
            os.link(real_path, dst, follow_symlinks=False)
        return False

    # -- files ------------------------------------------------------------

    def dirty_file(self, fd):
        st = os.fstat(fd)
        d = self.files.get(st.st_ino)
        if d is None:
            d = self.files[st.st_ino] = _Dirty(st.st_size)
        return d, st

    def before_write(self, fd, offset, length):
        d, st = self.dirty_file(fd)
        end = min(offset + length, d.durable_size, st.st_size)
        if end > offset:
            d.undo.append((offset, os.pread(fd, end - offset, offset)))
        return d

    def before_truncate(self, fd, length):
        d, st = self.dirty_file(fd)
        end = min(st.st_size, d.durable_size)
        if length < end:
            d.undo.append((length, os.pread(fd, end - length, length)))
        d.last_write = None
        self.stats["truncates"] += 1

    def synced(self, ino):
        self.stats["fsyncs"] += 1
        self.files.pop(ino, None)

    def synced_dir(self, ino):
        self.stats["fsyncdirs"] += 1
        self.dirs.pop(ino, None)

    # -- the cut ----------------------------------------------------------

    def cut(self, out, seed, torn):
        """Rolls every dirty file back in place and materialises the durable tree into `out`.
        Returns the report (a dict)."""
        rng = random.Random(seed)
        where = {}  # ino -> a current path (backing tree first, then graveyard)
        for dirpath, dirnames, filenames in os.walk(self.root):
            for name in dirnames + filenames:
                p = os.path.join(dirpath, name)
                where.setdefault(os.lstat(p).st_ino, p)
        where.setdefault(os.lstat(self.root).st_ino, self.root)
        for name in sorted(os.listdir(self.grave)):
            p = os.path.join(self.grave, name)
            where.setdefault(os.lstat(p).st_ino, p)
        rel = lambda p: os.path.relpath(p, self.root) if p.startswith(self.root) else "(unlinked)"
        report = {"rolled_back": [], "torn": [], "dirs_reverted": [], "missing": []}

        dirty = sorted((where[ino], ino) for ino in self.files if ino in where)
        for path, ino in dirty:
            d = self.files[ino]
            fd = os.open(path, os.O_RDWR)
            try:
                size = os.fstat(fd).st_size
                for off, old in reversed(d.undo):
                    os.pwrite(fd, old, off)
                os.ftruncate(fd, d.durable_size)
                item = {"path": rel(path), "size": size, "durable_size": d.durable_size,
                        "undone_writes": len(d.undo)}
                if torn and d.last_write is not None:
                    off, data = d.last_write
                    keep = rng.randrange(len(data) + 1)
                    if keep:
                        os.pwrite(fd, data[:keep], off)
                    report["torn"].append({"path": rel(path), "offset": off, "length": len(data),
                                           "kept": keep})
                report["rolled_back"].append(item)
            finally:
                os.close(fd)

        def entries(dir_ino):
            if dir_ino in self.dirs:
                return self.dirs[dir_ino]
            p = where.get(dir_ino)
            return self.entries_now(p) if p else {}

        os.mkdir(out)
        stack = [(os.lstat(self.root).st_ino, out, "")]
        while stack:
            dir_ino, out_dir, relpath = stack.pop()
            durable = entries(dir_ino)
            if dir_ino in self.dirs:
                cur = where.get(dir_ino)
                now = self.entries_now(cur) if cur else {}
                if now != durable:
                    report["dirs_reverted"].append({
                        "dir": relpath or ".",
                        "forgotten": sorted(n for n in now if now[n] != durable.get(n)),
                        "restored": sorted(n for n in durable if durable[n] != now.get(n))})
            for name in sorted(durable):
                ino, kind = durable[name]
                dst = os.path.join(out_dir, name)
                src = where.get(ino)
                if kind == "d":
                    os.mkdir(dst)
                    stack.append((ino, dst, os.path.join(relpath, name)))
                elif src is None:
                    report["missing"].append(os.path.join(relpath, name))
                elif kind == "l":
                    os.symlink(os.readlink(src), dst)
                else:
                    os.link(src, dst, follow_symlinks=False)
        return report


def make_operations(root, grave):
    import fusepy

    class PowerLossOps(fusepy.Operations):
        """Pass-through to `root` with the Model's bookkeeping; one lock serialises everything."""

        use_ns = True
        flag_nullpath_ok = True  # operations on open files get their fh (the backing fd)

        def __init__(self):
            self.model = Model(root, grave)
            self.mutex = threading.Lock()
            self.frozen = False
            self.frozen_why = None
            self.frozen_event = threading.Event()
            self.armed = None  # freeze after this many more mutating operations
            self.armed_op = None  # ... of this kind only (None: any mutating operation)

        def __call__(self, op, *args):
            with self.mutex:
                if self.frozen and op not in ("flush", "release", "releasedir", "destroy", "init"):
                    raise fusepy.FuseOSError(errno.EIO)
                if not hasattr(self, op):
                    raise fusepy.FuseOSError(errno.ENOSYS)
                try:
                    return getattr(self, op)(*args)
                finally:
                    if self.armed is not None and op in MUTATING and \
                            self.armed_op in (None, op):
                        self.armed -= 1
                        if self.armed <= 0:
                            self.freeze_now("after %s" % op)

        def arm(self, n, op=None):
            self.armed = n
            self.armed_op = op

        def freeze_now(self, why):
            self.frozen = True
            self.armed = None
            self.frozen_why = why
            self.frozen_event.set()

        def real(self, path):
            return self.model.real(path)

        # -- attributes and reading --------------------------------------

        def getattr(self, path, fh=None):
            st = os.fstat(fh) if path is None and fh is not None else os.lstat(self.real(path))
            d = {k: getattr(st, k) for k in ("st_mode", "st_nlink", "st_size", "st_uid",
                                             "st_gid", "st_ino", "st_blocks")}
            for k in ("st_atime", "st_mtime", "st_ctime"):
                d[k] = getattr(st, k + "_ns") if hasattr(st, k + "_ns") else getattr(st, k)
            return d

        def access(self, path, amode):
            if not os.access(self.real(path), amode):
                raise fusepy.FuseOSError(errno.EACCES)

        def opendir(self, path):
            return os.open(self.real(path), os.O_RDONLY | os.O_DIRECTORY)

        def releasedir(self, path, fh):
            os.close(fh)

        def readdir(self, path, fh):
            return [".", ".."] + os.listdir(self.real(path) if path is not None else fh)

        def readlink(self, path):
            return os.readlink(self.real(path))

        def statfs(self, path):
            sv = os.statvfs(self.real(path))
            return {k: getattr(sv, k) for k in ("f_bavail", "f_bfree", "f_blocks", "f_bsize",
                                                "f_favail", "f_ffree", "f_files", "f_flag",
                                                "f_frsize", "f_namemax")}

        def chmod(self, path, mode):
            os.chmod(self.real(path), mode)

        def chown(self, path, uid, gid):
            os.lchown(self.real(path), uid, gid)

        def utimens(self, path, times=None):
            os.utime(self.real(path), ns=times, follow_symlinks=False)

        # -- files --------------------------------------------------------

        def _flags(self, flags):
            # The kernel gives every write its offset; the backing fd must not append.  Keep the
            # fd readable so reads through any handle work.
            flags &= ~(os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_TRUNC)
            if flags & os.O_ACCMODE != os.O_RDONLY:
                flags = (flags & ~os.O_ACCMODE) | os.O_RDWR
            return flags

        def create(self, path, mode, fi=None):
            self.model.dirty_parent(path)
            fd = os.open(self.real(path), os.O_RDWR | os.O_CREAT | os.O_EXCL, mode)
            st = os.fstat(fd)
            self.model.files[st.st_ino] = _Dirty(0)
            return fd

        def open(self, path, flags):
            fd = os.open(self.real(path), self._flags(flags))
            if flags & os.O_TRUNC:
                self.model.before_truncate(fd, 0)
                os.ftruncate(fd, 0)
            return fd

        def read(self, path, size, offset, fh):
            return os.pread(fh, size, offset)

        def write(self, path, data, offset, fh):
            d = self.model.before_write(fh, offset, len(data))
            d.last_write = (offset, bytes(data))
            self.model.stats["writes"] += 1
            self.model.stats["write_bytes"] += len(data)
            return os.pwrite(fh, data, offset)

        def truncate(self, path, length, fh=None):
            fd = fh if fh is not None else os.open(self.real(path), os.O_RDWR)
            try:
                self.model.before_truncate(fd, length)
                os.ftruncate(fd, length)
            finally:
                if fh is None:
                    os.close(fd)

        def fallocate(self, path, mode, offset, length, fh):
            if mode & ~FALLOC_FL_KEEP_SIZE:
                raise fusepy.FuseOSError(errno.EOPNOTSUPP)
            self.model.dirty_file(fh)  # the size may grow; the contents below it do not change
            self.model.stats["fallocates"] += 1
            if _libc.fallocate(fh, mode, ctypes.c_int64(offset), ctypes.c_int64(length)):
                e = ctypes.get_errno()
                raise fusepy.FuseOSError(e)

        def fsync(self, path, datasync, fh):
            self.model.synced(os.fstat(fh).st_ino)

        def flush(self, path, fh):
            pass

        def release(self, path, fh):
            os.close(fh)

        # -- directories --------------------------------------------------

        def fsyncdir(self, path, datasync, fh):
            self.model.synced_dir(os.fstat(fh).st_ino)

        def mkdir(self, path, mode):
            self.model.dirty_parent(path)
            os.mkdir(self.real(path), mode)

        def rmdir(self, path):
            self.model.dirty_parent(path)
            if not self.model.bury(self.real(path)):
                os.rmdir(self.real(path))

        def unlink(self, path):
            self.model.dirty_parent(path)
            self.model.bury(self.real(path))
            os.unlink(self.real(path))

        def symlink(self, target, source):
            self.model.dirty_parent(target)
            os.symlink(source, self.real(target))

        def link(self, target, source):
            self.model.dirty_parent(target)
            os.link(self.real(source), self.real(target))

        def rename(self, old, new):
            self.model.dirty_parent(old)
            self.model.dirty_parent(new)
            if os.path.lexists(self.real(new)):
                a, b = os.lstat(self.real(old)), os.lstat(self.real(new))
                if a.st_ino == b.st_ino:
                    return
                if stat.S_ISDIR(b.st_mode):
                    self.model.dirty_dir(self.real(new))
                    if self.model.bury(self.real(new)):
                        os.rename(self.real(old), self.real(new))
                        return
                else:
                    self.model.bury(self.real(new))
            os.rename(self.real(old), self.real(new))

    return PowerLossOps()


_libc = ctypes.CDLL(None, use_errno=True)
_libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]


def _fuse_class():
    """fusepy's FUSE with libfuse2's fallocate bound (fusepy stops at ioctl; libfuse2's
    struct fuse_operations goes on with poll, write_buf, read_buf, flock, fallocate)."""
    import fusepy

    base = fusepy.fuse_operations
    if not any(f[0] == "fallocate" for f in base._fields_):
        class fuse_operations_fallocate(ctypes.Structure):
            _fields_ = list(base._fields_) + [
                ("poll", ctypes.c_voidp), ("write_buf", ctypes.c_voidp),
                ("read_buf", ctypes.c_voidp), ("flock", ctypes.c_voidp),
                ("fallocate", ctypes.CFUNCTYPE(
                    ctypes.c_int, ctypes.c_char_p, ctypes.c_int, fusepy.c_off_t, fusepy.c_off_t,
                    ctypes.POINTER(fusepy.fuse_file_info))),
            ]
        fusepy.fuse_operations = fuse_operations_fallocate

    class FuseWithFallocate(fusepy.FUSE):
        def fallocate(self, path, mode, offset, length, fip):
            return self.operations("fallocate", self._decode_optional_path(path), mode, offset,
                                   length, fip.contents.fh)

    return FuseWithFallocate


def _serve_commands(ops):
    for line in sys.stdin:
        cmd = line.strip()
        args = cmd.split()
        if cmd == "freeze":
            with ops.mutex:
                if not ops.frozen:
                    ops.freeze_now("on command")
            answer = "ok"
        elif args and args[0] == "arm":
            op = args[2] if len(args) > 2 else None
            if op is not None and op not in MUTATING:
                answer = "error: %s is not a mutating operation" % op
            else:
                with ops.mutex:
                    ops.arm(int(args[1]), op)
                answer = "ok"
        elif args and args[0] == "wait-frozen":
            answer = "frozen " + ops.frozen_why if ops.frozen_event.wait(float(args[1])) \
                else "timeout"
        elif cmd == "stats":
            with ops.mutex:
                answer = json.dumps(dict(ops.model.stats, dirty_files=len(ops.model.files),
                                         dirty_dirs=len(ops.model.dirs)))
        elif cmd == "ping":
            answer = "ok"
        else:
            answer = "error: unknown command %r" % cmd
        sys.stdout.write(answer + "\n")
        sys.stdout.flush()


def daemon_main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("backing")
    ap.add_argument("mountpoint")
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--torn", action="store_true")
    args = ap.parse_args(argv)
    backing = os.path.abspath(args.backing)
    grave = backing + ".grave"
    os.makedirs(grave, exist_ok=True)
    ops = make_operations(backing, grave)
    threading.Thread(target=_serve_commands, args=(ops,), daemon=True).start()
    fuse = _fuse_class()
    # hard_remove: an unlink really unlinks (no .fuse_hidden renames, which would show up as
    # directory operations of their own); default attribute caching is safe, every change to the
    # backing directory goes through this mount.
    fuse(ops, args.mountpoint, foreground=True, nothreads=False, big_writes=True,
         max_write=131072, hard_remove=True, fsname="powerloss", subtype="powerloss")
    with ops.mutex:
        ops.frozen = True
        report = ops.model.cut(os.path.abspath(args.out), args.seed, args.torn)
    report["stats"] = ops.model.stats
    report["frozen"] = ops.frozen_why
    sys.stdout.write(json.dumps(report) + "\n")
    sys.stdout.flush()
    return 0


# --------------------------------------------------------------------------
# The harness (runs in the test process)
# --------------------------------------------------------------------------

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYTHON = "/usr/bin/python3"


class PowerLossError(Exception):
    """The file system could not be mounted, unmounted or cut."""


def missing_reason():
    """Why a power-loss mount cannot run here, or None."""
    try:
        import fusepy
        del fusepy
    except (ImportError, OSError) as e:
        return "python3-fusepy unavailable (apt-get install python3-fusepy): %s" % e
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse missing"
    return None


def descendants(pid):
    """Every live descendant of `pid` (e.g. a forked snapshot child), deepest last."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            with open("/proc/%d/task/%d/children" % (p, p)) as f:
                kids = [int(x) for x in f.read().split()]
        except OSError:
            kids = []
        out += kids
        todo += kids
    return out


_live = []  # PowerLossFS instances with a daemon running, for the exit hook


@atexit.register
def _unmount_leftovers():
    """A crashed test run must not leave mounts behind (the daemons die with pytest: PDEATHSIG)."""
    for fs in list(_live):
        try:
            fs.close()
        except Exception:
            pass


class PowerLossFS:
    """A power-loss mount at `mountpoint` whose generations live under `state_dir`.

        fs = PowerLossFS(state_dir, mountpoint, seed=1, torn=True)
        fs.prepare(lambda backing: ...)   # optional: put durable files in place before the mount
        fs.mount()
        ... a server writes under fs.mountpoint ...
        report = fs.cut(kill=[srv])       # freeze, SIGKILL the servers (and their children),
                                          # unmount, apply the cut; remounts the survivors
        fs.close()                        # unmount for good (no cut applied to anything kept)

    Every cut's report (what was rolled back, torn, forgotten, restored) is kept in .reports.
    """

    def __init__(self, state_dir, mountpoint, seed=0, torn=False, name="plfs"):
        self.state_dir = os.path.abspath(str(state_dir))
        self.mountpoint = os.path.abspath(str(mountpoint))
        self.seed = seed
        self.torn = torn
        self.name = name
        self.gen = 0
        self.proc = None
        self.reports = []
        os.makedirs(self.state_dir, exist_ok=True)
        os.makedirs(self.mountpoint, exist_ok=True)
        os.makedirs(self.backing, exist_ok=True)
        self._stderr = None

    @property
    def backing(self):
        return os.path.join(self.state_dir, "gen%03d" % self.gen)

    def prepare(self, fn):
        """Calls fn(backing dir) before the first mount: what it puts there is durable."""
        if self.proc is not None:
            raise PowerLossError("prepare() must come before mount()")
        fn(self.backing)

    @property
    def mounted(self):
        # Not os.path.ismount: it stats the mount point, which fails on a frozen mount.
        with open("/proc/self/mountinfo") as f:
            return any(line.split()[4] == self.mountpoint for line in f)

    def mount(self, timeout=30.0):
        if self.proc is not None:
            raise PowerLossError("%s is mounted already" % self.mountpoint)
        out = os.path.join(self.state_dir, "gen%03d" % (self.gen + 1))
        self._stderr = open(os.path.join(self.state_dir, "daemon.log"), "ab")
        self._stderr.write(("=== gen %d\n" % self.gen).encode())
        self._stderr.flush()
        cmd = [PYTHON, "-m", "tests.lib.powerloss_fs", self.backing, self.mountpoint, out,
               "--seed", str(self.seed * 1000003 + self.gen)] + (["--torn"] if self.torn else [])
        env = dict(os.environ, PYTHONPATH=ROOT)
        from tests.lib.servers import _die_with_parent
        kw = {}
        if threading.current_thread() is threading.main_thread():
            kw["preexec_fn"] = _die_with_parent
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._stderr, **kw)
        _live.append(self)
        deadline = time.monotonic() + timeout
        while not self.mounted:
            if self.proc.poll() is not None:
                self._reap()
                raise PowerLossError("power-loss daemon exited while mounting:\n" + self.log_tail())
            if time.monotonic() > deadline:
                self._abort()
                raise PowerLossError("%s not mounted after %.0fs" % (self.mountpoint, timeout))
            time.sleep(0.01)
        if self.command("ping") != "ok":
            raise PowerLossError("power-loss daemon does not answer")
        return self

    def command(self, cmd):
        self.proc.stdin.write((cmd + "\n").encode())
        self.proc.stdin.flush()
        line = self.proc.stdout.readline().decode()
        if not line:
            raise PowerLossError("power-loss daemon gone:\n" + self.log_tail())
        return line.strip()

    def stats(self):
        return json.loads(self.command("stats"))

    def freeze(self):
        """From now on every operation on the mount fails with EIO: the instant of the cut."""
        if self.command("freeze") != "ok":
            raise PowerLossError("freeze failed")

    def arm(self, n, op=None):
        """Freeze right after the n-th mutating operation from now (see the module docstring);
        with `op` ("write", "fsync", ...), the n-th operation of that kind."""
        if self.command("arm %d%s" % (n, " " + op if op else "")) != "ok":
            raise PowerLossError("arm failed")

    def wait_frozen(self, timeout):
        """Waits until the file system froze (armed or commanded); returns why, or None on
        timeout."""
        answer = self.command("wait-frozen %f" % timeout)
        return answer[len("frozen "):] if answer.startswith("frozen") else None

    def _unmount(self, timeout=20.0):
        deadline = time.monotonic() + timeout
        while self.mounted:
            r = subprocess.run(["umount", self.mountpoint], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
            if r.returncode == 0 or not self.mounted:
                break
            if time.monotonic() > deadline:
                # Something still holds a file open: abort the connection, detach the mount.
                self._abort()
                break
            time.sleep(0.05)

    def _abort(self):
        try:
            dev = os.stat(self.mountpoint).st_dev
            with open("/sys/fs/fuse/connections/%d/abort" % os.minor(dev), "w") as f:
                f.write("1")
        except OSError:
            pass
        subprocess.run(["umount", "-l", self.mountpoint], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)

    def _reap(self, timeout=60.0):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            rest = self.proc.stdout.read().decode()
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rest = ""
        rc = self.proc.returncode
        self.proc = None
        if self in _live:
            _live.remove(self)
        if self._stderr:
            self._stderr.close()
            self._stderr = None
        return rc, rest

    def cut(self, kill=(), remount=True):
        """The power cut: freeze, SIGKILL every server in `kill` (tests/lib/servers.py launchers)
        and the processes they forked, unmount, apply the cut; then mount the survivors (unless
        remount=False).  Returns the cut's report."""
        if self.proc is None:
            raise PowerLossError("not mounted")
        t0 = time.monotonic()
        self.freeze()
        for srv in kill:
            if srv.running:
                kids = descendants(srv.pid)
                srv.kill()
                for pid in kids:  # forked by our server (a snapshot child), so ours to end
                    try:
                        os.kill(pid, 9)
                    except ProcessLookupError:
                        pass
        t1 = time.monotonic()
        self._unmount()
        t2 = time.monotonic()
        rc, rest = self._reap()
        t3 = time.monotonic()
        lines = [l for l in rest.splitlines() if l.startswith("{")]
        if rc != 0 or not lines:
            raise PowerLossError("power-loss daemon failed at the cut (status %s):\n%s" % (
                rc, self.log_tail()))
        report = json.loads(lines[-1])
        if report["missing"]:  # a durable name whose inode the model lost track of: our bug
            raise PowerLossError("cut lost inodes of durable entries %s" % report["missing"])
        old = self.backing
        self.gen += 1
        shutil.rmtree(old, ignore_errors=True)
        shutil.rmtree(old + ".grave", ignore_errors=True)
        self.reports.append(report)
        if remount:
            self.mount()
        # Seconds spent freezing and killing, unmounting, in the daemon's cut, remounting.
        report["timing"] = [round(t1 - t0, 3), round(t2 - t1, 3), round(t3 - t2, 3),
                            round(time.monotonic() - t3, 3)]
        return report

    def log_tail(self, n=40):
        try:
            with open(os.path.join(self.state_dir, "daemon.log"), "rb") as f:
                return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-n:])
        except OSError:
            return "(no daemon log)"

    def close(self):
        """Unmounts (if mounted) and stops the daemon; safe to call twice and after failures."""
        if self.proc is not None:
            self._unmount()
            self._reap()
        elif self.mounted:
            subprocess.run(["umount", "-l", self.mountpoint], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)


if __name__ == "__main__":
    sys.exit(daemon_main())
