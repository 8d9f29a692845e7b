#!/usr/bin/env bash
# Installs everything zkfs needs to build and test on Debian 12 (bookworm).
#
# Idempotent: when every package is already installed it does not touch apt
# at all, so it costs well under a second on a prepared machine.  Must run as
# root (or through sudo) when something is missing.
#
#   sudo bash packaging/install-deps.sh
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

PACKAGES=(
  # build
  build-essential cmake pkg-config openssl
  libuv1-dev libssl-dev libsasl2-dev libsasl2-modules sasl2-bin
  # Kerberos through Cyrus SASL (server/kerberos.h), and a throw-away KDC plus kazoo's GSSAPI
  # client for its tests (tests/lib/kdc.py, tests/integration/test_kerberos.py)
  libsasl2-modules-gssapi-mit libkrb5-dev krb5-kdc krb5-admin-server krb5-user
  python3-pure-sasl python3-kerberos
  libfuse3-dev fuse3 libedit-dev
  # zkd's AdminServer and Prometheus endpoint (server/httpd.c); GnuTLS to verify admin
  # clients' certificates (admin.needClientAuth)
  libmicrohttpd-dev libgnutls28-dev
  # Apache ZooKeeper's snapshot format: .gz (zlib), .snappy; its Adler-32 and the tree
  # digest's CRC-32 (libdeflate's SIMD routines, server/checksum.h)
  zlib1g-dev libsnappy-dev libdeflate-dev
  # fuzzing / sanitizer builds with clang
  clang libclang-rt-14-dev
  # reference server (Apache ZooKeeper 3.8, with Java) and its C client
  zookeeper libzookeeper-mt-dev zookeeper-bin default-jre-headless
  # Apache Curator and javac, for the Curator compatibility test
  openjdk-17-jdk-headless libcurator-recipes-java libcurator-framework-java
  # Debian packages (packaging/deb.sh) and their checks; sd_notify for zkd
  debhelper dpkg-dev lintian libsystemd-dev man-db systemd
  # test harness
  python3 python3-pytest python3-pytest-timeout python3-kazoo python3-fusepy
  inotify-tools attr procps iproute2 psmisc valgrind
  # real partitions between network namespaces (tests/lib/netns.py)
  nftables
  # AdminServer and Prometheus tests: a real HTTP client, promtool and a real scraper
  curl prometheus
)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ "$status" == installed ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root: sudo bash $0" >&2
  exit 1
fi

echo "install-deps: installing: ${missing[*]}"
apt-get update -q
apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"
