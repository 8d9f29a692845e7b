"""The power-loss file system itself (tests/lib/powerloss_fs.py): what survives a cut.

Each test writes through the mount, cuts (unmount + rollback + fresh mount of the survivors) and
looks at what the fresh mount shows.  Every assertion about something being *gone* fails on a
plain pass-through, so these pin down the model, not just the plumbing.
"""
import ctypes
import errno
import os

import pytest

from tests.lib import powerloss_fs as P

pytestmark = pytest.mark.skipif(P.missing_reason() is not None, reason=str(P.missing_reason()))


@pytest.fixture
def plfs(tmp_path):
    made = []

    def make(seed=0, torn=False, prepare=None):
        fs = P.PowerLossFS(tmp_path / ("state%d" % len(made)), tmp_path / ("mnt%d" % len(made)),
                           seed=seed, torn=torn)
        made.append(fs)
        if prepare:
            fs.prepare(prepare)
        return fs.mount()

    try:
        yield make
    finally:
        for fs in made:
            fs.close()


def fsync_path(path):
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if os.path.isdir(path) else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file(path, data, sync=False, mode="wb"):
    with open(path, mode) as f:
        f.write(data)
        f.flush()
        if sync:
            os.fdatasync(f.fileno())


def read(path):
    with open(path, "rb") as f:
        return f.read()


def durable_file(name, data):
    def prepare(backing):
        write_file(os.path.join(backing, name), data)
    return prepare


def test_unsynced_write_is_gone_synced_one_stays(plfs):
    fs = plfs(prepare=durable_file("f", b"old contents"))
    m = fs.mountpoint
    write_file(m + "/f", b"NEW", mode="r+b")
    write_file(m + "/f", b" and an unsynced tail", mode="ab")
    fs.cut()
    assert read(m + "/f") == b"old contents"
    write_file(m + "/f", b"NEW", mode="r+b", sync=True)
    write_file(m + "/f", b"!", mode="ab")  # after the fsync: lost again
    report = fs.cut()
    assert read(m + "/f") == b"NEW contents"
    assert report["rolled_back"][0]["path"] == "f"


def test_sync_file_range_and_close_make_nothing_durable(plfs):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.sync_file_range.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    fs = plfs(prepare=durable_file("f", b"old"))
    fd = os.open(fs.mountpoint + "/f", os.O_RDWR)
    os.pwrite(fd, b"new and longer", 0)
    # SYNC_FILE_RANGE_WAIT_BEFORE | WRITE | WAIT_AFTER: writeback, not durability.
    assert libc.sync_file_range(fd, 0, 0, 7) == 0, os.strerror(ctypes.get_errno())
    os.close(fd)
    fs.cut()
    assert read(fs.mountpoint + "/f") == b"old"


def test_new_file_needs_its_directory_fsynced(plfs):
    fs = plfs()
    m = fs.mountpoint
    write_file(m + "/both-synced", b"data", sync=True)
    fsync_path(m)
    write_file(m + "/only-file-synced", b"data", sync=True)
    report = fs.cut()
    assert sorted(os.listdir(m)) == ["both-synced"]
    assert read(m + "/both-synced") == b"data"
    assert report["dirs_reverted"] == [{"dir": ".", "forgotten": ["only-file-synced"],
                                        "restored": []}]


def test_dir_fsynced_but_file_not_leaves_an_empty_file(plfs):
    fs = plfs()
    m = fs.mountpoint
    write_file(m + "/f", b"never synced")
    fsync_path(m)
    fs.cut()
    assert os.listdir(m) == ["f"] and read(m + "/f") == b""


def test_new_directory_needs_its_parent_fsynced(plfs):
    fs = plfs()
    m = fs.mountpoint
    os.mkdir(m + "/d")
    write_file(m + "/d/f", b"x", sync=True)
    fsync_path(m + "/d")
    fs.cut()
    assert os.listdir(m) == []
    os.mkdir(m + "/d")
    write_file(m + "/d/f", b"x", sync=True)
    fsync_path(m + "/d")
    fsync_path(m)
    fs.cut()
    assert read(m + "/d/f") == b"x"


def test_unsynced_rename_is_reverted(plfs):
    fs = plfs(prepare=durable_file("a", b"A"))
    m = fs.mountpoint
    # The classic atomic replace without the directory fsync: new contents fsync'd, renamed.
    write_file(m + "/a", b"A1", sync=True, mode="r+b")
    os.rename(m + "/a", m + "/b")
    fs.cut()
    assert os.listdir(m) == ["a"] and read(m + "/a") == b"A1"
    write_file(m + "/tmp", b"B", sync=True)
    os.rename(m + "/tmp", m + "/a")  # over the durable a
    fs.cut()
    assert os.listdir(m) == ["a"] and read(m + "/a") == b"A1"
    write_file(m + "/tmp", b"B", sync=True)
    os.rename(m + "/tmp", m + "/a")
    fsync_path(m)
    fs.cut()
    assert os.listdir(m) == ["a"] and read(m + "/a") == b"B"


def test_rename_across_directories_needs_both_fsynced(plfs):
    def prepare(backing):
        os.mkdir(os.path.join(backing, "x"))
        os.mkdir(os.path.join(backing, "y"))
        write_file(os.path.join(backing, "x", "f"), b"F")
    fs = plfs(prepare=prepare)
    m = fs.mountpoint
    os.rename(m + "/x/f", m + "/y/f")
    fsync_path(m + "/y")  # the new entry is durable, the old one's removal is not
    fs.cut()
    assert os.listdir(m + "/x") == ["f"] and os.listdir(m + "/y") == ["f"]
    assert os.stat(m + "/x/f").st_nlink == 2 and read(m + "/y/f") == b"F"  # one inode, two names


def test_unsynced_unlink_is_undone(plfs):
    fs = plfs(prepare=durable_file("f", b"durable"))
    m = fs.mountpoint
    write_file(m + "/f", b"changed", mode="r+b")  # not synced either
    os.unlink(m + "/f")
    fs.cut()
    assert read(m + "/f") == b"durable"
    os.unlink(m + "/f")
    fsync_path(m)
    fs.cut()
    assert os.listdir(m) == []


def test_truncate_and_fallocate_sizes(plfs):
    fs = plfs(prepare=durable_file("f", b"0123456789"))
    m = fs.mountpoint
    os.truncate(m + "/f", 3)
    fd = os.open(m + "/f", os.O_RDWR | os.O_CREAT)
    os.posix_fallocate(fd, 0, 1 << 20)
    os.close(fd)
    assert os.path.getsize(m + "/f") == 1 << 20
    report = fs.cut()
    assert read(m + "/f") == b"0123456789"
    assert report["stats"]["fallocates"] >= 1
    fd = os.open(m + "/f", os.O_RDWR)
    os.posix_fallocate(fd, 0, 1 << 20)
    os.fsync(fd)
    os.pwrite(fd, b"ab", 1000)  # within the durable size: rolled back to zeros
    os.close(fd)
    fs.cut()
    data = read(m + "/f")
    assert len(data) == 1 << 20
    assert data[:10] == b"0123456789" and data[10:] == bytes(len(data) - 10)


def test_torn_write_keeps_a_prefix_of_the_last_write(plfs):
    kept = set()
    for seed in range(6):
        fs = plfs(seed=seed, torn=True, prepare=durable_file("log", b"H" * 10))
        m = fs.mountpoint
        fd = os.open(m + "/log", os.O_WRONLY)
        os.pwrite(fd, b"a" * 100, 10)  # unsynced, not the last: gone
        os.pwrite(fd, b"b" * 100, 110)  # the last write: a prefix may survive
        os.close(fd)
        report = fs.cut()
        (torn,) = report["torn"]
        k = torn["kept"]
        data = read(m + "/log")
        if k == 0:
            assert data == b"H" * 10
        else:
            # The earlier write's range is a hole (zeros); the prefix lands where it was written.
            assert data == b"H" * 10 + bytes(100) + b"b" * k
        kept.add(k)
        fs.close()
    assert len(kept) > 1 and any(0 < k < 100 for k in kept), kept  # genuinely torn sometimes


def test_same_seed_same_tear(plfs):
    tears = []
    for _ in range(2):
        fs = plfs(seed=42, torn=True, prepare=durable_file("log", b""))
        write_file(fs.mountpoint + "/log", b"x" * 4096, mode="r+b")
        tears.append(fs.cut()["torn"][0]["kept"])
        fs.close()
    assert tears[0] == tears[1]


def test_frozen_mount_fails_every_operation_and_keeps_nothing_after(plfs):
    fs = plfs(prepare=durable_file("f", b"x"))
    m = fs.mountpoint
    fd = os.open(m + "/f", os.O_RDWR)
    fs.freeze()
    with pytest.raises(OSError) as e:
        os.pwrite(fd, b"y", 0)
    assert e.value.errno == errno.EIO
    with pytest.raises(OSError):
        os.fsync(fd)
    os.close(fd)
    fs.cut()
    assert read(m + "/f") == b"x"


def test_armed_cut_counts_only_the_named_kind_of_operation(plfs):
    """arm(n, "write") freezes right after the n-th write(), whatever else happens between: the
    cut then lands between a write and its fdatasync, where there is always something to forget."""
    fs = plfs(prepare=durable_file("f", b"old"))
    m = fs.mountpoint
    fs.arm(2, "write")
    fd = os.open(m + "/f", os.O_RDWR)
    try:
        os.pwrite(fd, b"one", 0)
        os.fdatasync(fd)  # fsyncs are not counted
        os.fdatasync(fd)
        os.pwrite(fd, b"two", 0)  # the 2nd write: the cut lands after it
        assert fs.wait_frozen(5) == "after write"
        with pytest.raises(OSError) as e:
            os.fdatasync(fd)
        assert e.value.errno == errno.EIO
    finally:
        os.close(fd)
    report = fs.cut()
    assert read(m + "/f") == b"one"
    assert [r["path"] for r in report["rolled_back"]] == ["f"]
    with pytest.raises(P.PowerLossError):
        fs.arm(1, "read")  # not a mutating operation: refused, not silently never firing
