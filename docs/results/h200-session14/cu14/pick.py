#!/usr/bin/env python3
# pick.py LOGDIR PREFIX: from tok-PREFIX-*.txt (ncu_table.py output), the env of the switches whose per-token kernel time
# beats PREFIX-g0 by more than 1 % (the best GRID mode, and COAL), printed on the last line ('' = the defaults)
import sys, re, glob, os
d, pre = sys.argv[1], sys.argv[2]
t = {}
for f in glob.glob(os.path.join(d, f'tok-{pre}-*.txt')):
    m = re.search(r'kernel time ([0-9.]+) us/token', open(f).read())
    if m:
        t[os.path.basename(f)[len(f'tok-{pre}-'):-4]] = float(m.group(1))
print(t)
base = t.get('g0')
env = []
if base:
    grids = [(v, k) for k, v in t.items() if re.fullmatch(r'g[123]', k)]
    if grids:
        v, k = min(grids)
        if v < 0.99*base:
            env.append(f'GGML_CUDA_SPARSE_GRID={k[1]}')
    if 'coal' in t and t['coal'] < 0.99*base:
        env.append('GGML_CUDA_SPARSE_COAL=1')
print(' '.join(env))
