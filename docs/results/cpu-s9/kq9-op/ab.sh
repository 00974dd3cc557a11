#!/bin/bash
# usage: ab.sh TAG REPS THREADS SHAPES [TYPES] [SPARSITY]  -> scratch-kq9/ab-TAG-tTHREADS.log
TAG=$1; REPS=$2; TH=$3; SHAPES=$4; TYPES=${5:-q6_k,q4_k}; SP=${6:-0,0.5}
OUT=/work/dev/scratch-kq9/ab-$TAG-t$TH.log
: > $OUT
for i in $(seq 1 $REPS); do
  for b in base new; do
    if [ $b = base ]; then BIN=/work/dev/build-kq9-base/bin/test-mul-mat-sparse; else BIN=/work/dev/scratch-kq9/tmms-head; fi
    echo "# rep $i $b $(uptime)" >> $OUT
    $BIN --bench --types $TYPES --shapes $SHAPES --sparsity $SP --threads $TH --tokens 1 2>&1 | grep '^| q' | sed "s/^/$b /" >> $OUT
  done
done
