import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from host.hil import firmware  # noqa: E402
from tests.support.cbuild import compile_shared  # noqa: E402

os.environ.update(firmware.PIO_OFFLINE_ENV)


@pytest.fixture(scope="session")
def host_c(tmp_path_factory):
    """Factory: host_c(["core/ring.c"]) -> ctypes.CDLL of those firmware sources, built for the host."""
    out_dir = tmp_path_factory.mktemp("host-c")

    def build(sources, **kwargs):
        return compile_shared(sources, out_dir, **kwargs)

    return build


@pytest.fixture(scope="session")
def tiny_model(tiny_artifact, tmp_path_factory):
    """The tiny artifact exported for the firmware: (generated sources dir, artifact dir). Builds in
    the tests use it through RTLNF_MODEL_DIR / RTLNF_ARTIFACT, never the checkout's own model."""
    import shutil

    from codegen.export import export

    src, _ = tiny_artifact
    work = tmp_path_factory.mktemp("model")
    shutil.copytree(src, work / "art")
    export(work / "art", work / "gen")
    return work / "gen", work / "art"


@pytest.fixture(scope="session")
def model_env(tiny_model):
    gen, art = tiny_model
    return {"RTLNF_MODEL_DIR": str(gen), "RTLNF_ARTIFACT": str(art)}


@pytest.fixture(scope="session")
def mps2_elf(tiny_model, tmp_path_factory):
    """The emulator firmware with the tiny model, built once per session with the real cross toolchain."""
    gen, art = tiny_model
    return firmware.build("mps2_an500", build_dir=tmp_path_factory.mktemp("fw"), model_dir=gen, artifact=art)


TINY_TRAIN = ["--window", "48", "--epochs", "2", "--hidden", "8", "--trees", "2", "--depth", "2",
              "--batch-size", "16"]


def train_cli(out, *args):
    """`python -m codegen train` at tiny sizes (seconds, not minutes); asserts success."""
    proc = subprocess.run([sys.executable, "-m", "codegen", "train", "--out", str(out), *TINY_TRAIN, *args],
                          capture_output=True, text=True, cwd=REPO_ROOT, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture(scope="session")
def tiny_artifact(tmp_path_factory):
    """A tiny model trained on the synthetic benchmark: (artifact dir, train CLI output)."""
    out = tmp_path_factory.mktemp("art") / "tiny"
    return out, train_cli(out, "--windows", "90", "--seed", "3")


def git_build_id() -> str:
    out = subprocess.run(["git", "-C", str(REPO_ROOT), "describe", "--always", "--dirty", "--abbrev=10"],
                         capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else "unknown"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)
