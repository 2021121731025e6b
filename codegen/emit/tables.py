"""Model-independent tables of the fixed-point kernels (committed; a test re-emits and compares).

The sigmoid table is a plain C array (not a static in a header) because the optimised Cortex-M7
kernel, written in assembly, loads from it too.
"""

from __future__ import annotations

from pathlib import Path

from codegen.emit.c_format import banner, c_array
from codegen.quantize import formats as F

SOLVER_DIR = Path(__file__).resolve().parents[2] / "firmware" / "solver"
SIGMOID_TABLE_H = SOLVER_DIR / "sigmoid_q15_table.h"
SIGMOID_TABLE_C = SOLVER_DIR / "sigmoid_q15_table.c"
GENERATOR = "codegen/emit/tables.py"


def sigmoid_table_header() -> str:
    return (
        banner(GENERATOR, "sigma(z / 256) for z in Q8 on [-8, 8), Q15.")
        + "#ifndef RTLNF_SIGMOID_Q15_TABLE_H\n#define RTLNF_SIGMOID_Q15_TABLE_H\n\n#include <stdint.h>\n\n"
        + f"#define SIGMOID_Q15_POINTS {F.SIGMOID_POINTS}\n"
        + f"/* Largest |table - sigma| over real z rounded to Q8, saturation included: {F.sigmoid_max_error():.3e} */\n\n"
        + "extern const int16_t sigmoid_q15_table[SIGMOID_Q15_POINTS];   /* entry z - Z_MIN for z in Q8 */\n"
        + "\n#endif /* RTLNF_SIGMOID_Q15_TABLE_H */\n"
    )


def sigmoid_table_source() -> str:
    return (banner(GENERATOR, "See sigmoid_q15_table.h.") + '#include "solver/sigmoid_q15_table.h"\n\n'
            + c_array("int16_t", "sigmoid_q15_table", F.sigmoid_table(), per_line=16)
            .replace(f"[{F.SIGMOID_POINTS}]", "[SIGMOID_Q15_POINTS]"))


def write_tables() -> list[Path]:
    SIGMOID_TABLE_H.write_text(sigmoid_table_header())
    SIGMOID_TABLE_C.write_text(sigmoid_table_source())
    return [SIGMOID_TABLE_H, SIGMOID_TABLE_C]
