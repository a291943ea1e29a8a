#!/bin/sh
# Build the proxyd Debian package (.deb) from this source tree, without touching the tree.
#
#   packaging/build-deb.sh [--install-deps] [--head] [OUTDIR]
#
# Copies the working tree (without .git and build directories) to OUTDIR/proxyd-<version>/,
# copies packaging/debian/ to debian/ in that copy, runs "dpkg-buildpackage -us -uc -b" there
# and prints the path of the .deb (last line of the output). OUTDIR defaults to a new
# temporary directory; it must be outside the source tree.
#   --head          build the committed sources (git archive HEAD) instead of the working
#                   tree; packaging/ is still taken from the working tree.
#   --install-deps  install debhelper, dpkg-dev and the Build-Depends of
#                   packaging/debian/control with apt-get first (needs root).
set -eu

usage() {
    echo "usage: $0 [--install-deps] [--head] [OUTDIR]" >&2
    exit 2
}

install_deps=0
from_head=0
outdir=
while [ $# -gt 0 ]; do
    case "$1" in
    --install-deps) install_deps=1 ;;
    --head) from_head=1 ;;
    -h | --help) usage ;;
    -*) usage ;;
    *) [ -z "$outdir" ] || usage; outdir=$1 ;;
    esac
    shift
done

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
if [ ! -f "$top/meson.build" ] || [ ! -d "$here/debian" ]; then
    echo "$0: cannot find the source tree (meson.build) above $here" >&2
    exit 1
fi

version=$(sed -n '1s/^proxyd (\([^)]*\)).*/\1/p' "$here/debian/changelog")
meson_version=$(sed -n "s/^project('proxyd'.*version: *'\([^']*\)'.*/\1/p" "$top/meson.build")
[ -n "$version" ] || { echo "$0: cannot read the version from debian/changelog" >&2; exit 1; }
if [ -n "$meson_version" ] && [ "$meson_version" != "$version" ]; then
    echo "$0: warning: debian/changelog says $version, meson.build says $meson_version" >&2
fi

if [ "$install_deps" = 1 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends debhelper dpkg-dev fakeroot
    deps=$(sed -n '/^Build-Depends:/,/^[A-Z][A-Za-z-]*:/p' "$here/debian/control" |
        sed -e '/^Build-Depends:/s/^Build-Depends://' -e '/^[A-Z][A-Za-z-]*:/d' |
        tr ',' '\n' | sed -e 's/([^)]*)//g' -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' |
        grep -v '^$' | grep -v '^debhelper-compat$' || true)
    # shellcheck disable=SC2086 # one package name per word
    apt-get install -y --no-install-recommends $deps
fi

for tool in dpkg-buildpackage dh; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "$0: '$tool' is missing: apt-get install debhelper dpkg-dev (or run with --install-deps)" >&2
        exit 1
    }
done

if [ -z "$outdir" ]; then
    outdir=$(mktemp -d "${TMPDIR:-/tmp}/proxyd-deb.XXXXXX")
else
    mkdir -p "$outdir"
    outdir=$(cd "$outdir" && pwd)
fi
case "$outdir/" in
"$top"/*) echo "$0: OUTDIR must be outside the source tree ($top)" >&2; exit 1 ;;
esac

src="$outdir/proxyd-$version"
rm -rf "$src"
mkdir -p "$src"
if [ "$from_head" = 1 ]; then
    # The last commit, plus the packaging files as they are now (they may not be committed).
    git -C "$top" archive --format=tar HEAD | (cd "$src" && tar -xf -)
    rm -rf "$src/packaging"
    (cd "$top" && tar -cf - packaging) | (cd "$src" && tar -xf -)
else
    # The working tree as it is (including uncommitted changes), minus VCS data and build output.
    (cd "$top" && tar -cf - \
        --exclude=./.git --exclude='./build*' --exclude='./obj-*' --exclude=./debian \
        --exclude='__pycache__' --exclude='*.pyc' .) | (cd "$src" && tar -xf -)
fi
rm -rf "$src/debian"
cp -R "$here/debian" "$src/debian"
chmod 0755 "$src/debian/rules"

echo "building in $src" >&2
(cd "$src" && dpkg-buildpackage -us -uc -b)

arch=$(dpkg-architecture -qDEB_HOST_ARCH)
deb="$outdir/proxyd_${version}_${arch}.deb"
[ -f "$deb" ] || { echo "$0: dpkg-buildpackage did not produce $deb" >&2; exit 1; }
echo "$deb"
