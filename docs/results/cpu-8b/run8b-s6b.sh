#!/bin/bash
# session 6, after the prompt-path change (every non-K type on the GEMM on the layout): 8B Q8_0 pp512, 1 thread
cd /work/main
echo "=== $(date +%T) q8_0 level 0.5 pp512 threads 1 (GEMM on the layout)" >> /work/big/run8b-s6.log
.venv/bin/python tools/bench.py /work/big/l8b-q8_0.gguf --patched build/bin/llama-bench --stock build-stock/bin/llama-bench \
    --rounds 1 --reps 1 --tests pp512 -t 1 --env LLAMA_WISPARSE_LEVEL=0.5 --json docs/results/cpu-8b/q8_0-pp512-s6b-0.5.json >> /work/big/run8b-s6.log 2>&1
echo "=== $(date +%T) done" >> /work/big/run8b-s6.log
