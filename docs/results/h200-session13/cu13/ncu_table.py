#!/usr/bin/env python3
# per-token kernel table from an ncu --csv --print-units base raw dump (one row per kernel x metric)
# usage: ncu_table.py file.csv [n_last_tokens]
import csv, sys, re, collections
fn = sys.argv[1]
nlast = int(sys.argv[2]) if len(sys.argv) > 2 else 4
rows = {}
order = []
with open(fn, newline='', errors='replace') as f:
    lines = [l for l in f if l.startswith('"')]
rd = csv.DictReader(lines)
for r in rd:
    try:
        i = int(r['ID'])
    except Exception:
        continue
    if i not in rows:
        rows[i] = {'name': r['Kernel Name'], 'grid': r.get('Grid Size', ''), 'block': r.get('Block Size', '')}
        order.append(i)
    try:
        v = float(r['Metric Value'].replace(',', ''))
    except Exception:
        v = float('nan')
    rows[i][r['Metric Name']] = v
ks = [rows[i] for i in order]
def short(n):
    n = re.sub(r'\(.*$', '', n) if not n.startswith('void') else n
    n = n.replace('void ', '')
    m = re.match(r'([^(]*)', n)
    return m.group(1)[:70]
# token ends: the output head (the one kernel per token that reads > 0.3 GB)
ends = [k for k, r in enumerate(ks) if r.get('dram__bytes_read.sum', 0) > 0.3e9]
print(f"{fn}: {len(ks)} kernels, {len(ends)} token ends (output head)")
if len(ends) < 2:
    sys.exit(0)
sel = ends[-(nlast + 1):]
ntok = len(sel) - 1
agg = collections.OrderedDict()
tot_t = 0.0; tot_b = 0.0; nk = 0
for a, b in zip(sel[:-1], sel[1:]):
    for r in ks[a + 1:b + 1]:
        key = short(r['name']) + ' ' + r['grid']
        e = agg.setdefault(key, [0, 0.0, 0.0])
        e[0] += 1
        e[1] += r.get('gpu__time_duration.sum', 0.0)
        e[2] += r.get('dram__bytes_read.sum', 0.0)
        tot_t += r.get('gpu__time_duration.sum', 0.0); tot_b += r.get('dram__bytes_read.sum', 0.0); nk += 1
print(f"over the last {ntok} tokens: {nk/ntok:.1f} kernels/token, kernel time {tot_t/ntok/1e3:.1f} us/token, DRAM read {tot_b/ntok/1e6:.1f} MB/token")
print(f"{'us/tok':>8} {'n/tok':>6} {'us/launch':>9} {'MB/launch':>9} {'GB/s':>7}  kernel grid")
for key, (n, t, b) in sorted(agg.items(), key=lambda kv: -kv[1][1]):
    print(f"{t/ntok/1e3:8.1f} {n/ntok:6.2f} {t/n/1e3:9.2f} {b/n/1e6:9.2f} {b/t if t > 0 else 0:7.0f}  {key}")
