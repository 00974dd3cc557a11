#!/bin/bash
# device runner, session 15, call 3 (last): Q8_0 per-column kernel with 24 / 32 channels per batch (GGML_CUDA_SPARSE_Q8_UQ,
# experiment build dev s15b made on the CPU machine, flash attention off): test-backend-ops on the Q8_0 cases, then
# llama-bench tg128 on an 8-layer 8B-shape Q8_0 file, two rounds.
set -u
W=/tmp/w; M=$W/models; L=$W/log; mkdir -p $M $L /tmp/t $W/site
T0=$(date +%s)
log() { echo "[+$(( $(date +%s) - T0 ))s] $*" | tee -a $OUT/summary.txt; }
tar -xJf .devcarry-s15/bins.tar.xz -C /tmp/t
python3 -c 'import gguf, tqdm, yaml' 2>/dev/null || python3 -m pip install -q --no-index --no-deps --no-compile --target $W/site .devcarry-s15/whl/*.whl
export PYTHONPATH=$W/site
export LD_LIBRARY_PATH=/tmp/t:/usr/local/cuda/lib64:/usr/local/cuda/targets/x86_64-linux/lib
export LD_PRELOAD=libcuda.so.1
( python3 tools/make_random_gguf.py $M/f.gguf --shape llama3-8b --n-layer 8 --outtype f16 --levels 0.5 --level 0.5 --weights-on cuda > $L/gen.log 2>&1
  log "gen rc=$?"; /tmp/t/llama-quantize $M/f.gguf $M/q8.gguf Q8_0 16 > $L/quant.log 2>&1; log "quant rc=$?" ) & G=$!
for u in 3 4; do
    GGML_CUDA_SPARSE_Q8_UQ=$u timeout 100 /tmp/t/test-backend-ops -o MUL_MAT_SPARSE -b CUDA0 -p 'type_a=\[?q8_0' > $OUT/t-uq$u.log 2>&1
    log "test-backend-ops q8_0 cases, Q8_UQ=$u rc=$?: $(grep -c FAIL $OUT/t-uq$u.log) FAIL; $(grep 'tests passed' $OUT/t-uq$u.log)"
done
wait $G
for r in 1 2; do
    for u in 2 3 4; do
        GGML_CUDA_SPARSE_Q8_UQ=$u LLAMA_WISPARSE_LEVEL=0.5 timeout 60 /tmp/t/llama-bench -m $M/q8.gguf -ngl 99 -p 0 -n 128 -r 3 -o md > $L/b.out 2>&1
        echo "### Q8_UQ=$u round $r" >> $OUT/bench.log; cat $L/b.out >> $OUT/bench.log
        log "q8_0 8L 0.5 Q8_UQ=$u r$r: $(grep tg128 $L/b.out | awk -F'|' '{print $(NF-1)}')"
    done
done
