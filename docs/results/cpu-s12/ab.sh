#!/bin/bash
# interleaved A/B of the op bench: master build vs c12 build (order alternates between rounds)
# usage: ab.sh ROUNDS [--hugepages] > log
R=${1:-3}; shift
M=/work/dev/build-m/bin/test-mul-mat-sparse
C=/work/dev/build-c12/bin/test-mul-mat-sparse
source /work/dev/scratch-c12/quiet.sh
run() { # label env bin; waits for a quiet machine, reports foreign processes seen right after
  local label=$1; shift
  wait_quiet
  echo "=== $label $(date -u +%H:%M:%S) load: $(cut -d' ' -f1-3 /proc/loadavg)"
  env "$@" python /work/main/tools/bench_kernels.py --bin $BIN --types Q8_0 --shapes 4096x14336 14336x4096 4096x4096 --sparsity 0 0.5 --threads 1 2 --stream-mb 1024 $EXTRA 2>&1 | grep '^| q8_0 | [0-9]'
  local b=$(busy_now | sort -u | tr '\n' ' ')
  [ -n "$b" ] && echo "TAINTED: $b"
}
EXTRA="$*"
for r in $(seq $R); do
  if (( r % 2 )); then
    BIN=$M run "master r$r" X=1
    BIN=$C run "c12 r$r" X=1
  else
    BIN=$C run "c12 r$r" X=1
    BIN=$M run "master r$r" X=1
  fi
done
