"""Host builds of firmware C for tests: compile with gcc into a shared library, call it via ctypes.

The same source files the firmware links are compiled here with the host compiler, warnings as
errors and UndefinedBehaviorSanitizer on (signed overflow in fixed-point code is a bug, not a
rounding mode), so a Python reference can check every C result.
"""

from __future__ import annotations

import ctypes
import hashlib
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
FIRMWARE_DIR = REPO_ROOT / "firmware"

HOST_CFLAGS = [
    "-std=c11", "-O2", "-g", "-fPIC", "-shared",
    "-Wall", "-Wextra", "-Werror", "-Wshadow", "-Wstrict-prototypes", "-Wmissing-prototypes",
    "-fsanitize=undefined", "-fno-sanitize-recover=all",
]


class HostBuildError(Exception):
    pass


def compile_shared(sources: list[Path | str], out_dir: Path, extra_flags: list[str] | None = None,
                   include_dirs: list[Path] | None = None) -> ctypes.CDLL:
    """Compiles firmware sources (paths relative to firmware/ or absolute) into one .so and loads it."""
    paths = [p if Path(p).is_absolute() else FIRMWARE_DIR / p for p in sources]
    flags = HOST_CFLAGS + list(extra_flags or [])
    incs = [FIRMWARE_DIR, *(include_dirs or [])]
    key = hashlib.sha256()
    for p in paths:
        key.update(Path(p).read_bytes())
    key.update(" ".join(flags + [str(i) for i in incs]).encode())
    out = Path(out_dir) / f"lib{Path(paths[0]).stem}-{key.hexdigest()[:16]}.so"
    if not out.exists():
        cmd = ["gcc", *flags, *(f"-I{i}" for i in incs), "-o", str(out), *map(str, paths)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise HostBuildError(f"{' '.join(cmd)}\n{proc.stderr}")
    return ctypes.CDLL(str(out))
