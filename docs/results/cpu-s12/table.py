#!/usr/bin/env python3
# before/after table from ab.sh logs: table.py small.log huge.log
import sys, collections, subprocess
def load(path):
    d = collections.defaultdict(lambda: collections.defaultdict(list))
    runs = []
    for line in open(path):
        if line.startswith('==='):
            runs.append((line.split()[1], [])); continue
        if line.startswith('TAINTED'):
            runs.pop(); continue
        if runs: runs[-1][1].append(line)
    for label, rows in runs:
        for line in rows:
            c = [x.strip() for x in line.strip().strip('|').split('|')]
            if len(c) < 17: continue
            d[label][(f'{c[1]}x{c[2]}', int(c[4]), float(c[5]))].append((float(c[12]), float(c[8]), float(c[11])))
    return d
sm, hp = load(sys.argv[1]), load(sys.argv[2])
def cell(d, lab, k, i, fmt='{:.2f}'):
    v = [x[i] for x in d[lab][k]]
    return '-'.join(fmt.format(x) for x in (min(v), max(v))) if min(v) != max(v) else fmt.format(v[0])
print('| shape | threads | share at 0.5, 4 KiB pages: master -> c12 | huge pages: master -> c12 | speedup at 0.5 (4 KiB): master -> c12 | share dense (4 KiB): master -> c12 |')
print('|---|---|---|---|---|---|')
for t in (1, 2):
    for shp in ('4096x14336', '14336x4096', '4096x4096'):
        k, k0 = (shp, t, 0.5), (shp, t, 0.0)
        print(f'| {shp} | {t} | {cell(sm,"master",k,0)} -> **{cell(sm,"c12",k,0)}** | {cell(hp,"master",k,0)} -> **{cell(hp,"c12",k,0)}** | '
              f'{cell(sm,"master",k,1)} -> {cell(sm,"c12",k,1)} | {cell(sm,"master",k0,0)} -> {cell(sm,"c12",k0,0)} |')
rd = [x[2] for lab in sm for k in sm[lab] for x in sm[lab][k]]
print(f'\nread probe GB/s (4 KiB pages): 1 thread {min(x for lab in sm for k in sm[lab] if k[1]==1 for x in [y[2] for y in sm[lab][k]]):.1f}-{max(x for lab in sm for k in sm[lab] if k[1]==1 for x in [y[2] for y in sm[lab][k]]):.1f}, '
      f'2 threads {min(x for lab in sm for k in sm[lab] if k[1]==2 for x in [y[2] for y in sm[lab][k]]):.1f}-{max(x for lab in sm for k in sm[lab] if k[1]==2 for x in [y[2] for y in sm[lab][k]]):.1f}')
