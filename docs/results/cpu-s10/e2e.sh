#!/bin/bash
# usage: e2e.sh <model> <threads> <rounds>
m=$1; t=$2; n=$3
for r in $(seq $n); do
  for w in stock new; do
    if [ $w = stock ]; then b=/work/main/build-stock/bin/llama-bench; else b=/work/dev/build-a512/bin/llama-bench; fi
    echo "# $w round $r $(uptime)"
    $b -m $m -p 512 -n 0 -r 3 -t $t 2>&1 | grep "pp512"
  done
done
