"""A throw-away Kerberos realm for tests: MIT's KDC (Debian krb5-kdc, krb5-admin-server,
krb5-user) on 127.0.0.1 with a free port, everything in one private directory.

    kdc = Kdc(tmp_dir)            # creates the realm ZKFS.TEST and starts krb5kdc
    kt = kdc.add_principal("zookeeper/localhost")   # -> keytab path with its random key
    env = kdc.client_env("client")  # KRB5_CONFIG and a ticket cache holding client's TGT
    kdc.stop()

Programs using Kerberos find the realm through KRB5_CONFIG=kdc.krb5_conf (kdc.env); no DNS is
consulted (rdns and host-name canonicalization off), so service principals name "localhost"."""
import os
import shutil
import signal
import socket
import subprocess
import time

from tests.lib import servers as S

REALM = "ZKFS.TEST"
TOOLS = ("krb5kdc", "kdb5_util", "kadmin.local", "kinit")
SBIN = ("/usr/sbin", "/usr/bin", "/sbin", "/bin")


def _tool(name):
    for d in SBIN:
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    return shutil.which(name)


def missing_reason():
    """Why a KDC cannot run here (a missing Debian package), or None."""
    for t in TOOLS:
        if not _tool(t):
            return "%s not installed (Debian krb5-kdc, krb5-admin-server, krb5-user)" % t
    for d in ("/usr/lib/x86_64-linux-gnu/sasl2", "/usr/lib/aarch64-linux-gnu/sasl2",
              "/usr/lib/sasl2"):
        if os.path.exists(os.path.join(d, "libgssapiv2.so")):
            return None
    return "Cyrus SASL's GSSAPI plugin is not installed (Debian libsasl2-modules-gssapi-mit)"


class Kdc:
    def __init__(self, workdir):
        self.dir = str(workdir)
        os.makedirs(self.dir, exist_ok=True)
        self.port = S.free_port()
        self.krb5_conf = os.path.join(self.dir, "krb5.conf")
        self.kdc_conf = os.path.join(self.dir, "kdc.conf")
        self.log = os.path.join(self.dir, "kdc.log")
        with open(self.krb5_conf, "w") as f:
            f.write("[libdefaults]\n default_realm = %s\n dns_lookup_kdc = false\n"
                    " dns_lookup_realm = false\n rdns = false\n dns_canonicalize_hostname = false\n"
                    " udp_preference_limit = 1\n\n"
                    "[realms]\n %s = {\n  kdc = 127.0.0.1:%d\n }\n" % (REALM, REALM, self.port))
        with open(self.kdc_conf, "w") as f:
            f.write("[kdcdefaults]\n kdc_ports = %d\n kdc_tcp_listen = 127.0.0.1:%d\n"
                    " kdc_listen = 127.0.0.1:%d\n\n"
                    "[realms]\n %s = {\n  database_name = %s/principal\n"
                    "  key_stash_file = %s/stash\n  acl_file = %s/kadm5.acl\n"
                    "  kdc_tcp_listen = 127.0.0.1:%d\n  kdc_listen = 127.0.0.1:%d\n }\n\n"
                    "[logging]\n kdc = FILE:%s\n" % (self.port, self.port, self.port, REALM,
                                                     self.dir, self.dir, self.dir, self.port,
                                                     self.port, self.log))
        open(os.path.join(self.dir, "kadm5.acl"), "w").close()
        self.env = dict(os.environ, KRB5_CONFIG=self.krb5_conf, KRB5_KDC_PROFILE=self.kdc_conf)
        self.env.pop("KRB5CCNAME", None)
        self.env.pop("KRB5_KTNAME", None)
        self._run(_tool("kdb5_util"), "create", "-s", "-r", REALM, "-P", "masterkey-for-tests")
        self.proc = subprocess.Popen([_tool("krb5kdc"), "-n", "-r", REALM], env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self._wait_listening()

    def _run(self, *argv):
        r = subprocess.run(list(argv), env=self.env, capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("%s failed: %s%s" % (" ".join(argv), r.stdout, r.stderr))
        return r.stdout

    def _wait_listening(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("krb5kdc exited with %s: %s" % (
                    self.proc.returncode, open(self.log).read() if os.path.exists(self.log) else ""))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("krb5kdc not listening on %d" % self.port)
                time.sleep(0.05)

    def principal(self, name):
        return name if "@" in name else "%s@%s" % (name, REALM)

    def add_principal(self, name, keytab=None):
        """Creates `name` with a random key and writes it to a keytab (returned)."""
        keytab = keytab or os.path.join(self.dir, name.replace("/", "_") + ".keytab")
        kadmin = _tool("kadmin.local")
        self._run(kadmin, "-r", REALM, "-q", "addprinc -randkey %s" % self.principal(name))
        self._run(kadmin, "-r", REALM, "-q", "ktadd -k %s %s" % (keytab, self.principal(name)))
        return keytab

    def rekey(self, name):
        """Gives `name` a new random key: keytabs written before hold a stale one."""
        self._run(_tool("kadmin.local"), "-r", REALM, "-q", "cpw -randkey %s" % self.principal(name))

    def client_env(self, name):
        """An environment whose ticket cache holds `name`'s TGT (made with kinit from a new
        keytab): for clients that read the default cache (kazoo through python3-kerberos)."""
        keytab = self.add_principal(name)
        ccache = "FILE:" + os.path.join(self.dir, name.replace("/", "_") + ".ccache")
        env = dict(self.env, KRB5CCNAME=ccache)
        r = subprocess.run([_tool("kinit"), "-k", "-t", keytab, self.principal(name)], env=env,
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("kinit %s failed: %s" % (name, r.stderr))
        return env

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
