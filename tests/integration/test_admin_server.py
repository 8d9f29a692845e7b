"""The AdminServer (admin.h): every command through curl, Apache 3.9's auth gate, a port
already taken, hostile HTTP, and the JSON structure compared with Apache 3.8's Jetty
AdminServer (Debian's zookeeper.jar has it; Jetty and Jackson come from Debian's jars).
"""
import json
import os
import socket
import subprocess

import pytest
from kazoo.client import KazooClient
from kazoo.security import make_digest_acl

from tests.conftest import stop_kazoo
from tests.lib import servers as S
from tests.lib.waiting import wait_until

# Primary name -> aliases, as Apache 3.9's Commands.java registers them.
COMMANDS = {
    "configuration": ["conf", "config"],
    "connection_stat_reset": ["crst"],
    "connections": ["cons"],
    "dirs": [],
    "dump": [],
    "environment": ["env", "envi"],
    "get_trace_mask": ["gtmk"],
    "hash": [],
    "initial_configuration": ["icfg"],
    "is_read_only": ["isro"],
    "last_snapshot": ["lsnp"],
    "leader": ["lead"],
    "monitor": ["mntr"],
    "observer_connection_stat_reset": ["orst"],
    "observers": ["obsr"],
    "restore": ["rest"],
    "ruok": [],
    "server_stats": ["srvr"],
    "set_trace_mask": ["stmk"],
    "shed_connections": ["shed"],
    "snapshot": ["snap"],
    "stat_reset": ["srst"],
    "stats": ["stat"],
    "system_properties": ["sysp"],
    "voting_view": [],
    "watch_summary": ["wchs"],
    "watches": ["wchc"],
    "watches_by_path": ["wchp"],
    "zabstate": [],
}
GATED = {"snapshot": "GET", "restore": "POST", "shed_connections": "POST"}
# Commands whose answer differs on purpose between a standalone zkd and Apache.
EXPECTED_ERRORS = {
    "leader": "server is not initialized",
    "set_trace_mask": "setTraceMask requires long traceMask argument",
}

SUPER_DIGEST = "super:D/InIHSb7yEEbrWz8b9l71RjZJU="  # super:test, as Apache's docs use


def curl(url, method="GET", headers=(), data=None):
    """(status, body) of one request through the real curl binary."""
    cmd = ["curl", "-s", "-S", "--max-time", "20", "-X", method, "-o", "-", "-w", "\n%{http_code}"]
    for h in headers:
        cmd += ["-H", h]
    if data is not None:
        cmd += ["--data-binary", data]
    out = subprocess.run(cmd + [url], check=True, capture_output=True, timeout=30).stdout
    body, _, code = out.rpartition(b"\n")
    return int(code), body.decode()


def admin_cfg(port=None):
    return {"admin.enableServer": "true", "admin.serverAddress": "127.0.0.1",
            "admin.serverPort": str(port or S.free_port()), "superDigest": SUPER_DIGEST}


def base(srv):
    return "http://127.0.0.1:%s/commands" % srv.cfg["admin.serverPort"]


@pytest.fixture(scope="module")
def zkd_admin(module_server_factory):
    return module_server_factory("zkd", cfg=admin_cfg())


def get_json(srv, name, **kw):
    code, body = curl(base(srv) + "/" + name, **kw)
    return code, json.loads(body)


def test_command_list_links_every_primary_name(zkd_admin):
    code, body = curl(base(zkd_admin))
    assert code == 200
    for name in COMMANDS:
        assert '<a href="/commands/%s">%s</a>' % (name, name) in body
    assert curl(base(zkd_admin) + "/")[1] == body


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_and_alias_answers(zkd_admin, name):
    for alias in [name] + COMMANDS[name]:
        method = GATED.get(name, "GET")
        code, doc = get_json(zkd_admin, alias, method=method)
        assert doc["command"] == name, alias
        if name in GATED:
            assert (code, doc["error"]) == (401, "Auth info is missing for the command")
        else:
            assert code == 200, (alias, doc)
            assert doc["error"] == EXPECTED_ERRORS.get(name), (alias, doc)


def test_command_answers_reflect_the_server(zkd_admin, kazoo_client):
    zk = kazoo_client(zkd_admin)
    zk.create("/adm-e", b"", ephemeral=True)
    zk.create("/adm-w", b"")
    zk.get("/adm-w", watch=lambda e: None)
    sid = zk.client_id[0]
    assert get_json(zkd_admin, "ruok")[1] == {"command": "ruok", "error": None}
    mon = get_json(zkd_admin, "mntr")[1]
    assert mon["server_state"] == "standalone" and mon["ephemerals_count"] >= 1
    assert mon["cnt_updatelatency"] >= 2 and isinstance(mon["p99_readlatency"], int)
    cons = get_json(zkd_admin, "cons")[1]["connections"]
    assert any(c.get("session_id") == sid for c in cons)
    dump = get_json(zkd_admin, "dump")[1]
    assert "/adm-e" in dump["session_id_to_ephemeral_paths"][str(sid)]
    assert any(sid in ids for ids in dump["expiry_time_to_session_ids"].values())
    assert "/adm-w" in get_json(zkd_admin, "wchc")[1]["session_id_to_watched_paths"][str(sid)]
    assert sid in get_json(zkd_admin, "wchp")[1]["path_to_session_ids"]["/adm-w"]
    assert get_json(zkd_admin, "wchs")[1]["num_total_watches"] >= 1
    icfg = get_json(zkd_admin, "icfg")[1]["initial_configuration"]
    assert "admin.serverPort=%s" % zkd_admin.cfg["admin.serverPort"] in icfg
    assert get_json(zkd_admin, "conf")[1]["client_port"] == zkd_admin.port
    assert get_json(zkd_admin, "stmk?traceMask=12")[1]["tracemask"] == 12
    assert get_json(zkd_admin, "is_read_only")[1]["read_only"] is False
    assert get_json(zkd_admin, "srvr")[1]["server_stats"]["server_state"] == "standalone"
    # srst resets the server's counters.
    get_json(zkd_admin, "srst")
    assert get_json(zkd_admin, "mntr")[1]["cnt_updatelatency"] == 0


def test_monitor_has_every_mntr_value(zkd_admin):
    text = S.four_letter(zkd_admin.port, "mntr")
    keys = {line.split("\t")[0][3:] for line in text.splitlines() if line.startswith("zk_")}
    # Apache 3.8's mntr summary lines (its mntr has no p50_latency, only avg/min/max).
    for k in ("avg_readlatency", "p50_readlatency", "p95_readlatency", "p99_readlatency",
              "p999_readlatency", "cnt_updatelatency", "p999_updatelatency", "uptime"):
        assert k in keys, k
    assert keys == set(get_json(zkd_admin, "mntr")[1]) - {"command", "error"}


def test_unknown_command_and_bad_requests(zkd_admin):
    code, doc = get_json(zkd_admin, "nosuch%22cmd")
    assert (code, doc) == (200, {"command": 'nosuch"cmd', "error": 'Unknown command: nosuch"cmd'})
    port = int(zkd_admin.cfg["admin.serverPort"])
    assert curl("http://127.0.0.1:%d/elsewhere" % port)[0] == 404
    assert curl(base(zkd_admin) + "/ruok", method="DELETE")[0] == 405
    assert get_json(zkd_admin, "ruok", method="POST")[0] == 405
    # Hostile bytes: garbage request lines, huge headers, a half request left open.
    for raw in (b"\x00\xff garbage\r\n\r\n", b"GET /commands/ruok HTTP/9.9\r\n\r\n",
                b"GET /commands/ruok HTTP/1.1\r\nX: " + b"a" * 200000 + b"\r\n\r\n",
                b"GET /commands/ruok HTTP/1.1\r\nAuthorization: digest " + b"\xff" * 5000 + b"\r\n"):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        try:
            s.sendall(raw)
        except OSError:
            pass  # the server may close on the first bad bytes
        s.close()
    code, doc = get_json(zkd_admin, "snapshot?streaming=false",
                         headers=["Authorization: digest " + "x" * 4000])
    assert (code, doc["error"]) == (200, None)  # any digest id passes the default ACL of "/"
    assert get_json(zkd_admin, "ruok")[0] == 200
    assert S.four_letter(zkd_admin.port, "ruok") == "imok"


def test_auth_gate_as_apache_3_9(server_factory, kazoo_client):
    cfg = admin_cfg()
    cfg["admin.rateLimiterIntervalInMS"] = "0"  # every call runs
    srv = server_factory("zkd", cfg=cfg)

    def snap(auth):
        code, doc = get_json(srv, "snapshot?streaming=false",
                             headers=["Authorization: " + auth] if auth else [])
        return code, doc["error"]

    # The default ACL of "/" (world:anyone:cdrwa) lets any authenticated id in.
    assert snap(None) == (401, "Auth info is missing for the command")
    for bad in ("kerberos x", "digest", "digest a:b c", "x509"):
        assert snap(bad) == (401, "Not authenticated"), bad
    assert snap("ip") == (200, None)
    assert snap("digest anyone:pw") == (200, None)
    # Only admin:pw may do everything on "/" now.
    zk = kazoo_client(srv, auth_data=[("digest", "admin:pw")])
    zk.set_acls("/", [make_digest_acl("admin", "pw", all=True)])
    assert snap("digest admin:pw") == (200, None)
    assert snap("digest admin:wrong") == (403, "Not authorized")
    assert snap("ip") == (403, "Not authorized")
    assert snap("digest super:test") == (200, None)  # superDigest passes every ACL
    code, doc = get_json(srv, "restore", method="POST", data="x" * 1000,
                         headers=["Authorization: digest admin:pw"])
    assert (code, doc["command"], doc["error"]) == (
        500, "restore", "the upload is not a valid snapshot stream")
    # Ungated commands ignore the header.
    assert get_json(srv, "ruok", headers=["Authorization: digest admin:wrong"])[0] == 200


def test_admin_port_taken_keeps_serving(server_factory):
    taken = socket.socket()
    taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        port = taken.getsockname()[1]
        srv = server_factory("zkd", cfg=admin_cfg(port))
        assert S.four_letter(srv.port, "ruok") == "imok"
        zk = KazooClient(hosts=srv.hosts, timeout=10.0)
        zk.start(timeout=15)
        try:
            zk.create("/still-serving", b"x")
        finally:
            stop_kazoo(zk)
        with open(srv.log_path) as f:
            log = f.read()
        assert "AdminServer: cannot listen on 127.0.0.1:%d: Address already in use" % port in log
    finally:
        taken.close()


def test_admin_disabled(server_factory):
    port = S.free_port()
    cfg = admin_cfg(port)
    cfg["admin.enableServer"] = "false"
    srv = server_factory("zkd", cfg=cfg)
    assert S.four_letter(srv.port, "ruok") == "imok"
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_admin_custom_command_url(server_factory):
    cfg = admin_cfg()
    cfg["admin.commandURL"] = "/ops/"
    srv = server_factory("zkd", cfg=cfg)
    url = "http://127.0.0.1:%s/ops" % cfg["admin.serverPort"]
    assert curl(url + "/ruok")[0] == 200
    assert '<a href="/ops/ruok">ruok</a>' in curl(url)[1]
    assert curl(base(srv) + "/ruok")[0] == 404


# --------------------------------------------------------------------------
# Differential: JSON structure against Apache 3.8's Jetty AdminServer
# --------------------------------------------------------------------------

ADMIN_JARS = ["jetty9-server.jar", "jetty9-servlet.jar", "jetty9-http.jar", "jetty9-io.jar",
              "jetty9-util.jar", "jetty9-security.jar", "servlet-api.jar", "jackson-databind.jar",
              "jackson-core.jar", "jackson-annotations.jar"]


class ApacheWithAdmin(S.ApacheZK):
    """Apache 3.8 with the Jetty jars its AdminServer needs on the class path."""

    def classpath(self):
        extra = [os.path.join(S.APACHE_JAVA_DIR, j) for j in ADMIN_JARS]
        return ":".join([super().classpath()] + extra)


def shape(v):
    """The structure of a JSON value: dict keys and leaf types, recursively.  Keys that are
    data (session ids, expiry times, paths) become "*"."""
    if isinstance(v, dict):
        return {("*" if k.isdigit() or k.startswith("/") else k): shape(x) for k, x in v.items()}
    if isinstance(v, list):
        return [shape(v[0])] if v else []
    return type(v).__name__


def scenario(srv):
    """One session with an ephemeral node and a data watch; returns the JSON answers."""
    zk = KazooClient(hosts=srv.hosts, timeout=10.0)
    zk.start(timeout=30)
    try:
        zk.create("/d", b"x")
        zk.create("/d/e", b"", ephemeral=True)
        zk.get("/d", watch=lambda e: None)
        return {name: get_json(srv, name)[1] for name in COMMANDS if name not in GATED}
    finally:
        stop_kazoo(zk)


# Host- and JVM-specific maps (environment, system_properties) share only their type.
NOT_COMPARED = {"environment", "system_properties", "monitor"}
# mntr values both servers report; the rest of Apache's 480 are JVM pipeline internals.
MONITOR_CORE = ["version", "server_state", "avg_latency", "max_latency", "min_latency",
                "packets_received", "packets_sent", "num_alive_connections",
                "outstanding_requests", "znode_count", "watch_count", "ephemerals_count",
                "approximate_data_size", "open_file_descriptor_count",
                "max_file_descriptor_count", "global_sessions", "uptime"] + [
    "%s_%s" % (s, m) for m in ("readlatency", "updatelatency")
    for s in ("avg", "min", "max", "cnt", "sum", "p50", "p95", "p99", "p999")]


def test_json_structure_matches_apache(server_factory, tmp_path):
    reason = S.ApacheZK.missing_reason()
    missing = [j for j in ADMIN_JARS if not os.path.exists(os.path.join(S.APACHE_JAVA_DIR, j))]
    if reason or missing:
        pytest.skip("Apache's AdminServer unavailable: %s" % (reason or missing))
    apache = ApacheWithAdmin(tmp_path / "apache", cfg=admin_cfg())
    try:
        apache.start()
        want = scenario(apache)
    finally:
        S.close_all([apache])
    got = scenario(server_factory("zkd", cfg=admin_cfg()))
    # Apache 3.8 predates these 3.9 commands (its Jetty answers "Unknown command").
    for name in sorted(COMMANDS):
        if name in GATED or name in NOT_COMPARED or want[name]["error"]:
            continue
        assert shape(got[name]) == shape(want[name]), name
    assert want["leader"]["error"] == got["leader"]["error"] == "server is not initialized"
    for name in ("environment", "system_properties"):
        assert {type(v) for v in got[name].values()} - {type(None)} == {str}
    for k in MONITOR_CORE:
        assert type(got["monitor"][k]) is type(want["monitor"][k]), k
    for k in set(got["monitor"]) & set(want["monitor"]):
        assert type(got["monitor"][k]) is type(want["monitor"][k]), k


def test_ensemble_leader_zabstate_voting_view(tmp_path):
    from tests.lib.ensemble import Ensemble
    ens = Ensemble(tmp_path / "ens", "zkd", participants=3)
    try:
        ports = {}
        for sid, m in ens.members.items():
            ports[sid] = S.free_port()
            m.cfg.update({"admin.enableServer": "true", "admin.serverAddress": "127.0.0.1",
                          "admin.serverPort": str(ports[sid])})
        ens.start()
        ens.wait_serving()
        leader = ens.leader(timeout=60)

        def cmd(sid, name):
            return json.loads(curl("http://127.0.0.1:%d/commands/%s" % (ports[sid], name))[1])

        for sid in ens.sids:
            lead = cmd(sid, "lead")
            assert (lead["is_leader"], lead["leader_id"], lead["error"]) == (sid == leader, leader, None)
            zab = cmd(sid, "zabstate")
            assert (zab["myid"], zab["voting"], zab["zabstate"]) == (sid, True, "broadcast")
            view = cmd(sid, "voting_view")["current_config"]
            assert sorted(view) == ["1", "2", "3"]
            assert view[str(sid)]["learnerType"] == "participant"
            assert view[str(sid)]["serverAddresses"] == ["127.0.0.1:%d" % ens.quorum_ports[sid]]
            assert cmd(sid, "mntr")["server_state"] == ("leader" if sid == leader else "follower")
    finally:
        ens.close()
