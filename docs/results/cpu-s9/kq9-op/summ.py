import sys, collections, statistics
d = collections.defaultdict(list)
for fn in sys.argv[1:]:
    for line in open(fn):
        if line.startswith('#'): continue
        b, rest = line.split(' ', 1)
        f = [x.strip() for x in rest.strip().strip('|').split('|')]
        key = (f[0], f[1], f[2], f[4], f[5])
        d[(key, b)].append(float(f[8]))
keys = sorted(set(k for k, b in d), key=lambda k: (k[0], k[3], int(k[1]), int(k[2]), k[4]))
print('| type | n_in x n_out | threads | sparsity | base (median) | new (median) | new/base | base runs | new runs |')
print('|---|---|---|---|---|---|---|---|---|')
for k in keys:
    b = d.get((k, 'base'), []); n = d.get((k, 'new'), [])
    if not b or not n: continue
    mb, mn = statistics.median(b), statistics.median(n)
    print(f'| {k[0]} | {k[1]}x{k[2]} | {k[3]} | {k[4]} | {mb:.2f} | {mn:.2f} | {mn/mb:.2f} | {",".join(f"{x:.2f}" for x in b)} | {",".join(f"{x:.2f}" for x in n)} |')
