#!/usr/bin/env python3
"""Who allocates: summarises the call stacks bench/micro/alloc_count.c sampled (ALLOC_COUNT_SAMPLE).

usage: alloc_callers.py STACKS_FILE BINARY TITLE

Reads the stacks sampled between the first two "== snapshot" markers (the measured run), drops
the allocator's own frames (libc, libstdc++'s operator new, the shim), resolves the binary's
frames with addr2line and prints the commonest allocating call sites: the first frame outside
the allocator (which may be a library such as libnghttp2) with the first three of BINARY's
frames below it. Python standard library and binutils only.
"""

import collections
import re
import subprocess
import sys

# "/path/module(symbol+0xoff) [0xaddr]" or "/path/module(+0xoff) [0xaddr]"
FRAME = re.compile(r"^(?P<module>[^(\s]+)\((?P<symbol>[^+)]*)\+?(?P<offset>0x[0-9a-f]+)?\)")
ALLOCATOR_MODULES = ("libc.so", "libstdc++.so", "libweft_alloc_count.so")
TOP = 25


def read_measured_stacks(path):
    stacks, current, markers = [], [], 0
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line == "== snapshot":
                markers += 1
                current = []
                if markers == 2:
                    break
            elif line == "--":
                if markers == 1 and current:
                    stacks.append(current)
                current = []
            else:
                m = FRAME.match(line)
                if m:
                    current.append((m["module"], m["symbol"], m["offset"] or "0x0"))
    return stacks


def resolve(binary, offsets):
    """Maps each hex offset in BINARY to 'function file:line' via one addr2line call."""
    offsets = sorted(offsets)
    if not offsets:
        return {}
    out = subprocess.run(["addr2line", "-f", "-C", "-e", binary, *offsets],
                         capture_output=True, text=True, check=False).stdout.splitlines()
    names = {}
    for i, offset in enumerate(offsets):
        function = out[2 * i] if 2 * i < len(out) else "?"
        where = out[2 * i + 1].rsplit("/", 1)[-1] if 2 * i + 1 < len(out) else "?"
        names[offset] = f"{function} ({where})"
    return names


def main():
    stacks_path, binary, title = sys.argv[1:4]
    stacks = read_measured_stacks(stacks_path)
    # Return addresses point after the call: step back one byte to land on the call itself.
    offsets = {hex(int(off, 16) - 1) for s in stacks for (mod, _, off) in s if mod == binary}
    names = resolve(binary, offsets)

    def describe(frame):
        module, symbol, offset = frame
        if module == binary:
            return names.get(hex(int(offset, 16) - 1), offset)
        return f"{module.rsplit('/', 1)[-1]}:{symbol or offset}"

    sites = collections.Counter()
    for stack in stacks:
        frames = [f for f in stack if not f[0].rsplit("/", 1)[-1].startswith(ALLOCATOR_MODULES)]
        if not frames:
            continue
        first = describe(frames[0])
        ours = [describe(f) for f in frames if f[0] == binary][:3]
        if ours and ours[0] == first:
            ours = ours[1:]
        sites[" <- ".join([first, *ours])] += 1

    total = sum(sites.values())
    print(f"### {title}: {total} sampled allocations, commonest call sites")
    for site, count in sites.most_common(TOP):
        print(f"{100.0 * count / max(total, 1):5.1f}%  {site}")
    print()


if __name__ == "__main__":
    main()
