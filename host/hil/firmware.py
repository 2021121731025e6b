"""Building the firmware with PlatformIO (the project-local offline platform) and finding its ELF."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT_S = 300

# PlatformIO's registry is unreachable here: these keep it from trying on every run.
PIO_OFFLINE_ENV = {
    "PLATFORMIO_SETTING_ENABLE_TELEMETRY": "no",
    "PLATFORMIO_DISABLE_UPGRADE_CHECK": "true",
}


class FirmwareBuildError(Exception):
    """`pio run` failed; the message carries the end of its output."""


def board_manifest(board: str) -> dict:
    """The board's PlatformIO manifest, boards/<board>/board.json (also holds its emulator facts)."""
    path = REPO_ROOT / "boards" / board / "board.json"
    if not path.is_file():
        known = sorted(p.parent.name for p in (REPO_ROOT / "boards").glob("*/board.json"))
        raise FirmwareBuildError(f"unknown board '{board}' (known: {', '.join(known)})")
    return json.loads(path.read_text())


def pio_executable() -> Path:
    pio = Path(sys.executable).parent / "pio"
    if not pio.exists():
        raise FirmwareBuildError(f"PlatformIO is not installed beside {sys.executable}: run `make setup`")
    return pio


def pio_env() -> dict:
    return {**os.environ, **PIO_OFFLINE_ENV}


def build(env_name: str, build_dir: Path | None = None, quiet: bool = True,
          model_dir: Path | None = None, artifact: Path | None = None, extra_env: dict | None = None) -> Path:
    """Runs `pio run -e env_name` and returns the path of the built ELF.

    build_dir overrides PlatformIO's build directory (a clean build, kept apart from .pio/);
    model_dir and artifact choose the generated model and the artifact it must come from.
    """
    env = pio_env()
    if model_dir is not None:
        env["RTLNF_MODEL_DIR"] = str(model_dir)
    if artifact is not None:
        env["RTLNF_ARTIFACT"] = str(artifact)
    if build_dir is not None:
        env["PLATFORMIO_BUILD_DIR"] = str(build_dir)
    env.update(extra_env or {})
    cmd = [str(pio_executable()), "run", "-d", str(REPO_ROOT), "-e", env_name]
    proc = subprocess.run(cmd, env=env, capture_output=quiet, text=True, timeout=BUILD_TIMEOUT_S)
    if proc.returncode != 0:
        tail = "\n".join(((proc.stdout or "") + (proc.stderr or "")).splitlines()[-30:])
        raise FirmwareBuildError(f"`{' '.join(cmd)}` failed (exit {proc.returncode}):\n{tail}")
    elf = elf_path(env_name, build_dir)
    if not elf.is_file():
        raise FirmwareBuildError(f"`pio run` succeeded but {elf} is missing")
    return elf


def elf_path(env_name: str, build_dir: Path | None = None) -> Path:
    return (build_dir or REPO_ROOT / ".pio" / "build") / env_name / "firmware.elf"
