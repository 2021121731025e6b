"""A gateway device's install: `pip install .` without extras (no TensorFlow, no TFLite Micro, no
PlatformIO) runs the gateway's runtime from an exported artifact, and says which extra an option
needs instead of failing obscurely."""

import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT


@pytest.fixture(scope="module")
def light_venv(tmp_path_factory):
    venv = tmp_path_factory.mktemp("light") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    proc = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
                           str(REPO_ROOT)], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return venv / "bin" / "python"


def test_light_install_runs_the_gateway_runtime_without_the_training_stack(light_venv, tiny_model, tmp_path):
    code = ("import importlib.util, sys\n"
            "from host import artifact\n"
            "from host.runtime.engine import Predictor\n"
            "import numpy as np\n"
            f"p = Predictor(artifact.load({str(tiny_model[1])!r}))\n"
            "b = p.predict(np.zeros((3, p.hidden), dtype=np.int16))\n"
            "assert b.probs.shape == (3, len(p.class_names))\n"
            "present = [m for m in ('tensorflow', 'tflite_micro', 'platformio') if importlib.util.find_spec(m)]\n"
            "assert not present, present\n"
            "assert not [m for m in sys.modules if m.startswith('codegen')]\n")
    proc = subprocess.run([str(light_venv), "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr


def test_light_install_names_the_extra_int8_leaves_need(light_venv, tiny_model, tmp_path):
    proc = subprocess.run([str(light_venv), "-m", "host.gateway", "--port", "socket://127.0.0.1:9", "--models",
                           str(tiny_model[1]), "--leaves", "int8"], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert proc.returncode == 2 and "pip install '.[int8]'" in proc.stderr and "Traceback" not in proc.stderr
