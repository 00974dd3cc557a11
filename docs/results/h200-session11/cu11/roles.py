# per-token time by role (projection / other kernel) from an ncu raw csv of llama-bench decode; last N tokens
import csv, sys, re, collections
def load(fn):
    rows = {}; order = []
    lines = [l for l in open(fn, errors='replace') if l.startswith('"')]
    for r in csv.DictReader(lines):
        try: i = int(r['ID'])
        except: continue
        if i not in rows:
            rows[i] = {'name': r['Kernel Name'], 'grid': r['Grid Size']}; order.append(i)
        rows[i][r['Metric Name']] = float(r['Metric Value'].replace(',', ''))
    return [rows[i] for i in order]
def short(n):
    n = n.replace('void ', '')
    return re.sub(r'[<(].*', '', n)
def roles(fn, ntok=5):
    ks = load(fn)
    ends = [k for k, r in enumerate(ks) if r.get('dram__bytes_read.sum', 0) > 0.3e9]
    sel = ends[-(ntok + 1):]
    agg = collections.OrderedDict()
    for a, b in zip(sel[:-1], sel[1:]):
        norm = 0; state = None; ffn_mm = 0
        for r in ks[a + 1:b + 1]:
            nm = r['name']; mb = r.get('dram__bytes_read.sum', 0)/1e6; t = r.get('gpu__time_duration.sum', 0)/1e3
            s = short(nm)
            if s == 'rms_norm_f32':
                norm += 1; state = 'attn_in' if norm % 2 == 1 else 'ffn'; ffn_mm = 0
                role = 'rms_norm'
            elif mb > 300:
                role = 'output head'
            elif ('mul_mat_sparse' in s or 'mul_mat_vec' in s) and mb > 1.0:
                if state == 'attn_in': role = 'q/k/v'
                elif state == 'attn_out': role = 'attn_output'
                else:
                    role = 'ffn gate/up' if ffn_mm == 0 else 'ffn_down'; ffn_mm += 1
            elif s == 'mul_mat_vec_f' and ', float, 1, 64' in nm:
                role = 'attn KQ'
            elif s == 'mul_mat_vec_f' and ', 1, 128' in nm:
                role = 'attn KQV'; state = 'attn_out'
            else:
                role = s
            e = agg.setdefault(role, [0, 0.0, 0.0]); e[0] += 1; e[1] += t; e[2] += mb
    return agg, ntok
def table(fa, fb, title):
    A, n = roles(fa); B, _ = roles(fb)
    keys = list(dict.fromkeys(list(A) + list(B)))
    print(f"### {title}")
    print("| kernel (role) | stock n/tok | stock us/launch | stock MB/launch | stock GB/s | sparse n/tok | sparse us/launch | sparse MB/launch | sparse GB/s | us/token stock -> sparse |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    ta = tb = 0
    for k in keys:
        a = A.get(k, [0, 0, 0]); b = B.get(k, [0, 0, 0])
        ta += a[1]; tb += b[1]
        def f(e):
            if e[0] == 0: return "- | - | - | -"
            return f"{e[0]/n:.0f} | {e[1]/e[0]:.2f} | {e[2]/e[0]:.1f} | {e[2]/e[1]*1e3 if e[1] else 0:.0f}"
        print(f"| {k} | {f(a)} | {f(b)} | {a[1]/n:.1f} -> {b[1]/n:.1f} |")
    print(f"| **sum of kernel times** | | | | | | | | | **{ta/n:.1f} -> {tb/n:.1f}** |")
    print()
if __name__ == '__main__':
    table(sys.argv[1], sys.argv[2], sys.argv[3])
