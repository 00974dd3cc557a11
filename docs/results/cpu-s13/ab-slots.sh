#!/bin/bash
# A/B of the slot order (patch 0001): the op bench of the build before (a copy of its bin dir, run with
# LD_LIBRARY_PATH) and after, alternating, R rounds; every run waits for an otherwise idle machine (1-min load < 0.5)
B0=${B0:-/tmp/ab-before}; B1=${B1:-/work/dev/build-m/bin}
idle() { while [ $(awk '{print ($1 < 0.5)}' /proc/loadavg) -ne 1 ]; do sleep 10; done; }
one() { # label bindir args...
    local label=$1 b=$2; shift 2
    idle; echo "### [$(date +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)] $label $*"
    LD_LIBRARY_PATH=$b python3 /work/main/tools/bench_kernels.py --bin $b/test-mul-mat-sparse "$@" 2>&1 | grep -iE '^\| (q8_0|q4_0|q4_1|f16) \| [0-9]'
}
for r in $(seq ${R:-3}); do
    for v in before after; do
        b=$B0; [ $v = after ] && b=$B1
        one $v $b --types ${TYPES:-Q8_0} --shapes 4096x14336 14336x4096 4096x4096 --sparsity 0.5 --threads 1 2 --stream-mb 1024 ${HP:+--hugepages}
    done
done
