#!/bin/bash
# end to end: stock vs the patched tree without / with MADV_HUGEPAGE on the CPU weight buffers (two builds of the dev
# tree, bin dirs copied to /tmp/e2e-base and /tmp/e2e-thp), llama-bench tg at level 0.5 (the files' default), R rounds,
# alternating; every run waits for an otherwise idle machine
idle() { while [ $(awk '{print ($1 < 0.5)}' /proc/loadavg) -ne 1 ]; do sleep 10; done; }
S=/work/main/build-stock/bin
for r in $(seq ${R:-2}); do for m in ${M:-/work/big/l8b-q8_0.gguf}; do for t in ${T:-2}; do
    for v in stock base thp; do
        b=/tmp/e2e-$v; [ $v = stock ] && b=$S
        idle
        echo "### [$(date +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)] $v $(basename $m) t$t: $(grep AnonHuge /proc/meminfo | tr -s ' ')"
        LD_LIBRARY_PATH=$b $b/llama-bench -m $m -t $t -p 0 -n ${N:-64} -r 3 2>&1 | grep -E '^\| .* tg'
    done
done; done; done
