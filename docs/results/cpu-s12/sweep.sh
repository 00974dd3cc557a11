#!/bin/bash
# sweep of experiment env knobs on the c12 build; each config: Q8_0 0.5, 1 and 2 threads, shares
# usage: sweep.sh ROUNDS "ENV1" "ENV2" ... [EXTRA via $EXTRA]
R=$1; shift
C=/work/dev/build-c12/bin/test-mul-mat-sparse
for r in $(seq $R); do
  for cfg in "$@"; do
    echo "=== [$cfg] r$r $(date -u +%H:%M:%S) load: $(cut -d' ' -f1-3 /proc/loadavg)"
    env X=1 $cfg $C --bench --types ${TYPES:-q8_0} --shapes ${SHAPES:-4096x4096,14336x4096,4096x14336} --sparsity ${SP:-0.5} --threads 1,2 --stream-mb 1024 --calls 40 $EXTRA | grep "^| [qfb]"
  done
done
