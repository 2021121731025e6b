"""Flash and RAM of a firmware build, split by part (from the linker map GCC writes).

Every input section of the map is attributed to the object that brought it: the generated model
(model data), firmware/solver (the encoder and int8 kernels, with the sigmoid table), firmware/core
(protocol, link application, generator, ring buffer, main loop), boards/ and firmware/arch (board
layer, start-up), the C library. Flash holds .isr_vector, .text, .ARM.exidx and the .data image;
RAM holds .data, .bss and the reserved stack.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

FLASH_SECTIONS = (".isr_vector", ".text", ".ARM.exidx", ".data")
RAM_SECTIONS = (".data", ".bss", ".stack")
PARTS = ("model data", "solver", "protocol and app", "board", "C library", "alignment")

_OUT = re.compile(r"^(\.[\w.]+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)")
_IN_ONE = re.compile(r"^ (\.[\w.]+|COMMON)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S+)")
_IN_NAME = re.compile(r"^ (\.[\w.]+|COMMON)\s*$")
_IN_CONT = re.compile(r"^\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S+)")
_FILL = re.compile(r"^ \*fill\*\s+0x[0-9a-f]+\s+0x([0-9a-f]+)")


def part_of(obj: str) -> str:
    p = obj.replace("\\", "/")
    if "/model/" in p or "rtlnf_model" in p:
        return "model data"
    if "/solver/" in p:
        return "solver"
    if "/core/" in p:
        return "protocol and app"
    if "/board/" in p or "/arch/" in p:
        return "board"
    return "C library"


def split(map_file: Path) -> dict:
    text = map_file.read_text().split("Linker script and memory map", 1)[-1]
    sizes = {"flash": defaultdict(int), "ram": defaultdict(int)}
    out_sec, pending = None, None
    stack = 0
    for line in text.splitlines():
        m = _OUT.match(line)
        if m:
            out_sec = m.group(1)
            if out_sec == ".stack":
                stack = int(m.group(2), 16)
            continue
        size, obj = None, None
        m = _IN_ONE.match(line)
        if m:
            size, obj = int(m.group(2), 16), m.group(3)
        elif _IN_NAME.match(line):
            pending = True
            continue
        elif pending and _IN_CONT.match(line):
            m = _IN_CONT.match(line)
            size, obj = int(m.group(1), 16), m.group(2)
        elif _FILL.match(line):
            size, obj = int(_FILL.match(line).group(1), 16), None
        pending = None
        if size is None or out_sec is None:
            continue
        part = "alignment" if obj is None else part_of(obj)
        if out_sec in FLASH_SECTIONS:
            sizes["flash"][part] += size
        if out_sec in RAM_SECTIONS and out_sec != ".stack":
            sizes["ram"][part] += size
    flash = {p: sizes["flash"].get(p, 0) for p in PARTS}
    ram = {p: sizes["ram"].get(p, 0) for p in PARTS}
    ram["stack (reserved)"] = stack
    return {"flash": flash, "ram": ram, "flash_total": sum(flash.values()), "ram_total": sum(ram.values())}
