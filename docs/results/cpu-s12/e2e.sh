#!/bin/bash
# end to end decode: stock / master / c12 llama-bench interleaved (level 0.5 for the patched builds)
# usage: e2e.sh FILE N_GEN THREADS ROUNDS
F=$1; N=${2:-64}; T=${3:-2}; R=${4:-2}
source /work/dev/scratch-c12/quiet.sh
for r in $(seq $R); do
  for b in stock master c12; do
    case $b in stock) B=/work/main/build-stock/bin;; master) B=/work/dev/build-m/bin;; c12) B=/work/dev/build-c12/bin;; esac
    wait_quiet
    echo "=== $b r$r $(date -u +%H:%M:%S) load: $(cut -d' ' -f1-3 /proc/loadavg)"
    LLAMA_WISPARSE_LEVEL=0.5 $B/llama-bench -m $F -p 0 -n $N -t $T -r 2 -o csv 2>/dev/null | tail -1 | awk -F, '{print $(NF-1), $NF}'
    b2=$(busy_now | sort -u | tr '\n' ' '); [ -n "$b2" ] && echo "TAINTED: $b2"
  done
done
