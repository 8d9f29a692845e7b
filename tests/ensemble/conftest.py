"""Fixtures for ensemble fault tests (tests/lib/ensemble.py, faults.py, history.py).

  kind               parametrised ["apache", "zkd"]; skips a kind that cannot run an ensemble here
                     (no java / zookeeper jars; zkd whose --version does not mention "ensemble");
                     fails if the zkd binary is missing (a broken build, as tests/conftest.py)
  ensemble_factory   make(participants=3, observers=0, proxied=False, cfg=None, start=True, **kw)
                     -> Ensemble of `kind`, started and serving; all closed at teardown
  ensemble           a started 3-participant ensemble of `kind`
  kz                 make(hosts, **KazooClient_kwargs) -> started KazooClient, stopped at teardown
  mixed_factory      make(layout, proxied=False, **kw) -> MixedEnsemble (zkd beside Apache) of
                     one of MIXED_LAYOUTS, started with its layout's leader; needs both kinds

Every member is a tests/lib/servers.py launcher, so a failing test's report carries each running
member's log (tests/conftest.py); the ensemble's own state (modes, log tails) goes into
EnsembleError messages.
"""
import os

import pytest

from tests.conftest import KazooClients
from tests.lib import servers as S
from tests.lib.ensemble import MIXED_LAYOUTS, Ensemble, EnsembleError, MixedEnsemble, require_kinds

KINDS = ["apache", "zkd"]


def pytest_collection_modifyitems(config, items):
    """With ZK_SKIP_APACHE_ONLY=1 (packaging/test.sh sets it for the sanitizer build's run), the
    ensemble tests of kind "apache" are left out: they run Apache members and kazoo only, none of
    this project's binaries, so the run on the plain build has already covered them.  Mixed
    ensembles (zkd beside Apache) are not of kind "apache" and stay."""
    if os.environ.get("ZK_SKIP_APACHE_ONLY") != "1":
        return
    here = os.path.dirname(os.path.abspath(__file__))
    keep, drop = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        apache_only = params.get("kind") == "apache" and \
            os.path.dirname(str(item.fspath)) == here
        (drop if apache_only else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(params=KINDS)
def kind(request):
    # As tests/conftest.py: a missing zkd binary is a broken build (fail), a missing Apache is an
    # environment without the reference (skip).
    require_kinds(request.param)
    return request.param


@pytest.fixture
def ensemble_factory(kind, tmp_path_factory):
    made = []

    def make(participants=3, observers=0, proxied=False, cfg=None, start=True, cls=Ensemble, **kw):
        """A new ensemble of `kind` (`cls`: Ensemble, or NetnsEnsemble for members in network
        namespaces), started unless start=False; every one made is closed at teardown."""
        if proxied:
            kw["proxied"] = True
        ens = cls(tmp_path_factory.mktemp("ens-%s" % kind), kind, participants=participants,
                  observers=observers, cfg=cfg, **kw)
        made.append(ens)
        if start:
            try:
                ens.start()
            except (EnsembleError, S.ServerError) as e:
                pytest.fail(str(e), pytrace=False)
        return ens

    try:
        yield make
    finally:
        S.close_all(made)


@pytest.fixture
def ensemble(ensemble_factory):
    return ensemble_factory()


@pytest.fixture
def kz():
    from kazoo.retry import KazooRetry

    clients = KazooClients()

    def make(hosts, connect_timeout=30.0, **kw):
        kw.setdefault("timeout", 4.0)  # session timeout (s); at tickTime=200 the max is 4 s
        # Retry connection loss through failovers (kazoo's default retries only a few times).
        kw.setdefault("connection_retry", KazooRetry(max_tries=-1, delay=0.05, max_delay=0.5))
        return clients.start(hosts, connect_timeout, **kw)

    try:
        yield make
    finally:
        clients.stop_all()


@pytest.fixture
def mixed_factory(tmp_path_factory):
    """make(layout, proxied=False, **kw): a started MixedEnsemble of MIXED_LAYOUTS[layout] whose
    leader is the layout's; every one made is closed at teardown."""
    require_kinds("apache", "zkd")
    made = []

    def make(layout, **kw):
        args = dict(MIXED_LAYOUTS[layout], **kw)
        ens = MixedEnsemble(tmp_path_factory.mktemp("mixed-%s" % layout), **args)
        made.append(ens)
        try:
            leader = ens.start()
        except (EnsembleError, S.ServerError) as e:
            pytest.fail(str(e), pytrace=False)
        assert leader == args["leader"], ens.describe()
        return ens

    try:
        yield make
    finally:
        S.close_all(made)
