"""`make demo`: the whole pipeline end to end on the embedded default, the emulator.

Makes sure a model is exported (exports artifacts/default, or trains a small demo model when there
is none), builds the mps2_an500 firmware with it, boots it in QEMU with its UART on a loopback
socket, starts the gateway on that socket and streams test windows through the sensor: samples in
as SAMPLE frames, latents out, predictions from the gateway's router and leaves, live. It ends with
a table: accuracy (float and fixed point offline, on-target through the emulator, on the same
windows), latency, bytes per inference, firmware flash and RAM. With --port, the same flow runs
against a flashed board (`make demo PORT=/dev/ttyACM0`).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import numpy as np

from host import artifact
from host.hil import firmware
from host.hil.emulator import EmulatorError
from host.hil.qemu import QemuMachine
from host.link import framing, protocol
from host.link.transport import DEFAULT_BAUD
from host.serving.gateway import Gateway
from host.serving.inject import Injector
from host.serving.model_store import ModelStore

EMULATOR_ENV = "mps2_an500"
HARDWARE_ENV = "nucleo_h743zi"
DEFAULT_WINDOWS = 24
RUN_TIMEOUT_S = 600.0

DEFAULT_ARTIFACT = firmware.REPO_ROOT / "artifacts" / "default"
DEMO_ARTIFACT = firmware.REPO_ROOT / "artifacts" / "demo"
DEMO_TRAIN = ["--windows", "3000", "--epochs", "20", "--no-ablations"]   # ~1.5 min, ~97 % here


def step(msg: str) -> None:
    print(f"[demo] {msg}", flush=True)


def ensure_model() -> Path:
    """The artifact the firmware is built from: artifacts/default if trained, else a small demo model."""
    art = DEFAULT_ARTIFACT if (DEFAULT_ARTIFACT / "manifest.json").exists() else DEMO_ARTIFACT
    if not (art / "manifest.json").exists():
        step(f"no trained model yet: training a small demo model into {art.relative_to(firmware.REPO_ROOT)} "
             "(the full one: python -m codegen train)")
        subprocess.run([sys.executable, "-m", "codegen", "train", "--out", str(art), *DEMO_TRAIN], check=True)
    step(f"exporting {art.relative_to(firmware.REPO_ROOT)} to firmware/generated")
    subprocess.run([sys.executable, "-m", "codegen", "export", str(art)], check=True, stdout=subprocess.DEVNULL)
    return art


def image_sizes(elf: Path) -> dict[str, int]:
    """Flash (code, constants, .data image) and static RAM (.data, .bss, reserved stack) of an ELF."""
    from elftools.elf.elffile import ELFFile
    with open(elf, "rb") as f:
        e = ELFFile(f)
        size = {s.name: s["sh_size"] for s in e.iter_sections()}
    flash = sum(size.get(n, 0) for n in (".isr_vector", ".text", ".ARM.exidx", ".data"))
    ram = sum(size.get(n, 0) for n in (".data", ".bss", ".stack"))
    return {"flash": flash, "ram": ram, "stack": size.get(".stack", 0)}


def run_gateway(url: str, baud: int, art_dir: Path, windows: int, view: bool) -> tuple[Gateway, Injector]:
    inj = Injector.from_artifact(art_dir, windows)
    gw = Gateway([url], ModelStore(art_dir), StringIO(), baud, injectors=[inj], log_stream=sys.stdout)
    gw.start()
    deadline = time.monotonic() + RUN_TIMEOUT_S
    live = None
    if view:
        from host.serving.view import LiveView
        live = LiveView(gw).__enter__()
    last_report = 0.0
    try:
        while not gw.injection_done() and time.monotonic() < deadline:
            time.sleep(0.25)
            if live:
                live.refresh()
            elif time.monotonic() - last_report > 2.0:
                correct, n = gw.accuracy()
                step(f"{n}/{windows} windows, {gw.lines} predictions" + (f", accuracy {100 * correct / n:.1f} %" if n else ""))
                last_report = time.monotonic()
    finally:
        if live:
            live.__exit__(None, None, None)
        gw.stop()
    if not gw.injection_done():
        raise EmulatorError(f"the run did not finish within {RUN_TIMEOUT_S:.0f} s:\n{gw.summary()}")
    return gw, inj


def results_table(gw: Gateway, inj: Injector, art_dir: Path, windows: int, elf: Path | None, target: str) -> str:
    export = json.loads((art_dir / "export.json").read_text())
    tp = export["report"]["test_predictions"]
    labels = np.array(tp["labels"][:windows])
    acc_float = np.mean(np.array(tp["float"][:windows]) == labels)
    acc_fixed = np.mean(np.array(tp["fixed_point"][:windows]) == labels)
    correct, n = gw.accuracy()
    s = gw.sessions[0]
    lat = np.array(s.latency_ms)
    rt = np.array(inj.round_trip_ms) if inj.round_trip_ms else np.array([np.nan])
    hidden = s.predictor.hidden
    latent_wire = len(framing.encode(protocol.pack("LATENT", 0, t_us=0, sample_seq=0, flags=0, cost=0,
                                                   array=[0] * hidden)))
    sample_wire = len(framing.encode(protocol.pack("SAMPLE", 0, t_us=0, flags=0, array=[0] * len(inj.counts[0][0]))))
    bytes_per_frame = s.counters.bytes_in / max(1, s.counters.frames_ok)
    rows = [
        ("test windows streamed / samples", f"{n} / {sum(len(c) for c in inj.counts)}"),
        ("accuracy: float model, offline", f"{100 * acc_float:.2f} %"),
        ("accuracy: fixed-point encoder, offline", f"{100 * acc_fixed:.2f} %"),
        (f"accuracy: on target ({target}) through the gateway", f"{100 * correct / max(1, n):.2f} %"),
        (f"sample -> prediction, p50 / p95 ({inj.in_flight_max} in flight)",
         f"{np.nanpercentile(rt, 50):.2f} / {np.nanpercentile(rt, 95):.2f} ms"),
        ("gateway link-to-output, p50 / p95", f"{np.percentile(lat, 50):.3f} / {np.percentile(lat, 95):.3f} ms"),
        ("bytes per inference on the wire: LATENT up / SAMPLE down",
         f"{latent_wire} B / {sample_wire} B (measured {bytes_per_frame:.1f} B per received frame)"),
    ]
    if elf is not None:
        sz = image_sizes(elf)
        rows.append((f"firmware {elf.parent.name}: flash / RAM", f"{sz['flash'] / 1024:.1f} KB / {sz['ram'] / 1024:.1f} KB "
                     f"(of it {sz['stack'] // 1024} KB stack)"))
    width = max(len(r[0]) for r in rows)
    line = "-" * (width + 32)
    return "\n".join([line] + [f"{k:<{width}}  {v}" for k, v in rows] + [line])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m host.demo", description=__doc__.splitlines()[0])
    ap.add_argument("--port", help="a flashed board's serial port instead of the emulator")
    ap.add_argument("--baud", type=int, default=DEFAULT_BAUD)
    ap.add_argument("--windows", type=int, default=DEFAULT_WINDOWS, help=f"test windows to stream ({DEFAULT_WINDOWS})")
    ap.add_argument("--no-view", action="store_true", help="progress lines instead of the live table")
    args = ap.parse_args(argv)
    view = not args.no_view and sys.stdout.isatty()
    try:
        art_dir = ensure_model()
        if args.port:
            elf = firmware.REPO_ROOT / ".pio" / "build" / HARDWARE_ENV / "firmware.elf"
            step(f"streaming {args.windows} test windows through the board on {args.port}")
            gw, inj = run_gateway(args.port, args.baud, art_dir, args.windows, view)
            print(gw.summary())
            print(results_table(gw, inj, art_dir, args.windows, elf if elf.exists() else None, "the board"))
            return 0
        step(f"building firmware ({EMULATOR_ENV})")
        elf = firmware.build(EMULATOR_ENV, artifact=art_dir)
        step(f"booting {elf.relative_to(firmware.REPO_ROOT)} in QEMU")
        with QemuMachine(elf) as qemu:
            step(f"QEMU pid {qemu.pid}, UART at {qemu.url}; gateway streams {args.windows} test windows through it")
            gw, inj = run_gateway(qemu.url, args.baud, art_dir, args.windows, view)
        print(gw.summary())
        print(results_table(gw, inj, art_dir, args.windows, elf, "QEMU mps2-an500"))
        step("done (latencies are the emulator's, not hardware's: make bench projects those)")
        return 0
    except subprocess.CalledProcessError as exc:
        print(f"demo: error: {' '.join(map(str, exc.cmd[:4]))} failed (exit {exc.returncode})", file=sys.stderr)
        return 1
    except (firmware.FirmwareBuildError, EmulatorError, artifact.ArtifactError) as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("demo: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
