"""The fallback expert in int8: TFLite conversion, its parameters read from the flatbuffer, and the
golden model of the integer kernels TFLite Micro runs (the oracle the firmware's C must equal).

The sensor runs this small MLP alone when the gateway is gone: h (Q15) -> int8 input -> FC + ReLU
-> FC -> int8 class scores (no softmax: the argmax and the scores are what LOCAL_PREDICTION sends).

Rounding follows TFLite Micro's reference kernels as shipped in the `tflite-micro` wheel:
MultiplyByQuantizedMultiplier = SaturatingRoundingDoublingHighMul then RoundingDivideByPOT
("double rounding"); multipliers from QuantizeMultiplier (frexp, round half away from zero).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from codegen.quantize import formats as F
from codegen.quantize.formats import quantize_multiplier_tflite as quantize_multiplier
from codegen.tf_quiet import import_tensorflow, quiet_fds

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


@dataclass(frozen=True)
class FcLayerS8:
    weights: np.ndarray       # (out, in) int8, symmetric (zero point 0)
    bias: np.ndarray          # (out,) int32
    input_offset: int         # -input zero point
    output_offset: int        # output zero point
    mult: np.ndarray          # (out,) int32
    shift: np.ndarray         # (out,) int32, TFLite convention: > 0 shifts left
    act_min: int
    act_max: int


@dataclass(frozen=True)
class FallbackS8:
    in_scale: float
    in_zero_point: int
    h_mult: int               # h_q15 -> int8 input: MultiplyByQuantizedMultiplier(h, h_mult, h_shift)
    h_shift: int
    layers: tuple[FcLayerS8, ...]
    out_scale: float
    out_zero_point: int
    flatbuffer: bytes


# --- TFLite's integer arithmetic, vectorised ----------------------------------------------------

def saturating_rounding_doubling_high_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    s = ab + nudge
    res = np.where(s >= 0, s >> 31, -((-s) >> 31))        # C's division by 2^31 truncates toward zero
    return np.where((a == INT32_MIN) & (b == INT32_MIN), INT32_MAX, res)


def rounding_divide_by_pot(x: np.ndarray, exponent: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.int64)
    exponent = np.asarray(exponent, dtype=np.int64)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def multiply_by_quantized_multiplier(x: np.ndarray, mult: np.ndarray, shift: np.ndarray) -> np.ndarray:
    shift = np.asarray(shift, dtype=np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    x = np.asarray(x, dtype=np.int64) * (np.int64(1) << left)
    x = np.clip(x, INT32_MIN, INT32_MAX)          # the C kernel multiplies in int32 (no overflow here)
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(x, mult), right)


def fc_s8(x: np.ndarray, layer: FcLayerS8) -> np.ndarray:
    """TFLite Micro's reference per-channel int8 FULLY_CONNECTED: x (..., in) int8 -> (..., out) int8."""
    acc = (x.astype(np.int64) + layer.input_offset) @ layer.weights.T.astype(np.int64) + layer.bias.astype(np.int64)
    out = multiply_by_quantized_multiplier(acc, layer.mult, layer.shift) + layer.output_offset
    return np.clip(out, layer.act_min, layer.act_max).astype(np.int8)


def h_to_input(fb: FallbackS8, h_q15: np.ndarray) -> np.ndarray:
    """The sensor's latent (Q15) as the model's int8 input."""
    x = multiply_by_quantized_multiplier(h_q15, fb.h_mult, fb.h_shift) + fb.in_zero_point
    return np.clip(x, -128, 127).astype(np.int8)


def predict_s8(fb: FallbackS8, x_s8: np.ndarray) -> np.ndarray:
    for layer in fb.layers:
        x_s8 = fc_s8(x_s8, layer)
    return x_s8


# --- conversion and parsing -----------------------------------------------------------------------

def convert(arrays: dict, calibration_h: np.ndarray) -> bytes:
    """Float fallback MLP (logits, no softmax) -> full-int8 TFLite flatbuffer."""
    keras, _ = import_tensorflow()

    H = arrays["fallback.W1"].shape[0]
    model = keras.Sequential([
        keras.Input((H,), batch_size=1),
        keras.layers.Dense(arrays["fallback.W1"].shape[1], activation="relu"),
        keras.layers.Dense(arrays["fallback.W2"].shape[1]),
    ])
    model.layers[0].set_weights([arrays["fallback.W1"], arrays["fallback.b1"]])
    model.layers[1].set_weights([arrays["fallback.W2"], arrays["fallback.b2"]])
    calib = np.asarray(calibration_h, dtype=np.float32)
    return full_int8_tflite(model, lambda: ([c[None]] for c in calib))


def full_int8_tflite(model, representative_dataset) -> bytes:
    """A Keras model -> TFLite flatbuffer with int8 weights, activations, input and output, calibrated
    on the representative dataset (a callable yielding lists of input batches)."""
    _, tf = import_tensorflow()
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative_dataset
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    with quiet_fds(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return conv.convert()


def parse(flatbuffer: bytes) -> FallbackS8:
    """Reads the two FULLY_CONNECTED layers and all quantization parameters from the flatbuffer."""
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.Model.GetRootAsModel(flatbuffer, 0)
    graph = model.Subgraphs(0)

    def tensor(i):
        t = graph.Tensors(i)
        q = t.Quantization()
        buf = model.Buffers(t.Buffer()).DataAsNumpy()
        return t, q.ScaleAsNumpy(), q.ZeroPointAsNumpy(), buf

    def data(i, dtype):
        t, _, _, buf = tensor(i)
        return np.frombuffer(np.asarray(buf, dtype=np.uint8).tobytes(), dtype=dtype).reshape(t.ShapeAsNumpy())

    layers = []
    for k in range(graph.OperatorsLength()):
        op = graph.Operators(k)
        code = model.OperatorCodes(op.OpcodeIndex())
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if builtin != schema.BuiltinOperator.FULLY_CONNECTED:
            raise ValueError(f"fallback model has an unexpected operator {builtin} (expected FULLY_CONNECTED only)")
        opts = schema.FullyConnectedOptions()
        table = op.BuiltinOptions()
        opts.Init(table.Bytes, table.Pos)
        relu = opts.FusedActivationFunction() == schema.ActivationFunctionType.RELU
        i_in, i_w, i_b = (op.Inputs(j) for j in range(3))
        _, s_in, zp_in, _ = tensor(i_in)
        _, s_w, _, _ = tensor(i_w)
        _, s_out, zp_out, _ = tensor(op.Outputs(0))
        weights = data(i_w, np.int8)
        out_n = weights.shape[0]
        s_w = np.broadcast_to(s_w.astype(np.float32), (out_n,))
        pairs = [quantize_multiplier(float(np.float64(np.float32(s_in[0])) * np.float64(sw) /
                                           np.float64(np.float32(s_out[0])))) for sw in s_w]
        act_min = max(-128, int(zp_out[0])) if relu else -128
        # The converter drops an all-zero bias (input index -1): TFLite treats a missing bias as 0.
        bias = data(i_b, np.int32).copy() if i_b >= 0 else np.zeros(out_n, dtype=np.int32)
        layers.append(FcLayerS8(weights=weights.copy(), bias=bias, input_offset=-int(zp_in[0]),
                                output_offset=int(zp_out[0]), mult=np.array([p[0] for p in pairs], dtype=np.int32),
                                shift=np.array([p[1] for p in pairs], dtype=np.int32), act_min=act_min, act_max=127))
    first_in = graph.Tensors(graph.Inputs(0)).Quantization()
    last_out = graph.Tensors(graph.Outputs(0)).Quantization()
    in_scale = float(first_in.ScaleAsNumpy()[0])
    h_mult, h_shift = quantize_multiplier(1.0 / (F.Q15 * float(np.float32(in_scale))))
    return FallbackS8(in_scale=in_scale, in_zero_point=int(first_in.ZeroPointAsNumpy()[0]), h_mult=h_mult,
                      h_shift=h_shift, layers=tuple(layers), out_scale=float(last_out.ScaleAsNumpy()[0]),
                      out_zero_point=int(last_out.ZeroPointAsNumpy()[0]), flatbuffer=bytes(flatbuffer))


def tflm_predict(flatbuffer: bytes, x_s8: np.ndarray) -> np.ndarray:
    """The oracle: TFLite Micro's Python interpreter on the same flatbuffer, one input at a time."""
    with quiet_fds():
        from tflite_micro.python.tflite_micro import runtime

    it = runtime.Interpreter.from_bytes(flatbuffer, arena_size=16 * 1024)
    out = []
    for x in np.asarray(x_s8, dtype=np.int8).reshape(-1, x_s8.shape[-1]):
        it.set_input(x[None], 0)
        it.invoke()
        out.append(np.array(it.get_output(0)).reshape(-1))
    return np.stack(out).astype(np.int8)
