import csv, sys, re
fn = sys.argv[1]
rows = {}; order = []
lines = [l for l in open(fn, errors='replace') if l.startswith('"')]
for r in csv.DictReader(lines):
    try: i = int(r['ID'])
    except: continue
    if i not in rows:
        rows[i] = {'name': r['Kernel Name'], 'grid': r['Grid Size'], 'block': r['Block Size']}; order.append(i)
    rows[i][r['Metric Name']] = float(r['Metric Value'].replace(',', ''))
ks = [rows[i] for i in order]
ends = [k for k, r in enumerate(ks) if r.get('dram__bytes_read.sum', 0) > 0.3e9]
a, b = ends[-2], ends[-1]
for r in ks[a+1:b+1]:
    n = re.sub(r'\(.*', '', r['name'].replace('void ', ''))[:60]
    t = r['gpu__time_duration.sum']/1e3; by = r['dram__bytes_read.sum']/1e6
    print(f"{t:8.2f} us {by:9.2f} MB {by/t*1e-3 if t else 0:6.2f} TB/s  {n} {r['grid']} {r['block']}")
