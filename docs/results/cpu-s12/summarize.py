#!/usr/bin/env python3
# summarize ab.sh logs: per label and cell (shape, threads, sparsity) the sparse/read shares and sparse us of each round
import sys, re, collections
d = collections.defaultdict(lambda: collections.defaultdict(list))
label = None
runs = []  # (label, rows); a run followed by a TAINTED line (a foreign process was running) is dropped
for line in open(sys.argv[1]):
    if line.startswith('==='):
        runs.append((line.split()[1], []))
        continue
    if line.startswith('TAINTED'):
        print(f'dropped {runs[-1][0]} {line.strip()}', file=sys.stderr)
        runs.pop()
        continue
    if runs:
        runs[-1][1].append(line)
lines = []
for label, rows in runs:
    lines.append('=== ' + label)
    lines += rows
for line in lines:
    if line.startswith('==='):
        label = line.split()[1]
        continue
    c = [x.strip() for x in line.strip().strip('|').split('|')]
    if len(c) < 17: continue
    key = (f'{c[1]}x{c[2]}', c[4], c[5])
    d[label][key].append((float(c[12]), float(c[7]), float(c[8]), float(c[11])))
labels = list(d)
keys = sorted({k for l in labels for k in d[l]}, key=lambda k: (k[2], k[1], k[0]))
print('| shape | thr | s | ' + ' | '.join(f'{l} share' for l in labels) + ' | ' + ' | '.join(f'{l} speedup' for l in labels) + ' |')
print('|' + '---|'*(3 + 2*len(labels)))
for k in keys:
    sh = [' / '.join(f'{v[0]:.2f}' for v in d[l][k]) for l in labels]
    sp = [' / '.join(f'{v[2]:.2f}' for v in d[l][k]) for l in labels]
    print(f'| {k[0]} | {k[1]} | {k[2]} | ' + ' | '.join(sh) + ' | ' + ' | '.join(sp) + ' |')
