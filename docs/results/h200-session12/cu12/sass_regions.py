import csv, sys, re
fn = sys.argv[1]
secs = []
cur = None
with open(fn, newline='', errors='replace') as f:
    rd = csv.reader(f)
    hdr = None
    for row in rd:
        if not row: continue
        if row[0] == 'Kernel Name':
            cur = {'name': row[1], 'rows': []}; secs.append(cur); hdr = None; continue
        if row[0] == 'Address':
            hdr = row; continue
        if hdr and cur is not None:
            cur['rows'].append(dict(zip(hdr, row)))
def num(x):
    try: return float(x.replace(',', ''))
    except: return 0.0
for si, s in enumerate(secs):
    rows = s['rows']
    tot = sum(num(r['Warp Stall Sampling (All Samples)']) for r in rows)
    print(f"== section {si}: {s['name'][:90]}  {len(rows)} instr, {tot:.0f} samples")
    # regions: split at BAR.SYNC / cluster barrier / first LDG.E.128 loop etc: print cumulative samples with markers
    acc = 0.0; region = 0; rs = {}
    marks = []
    for i, r in enumerate(rows):
        src = r['Source']; smp = num(r['Warp Stall Sampling (All Samples)'])
        op = src.split()[0] if src else ''
        if src.startswith('@'): op = src.split()[1] if len(src.split()) > 1 else ''
        if re.match(r'(BAR|UCGABAR|WARPSYNC|EXIT|BRA|ACQBULK|CCTL|MEMBAR|ERRBAR)', op) or 'BAR.' in src or 'UCGABAR' in src:
            marks.append((i, src[:60], acc))
        acc += smp
    # top instructions
    top = sorted(enumerate(rows), key=lambda ir: -num(ir[1]['Warp Stall Sampling (All Samples)']))[:18]
    for i, r in top:
        smp = num(r['Warp Stall Sampling (All Samples)'])
        st = {k: num(v) for k, v in r.items() if k.startswith('stall_') and 'Not Issued' not in k}
        main = sorted(st.items(), key=lambda kv: -kv[1])[:2]
        print(f"  #{i:5d} {100*smp/tot:5.1f}%  {r['Source'][:70]:70s} {main}")
    print("  barriers/branches (index, instr, cumulative % before it):")
    for i, src, a in marks:
        if 'BAR' in src or 'EXIT' in src:
            print(f"   #{i:5d} {100*a/tot:5.1f}%  {src}")
