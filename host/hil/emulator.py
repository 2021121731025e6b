"""The emulator abstraction of the hardware-in-the-loop tests: one emulator process running one
firmware, its UART on a loopback TCP socket that pyserial reaches as `socket://127.0.0.1:<port>`.

Backends (same interface, chosen by the board's "emulator" entry in boards/<id>/board.json):
- host/hil/qemu.py: QEMU's mps2-an500 (the CI emulator; `mps2_an500` build);
- host/hil/renode.py: Renode's STM32H743 model (`nucleo_h743zi` build), wherever `renode` is on PATH.

A machine is stopped by its PID (SIGTERM, then SIGKILL), always: as a context manager, or with
close(). Its log (the emulator's own output) stays readable until close() for failing tests.
"""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
from pathlib import Path

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
POLL_S = 0.02
# The emulator may lose the race for a free port to another process; try a few ports.
PORT_ATTEMPTS = 3


class EmulatorError(Exception):
    """The emulator could not be started or died; the message carries its log."""


class EmulatorUnavailable(EmulatorError):
    """The emulator is not installed here; the message says precisely what is missing."""


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EmulatorMachine:
    """Base of the backends: process, port, log, start and stop. Subclasses give `name`,
    `command(port)`, `check_available()` and `_ready(port)`."""

    name = "emulator"
    start_timeout_s = START_TIMEOUT_S

    def __init__(self, elf: Path, log_path: Path | None = None):
        self.elf = Path(elf)
        self._own_log = log_path is None
        self.log_path = Path(log_path) if log_path else Path(
            tempfile.mkstemp(prefix=f"{self.name}-", suffix=".log")[1])
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None

    # --- for subclasses ---
    def command(self, port: int) -> list[str]:
        raise NotImplementedError

    def check_available(self) -> None:
        """Raises EmulatorUnavailable when the emulator cannot run here."""
        raise NotImplementedError

    def _ready(self, port: int) -> bool:
        """True once the UART socket accepts the client."""
        raise NotImplementedError

    # --- common ---
    @property
    def url(self) -> str:
        if self.port is None:
            raise EmulatorError(f"{self.name} is not running")
        return f"socket://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def start(self, port: int | None = None) -> str:
        """Starts the emulator; returns the pyserial URL of the UART once it listens. With `port`,
        listens there (e.g. to come back where a killed emulator was), else on a free port."""
        self.check_available()
        if not self.elf.is_file():
            raise EmulatorError(f"firmware {self.elf} does not exist (build it first)")
        fixed = port
        for _ in range(1 if fixed else PORT_ATTEMPTS):
            port = fixed or free_loopback_port()
            with open(self.log_path, "w") as log:
                self.proc = subprocess.Popen(self.command(port), stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=subprocess.STDOUT, start_new_session=True)
            if self._wait_ready(port):
                self.port = port
                return self.url
            self.stop()
            if "Address already in use" not in self.log() and "address already in use" not in self.log():
                break
        raise EmulatorError(f"{self.name} did not start listening on its UART socket:\n{self.log()}")

    def _wait_ready(self, port: int) -> bool:
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if self._ready(port):
                return True
            time.sleep(POLL_S)
        return False

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """Kills the emulator at once (SIGKILL), as a crash or a pulled cable would end it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT_S)
        self.proc = None
        self.port = None

    def stop(self) -> None:
        """Stops the emulator by its PID: SIGTERM, then SIGKILL if it does not exit in time."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT_S)
        self.proc = None
        self.port = None

    def close(self) -> None:
        self.stop()
        if self._own_log:
            self.log_path.unlink(missing_ok=True)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def machine_for(board: str, elf: Path, **kwargs) -> EmulatorMachine:
    """The emulator backend a board names in its manifest."""
    from host.hil.firmware import board_manifest
    from host.hil.qemu import QemuMachine
    from host.hil.renode import RenodeMachine

    emulator = board_manifest(board).get("emulator", {})
    if "qemu_machine" in emulator:
        return QemuMachine(elf, board=board, **kwargs)
    if "renode_script" in emulator:
        return RenodeMachine(elf, board=board, **kwargs)
    raise EmulatorError(f"board '{board}' names no emulator (boards/{board}/board.json)")
