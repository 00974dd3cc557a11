#!/usr/bin/env python3
# per-role mean of the metrics of the flat-kernel launches of an ncu --csv raw dump (launches in graph order:
# roles repeat with period 4 per layer: q/k/v, attn_output, gate/up, ffn_down)
import csv, sys, collections
fn = sys.argv[1]
rows = collections.OrderedDict()
with open(fn, newline='', errors='replace') as f:
    lines = [l for l in f if l.startswith('"')]
for r in csv.DictReader(lines):
    try:
        i = int(r['ID'])
    except Exception:
        continue
    d = rows.setdefault(i, {'grid': r.get('Grid Size', ''), 'name': r['Kernel Name'][:60]})
    try:
        d[r['Metric Name']] = float(r['Metric Value'].replace(',', ''))
    except Exception:
        pass
ks = list(rows.values())
roles = ['qkv', 'attn_out', 'gate_up', 'down']
# align: find the role of each launch by grid (first seen order)
grids = []
for k in ks:
    if k['grid'] not in grids:
        grids.append(k['grid'])
mets = [m for m in (ks[0].keys() if ks else []) if m not in ('grid', 'name')]
agg = collections.OrderedDict()
for j, k in enumerate(ks):
    key = (j % 4, k['grid'])
    a = agg.setdefault(key, collections.defaultdict(list))
    for m in mets:
        if m in k:
            a[m].append(k[m])
print(f"{fn}: {len(ks)} launches")
short = {'gpu__time_duration.sum': 'us', 'dram__bytes_read.sum': 'MB', 'sm__cycles_active.avg': 'smcyc_avg',
         'sm__cycles_active.max': 'smcyc_max', 'sm__cycles_active.min': 'smcyc_min', 'gpc__cycles_elapsed.max': 'gpc_el',
         'sm__warps_active.avg.pct_of_peak_sustained_active': 'occ%', 'launch__registers_per_thread': 'regs',
         'dram__throughput.avg.pct_of_peak_sustained_elapsed': 'dram%'}
hdr = ' '.join(f"{short.get(m, m)[:10]:>10}" for m in mets)
print(f"{'pos grid':<22} {'n':>3} {hdr}")
for (pos, g), a in agg.items():
    vals = []
    for m in mets:
        v = a[m]
        x = sum(v)/len(v) if v else float('nan')
        if m == 'gpu__time_duration.sum': x /= 1e3
        if m == 'dram__bytes_read.sum': x /= 1e6
        vals.append(f"{x:10.2f}")
    print(f"{pos} {g:<20} {len(a[mets[0]]):>3} {' '.join(vals)}")
