"""The hardware-in-the-loop suite: the real firmware in an emulator, reached over a real socket.

Every scenario runs once per backend: `qemu` (the mps2_an500 build on QEMU's Cortex-M7 machine; CI)
and `renode` (the nucleo_h743zi build on Renode's STM32H743 model; wherever `renode` is on PATH,
otherwise skipped with the reason). Firmware is built once per session with the tiny test model;
each test starts its own emulator on a free loopback port, which is stopped by PID at teardown,
with the emulator's log attached to a failing test's report. Every test here has a time limit.
"""

import pytest

from host.hil import firmware
from host.hil.emulator import machine_for
from host.hil.renode import renode_unavailable_reason

BOARD_OF = {"qemu": "mps2_an500", "renode": "nucleo_h743zi"}
HIL_TIMEOUT_S = 240


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/hil/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.emulator)
            if item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(HIL_TIMEOUT_S))


@pytest.fixture(scope="session", params=sorted(BOARD_OF))
def backend(request):
    if request.param == "renode":
        reason = renode_unavailable_reason()
        if reason:
            pytest.skip(reason)
    return request.param


@pytest.fixture(scope="session")
def board(backend):
    return BOARD_OF[backend]


@pytest.fixture(scope="session")
def sensor_elf(board, tiny_model, tmp_path_factory):
    gen, art = tiny_model
    return firmware.build(board, build_dir=tmp_path_factory.mktemp(f"fw-{board}"), model_dir=gen, artifact=art)


@pytest.fixture
def emulator(request, board, sensor_elf):
    """Factory: emulator() -> a started machine running the sensor firmware (emulator(port=P) listens on P)."""
    machines = []

    def start(elf=None, port=None):
        machine = machine_for(board, elf or sensor_elf)
        machines.append(machine)
        machine.start(port)
        return machine

    yield start
    failed = getattr(getattr(request.node, "rep_call", None), "failed", False)
    for m in machines:
        m.stop()
        if failed:
            request.node.add_report_section("teardown", f"{m.name} log ({m.elf.name})", m.log())
        m.close()
