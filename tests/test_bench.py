"""The benchmark's measuring instruments (not its numbers): instruction counts from QEMU's insn
plugin are deterministic and per-step linear, and the memory split adds up to the ELF's sizes."""

import subprocess

import numpy as np
import pytest

from bench import memory
from bench import sensor_cost as sc
from host import artifact
from host.hil import firmware

needs_plugin = pytest.mark.skipif(not sc.PLUGIN.exists(),
                                  reason=f"{sc.PLUGIN} is missing (tools/build_insn_plugin.sh, run by make setup)")


@pytest.fixture(scope="module")
def bench_elves(tiny_model, tmp_path_factory):
    if not (sc.CMSIS / "CMSIS-DSP" / "Include" / "arm_math.h").exists():
        subprocess.run([sc.REPO / ".venv" / "bin" / "python", sc.REPO / "tools" / "fetch_cmsis.py"], check=True)
    work = tmp_path_factory.mktemp("bench")
    model = sc.artifact_model(artifact.load(tiny_model[1]))
    dims = sc.write_sources(model, work / "src")
    return dims, {v: sc.build_variant(work / "src", v, work / "build") for v in ("loop", "rtlnf", "cmsis", "float32")}


@needs_plugin
@pytest.mark.emulator
def test_instruction_counts_repeat_exactly_and_grow_linearly_with_steps(bench_elves):
    dims, elves = bench_elves
    elf = elves["rtlnf"]
    a, b = sc.count_instructions(elf, 10), sc.count_instructions(elf, 10)
    assert a == b, "the insn plugin count must be the same on every run"
    c, d = sc.count_instructions(elf, 110), sc.count_instructions(elf, 210)
    assert abs((d - c) - (c - a)) <= 0.02 * (c - a)
    per_step = (d - a) / 200 - sc.per_step(elves["loop"])
    floor = sc.mac_floor(dims["hidden"], dims["inputs"], dims["substeps"])["floor"]
    assert floor < per_step < 50 * floor                 # nothing does fewer than the MAC floor


@needs_plugin
@pytest.mark.emulator
def test_every_peer_runs_to_its_semihosting_exit(bench_elves):
    _, elves = bench_elves
    for variant in ("cmsis", "float32"):
        assert sc.per_step(elves[variant]) > sc.per_step(elves["loop"])


def test_memory_split_adds_up_to_the_elf(tiny_model, tmp_path):
    elf = firmware.build("nucleo_h743zi", build_dir=tmp_path, model_dir=tiny_model[0], artifact=tiny_model[1])
    split = memory.split(elf.parent / "firmware.map")
    out = subprocess.run(["arm-none-eabi-size", "-B", "-d", str(elf)], capture_output=True, text=True, check=True)
    text, data, bss = (int(v) for v in out.stdout.splitlines()[1].split()[:3])
    assert split["flash_total"] == text + data
    assert split["ram_total"] == data + bss
    assert min(split["flash"]["model data"], split["flash"]["solver"], split["flash"]["board"]) > 0
    assert split["ram"]["stack (reserved)"] == 8192
