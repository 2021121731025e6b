"""`make demo`: the sensor firmware end to end on the embedded default, the emulator.

Makes sure a model is exported (exports artifacts/default, or trains a small demo model when there
is none), builds the mps2_an500 firmware with it, boots it in QEMU with its UART on a loopback
socket and talks to it through pyserial, as the gateway talks to a real board: HELLO, then one
test window of samples in and latents out. With --port, talks to a flashed board instead (e.g.
`make demo PORT=/dev/ttyACM0`).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from host import artifact
from host.hil import firmware
from host.hil.qemu import EmulatorError, QemuMachine
from host.link import protocol_spec as P
from host.link.sensor import NoHello, SensorLink
from host.link.transport import DEFAULT_BAUD, LinkError, open_port
from host.runtime.inputs import to_counts

EMULATOR_ENV = "mps2_an500"
LATENT_TIMEOUT_S = 2.0


def step(msg: str) -> None:
    print(f"[demo] {msg}", flush=True)


DEFAULT_ARTIFACT = firmware.REPO_ROOT / "artifacts" / "default"
DEMO_ARTIFACT = firmware.REPO_ROOT / "artifacts" / "demo"
DEMO_TRAIN = ["--windows", "900", "--epochs", "8", "--no-ablations"]


def ensure_model() -> Path:
    """The artifact the firmware is built from: artifacts/default if trained, else a small demo model."""
    artifact = DEFAULT_ARTIFACT if (DEFAULT_ARTIFACT / "manifest.json").exists() else DEMO_ARTIFACT
    if not (artifact / "manifest.json").exists():
        step(f"no trained model yet: training a small demo model into {artifact.relative_to(firmware.REPO_ROOT)} "
             "(the full one: python -m codegen train)")
        subprocess.run([sys.executable, "-m", "codegen", "train", "--out", str(artifact), *DEMO_TRAIN], check=True)
    step(f"exporting {artifact.relative_to(firmware.REPO_ROOT)} to firmware/generated")
    subprocess.run([sys.executable, "-m", "codegen", "export", str(artifact)], check=True, stdout=subprocess.DEVNULL)
    return artifact


def stream_window(link: SensorLink, art: artifact.Artifact) -> None:
    """One test window through the sensor: a SAMPLE each, a LATENT back each."""
    export = json.loads((art.path / "export.json").read_text())
    test = art.test_split()
    counts = to_counts(test["values"][0], np.array(export["input_scale"]))
    t_us = np.round(test["timestamps"][0] * 1e6).astype(np.int64)
    round_trips, latents = [], 0
    for k in range(len(t_us)):
        t0 = time.monotonic()
        link.send("SAMPLE", t_us=int(t_us[k]), flags=P.SAMPLE_FLAG_RESET if k == 0 else 0,
                  array=[int(v) for v in counts[k]])
        for m in link.messages(LATENT_TIMEOUT_S):
            if m.name == "LATENT":
                latents += 1
                round_trips.append(time.monotonic() - t0)
                break
    ms = 1000 * np.array(round_trips) if round_trips else np.array([np.nan])
    step(f"{len(t_us)} samples in, {latents} latents out; round trip p50 {np.median(ms):.2f} ms, "
         f"p95 {np.percentile(ms, 95):.2f} ms (emulator time, not hardware)")


def talk(url: str, baud: int, ask: bool, art: artifact.Artifact | None = None) -> None:
    port = open_port(url, baud)
    try:
        link = SensorLink(port)
        t0 = time.monotonic()
        hello = link.hello(ask=ask)
        step(f"sensor says: {hello} ({(time.monotonic() - t0) * 1000:.0f} ms)")
        if art is not None:
            if hello.model_hash != art.short_hash:
                step(f"the sensor runs model {hello.model_hash}, not {art.short_hash}: no samples sent")
                return
            stream_window(link, art)
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
        artifact_dir = ensure_model()
        step(f"building firmware ({EMULATOR_ENV})")
        elf = firmware.build(EMULATOR_ENV, artifact=artifact_dir)
        step(f"booting {elf.relative_to(firmware.REPO_ROOT)} in QEMU")
        with QemuMachine(elf) as qemu:
            step(f"QEMU pid {qemu.pid}, UART at {qemu.url}")
            talk(qemu.url, args.baud, ask=False, art=artifact.load(artifact_dir))
        step("done")
        return 0
    except subprocess.CalledProcessError as exc:
        print(f"demo: error: {' '.join(map(str, exc.cmd[:4]))} failed (exit {exc.returncode})", file=sys.stderr)
        return 1
    except (firmware.FirmwareBuildError, EmulatorError, LinkError, NoHello, artifact.ArtifactError) as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("demo: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
