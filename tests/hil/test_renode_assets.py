"""Renode: the STM32H743 build on Renode's model, through the Python backend and through the board's
Robot suite. Both run wherever `renode` (and `renode-test`) is on PATH; elsewhere they skip with the
precise reason, and the part that does not need Renode (the backend's refusal) runs."""

import shutil
import subprocess

import numpy as np
import pytest

from host import artifact
from host.hil import firmware
from host.hil.emulator import EmulatorUnavailable, machine_for
from host.hil.renode import RenodeMachine, renode_unavailable_reason
from host.link import protocol_spec as P
from host.link.sensor import SensorLink
from host.link.transport import open_port
from tests.conftest import REPO_ROOT
from tests.test_sensor_app import golden_latents

BOARD = REPO_ROOT / "boards" / "nucleo_h743zi"
needs_renode = pytest.mark.skipif(renode_unavailable_reason() is not None,
                                  reason=renode_unavailable_reason() or "")


@pytest.fixture(scope="module")
def nucleo_elf(tiny_model, tmp_path_factory):
    gen, art = tiny_model
    return firmware.build("nucleo_h743zi", build_dir=tmp_path_factory.mktemp("fw-nucleo"), model_dir=gen, artifact=art)


def test_the_board_manifest_picks_the_renode_backend_with_its_script(tmp_path):
    machine = machine_for("nucleo_h743zi", tmp_path / "fw.elf")
    assert isinstance(machine, RenodeMachine) and machine.script.is_file()
    script = machine.script.read_text()
    uart = firmware.board_manifest("nucleo_h743zi")["emulator"]["renode_uart"]
    assert f"connector Connect {uart} " in script and "stm32h743.repl" in script
    command = machine.command(4321)
    assert command[0] == "renode" and "$port=4321" in command[-1] and str(machine.script) in command[-1]
    machine.close()


@pytest.mark.skipif(renode_unavailable_reason() is None, reason="renode is installed: the real tests below run")
def test_without_renode_the_backend_says_precisely_why(tmp_path):
    elf = tmp_path / "fw.elf"
    elf.write_bytes(b"")
    with pytest.raises(EmulatorUnavailable, match="renode.*not on PATH"):
        RenodeMachine(elf).start()


@needs_renode
def test_renode_greets_and_returns_golden_latents(nucleo_elf, tiny_model):
    art = artifact.load(tiny_model[1])
    x, t_us, expected = golden_latents(art, 1)
    with RenodeMachine(nucleo_elf) as machine:
        link = SensorLink(open_port(machine.url))
        hello = link.hello(ask=True, timeout_s=20)
        assert hello.board == "nucleo_h743zi" and hello.model_hash == art.short_hash
        got = []
        for k in range(x.shape[1]):
            link.send("SAMPLE", t_us=int(t_us[0, k]), flags=P.SAMPLE_FLAG_RESET if k == 0 else 0,
                      array=[int(v) for v in x[0, k]])
            got.append(next(m for m in link.messages(10) if m.name == "LATENT").array)
        link.port.close()
    assert np.array_equal(np.array(got), expected[0])


@pytest.mark.skipif(shutil.which("renode-test") is None,
                    reason="`renode-test` is not on PATH (it comes with a Renode installation from renode.io)")
def test_robot_suite_of_the_board(nucleo_elf, tiny_model, tmp_path):
    proc = subprocess.run(["renode-test", str(BOARD / "nucleo_h743zi.robot"),
                           "--variable", f"ELF:{nucleo_elf}", "--variable", f"ARTIFACT:{tiny_model[1]}",
                           "--results-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=600, cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
