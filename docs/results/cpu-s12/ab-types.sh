#!/bin/bash
# master vs c12 on F16 / Q4_0 / Q4_1 at 0.5, 1 and 2 threads (4 KiB pages), interleaved, quiet-guarded
R=${1:-2}
source /work/dev/scratch-c12/quiet.sh
for r in $(seq $R); do
  for b in m c12; do
    wait_quiet
    echo "=== [$b] r$r $(date -u +%H:%M:%S) load: $(cut -d' ' -f1-3 /proc/loadavg)"
    /work/dev/build-$b/bin/test-mul-mat-sparse --bench --types f16,q4_0,q4_1 --shapes 4096x14336,14336x4096,4096x4096 --sparsity 0.5 --threads 1,2 --stream-mb 1024 --calls 40 | grep "^| [qf]"
    x=$(busy_now | sort -u | tr '\n' ' '); [ -n "$x" ] && echo "TAINTED: $x"
  done
done
