#!/usr/bin/env bash
# `make setup`: installs everything this project needs on a Debian machine, idempotently.
#   apt:  the Arm cross toolchain, QEMU (the CI emulator), openocd (flashing)
#   venv: .venv with the pinned Python dependencies from pyproject.toml
#   pio:  the offline PlatformIO seed (tool-scons) and settings in .pio-core/
# Uses sudo when not root. When everything is in place it only checks (well under 10 s).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm openocd)
PYTHON=${PYTHON:-python3}
VENV=.venv
# Which optional dependency groups of pyproject.toml to install.
EXTRAS=${RTLNF_EXTRAS:-firmware,train,int8,bench,dev}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# --- apt ------------------------------------------------------------------------------------------
missing=()
if command -v dpkg-query >/dev/null 2>&1; then
    for pkg in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
        missing+=(python3-venv)
    fi
    if [ ${#missing[@]} -gt 0 ]; then
        echo "setup: installing Debian packages: ${missing[*]}"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
else
    for tool in arm-none-eabi-gcc qemu-system-arm; do
        command -v "$tool" >/dev/null 2>&1 || {
            echo "setup: $tool not found and this is not a Debian system; install ${APT_PACKAGES[*]} (or equivalents) by hand" >&2
            exit 1
        }
    done
fi

# --- Python venv ----------------------------------------------------------------------------------
if ! "$PYTHON" -c 'import sys; sys.exit(not ((3, 11) <= sys.version_info[:2] < (3, 14)))'; then
    echo "setup: $PYTHON is $("$PYTHON" --version 2>&1); RT-LNF needs Python 3.11 to 3.13 (set PYTHON=...)" >&2
    exit 1
fi
stamp="$VENV/.rtlnf-installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1) extras=$EXTRAS"
if [ ! -x "$VENV/bin/python" ]; then
    echo "setup: creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "setup: installing Python dependencies ($EXTRAS) into $VENV"
    log="$VENV/pip-install.log"
    if ! { "$VENV/bin/python" -m pip install --upgrade pip && "$VENV/bin/python" -m pip install -e ".[$EXTRAS]"; } >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        echo "setup: pip install failed (full log: $log)" >&2
        exit 1
    fi
    echo "$want" > "$stamp"
fi

# --- PlatformIO, offline --------------------------------------------------------------------------
"$VENV/bin/python" tools/pio_offline.py

# --- QEMU's instruction-counting plugin (make bench, and the benchmark firmware's tests) -----------
tools/build_insn_plugin.sh

# --- CMSIS sources for the benchmark's peer implementation (make bench, tests/test_bench.py) --------
"$VENV/bin/python" tools/fetch_cmsis.py >/dev/null
