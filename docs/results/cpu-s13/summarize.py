"""Summarize compare.log: per cell (shape, threads, pages) the pattern probe's share and the op's share, per round."""
import re
import sys
from collections import defaultdict

probe = defaultdict(list)
kernel = defaultdict(list)
pages = None
for line in open(sys.argv[1] if len(sys.argv) > 1 else "compare.log"):
    m = re.search(r"n_in (\d+) n_out (\d+) .* threads (\d+) .* hugepages (\d) .* pattern/sequential ([\d.]+)", line)
    if m:
        n_in, n_out, t, h, r = m.groups()
        probe[(f"{n_in}x{n_out}", int(t), int(h))].append(float(r))
        continue
    m = re.search(r"op bench hugepages=(\d)", line)
    if m:
        pages = int(m.group(1))
        continue
    c = [x.strip() for x in line.split("|")]
    if len(c) > 14 and c[1] == "q8_0" and c[2].isdigit():
        kernel[(f"{c[2]}x{c[3]}", int(c[5]), pages)].append(float(c[13]))

print("| shape | threads | pages | access pattern alone / sequential read | the op's sparse / read |")
print("|---|---|---|---|---|")
for h in (0, 1):
    for t in (1, 2):
        for s in ("4096x14336", "14336x4096", "4096x4096"):
            k = (s, t, h)
            p = " / ".join(f"{x:.2f}" for x in probe[k])
            o = " / ".join(f"{x:.2f}" for x in kernel[k])
            print(f"| {s} | {t} | {'2 MiB' if h else '4 KiB'} | {p} | {o} |")
