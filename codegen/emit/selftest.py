"""selftest_vectors.h: inputs and the golden model's outputs for the on-target self-test."""

from __future__ import annotations

import numpy as np

from codegen.emit.c_format import banner, c_array


def selftest_header(short_hash: str, x_q: np.ndarray, dt_us: np.ndarray, reset: np.ndarray,
                    h_q15: np.ndarray, scores: np.ndarray) -> str:
    steps = len(dt_us)
    return (
        banner("python -m codegen export --selftest", f"Model {short_hash}, {steps} steps.")
        + "#ifndef RTLNF_SELFTEST_VECTORS_H\n#define RTLNF_SELFTEST_VECTORS_H\n\n#include <stdint.h>\n\n"
        + f"#define SELFTEST_STEPS {steps}u\n\n"
        + c_array("int16_t", "selftest_x", x_q, static=True)
        + c_array("uint32_t", "selftest_dt_us", dt_us, static=True)
        + c_array("uint8_t", "selftest_reset", reset.astype(np.uint8), static=True)
        + c_array("int16_t", "selftest_h", h_q15, static=True)
        + c_array("int8_t", "selftest_scores", scores, static=True)
        + "\n#endif /* RTLNF_SELFTEST_VECTORS_H */\n"
    )
