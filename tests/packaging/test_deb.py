"""The Debian packages, built by packaging/deb.sh and installed on this machine as an operator would.

One test builds the packages (lintian must report no error), installs them with apt-get, and checks
what an operator and a developer get: the installed binaries, `zkd --check` of the installed config,
the systemd units (`systemd-analyze verify`), zkd started exactly as its unit would start it (this
machine runs no systemd: the ExecStart line is run as the unit's user) and stopped by SIGTERM, zkcli against it, zkfs
mounted with `mount -t fuse.zkfs` and from an /etc/fstab line, a C program built against the
installed libzk with pkg-config, every man page; then it purges the packages and checks that only
what Debian policy keeps (the zkd system user) is left.  It changes the machine (packages, /etc,
the zkd user), so it runs only as root, restores /etc/fstab, and purges even when it fails.
Skipped for the sanitizer build (the packages are the same; building them twice costs minutes).
"""
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from tests.lib.paths import BUILD_DIR, ROOT

PACKAGES = ["zkd", "zkfs", "zkcli", "libzk1", "libzk-dev"]
UNITS = ["/lib/systemd/system/zkd.service", "/lib/systemd/system/zkd@.service"]
MANPAGES = [("8", "zkd"), ("5", "zkd.conf"), ("8", "zkfs"), ("1", "zkcli"), ("1", "zkbench")]
PORT = 2181  # the installed /etc/zkd/zoo.cfg's clientPort

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="installs packages: needs root"),
    pytest.mark.skipif("asan" in os.path.basename(BUILD_DIR.rstrip("/")),
                       reason="packages are built once, with the plain build's suite"),
]


def run(cmd, check=True, timeout=600, **kw):
    p = subprocess.run(cmd, shell=isinstance(cmd, str), capture_output=True, text=True,
                       timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s\n%s" % (cmd, p.returncode, p.stdout[-3000:],
                                                          p.stderr[-3000:]))
    return p


def port_open(port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_for(cond, what, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.05)


def exec_start(unit):
    """The unit's ExecStart command with its Environment= variables substituted."""
    env, cmd = {}, None
    for line in open(unit):
        m = re.match(r"Environment=(\w+)=(.*)", line.strip())
        if m:
            env[m.group(1)] = m.group(2)
        if line.startswith("ExecStart="):
            cmd = line.strip().split("=", 1)[1]
    return [re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], a) for a in shlex.split(cmd)]


def purge():
    run(["apt-get", "purge", "-y", "-q"] + PACKAGES, check=False)


@pytest.fixture
def installed():
    if port_open(PORT):
        pytest.fail("port %d is in use: the installed config's server cannot start" % PORT)
    fstab = open("/etc/fstab").read() if os.path.exists("/etc/fstab") else None
    run(["bash", os.path.join(ROOT, "packaging", "deb.sh")], timeout=1800,
        env=dict(os.environ, ZK_SKIP_INSTALL="1"))
    debs = sorted(os.path.join(ROOT, "build", "deb", f)
                  for f in os.listdir(os.path.join(ROOT, "build", "deb")) if f.endswith(".deb"))
    assert {os.path.basename(d).split("_")[0] for d in debs} == set(PACKAGES), debs
    try:
        run(["apt-get", "install", "-y", "-q", "--no-install-recommends"] + debs)
        yield debs
    finally:
        if fstab is not None:
            with open("/etc/fstab", "w") as f:
                f.write(fstab)
        purge()


def test_packages_install_run_and_purge(installed, tmp_path):
    # The installed programs and config.
    for binary in ["/usr/sbin/zkd", "/usr/bin/zkfs", "/usr/bin/zkcli", "/usr/bin/zkbench"]:
        assert os.access(binary, os.X_OK), binary
    assert "zkd 0.1.0" in run(["/usr/sbin/zkd", "--version"]).stdout
    assert "OK" in run(["/usr/sbin/zkd", "--check", "/etc/zkd/zoo.cfg"]).stdout
    conffiles = run(["dpkg-query", "-W", "-f=${Conffiles}", "zkd"]).stdout
    assert "/etc/zkd/zoo.cfg" in conffiles, conffiles
    user = pwd.getpwnam("zkd")
    st = os.stat("/var/lib/zkd")
    assert st.st_uid == user.pw_uid, "the data directory belongs to the zkd user"
    for page_section, page in MANPAGES:
        run(["man", "-w", page_section, page])
    for unit in UNITS + ["/usr/share/doc/zkfs/examples/mnt-zk.mount"]:
        assert os.path.exists(unit), unit
        out = run(["systemd-analyze", "verify", unit], check=False)
        assert out.returncode == 0, out.stdout + out.stderr
    unit = open(UNITS[0]).read()
    for hardening in ["Type=notify", "NoNewPrivileges=yes", "ProtectSystem=strict",
                      "ReadWritePaths=/var/lib/zkd", "User=zkd"]:
        assert hardening in unit, hardening

    # zkd as its unit starts it: the ExecStart line, as the unit's user.
    cmd = exec_start(UNITS[0])
    assert cmd == ["/usr/sbin/zkd", "/etc/zkd/zoo.cfg"], cmd
    log = open(tmp_path / "zkd.log", "w")
    # setpriv execs zkd itself (runuser would stay between, and die of the SIGTERM meant for zkd).
    zkd = subprocess.Popen(["setpriv", "--reuid=zkd", "--regid=zkd", "--init-groups"] + cmd,
                           stdout=log, stderr=log)
    mnt = "/mnt/zk-deb-test"
    try:
        wait_for(lambda: port_open(PORT) or zkd.poll() is not None, "zkd to listen")
        assert zkd.poll() is None, open(tmp_path / "zkd.log").read()
        out = run(["/usr/bin/zkcli", "-s", "127.0.0.1:%d" % PORT, "create", "/deb", "hello"])
        out = run(["/usr/bin/zkcli", "-s", "127.0.0.1:%d" % PORT, "get", "/deb"])
        assert "hello" in out.stdout, out.stdout

        # zkfs: mount -t fuse.zkfs, then an fstab line.
        os.makedirs(mnt, exist_ok=True)
        run(["mount", "-t", "fuse.zkfs", "127.0.0.1:%d" % PORT, mnt])
        try:
            assert open(os.path.join(mnt, "deb")).read() == "hello"
            with open(os.path.join(mnt, "from-mount"), "w") as f:
                f.write("via mount -t")
        finally:
            run(["umount", mnt])
        with open("/etc/fstab", "a") as f:
            f.write("127.0.0.1:%d %s fuse.zkfs defaults,_netdev 0 0\n" % (PORT, mnt))
        run(["mount", mnt])
        try:
            assert open(os.path.join(mnt, "from-mount")).read() == "via mount -t"
            src = [l.split() for l in open("/proc/mounts") if l.split()[1] == mnt][0]
            assert src[0] == "127.0.0.1:%d" % PORT and src[2] == "fuse.zkfs", src
        finally:
            run(["umount", mnt])

        # A C program against the installed libzk, found by pkg-config.
        prog = tmp_path / "hello.c"
        prog.write_text('''
#include <stdio.h>
#include <stdlib.h>
#include <zk/zk.h>
int main(int argc, char **argv)
{
    struct zk_options o;
    zk_options_init(&o);
    o.hosts = argv[1];
    zk_blocking_t *b;
    int rc = zk_blocking_open(&o, &b);
    if (rc) { printf("open: %s\\n", zk_strerror(rc)); return 1; }
    char *value = NULL;
    int32_t len = 0;
    rc = zk_blocking_get(b, "/deb", &value, &len, NULL);
    zk_blocking_close(b);
    if (rc) { printf("get: %s\\n", zk_strerror(rc)); return 1; }
    printf("%.*s\\n", (int)len, value);
    free(value);
    return argc == 2 ? 0 : 1;
}
''')
        flags = run(["pkg-config", "--cflags", "--libs", "libzk"]).stdout.split()
        run(["cc", "-Wall", "-Werror", str(prog), "-o", str(tmp_path / "hello")] + flags)
        assert "libzk.so.1" in run(["ldd", str(tmp_path / "hello")]).stdout
        out = run([str(tmp_path / "hello"), "127.0.0.1:%d" % PORT])
        assert out.stdout.strip() == "hello", out.stdout
    finally:
        if os.path.ismount(mnt):
            run(["umount", "-l", mnt], check=False)
        zkd.terminate()
        zkd.wait(30)
        log.close()
        if os.path.isdir(mnt):
            os.rmdir(mnt)
    zkd_log = open(tmp_path / "zkd.log").read()
    assert zkd.returncode == 0 and "shutdown complete" in zkd_log, "zkd stops cleanly on SIGTERM: " + zkd_log

    # Purge: nothing of the packages is left but the system user.
    purge()
    for p in PACKAGES:
        status = run(["dpkg-query", "-W", "-f=${db:Status-Status}", p], check=False).stdout
        assert status in ("", "not-installed"), (p, status)
    for path in ["/usr/sbin/zkd", "/usr/bin/zkfs", "/usr/bin/zkcli", "/etc/zkd", "/var/lib/zkd",
                 "/usr/include/zk", UNITS[0]]:
        assert not os.path.exists(path), path + " is left after purge"
    pwd.getpwnam("zkd")  # kept, as Debian policy recommends for system users
