"""The model's generated firmware sources: rtlnf_model.h / rtlnf_model.c.

Everything carries the prefix `rtlnf_model_` and the model hash; the arrays are those of
codegen/quantize/golden.EncoderQ, laid out as firmware/solver/ltc_q15.h's ltc_q15_model_t expects.
"""

from __future__ import annotations

import numpy as np

from codegen.emit.c_format import banner, c_array
from codegen.quantize import formats as F
from codegen.quantize.fallback import FallbackS8
from codegen.quantize.golden import EncoderQ

GENERATOR = "python -m codegen export"


def header(enc: EncoderQ, fb: FallbackS8, short_hash: str, classes: int, in_scale: np.ndarray) -> str:
    widest = max(layer.weights.shape[0] for layer in fb.layers)
    hash_bytes = ", ".join(f"0x{short_hash[i:i + 2]}" for i in range(0, len(short_hash), 2))
    return (
        banner(GENERATOR, f"Model {short_hash}.")
        + "#ifndef RTLNF_MODEL_H\n#define RTLNF_MODEL_H\n\n#include \"solver/fc_s8.h\"\n#include \"solver/ltc_q15.h\"\n\n"
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
        + f"#define RTLNF_MODEL_FALLBACK_SCRATCH_BYTES {enc.hidden + 2 * widest}\n\n"
        + "extern const ltc_q15_model_t rtlnf_model_encoder;\n"
        + "extern const fallback_s8_model_t rtlnf_model_fallback;\n\n#endif /* RTLNF_MODEL_H */\n"
    )


def fallback_source(fb: FallbackS8, hidden: int, prefix: str = "rtlnf_model") -> str:
    """The fallback expert's arrays and `const fallback_s8_model_t {prefix}_fallback`."""
    parts = []
    for k, layer in enumerate(fb.layers):
        parts += [c_array("int8_t", f"{prefix}_fb{k}_weights", layer.weights, static=True),
                  c_array("int32_t", f"{prefix}_fb{k}_bias", layer.bias, static=True),
                  c_array("int32_t", f"{prefix}_fb{k}_mult", layer.mult, static=True),
                  c_array("int32_t", f"{prefix}_fb{k}_shift", layer.shift, static=True)]
    parts.append(f"\nstatic const fc_s8_layer_t {prefix}_fb_layers[%d] = {{\n" % len(fb.layers))
    for k, layer in enumerate(fb.layers):
        out_n, in_n = layer.weights.shape
        parts.append(
            f"    {{.in_n = {in_n}, .out_n = {out_n}, .weights = {prefix}_fb{k}_weights, "
            f".bias = {prefix}_fb{k}_bias,\n     .input_offset = {layer.input_offset}, "
            f".output_offset = {layer.output_offset}, .mult = {prefix}_fb{k}_mult, "
            f".shift = {prefix}_fb{k}_shift,\n     .act_min = {layer.act_min}, .act_max = {layer.act_max}}},\n")
    parts.append(f"}};\n\nconst fallback_s8_model_t {prefix}_fallback = {{\n"
                 f"    .hidden = {hidden},\n    .max_width = {max(l.weights.shape[0] for l in fb.layers)},\n"
                 f"    .h_mult = {fb.h_mult},\n    .h_shift = {fb.h_shift},\n    .in_zero_point = {fb.in_zero_point},\n"
                 f"    .n_layers = {len(fb.layers)},\n    .layers = {prefix}_fb_layers,\n}};\n")
    return "".join(parts)


def encoder_source(enc: EncoderQ, prefix: str = "rtlnf_model") -> str:
    """The encoder's arrays and `const ltc_q15_model_t {prefix}_encoder`."""
    p = prefix
    return (
        c_array("int16_t", f"{p}_w_q", enc.w_q, static=True)
        + c_array("int16_t", f"{p}_u_q", enc.u_q, static=True)
        + c_array("int32_t", f"{p}_b_q", enc.b_q, static=True)
        + c_array("int32_t", f"{p}_mult", enc.mult, static=True)
        + c_array("int32_t", f"{p}_shift", enc.shift, static=True)
        + c_array("uint32_t", f"{p}_inv_tau_q16", enc.inv_tau_q16, static=True)
        + c_array("int16_t", f"{p}_a_q15", enc.a_q15, static=True)
        + f"\nconst ltc_q15_model_t {p}_encoder = {{\n"
        + f"    .hidden = {enc.hidden},\n    .inputs = {enc.inputs},\n    .substeps = {enc.substeps},\n"
        + f"    .dt_mult = {enc.dt_mult}u,\n    .dt_max_us = {enc.dt_max_us}u,\n"
        + f"    .w_q = {p}_w_q,   /* H x I, row-major */\n    .u_q = {p}_u_q,   /* H x H, row-major */\n"
        + f"    .b_q = {p}_b_q,\n    .mult = {p}_mult,\n    .shift = {p}_shift,\n"
        + f"    .inv_tau_q16 = {p}_inv_tau_q16,\n    .a_q15 = {p}_a_q15,\n}};\n\n"
    )


def source(enc: EncoderQ, fb: FallbackS8, short_hash: str) -> str:
    return (banner(GENERATOR, f"Model {short_hash}.") + '#include "rtlnf_model.h"\n\n'
            + encoder_source(enc) + fallback_source(fb, enc.hidden))


def memory_bytes(enc: EncoderQ, fb: FallbackS8) -> dict:
    """Flash of the model constants and RAM of state and scratch (kernel code is counted from the
    ELF by the benchmarks)."""
    H, I = enc.hidden, enc.inputs
    fb_flash = sum(layer.weights.size + 12 * layer.weights.shape[0] + 40 for layer in fb.layers) + 24
    widest = max(layer.weights.shape[0] for layer in fb.layers)
    return {"flash_encoder_bytes": 2 * H * I + 2 * H * H + 4 * H * 4 + 2 * H + 2 * F.SIGMOID_POINTS,
            "ram_encoder_bytes": 2 * H + 6 * H,
            "flash_fallback_bytes": fb_flash,
            "ram_fallback_bytes": H + 2 * widest}
