#!/bin/bash
# (build-c11: the dev tree with the loader huge-page advice, commit ca709be, reverted afterwards)
# usage: hp-e2e.sh MODEL TEST THREADS ROUNDS: stock vs patched (level 0.5) without / with the loader's huge pages
m=$1; t=$2; th=$3; n=$4
S=/work/main/build-stock/bin/llama-bench; P=/work/dev/build-c11/bin/llama-bench
for r in $(seq $n); do
  for w in stock hp0 hp1; do
    case $w in
      stock) b=$S; e="";;
      hp0)   b=$P; e="LLAMA_WISPARSE_HUGEPAGES=0";;
      hp1)   b=$P; e="LLAMA_WISPARSE_HUGEPAGES=1";;
    esac
    v=$(env $e LLAMA_WISPARSE_LEVEL=0.5 $b -m $m -p 0 -n ${t#tg} -t $th -r 2 2>&1 | grep " $t " | awk -F'|' '{print $(NF-1)}')
    echo "round $r $w $(basename $m) $t t$th: $v   [$(date +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)]"
  done
done
