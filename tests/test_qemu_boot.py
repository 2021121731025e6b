"""The mps2_an500 firmware boots in QEMU and answers over its UART, reached through pyserial."""

import tomllib

import pytest

from host.link.console import read_greeting
from host.link.transport import open_port
from tests.conftest import REPO_ROOT, git_build_id

pytestmark = pytest.mark.emulator


@pytest.fixture
def console(mps2_elf, qemu):
    port = open_port(qemu(mps2_elf).url)
    yield port
    port.close()


def test_greets_at_boot_with_version_board_and_build(console):
    with open(REPO_ROOT / "pyproject.toml", "rb") as f:
        version = tomllib.load(f)["project"]["version"]
    g = read_greeting(console)
    assert g.fw_version == version
    assert g.board == "mps2_an500"
    assert g.build_id == git_build_id()
    assert g.cpu_mhz == 25


def test_answers_queries_and_rejects_bad_lines(console):
    first = read_greeting(console)
    for _ in range(3):
        assert read_greeting(console, ask=True) == first
    console.write(b"reboot\n")
    assert console.readline() == b"ERR unknown command\r\n"
    console.write(b"x" * 500 + b"\n")
    assert console.readline() == b"ERR line too long\r\n"
    console.write(b"\r\n\n")  # blank lines are ignored, not errors
    assert read_greeting(console, ask=True) == first
