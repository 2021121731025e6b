"""The generated model runs on the Cortex-M7 (QEMU mps2-an500) and equals the golden model bit for
bit: encoder latents and int8 fallback scores after every sample. Also: the firmware build refuses
a missing or stale generated model."""

import re
import shutil
import subprocess

import pytest

from codegen.export import export
from host.hil import firmware
from host.hil.qemu import run_selftest
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.emulator
SELFTEST_STEPS = 400


@pytest.fixture(scope="module")
def exported(tiny_artifact, tmp_path_factory):
    src, _ = tiny_artifact
    work = tmp_path_factory.mktemp("selftest")
    shutil.copytree(src, work / "art")
    export(work / "art", work / "gen", selftest_steps=SELFTEST_STEPS)
    return work


def build_selftest(work, gen, artifact):
    return firmware.build("mps2_an500_selftest", build_dir=work / "build", model_dir=gen, artifact=artifact)


def test_generated_model_is_bit_exact_on_the_cortex_m7(exported):
    elf = build_selftest(exported, exported / "gen", exported / "art")
    status, log = run_selftest(elf)
    assert status == 0, f"on-target output differs from the golden model\n{log}"


@pytest.mark.parametrize("hidden,inputs", [(8, 1), (13, 7), (119, 72)])
def test_optimised_kernel_is_bit_exact_at_every_layout(tmp_path, hidden, inputs):
    # The Cortex-M7 kernel's edge cases: a half block (lanes % 8 == 4) and padded x lanes (8, 1),
    # padded rows and whole blocks only (13, 7), the longest unrolled sequence, 192 lanes, with
    # the widest LATENT a link frame carries (119, 72).
    # Random weights, 2 sub-steps; the self-test also runs the reference kernel beside it.
    from tests.test_export import random_artifact

    art = random_artifact(tmp_path / "art", hidden, inputs, windows=2, window=60, seed=hidden)
    export(art.path, tmp_path / "gen", selftest_steps=120)
    status, log = run_selftest(build_selftest(tmp_path, tmp_path / "gen", art.path))
    assert status == 0, f"on-target output differs from the golden model\n{log}"


def test_selftest_catches_a_one_lsb_difference(exported, tmp_path):
    gen = tmp_path / "gen"
    shutil.copytree(exported / "gen", gen)
    vectors = gen / "selftest_vectors.h"
    text = vectors.read_text()
    start = text.index("{", text.index("selftest_h["))
    m = list(re.finditer(r"-?\d+", text[start:]))[SELFTEST_STEPS // 2]
    a, b = start + m.start(), start + m.end()
    vectors.write_text(text[:a] + str(int(m.group()) + 1) + text[b:])
    status, _ = run_selftest(build_selftest(tmp_path, gen, exported / "art"))
    assert status == 1


def pio_selftest(tmp_path, env_extra):
    env = {**firmware.pio_env(), "PLATFORMIO_BUILD_DIR": str(tmp_path / "build"), **env_extra}
    return subprocess.run([str(firmware.pio_executable()), "run", "-d", str(REPO_ROOT), "-e", "mps2_an500_selftest"],
                          env=env, capture_output=True, text=True, timeout=300)


def test_build_refuses_a_missing_model(tmp_path):
    (tmp_path / "empty").mkdir()
    proc = pio_selftest(tmp_path, {"RTLNF_MODEL_DIR": str(tmp_path / "empty")})
    assert proc.returncode != 0
    assert "no generated model in" in proc.stdout + proc.stderr
    assert "python -m codegen export" in proc.stdout + proc.stderr


def test_build_refuses_a_stale_model(exported, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(exported / "art", other)
    manifest = other / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"model_hash_short": "', '"model_hash_short": "ff', 1))
    proc = pio_selftest(tmp_path, {"RTLNF_MODEL_DIR": str(exported / "gen"), "RTLNF_ARTIFACT": str(other)})
    assert proc.returncode != 0
    assert "is stale" in proc.stdout + proc.stderr
