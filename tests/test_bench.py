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


@pytest.mark.parametrize("disas,cycles", [
    ("smlad r2, sl, r6, r2", 1),
    ("ldm.w r0!, {sl, fp, ip, lr}", 2),          # ceil(4 / 2)
    ("ldm r1!, {r5, r6, r7}", 2),
    ("push {r4, r5, r6, r7, r8, sb, sl, fp, lr}", 5),
    ("vpush {d8-d15}", 8),                       # 16 words
    ("vldmia r0!, {s0, s1}", 1),
    ("sdiv r4, r4, r6", sc.CYCLES_DIV),
    ("vdiv.f32 s0, s1, s2", 16),
    ("vsqrt.f64 d0, d1", 30),
    ("ldrd r6, r7, [r1], #8", 1),
])
def test_cycle_model_reads_register_lists_and_multicycle_instructions(disas, cycles):
    assert sc.instruction_cycles(disas) == cycles


@needs_plugin
@pytest.mark.emulator
def test_instruction_mix_of_one_step_matches_the_count(bench_elves):
    _, elves = bench_elves
    mix = sc.cycles_per_step(elves["rtlnf"])
    assert mix["instructions"] == round(sc.per_step(elves["rtlnf"]))
    assert mix["cycles_lower_bound"] <= mix["instructions"] <= mix["cycles"]
    assert mix["mix"]["smlad"] > 0 and mix["mix"]["sdiv"] > 0      # the optimised kernel ran


def test_sized_echo_matches_the_frames_it_stands_in_for():
    from bench.link import sized_echo
    from host.link import framing, protocol

    for inputs, hidden in ((12, 32), (1, 8), (64, 96)):
        frame, reply = sized_echo(inputs, hidden)
        sample = framing.encode(protocol.pack("SAMPLE", 0, t_us=0, flags=0, array=[0] * inputs))
        latent = framing.encode(protocol.pack("LATENT", 0, t_us=0, sample_seq=0, flags=0, cost=0, array=[0] * hidden))
        answer = framing.encode(protocol.pack("ECHO", 0, reply_bytes=0, array=[0] * reply))
        assert (len(frame), len(answer)) == (len(sample), len(latent))
