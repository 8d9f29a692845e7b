"""Shared pytest fixtures: servers on free ports in private tmp dirs, and kazoo clients.

Fixtures
  zkd               a fresh zkd for one test (build/bin/zkd, or $ZK_BUILD_DIR/bin/zkd)
  zkd_module        one zkd shared by a test module
  apache_zk         one Apache ZooKeeper 3.8 shared by a test module (skipped only
                    if java or the zookeeper jars are missing)
  server            module-scoped, parametrized ["apache", "zkd"]: differential tests
  server_factory    make("zkd"|"apache", cfg={...}, start=True) -> server; for several
                    servers, custom configs, or crash/restart tests (function-scoped)
  kazoo_client      make(server, **KazooClient_kwargs) -> started KazooClient (function-scoped)

Every server started through these is stopped at teardown (SIGTERM, then SIGKILL),
even when the test fails; zkd's log is checked for sanitizer reports when it stops.
When a test fails, the tail of every running server's log is attached to the report.
"""
import threading

import pytest

from tests.lib import servers as S  # (importing tests.lib guards kazoo: tests/lib/__init__.py)


# --------------------------------------------------------------------------
# Failure reports carry the servers' logs
# --------------------------------------------------------------------------

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and rep.when in ("setup", "call"):
        for srv in S.live_servers():
            rep.sections.append(("server log: %s (%s)" % (srv.name, srv.workdir), srv.log_tail(80)))


# --------------------------------------------------------------------------
# Servers
# --------------------------------------------------------------------------

class ServerPool:
    """Starts servers for one fixture scope and closes all of them at its end."""

    def __init__(self, tmp_path_factory):
        self.tmp_path_factory = tmp_path_factory
        self.servers = []

    def make(self, kind="zkd", start=True, **kw):
        cls = S.LAUNCHERS[kind]
        reason = cls.missing_reason()
        if reason:
            if kind == "apache":
                pytest.skip("Apache ZooKeeper unavailable: " + reason)
            pytest.fail(reason, pytrace=False)
        srv = cls(self.tmp_path_factory.mktemp(kind), **kw)
        self.servers.append(srv)
        if start:
            try:
                srv.start()
            except S.ServerError as e:
                pytest.fail(str(e), pytrace=False)
        return srv

    def close(self):
        servers, self.servers = self.servers, []
        S.close_all(servers)


@pytest.fixture
def server_factory(tmp_path_factory):
    pool = ServerPool(tmp_path_factory)
    try:
        yield pool.make
    finally:
        pool.close()


@pytest.fixture(scope="module")
def module_server_factory(tmp_path_factory):
    pool = ServerPool(tmp_path_factory)
    try:
        yield pool.make
    finally:
        pool.close()


@pytest.fixture
def zkd(server_factory):
    return server_factory("zkd")


@pytest.fixture(scope="module")
def zkd_module(module_server_factory):
    return module_server_factory("zkd")


@pytest.fixture(scope="module")
def apache_zk(module_server_factory):
    return module_server_factory("apache")


SERVER_KINDS = ["apache", "zkd"]


@pytest.fixture(scope="module", params=SERVER_KINDS)
def server(request):
    """The same tests against the reference (apache) and against zkd."""
    return request.getfixturevalue("apache_zk" if request.param == "apache" else "zkd_module")


# --------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------

def stop_kazoo(client, timeout=10.0):
    """Stops and closes a KazooClient without ever hanging the test run."""
    def run():
        try:
            client.stop()
        finally:
            client.close()
    t = threading.Thread(target=run, name="kazoo-stop", daemon=True)
    t.start()
    t.join(timeout)


class KazooClients:
    """The kazoo clients a test started; stop_all stops them, newest first."""

    def __init__(self):
        self.clients = []

    def start(self, hosts, connect_timeout, **kw):
        from kazoo.client import KazooClient
        client = KazooClient(hosts=hosts, **kw)
        self.clients.append(client)
        client.start(timeout=connect_timeout)
        return client

    def stop_all(self):
        for client in reversed(self.clients):
            stop_kazoo(client)


@pytest.fixture
def kazoo_client():
    clients = KazooClients()

    def make(srv, connect_timeout=15.0, **kw):
        kw.setdefault("timeout", 10.0)  # session timeout, seconds
        return clients.start(srv.hosts, connect_timeout, **kw)

    try:
        yield make
    finally:
        clients.stop_all()
