"""firmware/core/protocol_defs.h from host/link/protocol_spec.py (committed; a test re-emits and compares)."""

from __future__ import annotations

import struct
from pathlib import Path

from codegen.emit.c_format import banner
from host.link import protocol_spec as P

PROTOCOL_DEFS_H = Path(__file__).resolve().parents[2] / "firmware" / "core" / "protocol_defs.h"


def _c_field(name: str, ctype: str) -> str:
    if "[" in ctype:
        base, n = ctype.rstrip("]").split("[")
        return f"    {base} {name}[{n}];\n"
    return f"    {ctype} {name};\n"


def _struct(c_name: str, fields, doc: str) -> str:
    body = "".join(_c_field(n, t) for n, t in fields)
    size = struct.calcsize("<" + "".join(P.field_format(t) for _, t in fields))
    return (f"/* {doc} */\n" if doc else "") + (
        f"typedef struct __attribute__((packed)) {{\n{body}}} {c_name};\n"
        f"_Static_assert(sizeof({c_name}) == {size}, \"{c_name} differs from protocol_spec.py\");\n\n")


def protocol_header() -> str:
    out = [banner("codegen/emit/protocol.py", "From host/link/protocol_spec.py."),
           "#ifndef RTLNF_PROTOCOL_DEFS_H\n#define RTLNF_PROTOCOL_DEFS_H\n\n#include <stdint.h>\n\n",
           "/* Little-endian, packed: the layouts of Python's struct formats on the Cortex-M7 and x86. */\n\n",
           f"#define RTLNF_PROTOCOL_VERSION {P.PROTOCOL_VERSION}\n\n"]
    for m in P.MESSAGES:
        out.append(f"#define RTLNF_MSG_{m.name} 0x{m.type_id:02X}u   /* {m.direction} */\n")
    out.append("\n")
    for name in dir(P):
        if name.startswith(("SAMPLE_FLAG_", "LATENT_FLAG_", "STATE_")):
            out.append(f"#define RTLNF_{name} {getattr(P, name)}u\n")
    for reason, code in P.NACK_REASONS.items():
        out.append(f"#define RTLNF_NACK_{reason} {code}u\n")
    out.append("\n")
    out.append(_struct("rtlnf_header_t", P.HEADER_FIELDS, "every frame body starts with this"))
    for m in P.MESSAGES:
        tail = f"; followed by {m.array[1]} {m.array[0]}[] to the end of the body" if m.array else ""
        out.append(_struct(f"rtlnf_msg_{m.name.lower()}_t", m.fields, m.doc + tail))
    out.append("#endif /* RTLNF_PROTOCOL_DEFS_H */\n")
    return "".join(out)


def write_protocol_header() -> Path:
    PROTOCOL_DEFS_H.write_text(protocol_header())
    return PROTOCOL_DEFS_H
