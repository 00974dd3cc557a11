#!/bin/bash
# the pattern probe over read strategies and shapes; every run waits for an otherwise idle machine (1-min load < 0.5)
P=${P:-/tmp/pattern_probe}
idle() { while [ $(awk '{print ($1 < 0.5)}' /proc/loadavg) -ne 1 ]; do sleep 10; done; }
run() { idle; echo "[$(date +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)] $($P "$@")"; }
case ${1:-strategies} in
compare) ;;
slots) ;;
strategies) # n_out 4096 (the 4096x4096 and 14336x4096 cells), sparsity 0.5
    for t in 1 2; do
        for s in 4 8 16 32; do run 4096 4096 0.5 $t $s 4096 1024 0 30; done
        for d in 1024 2048 8192 16384; do run 4096 4096 0.5 $t 8 $d 1024 0 30; done
    done ;;
shapes) # the three cells of the op bench, 4 KiB and huge pages, default strategy, R rounds
    for r in $(seq ${R:-2}); do
        for h in 0 1; do for t in 1 2; do
            run 4096 14336 0.5 $t 8 4096 1024 $h 30
            run 14336 4096 0.5 $t 8 4096 1024 $h 30
            run 4096 4096 0.5 $t 8 4096 1024 $h 30
        done; done
    done ;;
esac
if [ "${1}" = compare ]; then # R rounds: the probe, then the op bench (kernel share), same shapes, 4 KiB then huge pages
    B=${B:-/work/dev/build-m/bin/test-mul-mat-sparse}
    for r in $(seq ${R:-3}); do
        for h in 0 1; do
            for t in 1 2; do
                run 4096 14336 0.5 $t 8 4096 1024 $h 30
                run 14336 4096 0.5 $t 8 4096 1024 $h 30
                run 4096 4096 0.5 $t 8 4096 1024 $h 30
            done
            idle; echo "[$(date +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)] op bench hugepages=$h"
            python3 /work/main/tools/bench_kernels.py --bin $B --types Q8_0 --shapes 4096x14336 14336x4096 4096x4096 \
                --sparsity 0.5 --threads 1 2 --stream-mb 1024 $([ $h = 1 ] && echo --hugepages) 2>&1 | grep -iE '^\| q8_0 \||sparse/read'
        done
    done
fi
if [ "${1}" = slots ]; then # R rounds: stream order, the op's order (passes of 8 consecutive active planes), slot order
    for r in $(seq ${R:-3}); do
        for t in 1 2; do for s in "14336 4096" "4096 4096"; do
            run $s 0.5 $t 8 4096 1024 0 30 0 0 0
            run $s 0.5 $t 8 4096 1024 0 30 8 0 0
            run $s 0.5 $t 8 4096 1024 0 30 8 0 1
        done; done
    done
fi
