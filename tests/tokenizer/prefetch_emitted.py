#!/usr/bin/env python3
"""Regression test: the tokenizer's table prefetches reach the machine code.

GCC 12 silently deleted __builtin_prefetch inside the tables' small
prefetch() members, so every "prefetched" lookup of the merge and
vocabulary tables was a plain cache miss (keel/core/prefetch.h). This
disassembles the built keel_tokenizer library and requires a prefetch
instruction in each function that is meant to issue one.

usage: prefetch_emitted.py LIBRARY
"""
import platform
import re
import subprocess
import sys

# Demangled name fragments of the functions that must prefetch.
MUST_PREFETCH = [
    "ScanWord<false>::start(",
    "ScanWord<false>::step(",
    "BpeModel::tokenize_pieces(",
]


def main() -> int:
    if platform.machine() not in ("x86_64", "AMD64"):
        print(f"SKIP: prefetch check is for x86-64, this is {platform.machine()}")
        return 0
    lib = sys.argv[1]
    asm = subprocess.run(["objdump", "-d", "-C", "--no-show-raw-insn", lib],
                         check=True, capture_output=True, text=True).stdout
    # Function bodies: "<addr> <name>:" up to the next blank line.
    bodies = {}
    for m in re.finditer(r"^[0-9a-f]+ <([^\n]+)>:\n(.*?)(?=\n\n|\Z)", asm, re.S | re.M):
        bodies.setdefault(m.group(1), []).append(m.group(2))
    failures = []
    for fragment in MUST_PREFETCH:
        found = [name for name in bodies if fragment in name]
        if not found:
            failures.append(f"no function matching '{fragment}' in {lib}")
            continue
        if not any("prefetch" in body for name in found for body in bodies[name]):
            failures.append(f"'{fragment}' has no prefetch instruction: the compiler dropped it")
    for f in failures:
        print("FAIL:", f)
    if not failures:
        print(f"OK: {len(MUST_PREFETCH)} functions issue their prefetches")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
