"""Apache Curator 5 (framework and recipes: locks, leader latch, atomic counter, cache)
against zkd and Apache ZooKeeper, transcripts compared. Compiled at test time with javac."""
import glob
import os
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(HERE), "java", "CuratorCheck.java")
JARS = ["curator-framework", "curator-client", "curator-recipes", "zookeeper", "guava",
        "slf4j-api", "slf4j-nop", "failureaccess", "zookeeper-jute", "netty-handler",
        "netty-transport", "netty-common", "netty-buffer", "netty-codec", "netty-resolver",
        "netty-transport-native-unix-common", "netty-transport-native-epoll"]


def classpath():
    found = []
    for name in JARS:
        p = "/usr/share/java/%s.jar" % name
        if os.path.exists(p):
            found.append(p)
    return found


@pytest.fixture(scope="module")
def curator_classes(tmp_path_factory):
    cp = classpath()
    if not any("curator-recipes" in p for p in cp) or not os.path.exists("/usr/bin/javac"):
        pytest.fail("Curator (libcurator-recipes-java) or javac missing: run packaging/install-deps.sh")
    out = str(tmp_path_factory.mktemp("curator"))
    subprocess.run(["javac", "-nowarn", "-cp", ":".join(cp), "-d", out, SRC], check=True,
                   capture_output=True, timeout=300)
    return ":".join(cp + [out])


def transcript(srv, cp):
    p = subprocess.run(["java", "-Xmx256m", "-XX:TieredStopAtLevel=1", "-cp", cp, "CuratorCheck", srv.hosts],
                       capture_output=True, text=True, timeout=180)
    lines = [l for l in p.stdout.splitlines() if " => " in l]
    assert p.returncode == 0, p.stdout + p.stderr
    return lines


def test_curator_recipes_match_apache(server_factory, curator_classes):
    apache = transcript(server_factory("apache"), curator_classes)
    ours = transcript(server_factory("zkd"), curator_classes)
    assert ours == apache
    assert "lock => true" in ours and "leader => true" in ours and "counter => 5" in ours
