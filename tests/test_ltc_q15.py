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
from codegen.emit import model_c
from codegen.quantize.encoder import quantize_encoder

DT_CHOICES = np.array([0, 1, 7, 999, 2500, 4000, 10_000, 123_457, 2_000_000, F.DT_MAX_US,
                       F.DT_MAX_US + 1, 2**32 - 1], dtype=np.int64)


class Neuron(ctypes.Structure):
    _fields_ = [("shift", ctypes.c_int32), ("inv_tau", ctypes.c_uint32), ("a_q31", ctypes.c_int32)]


class Model(ctypes.Structure):
    _fields_ = [
        ("hidden", ctypes.c_uint16), ("inputs", ctypes.c_uint16), ("substeps", ctypes.c_uint16),
        ("dt_mult", ctypes.c_uint32), ("dt_max_us", ctypes.c_uint32),
        ("weights", ctypes.POINTER(ctypes.c_int16)), ("bias_acc", ctypes.POINTER(ctypes.c_int32)),
        ("neurons", ctypes.POINTER(Neuron)),
    ]


def scratch_bytes(hidden, inputs):
    _, lanes, rows = model_c.layout(hidden, inputs)
    return 2 * lanes + 4 * rows


def bind(lib):
    """Argument types of the kernel API (tests/test_export.py binds generated models with it too)."""
    for name in ("ltc_q15_step", "ltc_q15_step_reference"):
        getattr(lib, name).argtypes = [ctypes.POINTER(Model), ctypes.c_void_p, ctypes.POINTER(ctypes.c_int16),
                                       ctypes.c_uint32]
        getattr(lib, name).restype = None
    lib.ltc_q15_reset.argtypes = [ctypes.POINTER(Model), ctypes.c_void_p]
    lib.ltc_q15_reset.restype = None
    lib.ltc_q15_h.argtypes = [ctypes.POINTER(Model), ctypes.c_void_p]
    lib.ltc_q15_h.restype = ctypes.POINTER(ctypes.c_int16)
    lib.ltc_q15_validate.argtypes = [ctypes.POINTER(Model)]
    lib.ltc_q15_validate.restype = ctypes.c_int
    return lib


class State:
    """LTC_Q15_STATE_BYTES of 8-byte aligned memory for a model, with its h as a numpy view."""

    def __init__(self, lib, model: Model):
        self.lib, self.model = lib, model
        self._buf = ctypes.create_string_buffer(scratch_bytes(model.hidden, model.inputs) + 8)
        self.ptr = (ctypes.addressof(self._buf) + 7) & ~7
        lib.ltc_q15_reset(ctypes.byref(model), self.ptr)
        self.h = np.ctypeslib.as_array(lib.ltc_q15_h(ctypes.byref(model), self.ptr), shape=(model.hidden,))

    def step(self, x: np.ndarray, dt_us: int, kernel: str = "ltc_q15_step") -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.int16)
        getattr(self.lib, kernel)(ctypes.byref(self.model), self.ptr, x.ctypes.data_as(ctypes.POINTER(ctypes.c_int16)),
                                  int(dt_us))
        return self.h.copy()


@pytest.fixture(scope="module")
def lib(host_c):
    lib = bind(host_c(["solver/ltc_q15.c", "solver/sigmoid_q15_table.c"]))
    lib.ltc_q15_sigmoid.argtypes = [ctypes.c_int32]
    lib.ltc_q15_sigmoid.restype = ctypes.c_int32
    return lib


class CEncoder:
    """An EncoderQ laid out as the C struct expects (the arrays kept alive with it)."""

    def __init__(self, lib, enc: golden.EncoderQ):
        self.lib, self.enc = lib, enc
        self.weights = model_c.pack_weights(enc)
        self.bias = model_c.padded_bias(enc)
        self.neurons = (Neuron * enc.hidden)(*[Neuron(int(a), int(b), int(c)) for a, b, c in model_c.neuron_table(enc)])
        self.model = Model(enc.hidden, enc.inputs, enc.substeps, enc.dt_mult, enc.dt_max_us,
                           self.weights.ctypes.data_as(ctypes.POINTER(ctypes.c_int16)),
                           self.bias.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)),
                           ctypes.cast(self.neurons, ctypes.POINTER(Neuron)))
        assert lib.ltc_q15_validate(ctypes.byref(self.model)) == 0
        self.state = State(lib, self.model)

    def step(self, h: np.ndarray, x: np.ndarray, dt_us: int, kernel: str = "ltc_q15_step") -> np.ndarray:
        self.state.h[:] = h
        return self.state.step(x, dt_us, kernel)


def random_float_encoder(rng, hidden, inputs, substeps=2, weight_scale=1.0, time_unit_s=0.01, a_scale=2.0):
    arrays = {
        "encoder.W": rng.standard_normal((inputs, hidden)) * weight_scale,
        "encoder.U": rng.standard_normal((hidden, hidden)) * weight_scale / np.sqrt(hidden),
        "encoder.b": rng.standard_normal(hidden) * 2.0,
        "encoder.tau": np.exp(rng.uniform(np.log(0.34), np.log(300.0), hidden)),
        "encoder.A": np.clip(np.tanh(rng.standard_normal(hidden) * a_scale), -0.99999, 0.99999),
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
    STEPS_COMPARED.append(len(dt))
    return len(dt)


def test_sigmoid_equals_golden_for_every_q8_input_and_saturates(lib):
    z = np.arange(F.Z_MIN - 300, F.Z_MAX + 300, dtype=np.int64)
    c = np.array([lib.ltc_q15_sigmoid(int(v)) for v in z])
    g = golden.sigmoid_q15(np.clip(z, F.Z_MIN, F.Z_MAX))
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
    assert np.abs(enc.bias_acc).max() > 0
    x = np.full((50, 8), 32767, dtype=np.int16)
    run_both(lib, enc, x, np.full(50, 10**6))


def test_extreme_state_and_a_near_one_stay_in_32_bits(lib):
    # The update's margins (formats.py) are tightest at |h| = 1 with |A| at its clamp and large dt;
    # the golden model raises OverflowError if any 32-bit intermediate would overflow.
    rng = np.random.default_rng(13)
    for substeps in (1, 3):
        enc = random_float_encoder(rng, 20, 6, substeps, weight_scale=30.0, a_scale=50.0)
        assert np.abs(enc.a_q31).max() == F.A_MAX_Q31
        x, dt = random_inputs(rng, 80, 6)
        run_both(lib, enc, x, dt, h0=rng.choice([-32768, 32767], 20))


def test_reference_kernel_is_the_kernel_on_the_host(lib):
    rng = np.random.default_rng(17)
    enc = random_float_encoder(rng, 13, 7, 2)
    c = CEncoder(lib, enc)
    x, dt = random_inputs(rng, 20, 7)
    h_a = h_b = np.zeros(13, dtype=np.int16)
    for k in range(20):
        h_a = c.step(h_a, x[k], dt[k])
        h_b = c.step(h_b, x[k], dt[k], kernel="ltc_q15_step_reference")
        assert np.array_equal(h_a, h_b)


def test_accumulator_bound_holds_for_every_quantized_row():
    rng = np.random.default_rng(5)
    for log_scale in (-6, 0, 3):
        enc = random_float_encoder(rng, 48, 30, weight_scale=10.0 ** log_scale)
        rows = np.abs(enc.w_q.astype(np.int64)).sum(1) + np.abs(enc.u_q.astype(np.int64)).sum(1)
        assert rows.max() <= F.ACC_WEIGHT_SUM_MAX
        assert np.all((enc.shift >= 0) & (enc.shift <= F.SHIFT_MAX))
        assert np.abs(enc.bias_acc.astype(np.int64)).max() <= F.BIAS_ACC_MAX


def test_packed_weights_put_four_rows_of_one_state_word_together():
    rng = np.random.default_rng(3)
    enc = random_float_encoder(rng, 6, 3, 1)              # 6 rows -> 8, x 3 -> 4 lanes, v 4 + 6 -> 12 lanes
    packed = model_c.pack_weights(enc)
    assert model_c.layout(6, 3) == (4, 12, 8) and packed.size == 8 * 12
    # group 1 (rows 4..7), word 3 (lanes 6, 7 = h[2], h[3]), row 1 of the group (neuron 5)
    assert list(packed[((1 * 6 + 3) * 4 + 1) * 2:][:2]) == [enc.u_q[5, 2], enc.u_q[5, 3]]
    assert list(packed[((0 * 6 + 1) * 4 + 2) * 2:][:2]) == [enc.w_q[2, 2], 0]       # x padding lane
    assert not packed[((1 * 6 + 0) * 4 + 2) * 2:][:4].any()                          # pad rows are zero


def test_unrepresentable_models_are_one_clear_error():
    from codegen.quantize.encoder import QuantizationError

    with pytest.raises(QuantizationError, match="too large for the int32 accumulator"):
        random_float_encoder(np.random.default_rng(5), 8, 4, weight_scale=1e9)
    rng = np.random.default_rng(5)
    arrays = {"encoder.W": np.ones((2, 3)), "encoder.U": np.zeros((3, 3)), "encoder.b": np.zeros(3),
              "encoder.tau": np.array([0.3, 1.0, 2.0]), "encoder.A": np.zeros(3),
              "input.mean": np.zeros(2), "input.std": np.ones(2)}
    with pytest.raises(QuantizationError, match="tau > 0.3333 units"):
        quantize_encoder({k: v.astype(np.float32) for k, v in arrays.items()},
                         {"model": {"hidden": 3, "inputs": 2, "substeps": 1, "time_unit_s": 0.01}})


def test_at_least_ten_thousand_steps_were_compared_in_this_run():
    # Runs last in this module: the bit-exact claim is backed by this many steps each run.
    assert sum(STEPS_COMPARED) >= 10_000, sum(STEPS_COMPARED)


def test_committed_sigmoid_table_is_what_codegen_emits():
    from codegen.emit.tables import SIGMOID_TABLE_C, SIGMOID_TABLE_H, sigmoid_table_header, sigmoid_table_source

    assert SIGMOID_TABLE_H.read_text() == sigmoid_table_header(), "run codegen.emit.tables.write_tables()"
    assert SIGMOID_TABLE_C.read_text() == sigmoid_table_source(), "run codegen.emit.tables.write_tables()"


def test_c_header_constants_agree_with_formats():
    import re

    from tests.support.cbuild import FIRMWARE_DIR

    text = (FIRMWARE_DIR / "solver" / "ltc_q15.h").read_text()
    defines = dict(re.findall(r"#define (LTC_Q15_\w+) \(?([^\n]*?)\)?\n", text))
    for name in ("DT_SHIFT", "Z_FRAC_BITS", "Z_BITS", "INV_TAU_EXP", "SHIFT_MAX"):
        assert int(defines[f"LTC_Q15_{name}"]) == getattr(F, name), name
    assert int(defines["LTC_Q15_GROUP"]) == model_c.GROUP
