"""The Prometheus endpoint (metrics.h): promtool on zkd's /metrics, names and types against
Apache's PrometheusMetricsProvider, and a real scrape by Debian's prometheus.

Debian's zookeeper package ships no Prometheus provider jar, so Apache's side is its source
(ZooKeeperServer.registerMetrics, LeaderZooKeeperServer.registerMetrics, ServerMetrics and
PrometheusMetricsProvider of 3.8/3.9): the tables below name what it exports.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import urllib.request

import pytest

from tests.lib import servers as S
from tests.lib.waiting import wait_until

PROVIDER = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"

# Apache's gauges (registerGauge) that zkd has, and its summaries with their quantiles
# (DetailLevel.ADVANCED: 0.5, 0.9, 0.99; BASIC: 0.5).
APACHE_GAUGES = {
    "avg_latency", "max_latency", "min_latency", "packets_received", "packets_sent",
    "num_alive_connections", "outstanding_requests", "uptime", "znode_count", "watch_count",
    "ephemerals_count", "approximate_data_size", "global_sessions", "local_sessions",
    "open_file_descriptor_count", "max_file_descriptor_count", "connection_drop_probability",
    "last_client_response_size", "max_client_response_size", "min_client_response_size",
    "outstanding_tls_handshake", "auth_failed_count", "non_mtls_remote_conn_count",
    "non_mtls_local_conn_count", "learners", "synced_followers", "synced_non_voting_followers",
    "synced_observers", "pending_syncs", "leader_uptime", "last_proposal_size",
    "max_proposal_size", "min_proposal_size", "quorum_size",
}
APACHE_SUMMARIES = {
    "readlatency": {"0.5", "0.9", "0.99"},
    "updatelatency": {"0.5", "0.9", "0.99"},
    "fsynctime": {"0.5"},
    "snapshottime": {"0.5"},
}
# Apache's ServerMetrics counters (getCounter), exported by simpleclient without a _total suffix.
APACHE_COUNTERS = {
    "snapshot_error_count", "snapshot_rate_limited_count", "restore_error_count",
    "restore_rate_limited_count", "looking_count", "diff_count", "snap_count", "commit_count",
    "connection_request_count", "connection_rejected", "bytes_received_count",
    "unrecoverable_error_count", "dead_watchers_queued", "dead_watchers_cleared",
    "ensemble_auth_success", "ensemble_auth_fail", "ensemble_auth_skip", "revalidate_count",
    "connection_drop_count", "sessionless_connections_expired", "stale_sessions_expired",
    "throttled_ops", "stale_requests", "stale_requests_dropped", "stale_replies",
    "request_throttle_wait_count", "large_requests_rejected", "digest_mismatches_count",
    "unsuccessful_handshake", "insecure_admin_count", "tls_handshake_exceeded",
}
# What a standalone zkd must export at least.
REQUIRED = {"znode_count", "watch_count", "outstanding_requests", "packets_received",
            "packets_sent", "num_alive_connections", "avg_latency", "ephemerals_count",
            "global_sessions", "approximate_data_size", "uptime", "connection_request_count",
            "snapshot_error_count", "snapshot_rate_limited_count", "restore_error_count",
            "restore_rate_limited_count"} | set(APACHE_SUMMARIES)

# promtool's lint complaints about Apache's own names, which zkd must keep.
APACHE_LINT = re.compile(r'^(\w+) (?:non-histogram and non-summary metrics should not have "_count" '
                         r'suffix|counter metrics should have "_total" suffix)$')


def metrics_cfg(port=None):
    return {"metricsProvider.className": PROVIDER, "metricsProvider.httpHost": "127.0.0.1",
            "metricsProvider.httpPort": str(port or S.free_port())}


def scrape(srv, path="/metrics"):
    url = "http://127.0.0.1:%s%s" % (srv.cfg["metricsProvider.httpPort"], path)
    with urllib.request.urlopen(url, timeout=20) as r:
        return r.headers.get("Content-Type"), r.read().decode()


def parse(text):
    """{family: (type, {sample line name+labels: value})} from the exposition text."""
    fam, types, samples = None, {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            types[name] = kind
            samples[name] = {}
            fam = name
        elif line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            assert key.split("{")[0].startswith(fam), line
            samples[fam][key] = float(value)
    return {k: (types[k], samples[k]) for k in types}


@pytest.fixture(scope="module")
def zkd_prom(module_server_factory):
    return module_server_factory("zkd", cfg=metrics_cfg())


def test_promtool_accepts_the_exposition(zkd_prom, kazoo_client):
    zk = kazoo_client(zkd_prom)
    for i in range(20):
        zk.create("/p%d" % i, b"x")
        zk.get("/p%d" % i)
    ctype, text = scrape(zkd_prom)
    assert ctype == "text/plain; version=0.0.4; charset=utf-8"
    if not shutil.which("promtool"):
        pytest.skip("promtool missing (apt-get install prometheus)")
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    # 0: clean; 3: lint problems only.  Those must be Apache's names ending in _count.
    assert p.returncode in (0, 3), p.stdout + p.stderr
    for line in (p.stdout + p.stderr).splitlines():
        m = APACHE_LINT.match(line)
        assert m and m.group(1) in APACHE_GAUGES | APACHE_COUNTERS, line


def test_names_types_and_labels_are_apaches(zkd_prom, kazoo_client):
    zk = kazoo_client(zkd_prom)
    zk.create("/typed", b"x")
    zk.get("/typed")
    fams = parse(scrape(zkd_prom)[1])
    assert REQUIRED <= set(fams), REQUIRED - set(fams)
    for name, (kind, samples) in fams.items():
        if name in APACHE_SUMMARIES:
            assert kind == "summary", name
            quantiles = {re.search(r'quantile="([^"]+)"', k).group(1) for k in samples if "{" in k}
            assert quantiles == APACHE_SUMMARIES[name], name
            assert {name + "_count", name + "_sum"} <= set(samples), name
        elif name in APACHE_COUNTERS:
            assert kind == "counter", name
        else:
            assert (name, kind) in {(g, "gauge") for g in APACHE_GAUGES}, (name, kind)
    assert fams["updatelatency"][1]["updatelatency_count"] >= 1
    assert fams["fsynctime"][1]["fsynctime_count"] >= 1
    mntr = dict(l.split("\t", 1) for l in S.four_letter(zkd_prom.port, "mntr").splitlines())
    assert fams["znode_count"][1]["znode_count"] == float(mntr["zk_znode_count"])
    assert fams["connection_request_count"][1]["connection_request_count"] >= 1


def test_only_metrics_path(zkd_prom):
    with pytest.raises(urllib.error.HTTPError) as e:
        scrape(zkd_prom, "/other")
    assert e.value.code == 404


def test_off_by_default_and_port_taken(server_factory):
    port = S.free_port()
    srv = server_factory("zkd", cfg={"metricsProvider.httpPort": str(port)})
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        busy = taken.getsockname()[1]
        srv = server_factory("zkd", cfg=metrics_cfg(busy))
        assert S.four_letter(srv.port, "ruok") == "imok"
        with open(srv.log_path) as f:
            assert "Prometheus /metrics: cannot listen on 127.0.0.1:%d" % busy in f.read()
    finally:
        taken.close()


def test_real_prometheus_scrape(zkd_prom, tmp_path):
    """Debian's prometheus server scrapes zkd every 200 ms; its API then has zkd's series."""
    if not shutil.which("prometheus"):
        pytest.skip("prometheus missing (apt-get install prometheus)")
    web = S.free_port()
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text("global:\n  scrape_interval: 200ms\n  scrape_timeout: 200ms\n"
                   "scrape_configs:\n  - job_name: zkd\n    static_configs:\n"
                   "      - targets: ['127.0.0.1:%s']\n" % zkd_prom.cfg["metricsProvider.httpPort"])
    log = open(tmp_path / "prometheus.log", "wb")
    proc = subprocess.Popen(["prometheus", "--config.file=%s" % cfg,
                             "--storage.tsdb.path=%s" % (tmp_path / "tsdb"),
                             "--web.listen-address=127.0.0.1:%d" % web],
                            stdout=log, stderr=subprocess.STDOUT, cwd=str(tmp_path))
    try:
        def query(q):
            url = "http://127.0.0.1:%d/api/v1/query?query=%s" % (web, q)
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    return json.load(r)["data"]["result"]
            except OSError:
                return []

        wait_until(lambda: query("up%7Bjob%3D%22zkd%22%7D") and
                   query("up%7Bjob%3D%22zkd%22%7D")[0]["value"][1] == "1",
                   timeout=60, what="prometheus scraped zkd")
        wait_until(lambda: query("znode_count"), timeout=30, what="znode_count in prometheus")
        res = query("readlatency%7Bquantile%3D%220.99%22%7D")
        assert res and res[0]["metric"]["job"] == "zkd"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
