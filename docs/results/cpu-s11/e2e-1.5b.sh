#!/bin/bash
# usage: e2e-1.5b.sh ROUNDS MODEL...: per model: tg64 at 1 and 2 threads, pp512 at 2 threads; stock then patched at 0.5
# (llama-bench -r 2; patched = the dev tree at the end of session 11, build-m)
n=$1; shift
S=/work/main/build-stock/bin/llama-bench; P=/work/dev/build-m/bin/llama-bench
for m in "$@"; do
  for tt in "tg64 1" "tg64 2" "pp512 2"; do
    set -- $tt; t=$1; th=$2
    if [ $t = pp512 ]; then a="-p 512 -n 0"; else a="-p 0 -n 64"; fi
    for r in $(seq $n); do
      for w in stock 0.5; do
        if [ $w = stock ]; then b=$S; e=LLAMA_X=1; else b=$P; e=LLAMA_WISPARSE_LEVEL=$w; fi
        v=$(env $e $b -m $m $a -t $th -r 2 2>&1 | grep " $t " | awk -F'|' '{print $(NF-1)}')
        echo "$(basename $m) $t t$th round $r $w: $v   [$(date +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)]"
      done
    done
  done
done
