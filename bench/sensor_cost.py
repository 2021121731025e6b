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
VARIANTS = {"loop": 0, "rtlnf": 1, "cmsis": 2, "float32": 3, "forest_f32": 4, "fallback_s8": 5}
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
                 substeps: int = 2, seed: int = 0) -> BenchModel:
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
        "extern const int16_t bench_gain_q15[], bench_b_q15[], bench_inv_tau_q15[];\n"
        "extern const uint32_t bench_dt_q15_per_us;\n"
        "extern const float bench_w_f[], bench_u_f[], bench_b_f[], bench_inv_tau_f[], bench_a_f[], bench_dt_per_us;\n"
        "extern const float bench_router_w[], bench_router_b[], bench_w1[], bench_b1[], bench_w2[], bench_b2[];\n"
        "#endif\n")
    dt_per_us = 1e-6 / m["time_unit_s"]
    (out / "bench_model.c").write_text(
        "/* Generated by bench/sensor_cost.py. */\n#include \"bench_model.h\"\n"
        + encoder_source(enc, prefix="bench")
        + _fallback_c(model.fallback, H)
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


def count_instructions(elf: Path, steps: int) -> int:
    with tempfile.NamedTemporaryFile(suffix=".log") as log:
        proc = subprocess.run(
            ["qemu-system-arm", "-M", "mps2-an500", "-display", "none", "-monitor", "none", "-nodefaults",
             "-semihosting-config", f"enable=on,target=native,arg=bench,arg={steps}", "-kernel", str(elf),
             "-plugin", f"{PLUGIN},inline=on", "-d", "plugin", "-D", log.name],
            capture_output=True, text=True, timeout=300)
        text = Path(log.name).read_text()
    if proc.returncode != 0 or "insns:" not in text:
        raise BenchError(f"{elf}: QEMU exit {proc.returncode}, log {text!r} {proc.stderr[-500:]}")
    return int(text.split("insns:")[1].split()[0])


def per_step(elf: Path) -> float:
    n1, n2 = STEPS
    return (count_instructions(elf, n2) - count_instructions(elf, n1)) / (n2 - n1)


def elf_section_sizes(elf: Path) -> dict[str, int]:
    from elftools.elf.elffile import ELFFile
    with open(elf, "rb") as f:
        return {s.name: s["sh_size"] for s in ELFFile(f).iter_sections()}


def symbol_sizes(elf: Path, prefix: str) -> int:
    from elftools.elf.elffile import ELFFile
    with open(elf, "rb") as f:
        syms = ELFFile(f).get_section_by_name(".symtab")
        return sum(s["st_size"] for s in syms.iter_symbols() if s.name.startswith(prefix))


def measure(model: BenchModel, variants: list[str], work: Path) -> dict:
    """Instructions per step of each variant (loop overhead subtracted), and code sizes."""
    dims = write_sources(model, work / "src")
    elves = {v: build_variant(work / "src", v, work / "build") for v in ["loop", *variants]}
    loop = per_step(elves["loop"])
    res = {"dims": dims, "loop_overhead": loop, "instructions": {}}
    for v in variants:
        res["instructions"][v] = per_step(elves[v]) - loop
    res["elves"] = {k: str(v) for k, v in elves.items()}
    return res


def mac_floor(hidden: int, inputs: int, substeps: int) -> dict:
    """The M7's dual 16-bit MAC (SMLAD) does two multiply-accumulates per instruction."""
    macs = hidden * inputs + substeps * hidden * hidden
    return {"macs": macs, "floor": macs / 2 + substeps * hidden,                 # + one table lookup per activation
            "floor_single_pass": (hidden * inputs + hidden * hidden) / 2}       # W x + U h once: the 704 at 32/12
