#!/usr/bin/env bash
# Builds the Debian packages from this tree with Debian's own tooling
# (debhelper, dpkg-buildpackage) into build/deb/, then runs lintian on them:
#
#   bash packaging/deb.sh
#
# Packages: zkd (server, /etc/zkd/zoo.cfg, /var/lib/zkd, zkd.service and
# zkd@.service), zkfs (the FUSE mount, mount -t fuse.zkfs), zkcli (zkcli and
# zkbench), libzk1 (libzk.so.1) and libzk-dev (headers, libzk.a, libzk.pc).
# The source is copied as git sees it (tracked and untracked, not ignored),
# with packaging/debian/ as debian/.  Exits non-zero if the build fails or
# lintian reports an error.  ZK_SKIP_INSTALL=1 skips installing build tools.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
[[ "${ZK_SKIP_INSTALL:-0}" == 1 ]] || bash packaging/install-deps.sh

VERSION=$(dpkg-parsechangelog -l packaging/debian/changelog -S Version)
OUT=$ROOT/build/deb
SRC=$OUT/src/zkfs-$VERSION
rm -rf "$OUT"
mkdir -p "$SRC"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$SRC"
cp -r packaging/debian "$SRC/debian"
cp packaging/systemd/zkd.service "$SRC/debian/zkd.service"
cp packaging/systemd/zkd@.service "$SRC/debian/zkd@.service"
(cd "$SRC" && dpkg-buildpackage -us -uc -b -j"$(nproc)")
mv "$OUT"/src/*.deb "$OUT"/src/*.buildinfo "$OUT"/src/*.changes "$OUT"/
rm -rf "$OUT/src"
ls -l "$OUT"/*.deb
echo "deb.sh: lintian"
lintian --fail-on error --suppress-tags-from-file packaging/lintian-suppressed "$OUT"/*.changes
echo "deb.sh: packages in $OUT"
