#!/bin/bash
# Builds QEMU's TCG `insn` plugin (a deterministic instruction counter) from Debian's own source of
# the installed qemu-system-arm: Debian ships QEMU with plugin support but no plugins. Idempotent:
# does nothing when the plugin exists. Output: .cache/qemu-plugins/libinsn.so (or $1).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT_DIR=${1:-.cache/qemu-plugins}
OUT="$OUT_DIR/libinsn.so"
[ -f "$OUT" ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
say() { echo "insn-plugin: $*"; }

missing=""
for pkg in libglib2.0-dev pkg-config xz-utils; do
    dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
SRC_LIST=/etc/apt/sources.list.d/rtlnf-deb-src.sources
if [ ! -f "$SRC_LIST" ]; then
    # The same archive as the binary packages, for source packages only.
    uris=""
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then            # deb822 (Debian 12 images)
        uris=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources | head -n 1)
    elif [ -f /etc/apt/sources.list ]; then                             # one-line format (debootstrap)
        uris=$(awk '$1 == "deb" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list)
    fi
    uris=${uris:-http://deb.debian.org/debian}
    say "adding a deb-src entry for $uris"
    printf 'Types: deb-src\nURIs: %s\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$uris" | $SUDO tee "$SRC_LIST" >/dev/null
    $SUDO apt-get update -qq
fi
if [ -n "$missing" ]; then
    say "installing$missing"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

version=$(dpkg-query -W -f '${source:Version}' qemu-system-arm)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
say "fetching the source of qemu $version (only two files are unpacked)"
(cd "$work" && chmod 777 . && apt-get source --download-only -qq "qemu=$version" >/dev/null 2>&1)
orig=$(ls "$work"/qemu_*.orig.tar.* | head -n 1)
tar -C "$work" -xf "$orig" --wildcards '*/include/qemu/qemu-plugin.h' '*/tests/plugin/insn.c'
top=$(ls -d "$work"/qemu-*/ | head -n 1)
mkdir -p "$OUT_DIR"
gcc -shared -fPIC -O2 -I "$top/include" -I "$top/include/qemu" $(pkg-config --cflags glib-2.0) "$top/tests/plugin/insn.c" -o "$OUT"
say "built $OUT"
