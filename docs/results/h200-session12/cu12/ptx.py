import re,sys
L=open(sys.argv[1]).read().split('\n')
name=None;out=[]
for l in L:
    m=re.search(r"Compiling entry function '(\S+)'",l)
    if m: name=m.group(1); spill=''
    if 'spill' in l: spill=l.strip()
    if 'Used' in l and name:
        r=re.search(r'Used (\d+) registers',l).group(1); sm=re.search(r'(\d+) bytes smem',l)
        out.append((name,r,sm.group(1) if sm else '?',spill))
pat=sys.argv[2] if len(sys.argv)>2 else ''
for n,r,sm,sp in out:
    if re.search(pat,n): print(n,r,sm,sp)
