"""Sensor cost: instructions per encoder step, counted deterministically by QEMU's `insn` plugin.

For a model (the exported default, or random weights at other sizes) this generates the benchmark
firmware's sources (firmware/bench/), builds the mps2_an500_bench env once per variant with the
same compiler and CPU flags as the nucleo_h743zi build, and runs it twice in QEMU with different
step counts: (count(n2) - count(n1)) / (n2 - n1) is the cost of one step; the input generation of
the loop (variant 0) is measured the same way and subtracted.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codegen.emit.c_format import c_array
from codegen.emit.model_c import encoder_source, fallback_source
from codegen.quantize.encoder import quantize_encoder
from host.hil import firmware

REPO = Path(__file__).resolve().parents[1]
PLUGIN = REPO / ".cache" / "qemu-plugins" / "libinsn.so"
CMSIS = REPO / ".cache" / "cmsis"
CMSIS_SOURCES = {
    "MatrixFunctions": ["arm_mat_vec_mult_q15.c"],
    "BasicMathFunctions": ["arm_add_q15.c", "arm_mult_q15.c", "arm_scale_q15.c", "arm_shift_q15.c", "arm_offset_q15.c",
                           "arm_abs_q15.c"],
    "FastMathFunctions": ["arm_divide_q15.c"],
}
VARIANTS = {"loop": 0, "rtlnf": 1, "cmsis": 2, "float32": 3, "forest_f32": 4, "fallback_s8": 5, "rtlnf_reference": 6}
STEPS = (10, 210)


class BenchError(Exception):
    pass


def ensure_tools() -> None:
    if not PLUGIN.exists():
        subprocess.run([str(REPO / "tools" / "build_insn_plugin.sh")], check=True)
    if not (CMSIS / "CMSIS-DSP" / "Include" / "arm_math.h").exists():
        subprocess.run([str(REPO / ".venv" / "bin" / "python"), str(REPO / "tools" / "fetch_cmsis.py")], check=True,
                       stdout=subprocess.DEVNULL)


@dataclass
class BenchModel:
    """Everything the benchmark firmware needs about one model size."""
    arrays: dict
    config: dict
    fallback: object | None         # codegen.quantize.fallback.FallbackS8

    @property
    def hidden(self) -> int:
        return self.config["model"]["hidden"]


def random_model(hidden: int, inputs: int = 12, trees: int = 4, depth: int = 3, expert: int = 8, classes: int = 6,
                 substeps: int = 1, seed: int = 0) -> BenchModel:
    """Random weights of the default architecture's shapes (cost depends on sizes, not values)."""
    rng = np.random.default_rng(seed)
    leaves, inner = 2 ** depth, 2 ** depth - 1
    a = {
        "encoder.W": rng.normal(0, 1 / np.sqrt(inputs), (inputs, hidden)), "encoder.U": rng.normal(0, 1 / np.sqrt(hidden), (hidden, hidden)),
        "encoder.b": rng.normal(0, 0.5, hidden), "encoder.tau": rng.uniform(0.5, 50, hidden),
        "encoder.A": rng.uniform(-0.9, 0.9, hidden), "input.mean": np.zeros(inputs), "input.std": np.ones(inputs),
        "router.w": rng.normal(0, 1, (hidden, trees * inner)), "router.b": rng.normal(0, 0.1, trees * inner),
        "experts.W1": rng.normal(0, 0.3, (leaves, hidden, expert)), "experts.b1": rng.normal(0, 0.1, (leaves, expert)),
        "experts.W2": rng.normal(0, 0.3, (leaves, expert, classes)), "experts.b2": rng.normal(0, 0.1, (leaves, classes)),
    }
    config = {"model": {"hidden": hidden, "inputs": inputs, "substeps": substeps, "trees": trees, "depth": depth,
                        "expert_hidden": expert, "time_unit_s": 0.01, "tau_min": 0.5},
              "class_names": [f"c{i}" for i in range(classes)]}
    return BenchModel({k: np.asarray(v, dtype=np.float32) for k, v in a.items()}, config, None)


def artifact_model(art) -> BenchModel:
    from codegen.quantize import fallback as FB
    fb_path = art.path / "fallback_int8.tflite"
    fb = FB.parse(fb_path.read_bytes()) if fb_path.exists() else None
    return BenchModel(art.arrays, art.config, fb)


def _fallback_c(fb, hidden: int) -> str:
    if fb is None:       # random sizes: a stand-in layer keeps the symbol; variant 5 is not run
        return ("static const fc_s8_layer_t bench_fb_layers[1];\nconst fallback_s8_model_t bench_fallback = "
                f"{{.hidden = {hidden}, .max_width = 1, .n_layers = 0, .layers = bench_fb_layers}};\n")
    return fallback_source(fb, hidden, prefix="bench")


def write_sources(model: BenchModel, out: Path) -> dict:
    """bench_model.h/.c for the model, plus the CMSIS-DSP sources the peer needs; returns sizes."""
    a, m = model.arrays, model.config["model"]
    enc, _ = quantize_encoder(a, model.config)
    H, I, S = enc.hidden, enc.inputs, enc.substeps
    T, D = m["trees"], m["depth"]
    L, inner = 2 ** D, 2 ** D - 1
    E, C = a["experts.W1"].shape[2], a["experts.W2"].shape[2]
    widest = max((l.weights.shape[0] for l in model.fallback.layers), default=1) if model.fallback else 1
    f32 = lambda name, v: c_array("float", name, np.asarray(v, dtype=np.float32).reshape(-1))  # noqa: E731
    q15 = lambda v: np.clip(np.round(np.asarray(v, dtype=np.float64) * 32768), -32768, 32767).astype(np.int16)  # noqa: E731
    inv_tau = 1.0 / a["encoder.tau"].astype(np.float64)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_model.h").write_text(
        "/* Generated by bench/sensor_cost.py for the benchmark firmware. */\n#ifndef BENCH_MODEL_H\n#define BENCH_MODEL_H\n"
        "#include <stdint.h>\n#include \"solver/fc_s8.h\"\n#include \"solver/ltc_q15.h\"\n"
        f"#define BENCH_H {H}\n#define BENCH_I {I}\n#define BENCH_S {S}\n#define BENCH_CLASSES {C}\n"
        f"#define BENCH_TREES {T}\n#define BENCH_DEPTH {D}\n#define BENCH_LEAVES {L}\n#define BENCH_NODES {T * inner}\n"
        f"#define BENCH_EXPERT {E}\n#define BENCH_FALLBACK_SCRATCH {H + 2 * widest}\n"
        "extern const ltc_q15_model_t bench_encoder;\nextern const fallback_s8_model_t bench_fallback;\n"
        "extern const int16_t bench_gain_q15[], bench_b_q15[], bench_inv_tau_q15[], bench_w_q15[], bench_u_q15[], bench_a_q15[];\n"
        "extern const uint32_t bench_dt_q15_per_us;\n"
        "extern const float bench_w_f[], bench_u_f[], bench_b_f[], bench_inv_tau_f[], bench_a_f[], bench_dt_per_us;\n"
        "extern const float bench_router_w[], bench_router_b[], bench_w1[], bench_b1[], bench_w2[], bench_b2[];\n"
        "#endif\n")
    dt_per_us = 1e-6 / m["time_unit_s"]
    (out / "bench_model.c").write_text(
        "/* Generated by bench/sensor_cost.py. */\n#include \"bench_model.h\"\n"
        + encoder_source(enc, prefix="bench")
        + _fallback_c(model.fallback, H)
        + c_array("int16_t", "bench_w_q15", enc.w_q) + c_array("int16_t", "bench_u_q15", enc.u_q)
        + c_array("int16_t", "bench_a_q15", np.round(enc.a_q31 / 65536.0).astype(np.int16))
        + c_array("int16_t", "bench_gain_q15", np.full(H, 16384)) + c_array("int16_t", "bench_b_q15", q15(a["encoder.b"] / 8))
        + c_array("int16_t", "bench_inv_tau_q15", q15(np.minimum(inv_tau, 0.999)))
        + f"const uint32_t bench_dt_q15_per_us = {int(round(dt_per_us * 32768 * 65536))}u;\n"
        + f32("bench_w_f", a["encoder.W"].T) + f32("bench_u_f", a["encoder.U"].T) + f32("bench_b_f", a["encoder.b"])
        + f32("bench_inv_tau_f", inv_tau) + f32("bench_a_f", a["encoder.A"])
        + f"const float bench_dt_per_us = {dt_per_us:.9g}f;\n"
        + f32("bench_router_w", a["router.w"].T) + f32("bench_router_b", a["router.b"])
        + f32("bench_w1", np.transpose(a["experts.W1"], (0, 2, 1))) + f32("bench_b1", a["experts.b1"])
        + f32("bench_w2", np.transpose(a["experts.W2"], (0, 2, 1))) + f32("bench_b2", a["experts.b2"]))
    third = out / "third_party"
    third.mkdir(exist_ok=True)
    for folder, files in CMSIS_SOURCES.items():
        for f in files:
            shutil.copy(CMSIS / "CMSIS-DSP" / "Source" / folder / f, third / f)
    return {"hidden": H, "inputs": I, "substeps": S, "trees": T, "depth": D, "leaves": L, "expert": E, "classes": C}


def build_variant(src: Path, variant: str, build_root: Path) -> Path:
    includes = os.pathsep.join(str(p) for p in (CMSIS / "CMSIS-DSP" / "Include", CMSIS / "CMSIS-DSP" / "PrivateInclude",
                                                CMSIS / "CMSIS-Core" / "Include"))
    return firmware.build("mps2_an500_bench", build_dir=build_root / variant,
                          extra_env={"RTLNF_BENCH_DIR": str(src), "RTLNF_BENCH_VARIANT": str(VARIANTS[variant]),
                                     "RTLNF_BENCH_INCLUDES": includes})


def run_plugin(elf: Path, steps: int, options: str) -> str:
    """Runs the benchmark firmware for `steps` steps in QEMU under the insn plugin; its log."""
    with tempfile.NamedTemporaryFile(suffix=".log") as log:
        proc = subprocess.run(
            ["qemu-system-arm", "-M", "mps2-an500", "-display", "none", "-monitor", "none", "-nodefaults",
             "-semihosting-config", f"enable=on,target=native,arg=bench,arg={steps}", "-kernel", str(elf),
             "-plugin", f"{PLUGIN},{options}", "-d", "plugin", "-D", log.name],
            capture_output=True, text=True, timeout=300)
        text = Path(log.name).read_text()
    if proc.returncode != 0 or "insns:" not in text:
        raise BenchError(f"{elf}: QEMU exit {proc.returncode}, log {text[-500:]!r} {proc.stderr[-500:]}")
    return text


def count_instructions(elf: Path, steps: int) -> int:
    return int(run_plugin(elf, steps, "inline=on").split("insns:")[1].split()[0])


def per_step(elf: Path) -> float:
    n1, n2 = STEPS
    return (count_instructions(elf, n2) - count_instructions(elf, n1)) / (n2 - n1)


# The cycle model. QEMU counts instructions; the Cortex-M7's cycle timings are not published by Arm.
# We charge one cycle per instruction (single issue: dual issue can only lower it) except:
#   LDM/STM/PUSH/POP/VLDM/VSTM/VPUSH/VPOP  ceil(words / 2) cycles (measured on an STM32H743:
#       github.com/jnk0le/random, "pipeline cycle test/doc/cortex_m7.md": "takes ceil(regnum/2) cycles");
#   SDIV/UDIV  7 cycles; VDIV/VSQRT  16 (.F32) / 30 (.F64) cycles (LLVM's Cortex-M7 scheduling model,
#       llvm/lib/Target/ARM/ARMScheduleM7.td: divides "stall for their latency").
# A lower bound: the M7 issues at most two instructions a cycle, one multiply(-accumulate) a cycle,
# and load/store multiples, LDRD/STRD and divides alone (the same sources).
MIX_STEPS = (2, 3)
CYCLES_DIV = 7
CYCLES_VDIV = {"f32": 16, "f64": 30}
_MULTI = ("ldm", "stm", "push", "pop", "vldm", "vstm", "vpush", "vpop")
_SINGLE_ISSUE = _MULTI + ("ldrd", "strd", "sdiv", "udiv")
_MAC = ("smla", "smls", "smul", "smmul", "smmla", "smmls", "umul", "umla", "umaal", "mul", "mla", "mls")


def _register_words(operands: str) -> int:
    """Words moved by a register list such as '{r4, r5, sl, lr}' or '{d8-d15}' or '{s16, s17}'."""
    inside = operands[operands.index("{") + 1:operands.index("}")]
    words = 0
    for item in (t.strip() for t in inside.split(",")):
        lo, _, hi = item.partition("-")
        n = int(hi[1:]) - int(lo[1:]) + 1 if hi and lo[1:].isdigit() else 1
        words += 2 * n if lo.startswith("d") else n
    return words


def instruction_cycles(disas: str) -> int:
    """Cycles of one executed instruction under the model above, from QEMU's disassembly."""
    mnemonic, _, operands = disas.partition(" ")
    base = mnemonic.split(".")[0]
    if base.startswith(_MULTI) and "{" in operands:
        return max(1, -(-_register_words(operands) // 2))
    if base in ("sdiv", "udiv"):
        return CYCLES_DIV
    if base in ("vdiv", "vsqrt"):
        return CYCLES_VDIV["f64" if ".f64" in mnemonic else "f32"]
    return 1


def executed(elf: Path, steps: int) -> dict[str, int]:
    """Every executed instruction's disassembly with its count (the insn plugin's match= log)."""
    counts: dict[str, int] = {}
    for line in run_plugin(elf, steps, "match=").splitlines():
        if line.startswith("0x") and "'" in line:
            disas = line.split("'")[1]
            counts[disas] = counts.get(disas, 0) + 1
    return counts


def cycles_per_step(elf: Path) -> dict:
    """Instructions and modelled cycles of one step, with the instruction mix (mnemonic counts)."""
    n1, n2 = MIX_STEPS
    a, b = executed(elf, n1), executed(elf, n2)
    mix: dict[str, int] = {}
    cycles = single_cycles = single_n = macs = 0
    for disas in set(a) | set(b):
        n = (b.get(disas, 0) - a.get(disas, 0)) // (n2 - n1)
        if n:
            c = instruction_cycles(disas)
            cycles += n * c
            key = disas.split(" ")[0].split(".")[0]
            mix[key] = mix.get(key, 0) + n
            if key.startswith(_SINGLE_ISSUE):
                single_cycles, single_n = single_cycles + n * c, single_n + n
            elif key.startswith(_MAC):
                macs += n
    instructions = sum(mix.values())
    lower = single_cycles + max(-(-(instructions - single_n) // 2), macs)
    return {"instructions": instructions, "cycles": cycles, "cycles_lower_bound": lower,
            "mix": dict(sorted(mix.items(), key=lambda kv: -kv[1]))}


def elf_section_sizes(elf: Path) -> dict[str, int]:
    from elftools.elf.elffile import ELFFile
    with open(elf, "rb") as f:
        return {s.name: s["sh_size"] for s in ELFFile(f).iter_sections()}


def symbol_sizes(elf: Path, prefix: str) -> int:
    from elftools.elf.elffile import ELFFile
    with open(elf, "rb") as f:
        syms = ELFFile(f).get_section_by_name(".symtab")
        return sum(s["st_size"] for s in syms.iter_symbols() if s.name.startswith(prefix))


def measure(model: BenchModel, variants: list[str], work: Path, cycles: bool = False) -> dict:
    """Instructions per step of each variant (loop overhead subtracted), and with `cycles` the
    modelled cycles and instruction mix of each (the loop's subtracted the same way)."""
    dims = write_sources(model, work / "src")
    elves = {v: build_variant(work / "src", v, work / "build") for v in ["loop", *variants]}
    loop = per_step(elves["loop"])
    res = {"dims": dims, "loop_overhead": loop, "instructions": {}}
    for v in variants:
        res["instructions"][v] = per_step(elves[v]) - loop
    if cycles:
        loop_mix = cycles_per_step(elves["loop"])
        res["cycles"], res["cycles_lower_bound"], res["mix"] = {}, {}, {}
        for v in variants:
            c = cycles_per_step(elves[v])
            res["cycles"][v] = c["cycles"] - loop_mix["cycles"]
            res["cycles_lower_bound"][v] = c["cycles_lower_bound"] - loop_mix["cycles_lower_bound"]
            res["mix"][v] = {k: n - loop_mix["mix"].get(k, 0) for k, n in c["mix"].items()
                             if n - loop_mix["mix"].get(k, 0)}
    res["elves"] = {k: str(v) for k, v in elves.items()}
    return res


def mac_floor(hidden: int, inputs: int, substeps: int) -> dict:
    """The M7's dual 16-bit MAC (SMLAD) does two multiply-accumulates per instruction."""
    macs = hidden * inputs + substeps * hidden * hidden
    return {"macs": macs, "floor": macs / 2 + substeps * hidden,                 # + one table lookup per activation
            "floor_single_pass": (hidden * inputs + hidden * hidden) / 2}       # W x + U h once: the issue's 704 at 32/12
