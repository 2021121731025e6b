"""Robot Framework keywords for the RT-LNF link, for Renode's `renode-test` (boards/*/*.robot).

Renode's own keywords boot the machine; these speak the binary protocol over the socket terminal
the board's .resc opens (`socket://127.0.0.1:${PORT}`), with the same host code the gateway uses.
The golden model comes from codegen (numpy only), so the check is the one the QEMU tests make.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))   # renode-test imports this file by path

from host import artifact  # noqa: E402
from host.link import protocol_spec as P  # noqa: E402
from host.link.sensor import SensorLink  # noqa: E402
from host.link.transport import open_port  # noqa: E402

ROBOT_LIBRARY_SCOPE = "SUITE"
REPLY_TIMEOUT_S = 10.0       # emulated time on a loaded machine: generous


class robot_sensor:  # noqa: N801 - Robot Framework names the library after its file
    def __init__(self):
        self.link: SensorLink | None = None

    def connect_to_sensor(self, port):
        self.link = SensorLink(open_port(f"socket://127.0.0.1:{int(port)}"))

    def disconnect_from_sensor(self):
        if self.link is not None:
            self.link.port.close()
            self.link = None

    def sensor_should_greet(self, board, model_hash=None):
        hello = self.link.hello(ask=True, timeout_s=REPLY_TIMEOUT_S)
        if hello.board != board:
            raise AssertionError(f"HELLO names board {hello.board!r}, expected {board!r}")
        if model_hash and hello.model_hash != model_hash:
            raise AssertionError(f"HELLO names model {hello.model_hash}, expected {model_hash}")
        return str(hello)

    def latents_should_match_the_golden_model(self, artifact_dir, samples=48):
        from codegen.quantize import golden
        from codegen.quantize.encoder import quantize_encoder, quantize_inputs, timestamps_to_dt_us

        art = artifact.load(artifact_dir)
        enc, in_scale = quantize_encoder(art.arrays, art.config)
        test = art.test_split()
        n = int(samples)
        x = quantize_inputs(test["values"][:1, :n], in_scale)[0]
        ts = test["timestamps"][:1, :n]
        expected = golden.encode(enc, x[None], timestamps_to_dt_us(ts))[0]
        t_us = np.round(ts[0] * 1e6).astype(np.int64)
        got = []
        for k in range(n):
            self.link.send("SAMPLE", t_us=int(t_us[k]), flags=P.SAMPLE_FLAG_RESET if k == 0 else 0,
                           array=[int(v) for v in x[k]])
            latent = next((m for m in self.link.messages(REPLY_TIMEOUT_S) if m.name == "LATENT"), None)
            if latent is None:
                raise AssertionError(f"no LATENT for sample {k} within {REPLY_TIMEOUT_S:.0f} s")
            got.append(latent.array)
        if not np.array_equal(np.array(got), expected):
            bad = int(np.argmax(np.any(np.array(got) != expected, axis=1)))
            raise AssertionError(f"latent {bad} differs from the golden model")
