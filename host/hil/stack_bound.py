"""Worst-case stack of a firmware build, from the compiler's own numbers.

GCC writes, beside every object, the stack frame of each function (`-fstack-usage`, `.su`) and
its call graph (`-fcallgraph-info=su`, `.ci`). This walks the graph from the reset handler and from
every interrupt handler in the vector table and adds the frames along the deepest path. Code GCC
did not compile here (newlib's memcpy, libgcc's division) is read from the ELF's disassembly: its
pushes and stack adjustments, and the functions it calls. Indirect calls may reach any function
whose address the program takes (relocations other than calls, outside the vector table).

Bound = deepest path from Reset_Handler + for every distinct interrupt handler (they may nest)
its deepest path plus the exception frame the core stacks (FP context included: 26 words, +4
for alignment). Recursion or a dynamically sized frame makes the bound unknown: reported, and the
test fails.

    python -m host.hil.stack_bound .pio/build/nucleo_h743zi
"""

from __future__ import annotations

import argparse
import bisect
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection

EXCEPTION_FRAME_BYTES = 26 * 4 + 4
INDIRECT = "__indirect_call"
CALL_RELOCS = {"R_ARM_THM_CALL", "R_ARM_THM_JUMP24", "R_ARM_CALL", "R_ARM_JUMP24", "R_ARM_THM_JUMP11",
               "R_ARM_THM_JUMP19", "R_ARM_V4BX"}

_NODE = re.compile(r'node: \{ title: "([^"]+)" label: "([^"]*)"')
_EDGE = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')
_FRAME = re.compile(r"\\n(\d+) bytes \(([^)]+)\)")


class StackError(Exception):
    pass


@dataclass
class Function:
    name: str
    frame: int
    qualifier: str = "static"          # GCC's: static, dynamic, dynamic,bounded
    calls: set[str] = field(default_factory=set)
    unit: str = ""


@dataclass
class Report:
    stack_size: int
    main_path: list[tuple[str, int]]
    interrupts: dict[str, list[tuple[str, int]]]
    notes: list[str]

    @property
    def main_bytes(self) -> int:
        return sum(f for _, f in self.main_path)

    @property
    def interrupt_bytes(self) -> int:
        return sum(sum(f for _, f in p) + EXCEPTION_FRAME_BYTES for p in self.interrupts.values())

    @property
    def bound(self) -> int:
        return self.main_bytes + self.interrupt_bytes

    def text(self) -> str:
        chain = " > ".join(f"{n} {f}" for n, f in self.main_path)
        lines = [f"stack bound {self.bound} B of {self.stack_size} B reserved "
                 f"({100 * self.bound / self.stack_size:.0f} %): main path {self.main_bytes} B, "
                 f"interrupts {self.interrupt_bytes} B (exception frames included)",
                 f"  deepest main path: {chain}"]
        for isr, path in sorted(self.interrupts.items()):
            lines.append(f"  {isr}: {sum(f for _, f in path)} B + {EXCEPTION_FRAME_BYTES} B frame")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _read_callgraph(build_dir: Path) -> dict[str, dict[str, Function]]:
    """Per translation unit: its functions (name -> Function) with frames and callees."""
    units: dict[str, dict[str, Function]] = {}
    for ci in sorted(build_dir.rglob("*.ci")):
        funcs: dict[str, Function] = {}
        text = ci.read_text()
        for title, label in _NODE.findall(text):
            m = _FRAME.search(label)
            if m:
                funcs[title] = Function(title, int(m.group(1)), m.group(2), unit=str(ci))
        for src, dst in _EDGE.findall(text):
            if src in funcs:
                funcs[src].calls.add(dst)
        units[str(ci)] = funcs
    if not units:
        raise StackError(f"no .ci call graphs under {build_dir}: was it built with -fcallgraph-info=su?")
    return units


def _disassembly(elf: Path) -> dict[str, Function]:
    """Frames and calls of every function in the ELF, from its instructions (for library code).
    Branch targets are resolved by address, not by objdump's label: a local branch inside a
    function is not a call, whatever symbol objdump names the address after (an absolute symbol
    such as __stack_size__ can share a value with code addresses)."""
    out = subprocess.run(["arm-none-eabi-objdump", "-d", "--no-show-raw-insn", str(elf)],
                         capture_output=True, text=True, check=True).stdout
    funcs: dict[str, Function] = {}
    starts: list[tuple[int, str]] = []
    branches: list[tuple[Function, int]] = []
    cur = None
    for line in out.splitlines():
        head = re.match(r"^([0-9a-f]+) <([^>]+)>:$", line)
        if head:
            cur = funcs.setdefault(head.group(2), Function(head.group(2), 0, unit="(disassembly)"))
            starts.append((int(head.group(1), 16), head.group(2)))
            continue
        if cur is None or ":\t" not in line:
            continue
        insn = line.split(":\t", 1)[1].strip()
        op, _, args = insn.partition("\t")
        op = op.split(".")[0]
        if op in ("push", "stmdb") and (op == "push" or args.startswith("sp!")):
            cur.frame += 4 * len(re.findall(r"\b(?:r\d+|lr|ip|fp|sl|sb)\b", args.split("{", 1)[-1]))
        elif op == "vpush":
            regs = args.strip("{} ")
            rng = re.match(r"d(\d+)-d(\d+)", regs)
            cur.frame += 8 * (int(rng.group(2)) - int(rng.group(1)) + 1 if rng else len(regs.split(",")))
        elif op in ("sub", "subw") and re.match(r"sp, (?:sp, )?#(\d+)", args):
            cur.frame += int(re.match(r"sp, (?:sp, )?#(\d+)", args).group(1))
        elif op.startswith("str") and re.search(r"\[sp, #-(\d+)\]!", args):
            cur.frame += int(re.search(r"\[sp, #-(\d+)\]!", args).group(1))
        elif op in ("bl", "blx", "b") and "<" in args:
            branches.append((cur, int(args.split()[0], 16)))
        elif op == "blx":
            cur.calls.add(INDIRECT)
    starts.sort()
    addrs = [a for a, _ in starts]
    for fn, target in branches:
        i = bisect.bisect_right(addrs, target) - 1
        name = starts[i][1] if i >= 0 else f"0x{target:x}"
        if name != fn.name:
            fn.calls.add(name)
    return funcs


def _address_taken(build_dir: Path) -> set[str]:
    """Functions whose address is stored somewhere (possible indirect-call targets)."""
    taken = set()
    for obj in build_dir.rglob("*.o"):
        with open(obj, "rb") as f:
            elf = ELFFile(f)
            symtab = elf.get_section_by_name(".symtab")
            for sec in elf.iter_sections():
                if not isinstance(sec, RelocationSection) or "isr_vector" in sec.name:
                    continue
                for rel in sec.iter_relocations():
                    sym = symtab.get_symbol(rel["r_info_sym"])
                    if sym["st_info"]["type"] == "STT_FUNC" and \
                            rel.entry["r_info_type"] not in _call_reloc_ids(elf):
                        taken.add(sym.name)
    return taken


def _call_reloc_ids(elf: ELFFile) -> set[int]:
    from elftools.elf.enums import ENUM_RELOC_TYPE_ARM
    return {ENUM_RELOC_TYPE_ARM[n] for n in CALL_RELOCS if n in ENUM_RELOC_TYPE_ARM}


def _vector_handlers(elf_path: Path) -> tuple[str, list[str], int]:
    """Reset handler, the distinct interrupt handlers in the vector table, and the reserved stack."""
    with open(elf_path, "rb") as f:
        elf = ELFFile(f)
        symtab = elf.get_section_by_name(".symtab")
        by_addr = {s["st_value"] & ~1: s.name for s in symtab.iter_symbols()
                   if s["st_info"]["type"] == "STT_FUNC"}
        sizes = {s.name: s["st_value"] for s in symtab.iter_symbols()}
        vec = elf.get_section_by_name(".isr_vector").data()
    entries = [int.from_bytes(vec[i:i + 4], "little") & ~1 for i in range(4, len(vec), 4)]
    names = [by_addr.get(a) for a in entries if a]
    reset = names[0]
    isrs = sorted({n for n in names[1:] if n and n != reset})
    if "__stack_size__" not in sizes:
        raise StackError(f"{elf_path}: no __stack_size__ symbol (linker script)")
    return reset, isrs, sizes["__stack_size__"]


def analyse(build_dir: Path, elf: Path | None = None) -> Report:
    build_dir = Path(build_dir)
    elf = elf or build_dir / "firmware.elf"
    if not elf.is_file():
        raise StackError(f"{elf} does not exist (build first)")
    units = _read_callgraph(build_dir)
    compiled = {}
    for funcs in units.values():
        for name, fn in funcs.items():
            compiled.setdefault(name, fn)
    library = _disassembly(elf)
    taken = _address_taken(build_dir)
    notes: list[str] = []

    def resolve(name: str, unit: str) -> Function | None:
        return units.get(unit, {}).get(name) or compiled.get(name) or library.get(name)

    memo: dict[tuple[str, str], list[tuple[str, int]]] = {}

    def deepest(fn: Function, on_path: tuple[str, ...]) -> list[tuple[str, int]]:
        key = (fn.unit, fn.name)
        if key in memo:
            return memo[key]
        if fn.name in on_path:
            raise StackError("recursion: " + " > ".join(on_path + (fn.name,)))
        if fn.qualifier != "static":
            raise StackError(f"{fn.name}: frame is {fn.qualifier} ({fn.unit})")
        best: list[tuple[str, int]] = []
        for callee in sorted(fn.calls):
            targets = sorted(taken) if callee == INDIRECT else [callee]
            for t in targets:
                target = resolve(t, fn.unit)
                if target is None:
                    raise StackError(f"{fn.name} calls {t}, which is neither compiled here nor in the ELF")
                path = deepest(target, on_path + (fn.name,))
                if sum(f for _, f in path) > sum(f for _, f in best):
                    best = path
        memo[key] = [(fn.name, fn.frame)] + best
        return memo[key]

    reset, isrs, stack_size = _vector_handlers(elf)
    main_path = deepest(resolve(reset, ""), ())
    interrupts = {isr: deepest(resolve(isr, ""), ()) for isr in isrs}
    if taken:
        notes.append("indirect calls may reach: " + ", ".join(sorted(taken)))
    return Report(stack_size, main_path, interrupts, notes)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m host.hil.stack_bound", description=__doc__.split("\n\n")[0])
    ap.add_argument("build_dir", type=Path, help="PlatformIO build directory (.pio/build/<env>)")
    args = ap.parse_args(argv)
    try:
        report = analyse(args.build_dir)
    except (StackError, FileNotFoundError, subprocess.CalledProcessError) as e:
        print(f"error: stack bound: {e}", file=sys.stderr)
        return 2
    print(report.text())
    if report.bound > report.stack_size:
        print("error: the worst-case stack exceeds the reserved stack", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
