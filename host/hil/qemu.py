"""QEMU backend: boots a firmware ELF on QEMU's mps2-an500 (Cortex-M7) with its UART on a loopback
TCP socket that pyserial reaches as `socket://127.0.0.1:<port>`.

Facts this relies on: `server=on,wait=on` makes QEMU wait for the client, so
no early output is lost; `nodelay=on` avoids ~40 ms of TCP delay per frame. Time is host time (no
-icount), so the firmware's millisecond tick matches the wall clock the host measures.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from host.hil.firmware import board_manifest

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
POLL_S = 0.02
# QEMU may lose the race for a free port to another process; try a few ports.
PORT_ATTEMPTS = 3


class EmulatorError(Exception):
    """The emulator could not be started or died; the message carries its log."""


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class QemuMachine:
    """One QEMU process running one firmware. Use as a context manager; stop() is idempotent."""

    def __init__(self, elf: Path, board: str = "mps2_an500", log_path: Path | None = None,
                 extra_args: list[str] | None = None):
        self.elf = Path(elf)
        self.machine = board_manifest(board).get("emulator", {}).get("qemu_machine")
        if not self.machine:
            raise EmulatorError(f"board '{board}' has no QEMU machine (boards/{board}/board.json)")
        self.extra_args = list(extra_args or [])
        self._own_log = log_path is None
        self.log_path = Path(log_path) if log_path else Path(tempfile.mkstemp(prefix="qemu-", suffix=".log")[1])
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise EmulatorError("QEMU is not running")
        return f"socket://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def command(self, port: int) -> list[str]:
        return [
            "qemu-system-arm", "-M", self.machine, "-display", "none", "-monitor", "none",
            "-nodefaults", "-kernel", str(self.elf),
            "-chardev", f"socket,id=uart0,host=127.0.0.1,port={port},server=on,wait=on,nodelay=on",
            "-serial", "chardev:uart0",
            *self.extra_args,
        ]

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def start(self) -> str:
        """Starts QEMU; returns the pyserial URL of the UART once QEMU listens on it."""
        if shutil.which("qemu-system-arm") is None:
            raise EmulatorError("qemu-system-arm is not installed (run `make setup`)")
        if not self.elf.is_file():
            raise EmulatorError(f"firmware {self.elf} does not exist (build it first)")
        for _ in range(PORT_ATTEMPTS):
            port = free_loopback_port()
            with open(self.log_path, "w") as log:
                self.proc = subprocess.Popen(self.command(port), stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=subprocess.STDOUT, start_new_session=True)
            if self._wait_listening(port):
                self.port = port
                return self.url
            self.stop()
            if "Address already in use" not in self.log():
                break
        raise EmulatorError(f"QEMU did not start listening on its UART socket:\n{self.log()}")

    def _wait_listening(self, port: int) -> bool:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if "waiting for connection" in self.log():
                return True
            time.sleep(POLL_S)
        return False

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        """Stops QEMU by its PID: SIGTERM, then SIGKILL if it does not exit in time."""
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

    def __enter__(self) -> "QemuMachine":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()


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
