"""`make demo`: the sensor firmware end to end on the embedded default, the emulator.

Builds the mps2_an500 firmware, boots it in QEMU with its UART on a loopback socket and talks to it
through pyserial, exactly as the gateway talks to a real board. With --port, talks to a flashed
board instead (e.g. `make demo PORT=/dev/ttyACM0`).
"""

from __future__ import annotations

import argparse
import sys
import time

from host.hil import firmware
from host.hil.qemu import EmulatorError, QemuMachine
from host.link.console import NoGreeting, read_greeting
from host.link.transport import DEFAULT_BAUD, LinkError, open_port

EMULATOR_ENV = "mps2_an500"


def step(msg: str) -> None:
    print(f"[demo] {msg}", flush=True)


def talk(url: str, baud: int, ask: bool) -> None:
    port = open_port(url, baud)
    try:
        t0 = time.monotonic()
        greeting = read_greeting(port, ask=ask)
        step(f"sensor says: {greeting} ({(time.monotonic() - t0) * 1000:.0f} ms)")
    finally:
        port.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m host.demo", description=__doc__.splitlines()[0])
    ap.add_argument("--port", help="a flashed board's serial port instead of the emulator")
    ap.add_argument("--baud", type=int, default=DEFAULT_BAUD)
    args = ap.parse_args(argv)
    try:
        if args.port:
            step(f"talking to the board on {args.port}")
            talk(args.port, args.baud, ask=True)
            return 0
        step(f"building firmware ({EMULATOR_ENV})")
        elf = firmware.build(EMULATOR_ENV)
        step(f"booting {elf.relative_to(firmware.REPO_ROOT)} in QEMU")
        with QemuMachine(elf) as qemu:
            step(f"QEMU pid {qemu.pid}, UART at {qemu.url}")
            talk(qemu.url, args.baud, ask=False)
        step("done")
        return 0
    except (firmware.FirmwareBuildError, EmulatorError, LinkError, NoGreeting) as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("demo: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
