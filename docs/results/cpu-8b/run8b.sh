#!/bin/bash
cd /work/main
B="--patched build/bin/llama-bench --stock build-stock/bin/llama-bench --rounds 1 --reps 1"
run() { # file tag threads... -- env
    local f=$1 tag=$2 lv=$3; shift 3
    echo "=== $(date +%T) $tag level $lv threads $*" >> /work/big/run8b.log
    .venv/bin/python tools/bench.py /work/big/$f $B --tests tg16,pp64 $(for t in "$@"; do echo -t $t; done) \
        --env LLAMA_WISPARSE_LEVEL=$lv --json docs/results/cpu-8b/$tag-$lv.json >> /work/big/run8b.log 2>&1
}
run l8b-q4_k_m.gguf q4_k_m 0.5 1 2
run l8b-q8_0.gguf q8_0 0.5 1 2
run l8b-f16.gguf f16 0.5 1 2
run l8b-q8_0.gguf q8_0 0 2
run l8b-q8_0.gguf q8_0 0.4 2
echo "=== $(date +%T) done" >> /work/big/run8b.log
