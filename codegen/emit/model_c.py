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
        + f"#define RTLNF_MODEL_Z_FRAC_BITS {F.Z_FRAC_BITS}\n"
        + "#define RTLNF_MODEL_ENCODER_STATE_BYTES LTC_Q15_STATE_BYTES(RTLNF_MODEL_HIDDEN, RTLNF_MODEL_INPUTS)\n\n"
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


GROUP = 4                                    # LTC_Q15_GROUP: rows sharing one LDM of weights


def layout(hidden: int, inputs: int) -> tuple[int, int, int]:
    """(padded x lanes, state-vector lanes, padded rows) as ltc_q15.h's macros compute them."""
    x_lanes = (inputs + 1) & ~1
    return x_lanes, (x_lanes + hidden + 3) & ~3, (hidden + GROUP - 1) // GROUP * GROUP


def pack_weights(enc: EncoderQ) -> np.ndarray:
    """W and U in the kernels' layout (ltc_q15.h): per group of 4 rows, per 32-bit word of the state
    vector v = [x, 0.., h, 0..], the two weights of each of the 4 rows."""
    H, I = enc.hidden, enc.inputs
    x_lanes, lanes, rows = layout(H, I)
    full = np.zeros((rows, lanes), dtype=np.int16)           # row j against v
    full[:H, :I] = enc.w_q
    full[:H, x_lanes:x_lanes + H] = enc.u_q
    # (groups, 4 rows, words, 2 lanes) -> (groups, words, 4 rows, 2 lanes)
    return np.ascontiguousarray(full.reshape(rows // GROUP, GROUP, lanes // 2, 2).transpose(0, 2, 1, 3).reshape(-1))


def padded_bias(enc: EncoderQ) -> np.ndarray:
    return np.concatenate([enc.bias_acc, np.zeros(layout(enc.hidden, enc.inputs)[2] - enc.hidden)]).astype(np.int32)


def neuron_table(enc: EncoderQ) -> np.ndarray:
    """ltc_q15_neuron_t rows {shift, inv_tau, a_q31} as int64 (C emits them as a struct array)."""
    return np.stack([enc.shift.astype(np.int64), enc.inv_tau.astype(np.int64), enc.a_q31.astype(np.int64)], axis=1)


def encoder_source(enc: EncoderQ, prefix: str = "rtlnf_model") -> str:
    """The encoder's arrays and `const ltc_q15_model_t {prefix}_encoder`."""
    p = prefix
    neurons = "".join(f"    {{{int(sh)}, {int(it)}u, {int(a) if a != -(1 << 31) else 'INT32_MIN'}}},\n"
                      for sh, it, a in neuron_table(enc))
    return (
        c_array("int16_t", f"{p}_weights", pack_weights(enc), static=True).replace(
            "static const int16_t", "static const int16_t __attribute__((aligned(8)))", 1)
        + c_array("int32_t", f"{p}_bias_acc", padded_bias(enc), static=True)
        + f"\nstatic const ltc_q15_neuron_t {p}_neurons[{enc.hidden}] = {{   /* shift, 1/tau Q30, A Q31 */\n"
        + neurons + "};\n"
        + f"\nconst ltc_q15_model_t {p}_encoder = {{\n"
        + f"    .hidden = {enc.hidden},\n    .inputs = {enc.inputs},\n    .substeps = {enc.substeps},\n"
        + f"    .dt_mult = {enc.dt_mult}u,\n    .dt_max_us = {enc.dt_max_us}u,\n"
        + f"    .weights = {p}_weights,   /* packed: see ltc_q15.h */\n"
        + f"    .bias_acc = {p}_bias_acc,\n    .neurons = {p}_neurons,\n}};\n\n"
    )


def source(enc: EncoderQ, fb: FallbackS8, short_hash: str) -> str:
    return (banner(GENERATOR, f"Model {short_hash}.") + '#include "rtlnf_model.h"\n\n'
            + encoder_source(enc) + fallback_source(fb, enc.hidden))


def encoder_memory_bytes(hidden: int, inputs: int) -> dict:
    """Flash of the encoder's constants (packed weights, biases, neuron table, sigmoid table) and RAM
    of its state (LTC_Q15_STATE_BYTES: the state vector, h inside it, and the accumulators)."""
    _, lanes, rows = layout(hidden, inputs)
    return {"flash_encoder_bytes": 2 * rows * lanes + 4 * rows + 12 * hidden + 2 * F.SIGMOID_POINTS,
            "ram_encoder_bytes": 2 * lanes + 4 * rows}


def memory_bytes(enc: EncoderQ, fb: FallbackS8) -> dict:
    """Flash of the model constants and RAM of state and scratch (kernel code is counted from the
    ELF by the benchmarks)."""
    H = enc.hidden
    fb_flash = sum(layer.weights.size + 12 * layer.weights.shape[0] + 40 for layer in fb.layers) + 24
    widest = max(layer.weights.shape[0] for layer in fb.layers)
    return {**encoder_memory_bytes(H, enc.inputs),
            "flash_fallback_bytes": fb_flash,
            "ram_fallback_bytes": H + 2 * widest}
