"""An Apache ZooKeeper deployment's configuration runs unchanged: every key Apache 3.8/3.9 accepts
is honoured, accepted with one INFO line saying why it is ignored, or (for a security setting zkd
cannot provide) refused naming the key; ensembles with server ids above 255 and multi-address
server lines."""
import os
import socket
import subprocess

import pytest
from kazoo.client import KazooClient

from tests.conftest import stop_kazoo
from tests.lib.ensemble import Ensemble
from tests.lib.paths import BUILD_BIN
from tests.lib.rawzk import OPEN_ACL, RawSession, acls, i32, zbuf, zstr
from tests.lib.waiting import wait_until

# Every key of Apache's QuorumPeerConfig.parseProperties, X509Util/ClientX509Util (ssl.* and
# ssl.quorum.*), the system properties its server reads (ZooKeeperServer, the throttlers, the
# watch managers, the auth providers...) and the Administrator's Guide (3.8/3.9), each with a value
# an operator would write.  Keys owned by other work in flight are in PENDING.
APACHE_KEYS = {
    # QuorumPeerConfig.parseProperties
    "dataDir": None, "dataLogDir": "/tmp/zkd-apache-keys-log", "clientPort": None,
    "localSessionsEnabled": "false", "localSessionsUpgradingEnabled": "false",
    "clientPortAddress": "127.0.0.1", "secureClientPortAddress": None, "observerMasterPort": "2191",
    "clientPortListenBacklog": "50", "tickTime": "2000", "maxClientCnxns": "60",
    "minSessionTimeout": "4000", "maxSessionTimeout": "40000", "initLimit": "10", "syncLimit": "5",
    "connectToLearnerMasterLimit": "10", "electionAlg": "3", "quorumListenOnAllIPs": "false",
    "peerType": "participant", "syncEnabled": "true", "autopurge.snapRetainCount": "3",
    "autopurge.purgeInterval": "0", "standaloneEnabled": "true", "reconfigEnabled": "false",
    "sslQuorum": "false", "portUnification": "false", "sslQuorumReloadCertFiles": "false",
    "quorum.auth.enableSasl": "false", "quorum.auth.serverRequireSasl": "false",
    "quorum.auth.learnerRequireSasl": "false", "quorum.auth.learner.saslLoginContext": "QuorumLearner",
    "quorum.auth.server.saslLoginContext": "QuorumServer",
    "quorum.auth.kerberos.servicePrincipal": "zkquorum/localhost", "quorum.cnxn.threads.size": "20",
    "jvm.pause.info-threshold.ms": "1000", "jvm.pause.warn-threshold.ms": "10000",
    "jvm.pause.sleep.time.ms": "500", "jvm.pause.monitor": "false",
    "metricsProvider.className": "org.apache.zookeeper.metrics.impl.NullMetricsProvider",
    "multiAddress.enabled": "false", "multiAddress.reachabilityCheckEnabled": "true",
    "multiAddress.reachabilityCheckTimeoutMs": "1000", "oraclePath": "",
    # Advanced configuration
    "globalOutstandingLimit": "1000", "preAllocSize": "65536", "snapCount": "100000",
    "commitLogCount": "500", "snapSizeLimitInKb": "4194304", "txnLogSizeLimitInKb": "-1",
    "maxCnxns": "0", "fsync.warningthresholdms": "1000", "maxResponseCacheSize": "400",
    "maxGetChildrenResponseCacheSize": "400", "extendedTypesEnabled": "false",
    "emulate353TTLNodes": "false", "watchManagerName": "org.apache.zookeeper.server.watch.WatchManager",
    "watcherCleanThreadsNum": "2", "watcherCleanThreshold": "1000",
    "watcherCleanIntervalInSeconds": "600", "maxInProcessingDeadWatchers": "-1",
    "bitHashCacheSize": "10", "fastleader.minNotificationInterval": "200",
    "fastleader.maxNotificationInterval": "60000", "connectionMaxTokens": "0",
    "connectionTokenFillTime": "1", "connectionTokenFillCount": "1", "connectionFreezeTime": "-1",
    "connectionDropIncrease": "0.02", "connectionDropDecrease": "0.002",
    "connectionDecreaseRatio": "0", "zookeeper.connection_throttle_weight_enabled": "false",
    "serverCnxnFactory": "org.apache.zookeeper.server.NIOServerCnxnFactory", "flushDelay": "0",
    "maxWriteQueuePollTime": "0", "maxBatchSize": "1000", "requestThrottleLimit": "0",
    "requestThrottleStallTime": "100", "requestThrottleDropStale": "true",
    "requestStaleLatencyCheck": "false", "requestStaleConnectionCheck": "true",
    "zookeeper.request_throttler.shutdownTimeout": "10000", "advancedFlowControlEnabled": "false",
    "enableEagerACLCheck": "false", "maxConcurrentSnapSyncs": "10", "maxConcurrentDiffSyncs": "100",
    "snapshot.trust.empty": "false", "largeRequestMaxBytes": "104857600",
    "largeRequestThreshold": "-1", "outstandingHandshake.limit": "0",
    "learner.asyncSending": "false", "learner.closeSocketAsync": "false",
    "leader.closeSocketAsync": "false", "jute.maxbuffer": "1048575",
    "jute.maxbuffer.extrasize": "1048575", "readonlymode.enabled": "false",
    "znode.container.checkIntervalMs": "60000", "znode.container.maxPerMinute": "10000",
    "znode.container.maxNeverUsedIntervalMs": "0", "closeSessionTxn.enabled": "true",
    "serializeLastProcessedZxid.enabled": "true", "skipACL": "no",
    # Cluster options
    "maxTimeToWaitForEpoch": "2000", "leaderServes": "yes", "cnxTimeout": "5000",
    "quorumCnxnTimeoutMs": "-1", "4lw.commands.whitelist": "srvr,ruok,hash",
    "tcpKeepAlive": "false", "clientTcpKeepAlive": "false", "electionPortBindRetry": "3",
    "observer.reconnectDelayMs": "0", "observer.election.DelayMs": "200",
    # Authentication and authorization
    "DigestAuthenticationProvider.superDigest": "super:D/InIHSb7yEEbrWz8b9l71RjZJU=",
    "DigestAuthenticationProvider.enabled": "true", "DigestAuthenticationProvider.digestAlg": "SHA1",
    "X509AuthenticationProvider.superUser": "CN=admin", "superUser": "admin",
    "authProvider.1": "org.apache.zookeeper.server.auth.SASLAuthenticationProvider",
    "kerberos.removeHostFromPrincipal": "false", "kerberos.removeRealmFromPrincipal": "false",
    "kerberos.canonicalizeHostNames": "false", "sessionRequireClientSASLAuth": "false",
    "enforce.auth.enabled": "false", "enforce.auth.schemes": "sasl", "jaasLoginRenew": "3600000",
    "requireClientAuthScheme": "sasl", "client.portUnification": "false",
    "client.certReload": "false", "fips-mode": "true",
    # ssl.* (X509Util, ClientX509Util) and the ssl.quorum.* twins
    "ssl.protocol": "TLSv1.3", "ssl.enabledProtocols": "TLSv1.3,TLSv1.2",
    "ssl.ciphersuites": "TLS_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "ssl.keyStore.location": "/etc/zk/keystore.jks", "ssl.keyStore.password": "x",
    "ssl.keyStore.type": "JKS", "ssl.trustStore.location": "/etc/zk/truststore.p12",
    "ssl.trustStore.password": "x", "ssl.trustStore.type": "PKCS12",
    "ssl.hostnameVerification": "true", "ssl.clientHostnameVerification": "false",
    "ssl.allowReverseDnsLookup": "false", "ssl.crl": "false", "ssl.ocsp": "false",
    "ssl.clientAuth": "need", "ssl.handshakeDetectionTimeoutMillis": "5000",
    "ssl.authProvider": "x509", "ssl.sslProvider": "JDK",
    "ssl.quorum.protocol": "TLSv1.3", "ssl.quorum.enabledProtocols": "TLSv1.2",
    "ssl.quorum.ciphersuites": "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "ssl.quorum.keyStore.location": "/etc/zk/q.p12", "ssl.quorum.keyStore.password": "x",
    "ssl.quorum.keyStore.type": "PKCS12", "ssl.quorum.trustStore.location": "/etc/zk/q.jks",
    "ssl.quorum.trustStore.password": "x", "ssl.quorum.trustStore.type": "JKS",
    "ssl.quorum.hostnameVerification": "true", "ssl.quorum.crl": "false", "ssl.quorum.ocsp": "false",
    "ssl.quorum.clientAuth": "need", "ssl.quorum.handshakeDetectionTimeoutMillis": "5000",
    "netty.server.outboundBuffer.enabled": "false",
    # AdminServer, audit log, metrics (issue 14)
    "admin.enableServer": "false", "admin.serverPort": "8080", "audit.enable": "false",
    "enforceQuota": "false", "digest.enabled": "true",
}

# Keys another branch in flight gives their handling (none now).
PENDING = set()


def check(tmp_path, text, env=None):
    cfg = tmp_path / "zoo.cfg"
    cfg.write_text(text)
    full_env = dict(os.environ, ZKD_LOG_LEVEL="info")
    for k in ("SERVER_JVMFLAGS", "JVMFLAGS"):
        full_env.pop(k, None)
    full_env.update(env or {})
    return subprocess.run([os.path.join(BUILD_BIN, "zkd"), "--check", str(cfg)], env=full_env,
                          capture_output=True, text=True, timeout=60)


def test_every_apache_key_is_honoured_or_ignored_with_one_info_line(tmp_path):
    """All of them in one zoo.cfg (one zkd run: a refused key stops it and is named)."""
    lines = ["dataDir=%s" % tmp_path, "clientPort=2181"]
    lines += ["%s=%s" % (k, v) for k, v in sorted(APACHE_KEYS.items())
              if v is not None and k not in PENDING]
    r = check(tmp_path, "\n".join(lines) + "\n")
    assert r.returncode == 0, r.stderr
    for key in APACHE_KEYS:
        ignored = [line for line in r.stderr.splitlines() if "'%s' ignored: " % key in line]
        assert len(ignored) <= 1, ignored


def test_every_apache_key_as_a_system_property(tmp_path):
    """The same keys as -Dzookeeper.<key> in SERVER_JVMFLAGS: read where Apache reads the system
    property, ignored with an INFO line where Apache reads the key only from zoo.cfg."""
    flags = " ".join("-Dzookeeper.%s=%s" % (k, v) for k, v in sorted(APACHE_KEYS.items())
                     if v and k not in PENDING)
    r = check(tmp_path, "dataDir=%s\nclientPort=2181\n" % tmp_path, env={"SERVER_JVMFLAGS": flags})
    assert r.returncode == 0, r.stderr
    assert "-Dzookeeper.tickTime ignored: Apache reads 'tickTime' only from zoo.cfg" in r.stderr


def test_the_debian_packages_configuration_checks(tmp_path):
    """/etc/zookeeper/conf/zoo.cfg from Debian's zookeeper package, with its own dataDir."""
    src = "/etc/zookeeper/conf/zoo.cfg"
    if not os.path.exists(src):
        pytest.skip("Debian's zookeeper package is not installed")
    lines = [line for line in open(src).read().splitlines() if not line.startswith("dataDir")]
    r = check(tmp_path, "\n".join(lines + ["dataDir=%s" % tmp_path]) + "\n")
    assert r.returncode == 0, r.stderr
    assert "OK" in r.stdout


def test_check_names_a_refused_security_key(tmp_path):
    r = check(tmp_path, "dataDir=%s\nclientPort=2181\nquorum.auth.serverRequireSasl=true\n"
              % tmp_path)
    assert r.returncode == 2
    assert "quorum.auth.enableSasl is disabled, so cannot enable quorum.auth.serverRequireSasl" \
        in r.stderr


def test_check_refuses_quorum_sasl_it_cannot_do(tmp_path):
    """quorum.auth.enableSasl=true is honoured (test_quorum_sasl.py); without the JAAS sections
    it needs, --check (and start-up) fail naming what is missing, rather than the members
    running unauthenticated."""
    jaas = tmp_path / "jaas.conf"
    jaas.write_text("QuorumServer {\n  org.apache.zookeeper.server.auth.DigestLoginModule "
                    "required\n  user_peer=\"pw\";\n};\n")
    text = "dataDir=%s\nclientPort=2181\nquorum.auth.enableSasl=true\n" % tmp_path
    for env, want in (({}, "needs a JAAS file"),
                      ({"SERVER_JVMFLAGS": "-Djava.security.auth.login.config=%s" % jaas},
                       "has no 'QuorumLearner' section")):
        r = check(tmp_path, text, env=env)
        assert r.returncode != 0
        assert want in r.stderr


@pytest.fixture
def ensemble(tmp_path_factory):
    made = []

    def make(**kw):
        ens = Ensemble(tmp_path_factory.mktemp("ens"), "zkd", **kw)
        made.append(ens)
        return ens

    yield make
    for ens in reversed(made):
        ens.close()


def test_server_ids_above_255_and_multi_address_lines(ensemble):
    """Ids up to 2^31-1 (Apache takes any long); a second address per server is accepted with
    multiAddress.enabled (zkd uses the first)."""
    # extendedTypesEnabled needs ids below 255 (TTL owners use the byte 0xff), as in Apache.
    cfg = {"multiAddress.enabled": "true", "extendedTypesEnabled": "false"}
    ens = ensemble(participants=3, sids=[1000, 2, 70000], cfg=cfg)
    for sid in ens.sids:
        for other in ens.sids:
            ens[sid].cfg["server.%d" % other] = ens.server_line(sid, other).replace(
                ":participant;", ":participant|127.0.0.2:1:2:participant;")
        ens[sid].start(wait=False)
    ens.wait_serving(timeout=60)
    c = KazooClient(hosts=ens.hosts, timeout=10.0)
    try:
        c.start(timeout=15)
        c.create("/big-ids", b"1")
        assert (c.client_id[0] >> 56) & 0xff in (1000 & 0xff, 2, 70000 & 0xff)
    finally:
        stop_kazoo(c)
    assert "zkd uses only its first address" in ens[1000].log_tail(400)


def test_hash_four_letter_word_and_disabled_digest_provider(server_factory):
    srv = server_factory("zkd", cfg={"4lw.commands.whitelist": "ruok,hash",
                                     "DigestAuthenticationProvider.enabled": "false"})
    assert srv.four_letter("hash") == ""  # no digests kept: Apache's answer with digest.enabled=false
    zk = KazooClient(hosts=srv.hosts, timeout=10.0, auth_data=[("digest", "alice:pw")])
    try:
        with pytest.raises(Exception):  # AUTHFAILED: there is no digest provider
            zk.start(timeout=10)
            zk.get("/")
    finally:
        stop_kazoo(zk)


def test_never_used_containers_expire_after_max_never_used_interval(server_factory):
    srv = server_factory("zkd", cfg={"znode.container.checkIntervalMs": "50",
                                     "znode.container.maxNeverUsedIntervalMs": "1"})
    raw = RawSession(srv.port)
    try:
        err, _ = raw.call("createContainer", zstr("/never-used") + zbuf(b"") + acls(OPEN_ACL) +
                          i32(4))
        assert err == 0
        # Without the key a container that never had a child stays forever (Apache's default).
        wait_until(lambda: raw.exists("/never-used") == -101, what="never-used container reaped")
    finally:
        raw.close_session()


@pytest.mark.parametrize("all_ips", ["true", "false"])
def test_quorum_listen_on_all_ips(ensemble, all_ips):
    """The member's line says 127.0.0.1; with quorumListenOnAllIPs its quorum and election
    ports answer on every address (here 127.0.0.2 too), without it only on 127.0.0.1."""
    ens = ensemble(participants=2, cfg={"quorumListenOnAllIPs": all_ips})
    ens.start()
    sid = ens.sids[0]
    for port in (ens.quorum_ports[sid], ens.election_ports[sid]):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        if all_ips == "true":
            socket.create_connection(("127.0.0.2", port), timeout=5).close()
        else:
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.2", port), timeout=5)
