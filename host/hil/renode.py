"""Renode backend: boots the STM32H743 build (`nucleo_h743zi`) on Renode's STM32H743 model with
USART3 on a server socket terminal, through the board's own script boards/<id>/<board>.resc.

Renode is not installable on the machines this project's CI uses (no package in Debian, PyPI or
npm): there, check_available() raises EmulatorUnavailable with that reason and the Renode tests
skip with it. Wherever `renode` is on PATH the same tests run against it.

Unlike QEMU's wait=on, Renode's server socket terminal does not hold the CPU until a client
connects, so the boot HELLO may be gone before the test connects: clients ask for HELLO
(SensorLink.hello(ask=True)).
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

from host.hil.emulator import EmulatorError, EmulatorMachine, EmulatorUnavailable, free_loopback_port
from host.hil.firmware import REPO_ROOT, board_manifest

# Renode starts a .NET runtime and parses the platform: slower to come up than QEMU.
RENODE_START_TIMEOUT_S = 60.0


def renode_unavailable_reason() -> str | None:
    """None when Renode can run here, else why not (for skips and error messages)."""
    if shutil.which("renode") is None:
        return ("`renode` is not on PATH (Renode has no Debian, PyPI or npm package; install it from "
                "renode.io to run the STM32H743 model)")
    return None


class RenodeMachine(EmulatorMachine):
    name = "renode"
    start_timeout_s = RENODE_START_TIMEOUT_S

    def __init__(self, elf: Path, board: str = "nucleo_h743zi", log_path: Path | None = None):
        super().__init__(elf, log_path)
        emulator = board_manifest(board).get("emulator", {})
        script = emulator.get("renode_script")
        if not script:
            raise EmulatorError(f"board '{board}' has no Renode script (boards/{board}/board.json)")
        self.script = REPO_ROOT / "boards" / board / script
        self.monitor_port: int | None = None

    def check_available(self) -> None:
        reason = renode_unavailable_reason()
        if reason:
            raise EmulatorUnavailable(reason)

    def command(self, port: int) -> list[str]:
        # The monitor listens on its own free port (not the default 1234) so machines can run side by side.
        self.monitor_port = free_loopback_port()
        commands = f"$elf=@{self.elf.resolve()}; $port={port}; include @{self.script}; start"
        return ["renode", "--disable-xwt", "--port", str(self.monitor_port), "-e", commands]

    def _ready(self, port: int) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True   # the terminal accepts clients one after another: this probe lets go
        except OSError:
            return False
