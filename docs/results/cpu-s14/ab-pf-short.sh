#!/bin/bash
# the prefetch cursor's distance below 4 KiB (SPARSE_PF_BYTES 1024 / 2048 / 4096, three builds of master, bin dirs
# copied to /tmp/ab-pf{1,2,4}k) in the op bench, alternating, R rounds; every run waits for an otherwise idle machine
idle() { while [ $(awk '{print ($1 < 0.5)}' /proc/loadavg) -ne 1 ]; do sleep 10; done; }
for r in $(seq ${R:-2}); do for v in ${V:-1k 2k 4k}; do
    b=/tmp/ab-pf$v; idle
    echo "### [$(date +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)] pf $v"
    LD_LIBRARY_PATH=$b python3 /work/main/tools/bench_kernels.py --bin $b/test-mul-mat-sparse --types Q8_0 \
        --shapes 4096x14336 14336x4096 4096x4096 --sparsity 0.5 --threads 1 2 --stream-mb 1024 2>&1 | grep -iE '^\| q8_0 \| [0-9]'
done; done
