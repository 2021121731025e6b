"""The model's generated firmware sources: rtlnf_model.h / rtlnf_model.c.

Everything carries the prefix `rtlnf_model_` and the model hash; the arrays are those of
codegen/quantize/golden.EncoderQ, laid out as firmware/solver/ltc_q15.h's ltc_q15_model_t expects.
"""

from __future__ import annotations

import numpy as np

from codegen.emit.c_format import banner, c_array
from codegen.quantize import formats as F
from codegen.quantize.golden import EncoderQ

GENERATOR = "python -m codegen export"


def header(enc: EncoderQ, short_hash: str, classes: int, in_scale: np.ndarray) -> str:
    hash_bytes = ", ".join(f"0x{short_hash[i:i + 2]}" for i in range(0, len(short_hash), 2))
    return (
        banner(GENERATOR, f"Model {short_hash}.")
        + "#ifndef RTLNF_MODEL_H\n#define RTLNF_MODEL_H\n\n#include \"solver/ltc_q15.h\"\n\n"
        + f'#define RTLNF_MODEL_HASH "{short_hash}"\n'
        + f"#define RTLNF_MODEL_HASH_BYTES {{{hash_bytes}}}\n"
        + f"#define RTLNF_MODEL_HIDDEN {enc.hidden}\n"
        + f"#define RTLNF_MODEL_INPUTS {enc.inputs}\n"
        + f"#define RTLNF_MODEL_SUBSTEPS {enc.substeps}\n"
        + f"#define RTLNF_MODEL_CLASSES {classes}\n"
        + f"#define RTLNF_MODEL_H_FRAC_BITS 15\n"
        + f"#define RTLNF_MODEL_Z_FRAC_BITS {F.Z_FRAC_BITS}\n\n"
        + "/* Real value of one input count per channel (for reference; the weights already include it):\n"
        + "".join(f" *   channel {c}: {s:.9g}\n" for c, s in enumerate(in_scale))
        + " */\n\n"
        + "extern const ltc_q15_model_t rtlnf_model_encoder;\n\n#endif /* RTLNF_MODEL_H */\n"
    )


def source(enc: EncoderQ, short_hash: str) -> str:
    H = enc.hidden
    return (
        banner(GENERATOR, f"Model {short_hash}.")
        + '#include "rtlnf_model.h"\n\n'
        + c_array("int16_t", "rtlnf_model_w_q", enc.w_q, static=True)
        + c_array("int16_t", "rtlnf_model_u_q", enc.u_q, static=True)
        + c_array("int32_t", "rtlnf_model_b_q", enc.b_q, static=True)
        + c_array("int32_t", "rtlnf_model_mult", enc.mult, static=True)
        + c_array("int32_t", "rtlnf_model_shift", enc.shift, static=True)
        + c_array("uint32_t", "rtlnf_model_inv_tau_q16", enc.inv_tau_q16, static=True)
        + c_array("int16_t", "rtlnf_model_a_q15", enc.a_q15, static=True)
        + "\nconst ltc_q15_model_t rtlnf_model_encoder = {\n"
        + f"    .hidden = {H},\n    .inputs = {enc.inputs},\n    .substeps = {enc.substeps},\n"
        + f"    .dt_mult = {enc.dt_mult}u,\n    .dt_max_us = {enc.dt_max_us}u,\n"
        + "    .w_q = rtlnf_model_w_q,   /* H x I, row-major */\n    .u_q = rtlnf_model_u_q,   /* H x H, row-major */\n"
        + "    .b_q = rtlnf_model_b_q,\n    .mult = rtlnf_model_mult,\n    .shift = rtlnf_model_shift,\n"
        + "    .inv_tau_q16 = rtlnf_model_inv_tau_q16,\n    .a_q15 = rtlnf_model_a_q15,\n};\n"
    )


def encoder_memory_bytes(enc: EncoderQ) -> dict:
    """Flash of the model constants and RAM of the state and scratch (the kernel's code is counted
    from the ELF by the benchmarks)."""
    H, I = enc.hidden, enc.inputs
    return {"flash_model_bytes": 2 * H * I + 2 * H * H + 4 * H * 4 + 2 * H + 2 * F.SIGMOID_POINTS,
            "ram_bytes": 2 * H + 6 * H}
