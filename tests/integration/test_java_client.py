"""Apache's own Java client (zkCli's ZooKeeperMain) against zkd and Apache, outputs compared.

Each command runs in one ZooKeeperMain invocation (`-server host:port cmd args`),
the way scripts use zkCli.sh; lines that carry times or zxids are dropped.
"""
import re
import subprocess

import pytest

from tests.lib.servers import APACHE_CLASSPATH

MAIN = "org.apache.zookeeper.ZooKeeperMain"

COMMANDS = [
    ["create", "/jc", "hello"],
    ["create", "-s", "/jc/seq-", "x"],
    ["create", "-e", "/jc/eph", "y"],
    ["get", "/jc"],
    ["set", "/jc", "world"],
    ["get", "-s", "/jc"],
    ["ls", "/jc"],
    ["ls", "-s", "/"],
    ["stat", "/jc"],
    ["getAcl", "/jc"],
    ["setAcl", "/jc", "world:anyone:cdrw"],
    ["getAcl", "/jc"],
    ["create", "/jc", "again"],
    ["delete", "/jc"],
    ["deleteall", "/jc"],
    ["get", "/jc"],
    ["getAllChildrenNumber", "/"],
]

VOLATILE = re.compile(r"^(cZxid|mZxid|pZxid|ctime|mtime|ephemeralOwner)\b|WATCHER|WatchedEvent|^$")


def run(srv, args):
    cmd = ["java", "-Xmx128m", "-XX:TieredStopAtLevel=1", "-cp", ":".join(APACHE_CLASSPATH[:1]),
           MAIN, "-server", srv.hosts] + args
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    lines = [l for l in (p.stdout + p.stderr).splitlines()
             if not l.startswith(("Connecting to", "SLF4J")) and not VOLATILE.search(l)]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def apache_transcript(apache_zk):
    return [run(apache_zk, c) for c in COMMANDS]


def test_zkcli_commands_match_apache(zkd, apache_transcript):
    ours = [run(zkd, c) for c in COMMANDS]
    for c, a, z in zip(COMMANDS, apache_transcript, ours):
        assert z == a, "zkCli %s:\napache: %r\nzkd:    %r" % (" ".join(c), a, z)
