"""The `hash` command's digest history, against Apache 3.8 (issue 12).

Apache's DataTree notes the tree digest after every transaction whose zxid
is a multiple of 128 (the newest 1024) and the `hash` four-letter word and
admin command list them.  zkd keeps the same history (server/digest.h).

Apache writes 300 transactions and answers `hash`; then zkd starts on
Apache's dataDir, replays the same log (checking its TxnDigests) and must
answer `hash` with exactly the same text and JSON: same zxids, same digests
(those of Apache's own tree), same format.
"""
import os

import pytest

kazoo = pytest.importorskip("kazoo")

from tests.conftest import stop_kazoo  # noqa: E402
from tests.integration.test_admin_server import (ADMIN_JARS, ApacheWithAdmin,  # noqa: E402
                                                 admin_cfg, get_json)
from tests.integration.test_apache_datadir import client  # noqa: E402
from tests.lib import servers as S  # noqa: E402


def test_hash_lists_the_digest_history_as_apache(tmp_path):
    reason = S.ApacheZK.missing_reason()
    missing = [j for j in ADMIN_JARS if not os.path.exists(os.path.join(S.APACHE_JAVA_DIR, j))]
    if reason or missing:
        pytest.skip("Apache's AdminServer unavailable: %s" % (reason or missing))
    cfg = admin_cfg()
    apache = ApacheWithAdmin(tmp_path / "srv", cfg=cfg)
    zkd = None
    try:
        apache.start()
        zk = client(apache)
        zk.create("/h", b"")
        for i in range(300):
            zk.create("/h/n%d" % i, b"%d" % i)
        stop_kazoo(zk)
        want_text = S.four_letter(apache.port, "hash")
        code, want_json = get_json(apache, "hash")
        assert code == 200
        apache.stop()
        lines = want_text.splitlines()
        assert [ln.split(":")[0] for ln in lines] == ["80", "100"], want_text
        assert len(want_json["digests"]) == 2

        zkd = S.Zkd(apache.workdir, port=apache.port, cfg=cfg)
        zkd.start()
        assert S.four_letter(zkd.port, "hash") == want_text
        code, got_json = get_json(zkd, "hash")
        assert code == 200
        assert got_json == want_json
    finally:
        S.close_all([s for s in (apache, zkd) if s])
