#!/usr/bin/env python3
import sys, re, collections
d = collections.defaultdict(lambda: collections.defaultdict(list))
for line in open(sys.argv[1]):
    if line.startswith('==='):
        label = line[line.index('[')+1:line.index(']')]
        continue
    c = [x.strip() for x in line.strip().strip('|').split('|')]
    if len(c) < 17: continue
    d[label][(f'{c[0]} {c[1]}x{c[2]}', c[4], c[5])].append((float(c[12]), float(c[7])))
keys = sorted({k for l in d for k in d[l]}, key=lambda k: (k[2], k[1], k[0]))
print('| config | ' + ' | '.join(f'{k[0]} t{k[1]} s{k[2]}' for k in keys) + ' | mean |')
print('|---|' + '---|'*(len(keys)+1))
for l in d:
    cells = [' / '.join(f'{v[0]:.2f}' for v in d[l][k]) for k in keys]
    allv = [v[0] for k in keys for v in d[l][k]]
    print(f'| {l or "default"} | ' + ' | '.join(cells) + f' | {sum(allv)/len(allv):.3f} |')
