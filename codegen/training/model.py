"""The Real-Time Liquid Neural Forest in Keras 3: LTC encoder, soft routing forest, leaf experts.

Encoder (liquid time-constant cell, Hasani et al., AAAI 2021, in its per-neuron form):

    dh/dt = -[1/tau + f(h, x)] * h + f(h, x) * A,     f = sigmoid(W x + U h + b)

tau > 0 (tau_min + softplus) and A in (-1, 1) (tanh) are learned per neuron. Time is measured in
model time units of `time_unit_s` (10 ms by default): f is a rate (a conductance) in 1/unit, so with
f = sigmoid(.) in (0, 1) the input can drive a neuron at up to 100/s, faster than its leak 1/tau
(tau from 20 ms to 1 s at initialisation). In seconds f would top out at 1/s, too slow for signals of
a few hertz: the time unit is the choice that keeps f exactly the sigmoid of the LTC paper.
Each sample k brings (x_k, dt_k); the cell integrates dt_k in S equal sub-steps of the *fused* (semi-implicit) Euler
scheme of the LTC paper, with x held over the interval:

    h <- (h + dt_s * f * A) / (1 + dt_s * (1/tau + f)),     dt_s = dt_k / S

Why fused rather than explicit Euler: the denominator is >= 1, so the update is a contraction for
every dt >= 0 (dt = 0 leaves h unchanged, a huge dt sends h to A * f / (1/tau + f)); |h| stays below
max |A| < 1, which is what lets the sensor keep h in Q15 without saturating. It needs one division
per neuron and sub-step, which the Cortex-M7 does in hardware. W x + b is computed once per sample.

Router: T soft decision trees of depth D on h. Inner node n of tree t goes left with probability
sigmoid(w_tn . h + b_tn); a leaf's probability is the product along its path. The trees share one
set of 2^D leaves: p_l = mean over trees of P_t(leaf l), so sum_l p_l = 1.
Experts: leaf l is a small MLP f_l (h -> relu -> class scores); y = sum_l p_l f_l(h) and the class
probabilities are softmax(y). Mixing the experts' scores (rather than their softmax outputs) gives
the encoder one clear gradient while the router specialises the experts; on the synthetic benchmark
it trained markedly faster than a mixture of probabilities.
Depth 0 is the single-leaf model (one expert, p = 1): the no-forest ablation.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from codegen.training.config import ModelConfig
from host.runtime.forest import path_matrices


def _inverse_softplus(y: np.ndarray) -> np.ndarray:
    return y + np.log(-np.expm1(-y))


@keras.saving.register_keras_serializable("rtlnf")
class LTCCell(keras.layers.Layer):
    """One LTC step per input sample. Input: [x (inputs), dt (time units)]; state: h (hidden)."""

    def __init__(self, units: int, substeps: int, tau_min: float, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.units, self.substeps, self.tau_min, self.seed = units, substeps, tau_min, seed
        self.state_size = units
        self.output_size = units

    def build(self, input_shape):
        n_in = input_shape[-1] - 1
        rng = np.random.default_rng(self.seed)
        # Time constants spread log-uniformly over 2 .. 100 units (20 ms .. 1 s): fast and slow neurons.
        tau0 = np.exp(rng.uniform(np.log(2.0), np.log(100.0), self.units)) - self.tau_min
        # Input weights 3x Glorot: the drive sigmoid(Wx + b) then swings over its nonlinear range,
        # so slow neurons integrate a rectified (energy-like) view of the input from the start.
        self.W = self.add_weight(name="W", shape=(n_in, self.units),
                                 initializer=keras.initializers.VarianceScaling(9.0, "fan_avg", "uniform", self.seed))
        self.U = self.add_weight(name="U", shape=(self.units, self.units),
                                 initializer=keras.initializers.Orthogonal(0.5, self.seed))
        # Each neuron starts with its resting drive sigmoid(b) equal to its leak 1/tau, so that the
        # liquid time constant 1/(1/tau + f) spans the same 10 ms .. 0.5 s as tau instead of being
        # pinned near 1/f = 20 ms by a drive of 0.5 for every neuron.
        rest = np.clip(1.0 / (tau0 + self.tau_min), 1e-4, 0.5)
        self.b = self.add_weight(name="b", shape=(self.units,),
                                 initializer=keras.initializers.Constant(np.log(rest / (1.0 - rest))))
        self.tau_raw = self.add_weight(name="tau_raw", shape=(self.units,),
                                       initializer=keras.initializers.Constant(_inverse_softplus(tau0)))
        self.a_raw = self.add_weight(name="a_raw", shape=(self.units,),
                                     initializer=keras.initializers.RandomNormal(0.0, 1.0, self.seed))

    def tau(self):
        return self.tau_min + ops.softplus(self.tau_raw)

    def A(self):
        return ops.tanh(self.a_raw)

    def call(self, inputs, states):
        h = states[0]
        x, dt = inputs[:, :-1], inputs[:, -1:]
        dt_s = dt / self.substeps
        xw = ops.matmul(x, self.W) + self.b
        inv_tau = 1.0 / self.tau()
        A = self.A()
        for _ in range(self.substeps):
            f = ops.sigmoid(xw + ops.matmul(h, self.U))
            h = (h + dt_s * f * A) / (1.0 + dt_s * (inv_tau + f))
        return h, [h]

    def get_config(self):
        return {**super().get_config(), "units": self.units, "substeps": self.substeps,
                "tau_min": self.tau_min, "seed": self.seed}


@keras.saving.register_keras_serializable("rtlnf")
class SoftForest(keras.layers.Layer):
    """Routing forest plus leaf experts: h (..., H) -> (softmax(y), p), y (..., C), p (..., leaves)."""

    def __init__(self, trees: int, depth: int, expert_hidden: int, classes: int, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.trees, self.depth, self.expert_hidden, self.classes, self.seed = trees, depth, expert_hidden, classes, seed
        left, right = path_matrices(depth)
        self._left, self._right = left.astype("float32"), right.astype("float32")

    def build(self, input_shape):
        H = input_shape[-1]
        L, E, C = 2 ** self.depth, self.expert_hidden, self.classes
        init = keras.initializers.GlorotUniform
        if self.depth > 0:
            self.node_w = self.add_weight(name="node_w", shape=(H, self.trees * (2 ** self.depth - 1)),
                                          initializer=init(self.seed))
            self.node_b = self.add_weight(name="node_b", shape=(self.trees * (2 ** self.depth - 1),),
                                          initializer="zeros")
        self.W1 = self.add_weight(name="W1", shape=(L, H, E), initializer=init(self.seed + 1))
        self.b1 = self.add_weight(name="b1", shape=(L, E), initializer="zeros")
        self.W2 = self.add_weight(name="W2", shape=(L, E, C), initializer=init(self.seed + 2))
        self.b2 = self.add_weight(name="b2", shape=(L, C), initializer="zeros")

    def leaf_probs(self, h):
        if self.depth == 0:
            return ops.ones(ops.shape(h)[:-1] + (1,), dtype=h.dtype)
        z = ops.matmul(h, self.node_w) + self.node_b                         # (..., T*N)
        z = ops.reshape(z, ops.shape(z)[:-1] + (self.trees, 2 ** self.depth - 1))
        log_p = (ops.matmul(ops.log_sigmoid(z), self._left) +
                 ops.matmul(ops.log_sigmoid(-z), self._right))               # (..., T, L)
        return ops.mean(ops.exp(log_p), axis=-2)

    def expert_logits(self, h):
        hidden = ops.relu(ops.einsum("...h,lhe->...le", h, self.W1) + self.b1)
        return ops.einsum("...le,lec->...lc", hidden, self.W2) + self.b2

    def call(self, h):
        p = self.leaf_probs(h)
        y = ops.einsum("...l,...lc->...c", p, self.expert_logits(h))
        return ops.softmax(y, axis=-1), p

    def get_config(self):
        return {**super().get_config(), "trees": self.trees, "depth": self.depth,
                "expert_hidden": self.expert_hidden, "classes": self.classes, "seed": self.seed}


def mixture_nll(y_true, y_pred):
    """Cross-entropy of the forest's class probabilities softmax(sum_l p_l f_l)."""
    # Keras may hand y_true over with a trailing axis of 1 (expanded to y_pred's rank): drop it.
    y_true = ops.reshape(ops.cast(y_true, "int32"), ops.shape(y_pred)[:-1])
    picked = ops.take_along_axis(y_pred, ops.expand_dims(y_true, -1), axis=-1)[..., 0]
    return -ops.mean(ops.log(picked + 1e-7))


def build_training_model(cfg: ModelConfig, window: int, loss_steps: np.ndarray, seed: int):
    """Keras model: windows (B, window, inputs + 1) -> y at `loss_steps` (B, len(loss_steps), C)."""
    inp = keras.Input((window, cfg.inputs + 1), name="x_dt")
    cell = LTCCell(cfg.hidden, cfg.substeps, cfg.tau_min, seed=seed, name="ltc")
    h_seq = keras.layers.RNN(cell, return_sequences=True, name="encoder")(inp)
    h_sel = ops.take(h_seq, ops.convert_to_tensor(loss_steps.astype("int32")), axis=1)
    forest = SoftForest(cfg.trees, cfg.depth, cfg.expert_hidden, cfg.classes, seed=seed, name="forest")
    y, _ = forest(h_sel)
    model = keras.Model(inp, y)
    encoder = keras.Model(inp, h_seq)
    return model, encoder, cell, forest


def build_fallback(cfg: ModelConfig, seed: int):
    """The distilled fallback expert: one small MLP h -> classes, run by the sensor alone."""
    init = keras.initializers.GlorotUniform
    return keras.Sequential([
        keras.Input((cfg.hidden,), name="h"),
        keras.layers.Dense(cfg.fallback_hidden, activation="relu", kernel_initializer=init(seed), name="fc1"),
        keras.layers.Dense(cfg.classes, activation="softmax", kernel_initializer=init(seed + 1), name="fc2"),
    ], name="fallback")


def export_arrays(cfg: ModelConfig, cell: LTCCell, forest: SoftForest, fallback) -> dict[str, np.ndarray]:
    """The trained parameters in the artifact's naming (float32), derived values resolved."""
    a = {
        "encoder.W": cell.W.numpy(), "encoder.U": cell.U.numpy(), "encoder.b": cell.b.numpy(),
        "encoder.tau": keras.ops.convert_to_numpy(cell.tau()), "encoder.A": keras.ops.convert_to_numpy(cell.A()),
        "experts.W1": forest.W1.numpy(), "experts.b1": forest.b1.numpy(),
        "experts.W2": forest.W2.numpy(), "experts.b2": forest.b2.numpy(),
    }
    if cfg.depth > 0:
        a["router.w"] = forest.node_w.numpy()
        a["router.b"] = forest.node_b.numpy()
    if fallback is not None:
        fc1, fc2 = fallback.get_layer("fc1"), fallback.get_layer("fc2")
        a["fallback.W1"], a["fallback.b1"] = (v.numpy() for v in fc1.weights)
        a["fallback.W2"], a["fallback.b2"] = (v.numpy() for v in fc2.weights)
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in a.items()}
