"""Both boards build with the real cross toolchain through `pio run`, offline, with -Werror."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from host import artifact
from host.hil import firmware, stack_bound
from tests.conftest import REPO_ROOT, git_build_id

BOARDS = {
    # env: (flash origin, RAM region)
    "nucleo_h743zi": (0x08000000, (0x20000000, 128 * 1024)),
    "mps2_an500": (0x00000000, (0x20000000, 4 * 1024 * 1024)),
}
EF_ARM_ABI_FLOAT_HARD = 0x400
EM_ARM = "EM_ARM"


def can_cut_network() -> bool:
    return shutil.which("unshare") is not None and subprocess.run(
        ["unshare", "-n", "true"], capture_output=True).returncode == 0


def pio_run(args, build_dir=None, offline=False, model_env=None):
    env = {**firmware.pio_env(), **(model_env or {})}
    if build_dir:
        env["PLATFORMIO_BUILD_DIR"] = str(build_dir)
    cmd = [str(firmware.pio_executable()), "run", "-d", str(REPO_ROOT), *args]
    if offline:
        cmd = ["unshare", "-n", *cmd]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("env_name", sorted(BOARDS))
def test_clean_build_without_network(env_name, tmp_path, model_env):
    if not can_cut_network():
        pytest.skip("`unshare -n` is not permitted here (needs root or user namespaces): "
                    "the offline property is checked where it is")
    proc = pio_run(["-e", env_name], build_dir=tmp_path, offline=True, model_env=model_env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # PlatformIO's size check prints both after every build.
    assert "RAM:" in proc.stdout and "Flash:" in proc.stdout
    for ext in ("elf", "bin", "hex"):
        assert (tmp_path / env_name / f"firmware.{ext}").is_file()


@pytest.mark.parametrize("env_name", sorted(BOARDS))
def test_elf_is_hard_float_cortex_m_image_at_the_board_addresses(env_name, tmp_path, tiny_model):
    elf_path = firmware.build(env_name, build_dir=tmp_path, model_dir=tiny_model[0], artifact=tiny_model[1])
    flash_origin, (ram_origin, ram_size) = BOARDS[env_name]
    with open(elf_path, "rb") as f:
        elf = ELFFile(f)
        assert elf["e_machine"] == EM_ARM
        assert elf["e_flags"] & EF_ARM_ABI_FLOAT_HARD
        symbols = {s.name: s["st_value"] for s in elf.get_section_by_name(".symtab").iter_symbols()}
        vectors = elf.get_section_by_name(".isr_vector")
        assert vectors["sh_addr"] == flash_origin
        initial_sp, reset = (int.from_bytes(vectors.data()[i:i + 4], "little") for i in (0, 4))
    assert ram_origin < initial_sp <= ram_origin + ram_size
    assert initial_sp == symbols["__stack_top__"]
    assert reset == symbols["Reset_Handler"] | 1, "reset vector must be a Thumb address"

    report = stack_bound.analyse(elf_path.parent)
    assert [n for n, _ in report.main_path[:2]] == ["Reset_Handler", "main"]
    frames = [int(line.split("\t")[1]) for su in elf_path.parent.rglob("*.su") for line in su.read_text().splitlines()]
    assert max(frames) <= report.main_bytes <= report.bound <= report.stack_size == 8192
    assert {"SysTick_Handler"} <= set(report.interrupts)
    # Code without .su files (the assembly kernel, newlib) is read from its instructions; a local
    # branch is not a call even where objdump labels its target after an absolute symbol.
    disassembled = stack_bound._disassembly(elf_path)
    assert disassembled["ltc_q15_m7_accumulate"].frame == 9 * 4 + 24
    assert not disassembled["ltc_q15_m7_accumulate"].calls and not disassembled["ltc_q15_m7_update"].calls
    assert not any(name.startswith("__stack") for fn in disassembled.values() for name in fn.calls)


def test_werror_and_cpu_flags_reach_every_compile(tmp_path, model_env):
    proc = pio_run(["-e", "mps2_an500", "-v"], build_dir=tmp_path, model_env=model_env)
    assert proc.returncode == 0, proc.stderr
    compiles = [line for line in proc.stdout.splitlines() if "arm-none-eabi-gcc" in line and " -c " in line]
    assert len(compiles) >= 5  # core, arch and board sources
    assembly = [line for line in compiles if line.endswith(".S")]
    assert assembly, "the optimised Cortex-M7 kernel (solver/cortex_m7/*.S) was not assembled"
    for line in compiles:
        warnings = ("-Wa,--fatal-warnings",) if line in assembly else ("-Wall", "-Wextra", "-Werror")
        for flag in ("-mcpu=cortex-m7", "-mthumb", "-mfpu=fpv5-d16", "-mfloat-abi=hard", *warnings):
            assert flag in line.split(), f"{flag} missing from: {line}"


def test_build_id_and_model_hash_are_baked_in(mps2_elf, tiny_model):
    # (the version travels in HELLO as numbers: tests/hil/test_sensor_link.py checks it over the wire)
    blob = Path(mps2_elf).read_bytes()
    assert f"{git_build_id()}\0".encode() in blob
    assert bytes.fromhex(artifact.load(tiny_model[1]).short_hash) in blob


def st_link_attached() -> bool:
    # ST's USB vendor id; an attached probe would really be flashed by the test below.
    return any(p.read_text().strip() == "0483" for p in Path("/sys/bus/usb/devices").glob("*/idVendor"))


@pytest.mark.parametrize("env_name,protocol", [("nucleo_h743zi", "openocd"), ("nucleo_h743zi_pyocd", "pyocd")])
def test_upload_without_probe_fails_fast_and_says_so(env_name, protocol, tmp_path, model_env):
    if st_link_attached():
        pytest.skip("an ST-LINK is attached: this test would flash it")
    proc = pio_run(["-e", env_name, "-t", "upload"], build_dir=tmp_path, model_env=model_env)
    assert proc.returncode != 0
    assert f"no debug probe found ({protocol})" in proc.stderr, proc.stdout + proc.stderr


def test_emulator_board_refuses_upload(tmp_path, model_env):
    proc = pio_run(["-e", "mps2_an500", "-t", "upload"], build_dir=tmp_path, model_env=model_env)
    assert proc.returncode != 0
    assert "emulator target and cannot be flashed" in proc.stderr


def test_missing_toolchain_is_reported(tmp_path):
    env_path = ":".join(p for p in os.environ["PATH"].split(":")
                        if not (Path(p) / "arm-none-eabi-gcc").exists())
    env = {**firmware.pio_env(), "PATH": env_path, "PLATFORMIO_BUILD_DIR": str(tmp_path)}
    proc = subprocess.run([str(firmware.pio_executable()), "run", "-d", str(REPO_ROOT), "-e", "mps2_an500"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "arm-none-eabi-gcc is not on PATH" in proc.stdout + proc.stderr
