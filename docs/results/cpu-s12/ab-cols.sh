#!/bin/bash
# master vs c12 (cols as built: slice <= 4096 B) vs c12 GGML_SPARSE_COLS=2 (always): single and fused-run shapes, Q8_0 0.5, 2 threads
R=${1:-2}
M=/work/dev/build-m/bin/test-mul-mat-sparse
C=/work/dev/build-c12/bin/test-mul-mat-sparse
for r in $(seq $R); do
  for cfg in "M X=1" "C X=1" "C GGML_SPARSE_COLS=2"; do
    set -- $cfg; B=$M; [ $1 = C ] && B=$C
    echo "=== [$cfg] r$r $(date -u +%H:%M:%S) load: $(cut -d' ' -f1-3 /proc/loadavg)"
    env $2 $B --bench --types q8_0 --shapes 4096x14336,4096x14336+14336,4096x4096+1024+1024,1536x1536+256+256,1536x8960+8960,8960x1536 --sparsity 0.5 --threads 2 --stream-mb 1024 --calls 40 $EXTRA | grep "^| q8_0"
  done
done
