"""The leaf experts as one full-int8 TFLite model, for the gateway's `--leaves int8`.

All L experts side by side: a Dense(L*E, relu) holding every expert's first layer, then a
block-diagonal Dense(L*E -> L*C) holding every second layer (the zero blocks stay exactly zero after
per-channel int8 quantization). Input: the latent h (int8, calibrated on training latents); output:
every expert's class scores (int8), which the gateway dequantizes and mixes with the float router.
The batch dimension is fixed (TFLite Micro plans its arena for one shape); the gateway pads.
"""

from __future__ import annotations

import numpy as np

from codegen.quantize.fallback import full_int8_tflite
from codegen.tf_quiet import import_tensorflow

BATCH = 16


def expert_matrices(arrays: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(H, L*E), (L*E,), (L*E, L*C) block-diagonal, (L*C,) from experts.W1/b1/W2/b2."""
    W1, b1, W2, b2 = (arrays[f"experts.{n}"] for n in ("W1", "b1", "W2", "b2"))
    L, H, E = W1.shape
    C = W2.shape[2]
    k1 = W1.transpose(1, 0, 2).reshape(H, L * E)
    k2 = np.zeros((L * E, L * C), dtype=np.float32)
    for leaf in range(L):
        k2[leaf * E:(leaf + 1) * E, leaf * C:(leaf + 1) * C] = W2[leaf]
    return k1, b1.reshape(-1), k2, b2.reshape(-1)


def convert(arrays: dict, calibration_h: np.ndarray, batch: int = BATCH) -> bytes:
    keras, _ = import_tensorflow()
    k1, c1, k2, c2 = expert_matrices(arrays)
    model = keras.Sequential([
        keras.Input((k1.shape[0],), batch_size=batch),
        keras.layers.Dense(k1.shape[1], activation="relu"),
        keras.layers.Dense(k2.shape[1]),
    ])
    model.layers[0].set_weights([k1, c1])
    model.layers[1].set_weights([k2, c2])
    calib = np.asarray(calibration_h, dtype=np.float32)
    usable = len(calib) - len(calib) % batch
    return full_int8_tflite(model, lambda: ([calib[i:i + batch]] for i in range(0, usable, batch)))
