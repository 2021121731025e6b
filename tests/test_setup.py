"""`make setup` is idempotent, and the offline PlatformIO seed matches the SCons it wraps."""

import json
import subprocess

import SCons

from tests.conftest import REPO_ROOT


def test_tool_scons_seed_names_the_installed_scons():
    major, minor, patch = (int(x) for x in SCons.__version__.split(".")[:3])
    pkg = REPO_ROOT / ".pio-core" / "packages" / "tool-scons"
    piopm = json.loads((pkg / ".piopm").read_text())
    assert piopm["version"] == f"4.{major}{minor:02d}{patch:02d}.0"
    assert piopm["spec"]["owner"] == "platformio"
    assert json.loads((pkg / "package.json").read_text())["version"] == piopm["version"]
    settings = json.loads((REPO_ROOT / ".pio-core" / "appstate.json").read_text())["settings"]
    assert settings["enable_telemetry"] is False


def test_second_setup_installs_nothing():
    # The suite runs after `make setup`, so everything is in place: a rerun must only check.
    proc = subprocess.run(["bash", str(REPO_ROOT / "tools" / "setup.sh")], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "installing" not in proc.stdout + proc.stderr
