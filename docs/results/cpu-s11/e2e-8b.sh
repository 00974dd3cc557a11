#!/bin/bash
# usage: [THREADS="1 2"] e2e-8b.sh TEST ROUNDS MODEL...: per model and thread count: stock, patched at 0.5 and at 0.4
# (llama-bench -p 0 -n N -r 2; patched = the dev tree's build-m: session 11's tree, then session 12's with THREADS=2)
t=$1; n=$2; shift 2
S=/work/main/build-stock/bin/llama-bench; P=/work/dev/build-m/bin/llama-bench
for m in "$@"; do
  for th in ${THREADS:-1 2}; do
    for r in $(seq $n); do
      for w in stock 0.5 0.4; do
        if [ $w = stock ]; then b=$S; e=LLAMA_X=1; else b=$P; e=LLAMA_WISPARSE_LEVEL=$w; fi
        v=$(env $e $b -m $m -p 0 -n ${t#tg} -t $th -r 2 2>&1 | grep " $t " | awk -F'|' '{print $(NF-1)}')
        echo "$(basename $m) $t t$th round $r $w: $v   [$(date +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)]"
      done
    done
  done
done
