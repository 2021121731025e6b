"""QEMU backend: boots a firmware ELF on QEMU's mps2-an500 (Cortex-M7) with its UART on a loopback
TCP socket that pyserial reaches as `socket://127.0.0.1:<port>`.

Facts this relies on: `server=on,wait=on` makes QEMU wait for the client, so
no early output is lost; `nodelay=on` avoids ~40 ms of TCP delay per frame. Time is host time (no
-icount), so the firmware's millisecond tick matches the wall clock the host measures.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from host.hil.emulator import EmulatorError, EmulatorMachine, EmulatorUnavailable
from host.hil.firmware import board_manifest


class QemuMachine(EmulatorMachine):
    """One QEMU process running one firmware. Use as a context manager; stop() is idempotent."""

    name = "qemu"

    def __init__(self, elf: Path, board: str = "mps2_an500", log_path: Path | None = None,
                 extra_args: list[str] | None = None):
        super().__init__(elf, log_path)
        self.machine = board_manifest(board).get("emulator", {}).get("qemu_machine")
        if not self.machine:
            raise EmulatorError(f"board '{board}' has no QEMU machine (boards/{board}/board.json)")
        self.extra_args = list(extra_args or [])

    def check_available(self) -> None:
        if shutil.which("qemu-system-arm") is None:
            raise EmulatorUnavailable("qemu-system-arm is not installed (run `make setup`)")

    def command(self, port: int) -> list[str]:
        return [
            "qemu-system-arm", "-M", self.machine, "-display", "none", "-monitor", "none",
            "-nodefaults", "-kernel", str(self.elf),
            "-chardev", f"socket,id=uart0,host=127.0.0.1,port={port},server=on,wait=on,nodelay=on",
            "-serial", "chardev:uart0",
            *self.extra_args,
        ]

    def _ready(self, port: int) -> bool:
        # With wait=on QEMU announces the socket and waits for the client before the CPU starts.
        return "waiting for connection" in self.log()


SELFTEST_TIMEOUT_S = 120.0


def run_selftest(elf: Path, board: str = "mps2_an500", timeout_s: float = SELFTEST_TIMEOUT_S) -> tuple[int, str]:
    """Runs a self-test firmware to its semihosting exit; returns (exit status, QEMU's output)."""
    machine = board_manifest(board).get("emulator", {}).get("qemu_machine")
    if not machine:
        raise EmulatorError(f"board '{board}' has no QEMU machine (boards/{board}/board.json)")
    cmd = ["qemu-system-arm", "-M", machine, "-display", "none", "-monitor", "none", "-nodefaults",
           "-semihosting-config", "enable=on,target=native", "-kernel", str(elf)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise EmulatorError(f"self-test {elf} did not exit within {timeout_s:.0f} s") from None
    return proc.returncode, proc.stdout + proc.stderr
