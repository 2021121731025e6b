"""Model-independent tables of the fixed-point kernels (committed; a test re-emits and compares)."""

from __future__ import annotations

from pathlib import Path

from codegen.emit.c_format import banner, c_array
from codegen.quantize import formats as F

SIGMOID_TABLE_H = Path(__file__).resolve().parents[2] / "firmware" / "solver" / "sigmoid_q15_table.h"


def sigmoid_table_header() -> str:
    return (
        banner("codegen/emit/tables.py", "sigma(z) on [-8, 8] in steps of 1/16, Q15.")
        + "#ifndef RTLNF_SIGMOID_Q15_TABLE_H\n#define RTLNF_SIGMOID_Q15_TABLE_H\n\n#include <stdint.h>\n\n"
        + f"#define SIGMOID_Q15_POINTS {F.SIGMOID_POINTS}\n"
        + f"#define SIGMOID_Q15_STEP_BITS {F.SIGMOID_STEP_BITS}\n"
        + f"/* Largest |table - sigma| over real z, clamping at +-8 included: {F.sigmoid_max_error():.3e} */\n\n"
        + c_array("int16_t", "sigmoid_q15_table", F.sigmoid_table(), static=True)
        + "\n#endif /* RTLNF_SIGMOID_Q15_TABLE_H */\n"
    )


def write_tables() -> list[Path]:
    SIGMOID_TABLE_H.write_text(sigmoid_table_header())
    return [SIGMOID_TABLE_H]
