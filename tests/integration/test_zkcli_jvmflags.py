"""zkcli reads Apache's client system properties from CLIENT_JVMFLAGS / JVMFLAGS, as zkCli.sh
passes them to java (client/cli_jvmflags.h): TLS on and its PEM stores, host-name checks; a
security setting it cannot honour (JKS/PKCS12 stores, revocation checks, an unreadable JAAS file) refuses
with the property's name; what does not apply (the Netty socket) is one INFO line."""
import os
import subprocess

import pytest

from tests.integration.test_tls_sasl import pki, tls_zkd  # noqa: F401 (fixtures)
from tests.lib.paths import BUILD_BIN

ZKCLI = os.path.join(BUILD_BIN, "zkcli")
pytestmark = pytest.mark.skipif(not os.access(ZKCLI, os.X_OK), reason="zkcli not built")


def zkcli(port, flags, *args, var="CLIENT_JVMFLAGS"):
    env = dict(os.environ)
    env.pop("JVMFLAGS", None)
    env.pop("CLIENT_JVMFLAGS", None)
    env[var] = flags
    return subprocess.run([ZKCLI, "-s", "127.0.0.1:%d" % port, "-timeout", "5000"] + list(args),
                          capture_output=True, text=True, timeout=60, env=env)


@pytest.fixture
def pem_store(pki):  # noqa: F811
    """Apache's PEM key store: the certificate chain and the key in one file."""
    path = os.path.join(pki, "client-store.pem")
    with open(path, "w") as out:
        for part in ("client.pem", "client.key"):
            with open(os.path.join(pki, part)) as f:
                out.write(f.read())
    return path


def test_tls_from_client_jvmflags(tls_zkd, pki, pem_store):  # noqa: F811
    flags = ("-Xmx256m -Dzookeeper.client.secure=true "
             "-Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty "
             "-Dzookeeper.ssl.keyStore.location=%s -Dzookeeper.ssl.keyStore.type=PEM "
             "-Dzookeeper.ssl.trustStore.location=%s" % (pem_store, os.path.join(pki, "ca.pem")))
    for var in ("CLIENT_JVMFLAGS", "JVMFLAGS"):
        p = zkcli(tls_zkd.tls_port, flags, "whoami", var=var)
        assert p.returncode == 0, p.stderr
        # The certificate was presented: the session holds its x509 identity.
        assert "CN=client1" in p.stdout, p.stdout
        assert "-Dzookeeper.clientCnxnSocket ignored" in p.stderr
    # Without client.secure the same stores are not used: plain TCP to a TLS port fails.
    p = zkcli(tls_zkd.tls_port, flags.replace("client.secure=true", "client.secure=false"),
              "ls", "/")
    assert p.returncode == 1


@pytest.mark.parametrize("flag, words", [
    ("-Dzookeeper.ssl.trustStore.location=/x/truststore.jks", "is a jks store"),
    ("-Dzookeeper.ssl.keyStore.location=/x/k -Dzookeeper.ssl.keyStore.type=PKCS12",
     "-Dzookeeper.ssl.keyStore.location=/x/k is a PKCS12 store"),
    ("-Dzookeeper.ssl.crl=true", "-Dzookeeper.ssl.crl: libzk checks revocation through OCSP only"),
    ("-Djava.security.auth.login.config=/x/jaas.conf", "login.config=/x/jaas.conf: "),
    ("-Djute.maxbuffer=lots", "-Djute.maxbuffer: not a positive number"),
])
def test_unhonourable_security_settings_refuse(flag, words):
    p = zkcli(1, flag, "ls", "/")
    assert p.returncode == 2
    assert words in p.stderr
    assert "CLIENT_JVMFLAGS/JVMFLAGS" in p.stderr


def test_jaas_file_is_fine_when_client_sasl_is_off(zkd):
    p = zkcli(zkd.port, "-Djava.security.auth.login.config=/x/jaas.conf "
                        "-Dzookeeper.sasl.client=false -Dzookeeper.request.timeout=5000", "ls", "/")
    assert p.returncode == 0, p.stderr
    assert "zookeeper" in p.stdout
    assert "-Dzookeeper.request.timeout ignored: zkcli does not read it" in p.stderr
