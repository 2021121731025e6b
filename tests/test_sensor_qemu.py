"""The sensor firmware (mps2_an500 build, tiny model) in QEMU, over pyserial `socket://`: HELLO,
SAMPLE -> LATENT equal to the golden model, garbage and bad frames NACKed while it keeps answering."""

import tomllib

import numpy as np
import pytest

from host import artifact
from host.link import protocol_spec as P
from host.link.sensor import SensorLink
from host.link.transport import open_port
from tests.conftest import REPO_ROOT, git_build_id
from tests.test_sensor_app import golden_latents

pytestmark = pytest.mark.emulator
REPLY_TIMEOUT_S = 3.0


@pytest.fixture
def link(mps2_elf, qemu):
    port = open_port(qemu(mps2_elf).url)
    yield SensorLink(port)
    port.close()


def test_hello_at_boot_names_firmware_board_build_and_model(link, tiny_model):
    with open(REPO_ROOT / "pyproject.toml", "rb") as f:
        version = tomllib.load(f)["project"]["version"]
    art = artifact.load(tiny_model[1])
    hello = link.hello()
    assert hello.fw_version == version and hello.board == "mps2_an500"
    assert hello.build_id == git_build_id()[:16]
    assert hello.model_hash == art.short_hash
    assert (hello.hidden, hello.inputs) == (art.config["model"]["hidden"], art.config["model"]["inputs"])
    assert link.hello(ask=True) == hello


def collect(link, name, count):
    got = []
    for m in link.messages(REPLY_TIMEOUT_S):
        if m.name == name:
            got.append(m)
            if len(got) == count:
                break
    return got


def test_injected_windows_return_golden_latents_through_garbage(link, tiny_model):
    x, t_us, expected = golden_latents(artifact.load(tiny_model[1]), 2)
    link.hello()
    rng = np.random.default_rng(9)
    got = []
    for w in range(x.shape[0]):
        for k in range(x.shape[1]):
            if rng.random() < 0.1:
                link.port.write(rng.integers(0, 256, rng.integers(1, 20)).astype(np.uint8).tobytes())
            link.send("SAMPLE", t_us=int(t_us[w, k]), flags=P.SAMPLE_FLAG_RESET if k == 0 else 0,
                      array=[int(v) for v in x[w, k]])
            [latent] = collect(link, "LATENT", 1)
            got.append(latent.array)
    assert np.array_equal(np.array(got).reshape(expected.shape), expected)
    link.send("REQUEST", what=P.by_name("STATS").type_id)
    [stats] = collect(link, "STATS", 1)
    assert stats.fields["samples"] == x.shape[0] * x.shape[1]


def test_bad_frames_are_nacked_and_the_sensor_keeps_answering(link):
    link.hello()
    link.send("SAMPLE", t_us=0, flags=0, array=[1, 2])                       # wrong width
    link.port.write(b"\x00\x03\xff\xff\x00")                                  # not a frame
    [n1, n2] = collect(link, "NACK", 2)
    assert {n1.fields["reason"], n2.fields["reason"]} <= set(P.NACK_REASONS.values())
    assert n1.fields["reason"] == P.NACK_REASONS["WRONG_INPUTS"]
    assert link.hello(ask=True).board == "mps2_an500"
