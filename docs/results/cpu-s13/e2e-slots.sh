#!/bin/bash
# end to end A/B of the slot order: llama-bench tg of the build before (a copy of its bin dir, LD_LIBRARY_PATH) and after,
# alternating, R rounds, level 0.5 (the file's default); every run waits for an otherwise idle machine
B0=${B0:-/tmp/ab-before}; B1=${B1:-/work/dev/build-m/bin}; F=${F:-/work/big/qwen-ws-Q8_0.gguf}; N=${N:-64}
idle() { while [ $(awk '{print ($1 < 0.5)}' /proc/loadavg) -ne 1 ]; do sleep 10; done; }
for r in $(seq ${R:-2}); do for t in ${THREADS:-1 2}; do for v in before after; do
    b=$B0; [ $v = after ] && b=$B1
    idle
    echo "[$(date +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)] $v t=$t $(LD_LIBRARY_PATH=$b $b/llama-bench -m $F -p 0 -n $N -t $t -r 2 2>/dev/null | grep -E "tg$N" | awk -F'|' '{print $(NF-1)}')"
done; done; done
