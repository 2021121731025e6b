"""The int8 fallback expert: golden model == TFLite Micro's interpreter == the firmware's C."""

import ctypes

import numpy as np
import pytest

from codegen.quantize import fallback as FB
from host import artifact
from tests.test_export import load_generated


@pytest.fixture(scope="module")
def exported(tiny_model, host_c):
    gen, art = tiny_model
    fb = FB.parse((art / "fallback_int8.tflite").read_bytes())
    lib, _ = load_generated(host_c, gen)
    lib.fallback_s8_predict.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int16),
                                        ctypes.c_void_p, ctypes.POINTER(ctypes.c_int8)]
    lib.fallback_s8_predict.restype = ctypes.c_uint32
    lib.tflm_multiply_by_quantized_multiplier.argtypes = [ctypes.c_int32] * 3
    lib.tflm_multiply_by_quantized_multiplier.restype = ctypes.c_int32
    model = ctypes.c_void_p.in_dll(lib, "rtlnf_model_fallback")  # address of the struct itself below
    addr = ctypes.addressof(model)
    return fb, lib, addr, artifact.load(art)


def random_int8_inputs(rng, n, width):
    x = rng.integers(-128, 128, (n, width))
    x[0], x[1] = -128, 127
    return x.astype(np.int8)


def test_golden_equals_tflite_micro_on_1000_inputs(exported):
    fb, *_ = exported
    x = random_int8_inputs(np.random.default_rng(0), 1000, fb.layers[0].weights.shape[1])
    assert np.array_equal(FB.predict_s8(fb, x), FB.tflm_predict(fb.flatbuffer, x))


def test_c_equals_golden_and_tflite_micro_from_q15_latents(exported):
    fb, lib, addr, art = exported
    H = art.config["model"]["hidden"]
    rng = np.random.default_rng(1)
    h = rng.integers(-32767, 32768, (1000, H))
    h[:50] = np.round(np.tanh(rng.standard_normal((50, H))) * 32767)      # realistic latents
    h[0], h[1] = -32767, 32767
    x = FB.h_to_input(fb, h)
    golden = FB.predict_s8(fb, x)
    assert np.array_equal(golden, FB.tflm_predict(fb.flatbuffer, x))
    classes = golden.shape[1]
    scratch = ctypes.create_string_buffer(H + 2 * max(layer.weights.shape[0] for layer in fb.layers))
    for i in range(len(h)):
        hv = np.ascontiguousarray(h[i], dtype=np.int16)
        out = (ctypes.c_int8 * classes)()
        best = lib.fallback_s8_predict(addr, hv.ctypes.data_as(ctypes.POINTER(ctypes.c_int16)), scratch, out)
        assert list(out) == golden[i].tolist(), f"input {i}"
        assert best == int(np.argmax(golden[i]))


def test_multiplier_arithmetic_matches_on_edges(exported):
    _, lib, *_ = exported
    rng = np.random.default_rng(2)
    xs = np.concatenate([rng.integers(-2**31, 2**31, 3000), [-2**31, 2**31 - 1, 0, -1, 1]])
    mults = np.concatenate([rng.integers(2**30, 2**31, 3000), [2**31 - 1, 2**30, 2**30, 2**31 - 1, 2**30]])
    shifts = np.concatenate([rng.integers(-31, 1, 3000), [0, -31, -1, 0, -5]])
    c = [lib.tflm_multiply_by_quantized_multiplier(int(x), int(m), int(s)) for x, m, s in zip(xs, mults, shifts)]
    assert np.array_equal(np.array(c), FB.multiply_by_quantized_multiplier(xs, mults, shifts))
    assert FB.quantize_multiplier(0.5) == (2**30, 0)
    assert FB.quantize_multiplier(0.75) == (3 * 2**29, 0)
    assert FB.quantize_multiplier(2.0 ** -40) == (0, 0)
