import re, subprocess, sys
lines=open(sys.argv[1]).read().split('\n')
cur=None; res=[]
for l in lines:
    m=re.search(r"Function properties for (\S+)",l)
    if m: cur=m.group(1)
    m=re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads",l)
    if m and cur: sp=(int(m.group(1)),int(m.group(2)))
    m=re.search(r"Used (\d+) registers",l)
    if m and cur:
        d=subprocess.run(['c++filt',cur],capture_output=True,text=True).stdout.strip()
        res.append((d,int(m.group(1)),sp)); cur=None
pat=sys.argv[2] if len(sys.argv)>2 else ''
for d,r,sp in res:
    if re.search(pat,d): print(r,sp,d[:120])
