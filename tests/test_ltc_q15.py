"""firmware/solver/ltc_q15.c, compiled for the host, equals the golden model bit for bit.

The golden model (codegen/quantize/golden.py) is the specification. Models are random float
encoders quantized by the real quantizer, over the sizes the product supports, with weights from
tiny to saturating; inputs include +-32767; dt includes 0, sub-microsecond-unit values, typical
sample spacings, gaps beyond the clamp and the uint32 maximum.
"""

import ctypes

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codegen.quantize import formats as F
from codegen.quantize import golden
from codegen.quantize.encoder import quantize_encoder

DT_CHOICES = np.array([0, 1, 7, 999, 2500, 4000, 10_000, 123_457, 2_000_000, F.DT_MAX_US,
                       F.DT_MAX_US + 1, 2**32 - 1], dtype=np.int64)


class Model(ctypes.Structure):
    _fields_ = [
        ("hidden", ctypes.c_uint16), ("inputs", ctypes.c_uint16), ("substeps", ctypes.c_uint16),
        ("dt_mult", ctypes.c_uint32), ("dt_max_us", ctypes.c_uint32),
        ("w_q", ctypes.POINTER(ctypes.c_int16)), ("u_q", ctypes.POINTER(ctypes.c_int16)),
        ("b_q", ctypes.POINTER(ctypes.c_int32)), ("mult", ctypes.POINTER(ctypes.c_int32)),
        ("shift", ctypes.POINTER(ctypes.c_int32)), ("inv_tau_q16", ctypes.POINTER(ctypes.c_uint32)),
        ("a_q15", ctypes.POINTER(ctypes.c_int16)),
    ]


@pytest.fixture(scope="module")
def lib(host_c):
    lib = host_c(["solver/ltc_q15.c"])
    lib.ltc_q15_step.argtypes = [ctypes.POINTER(Model), ctypes.POINTER(ctypes.c_int16),
                                 ctypes.POINTER(ctypes.c_int16), ctypes.c_uint32, ctypes.c_void_p]
    lib.ltc_q15_step.restype = None
    lib.ltc_q15_sigmoid.argtypes = [ctypes.c_int32]
    lib.ltc_q15_sigmoid.restype = ctypes.c_int32
    lib.ltc_q15_validate.argtypes = [ctypes.POINTER(Model)]
    lib.ltc_q15_validate.restype = ctypes.c_int
    return lib


class CEncoder:
    """An EncoderQ laid out as the C struct expects (the arrays kept alive with it)."""

    def __init__(self, lib, enc: golden.EncoderQ):
        self.lib, self.enc = lib, enc
        self.arrays = {
            "w_q": np.ascontiguousarray(enc.w_q, dtype=np.int16),
            "u_q": np.ascontiguousarray(enc.u_q, dtype=np.int16),
            "b_q": np.ascontiguousarray(enc.b_q, dtype=np.int32),
            "mult": np.ascontiguousarray(enc.mult, dtype=np.int32),
            "shift": np.ascontiguousarray(enc.shift, dtype=np.int32),
            "inv_tau_q16": np.ascontiguousarray(enc.inv_tau_q16, dtype=np.uint32),
            "a_q15": np.ascontiguousarray(enc.a_q15, dtype=np.int16),
        }
        ptr = {k: v.ctypes.data_as(dict(Model._fields_)[k]) for k, v in self.arrays.items()}
        self.model = Model(enc.hidden, enc.inputs, enc.substeps, enc.dt_mult, enc.dt_max_us, **ptr)
        assert lib.ltc_q15_validate(ctypes.byref(self.model)) == 0
        self.scratch = ctypes.create_string_buffer(enc.hidden * 6)

    def step(self, h: np.ndarray, x: np.ndarray, dt_us: int) -> np.ndarray:
        h = np.ascontiguousarray(h, dtype=np.int16).copy()
        x = np.ascontiguousarray(x, dtype=np.int16)
        self.lib.ltc_q15_step(ctypes.byref(self.model), h.ctypes.data_as(ctypes.POINTER(ctypes.c_int16)),
                              x.ctypes.data_as(ctypes.POINTER(ctypes.c_int16)), int(dt_us), self.scratch)
        return h


def random_float_encoder(rng, hidden, inputs, substeps=2, weight_scale=1.0, time_unit_s=0.01):
    arrays = {
        "encoder.W": rng.standard_normal((inputs, hidden)) * weight_scale,
        "encoder.U": rng.standard_normal((hidden, hidden)) * weight_scale / np.sqrt(hidden),
        "encoder.b": rng.standard_normal(hidden) * 2.0,
        "encoder.tau": np.exp(rng.uniform(np.log(0.5), np.log(300.0), hidden)),
        "encoder.A": np.tanh(rng.standard_normal(hidden) * 2.0),
        "input.mean": rng.standard_normal(inputs) * 3.0,
        "input.std": np.exp(rng.uniform(-3, 3, inputs)),
    }
    config = {"model": {"hidden": hidden, "inputs": inputs, "substeps": substeps, "time_unit_s": time_unit_s}}
    return quantize_encoder({k: v.astype(np.float32) for k, v in arrays.items()}, config)[0]


def random_inputs(rng, n, inputs):
    x = rng.integers(-32767, 32768, (n, inputs))
    extreme = rng.random((n, inputs)) < 0.15
    x[extreme] = rng.choice([-32767, 32767], extreme.sum())
    dt = np.where(rng.random(n) < 0.5, rng.choice(DT_CHOICES, n), rng.integers(0, 20_000, n))
    return x.astype(np.int16), dt.astype(np.int64)


STEPS_COMPARED = []


def run_both(lib, enc, x, dt, h0=None):
    """Steps C and golden through the same sequence; returns how many steps matched (asserts all)."""
    c = CEncoder(lib, enc)
    h_c = np.zeros(enc.hidden, dtype=np.int16) if h0 is None else h0.astype(np.int16)
    h_g = h_c.astype(np.int64)
    for k in range(len(dt)):
        h_g = golden.step(enc, h_g, x[k].astype(np.int64), dt[k])
        h_c = c.step(h_c, x[k], dt[k])
        assert np.array_equal(h_c, h_g), f"step {k}: dt={dt[k]} C={h_c[:8]} golden={h_g[:8]}"
        assert np.all(np.abs(h_g) <= F.H_MAX_Q15)
    STEPS_COMPARED.append(len(dt))
    return len(dt)


def test_sigmoid_equals_golden_for_every_q12_input(lib):
    z = np.arange(-F.Z_CLAMP, F.Z_CLAMP + 1, dtype=np.int64)
    c = np.array([lib.ltc_q15_sigmoid(int(v)) for v in z])
    g = golden.sigmoid_q15(z)
    assert np.array_equal(c, g)
    assert g[0] == F.sigmoid_table()[0] and g[-1] == F.sigmoid_table()[-1]
    assert np.all(np.diff(g) >= 0)


STEPS_PER_MODEL = 120


@settings(max_examples=90, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), hidden=st.integers(1, 40), inputs=st.integers(1, 16),
       substeps=st.integers(1, 4), log_scale=st.floats(-4, 3))
def test_step_is_bit_exact_on_random_models(lib, seed, hidden, inputs, substeps, log_scale):
    # 90 models x 120 steps = 10,800 steps per run; the seed in a failure report replays it.
    rng = np.random.default_rng(seed)
    enc = random_float_encoder(rng, hidden, inputs, substeps, weight_scale=10.0 ** log_scale)
    x, dt = random_inputs(rng, STEPS_PER_MODEL, inputs)
    h0 = rng.integers(-32767, 32768, hidden)
    assert run_both(lib, enc, x, dt, h0) == STEPS_PER_MODEL


@pytest.mark.parametrize("hidden,inputs", [(8, 1), (8, 64), (32, 12), (64, 33), (128, 1), (128, 64)])
def test_supported_sizes_are_bit_exact(lib, hidden, inputs):
    rng = np.random.default_rng(hidden * 1000 + inputs)
    enc = random_float_encoder(rng, hidden, inputs, 2, weight_scale=3.0)
    x, dt = random_inputs(rng, 60, inputs)
    run_both(lib, enc, x, dt)


def test_zero_dt_leaves_the_state_unchanged_and_huge_dt_is_clamped(lib):
    rng = np.random.default_rng(7)
    enc = random_float_encoder(rng, 16, 5)
    h0 = rng.integers(-32767, 32768, 16).astype(np.int16)
    x = rng.integers(-32767, 32768, 5).astype(np.int16)
    c = CEncoder(lib, enc)
    assert np.array_equal(c.step(h0, x, 0), h0)
    assert np.array_equal(c.step(h0, x, enc.dt_max_us), c.step(h0, x, 2**32 - 1))


def test_saturating_weights_keep_the_state_bounded(lib):
    rng = np.random.default_rng(11)
    enc = random_float_encoder(rng, 24, 8, 1, weight_scale=1e4)
    assert np.abs(enc.b_q).max() > 0
    x = np.full((50, 8), 32767, dtype=np.int16)
    run_both(lib, enc, x, np.full(50, 10**6))


def test_accumulator_bound_holds_for_every_quantized_row():
    rng = np.random.default_rng(5)
    for log_scale in (-6, 0, 3):
        enc = random_float_encoder(rng, 48, 30, weight_scale=10.0 ** log_scale)
        rows = np.abs(enc.w_q.astype(np.int64)).sum(1) + np.abs(enc.u_q.astype(np.int64)).sum(1)
        assert rows.max() <= F.ACC_WEIGHT_SUM_MAX
        assert np.all((enc.mult >= 2**30) & (enc.mult.astype(np.int64) < 2**31))


def test_unrepresentable_model_is_one_clear_error():
    from codegen.quantize.encoder import QuantizationError

    with pytest.raises(QuantizationError, match="bias .* does not fit the Q12 int32 format"):
        random_float_encoder(np.random.default_rng(5), 8, 4, weight_scale=1e6)


def test_at_least_ten_thousand_steps_were_compared_in_this_run():
    # Runs last in this module: the bit-exact claim is backed by this many steps each run.
    assert sum(STEPS_COMPARED) >= 10_000, sum(STEPS_COMPARED)


def test_committed_sigmoid_table_is_what_codegen_emits():
    from codegen.emit.tables import SIGMOID_TABLE_H, sigmoid_table_header

    assert SIGMOID_TABLE_H.read_text() == sigmoid_table_header(), "run codegen.emit.tables.write_tables()"


def test_c_header_constants_agree_with_formats():
    import re

    from tests.support.cbuild import FIRMWARE_DIR

    text = (FIRMWARE_DIR / "solver" / "ltc_q15.h").read_text()
    defines = dict(re.findall(r"#define (LTC_Q15_\w+) \(?([^\n]*?)\)?\n", text))
    assert int(defines["LTC_Q15_DT_SHIFT"]) == F.DT_SHIFT
    assert int(defines["LTC_Q15_Z_FRAC_BITS"]) == F.Z_FRAC_BITS
    assert eval(defines["LTC_Q15_Z_CLAMP"].replace("LTC_Q15_Z_FRAC_BITS", str(F.Z_FRAC_BITS))) == F.Z_CLAMP
