#!/bin/bash
# session 6: 8B Q8_0 / Q4_K_M pp512 (issue 3 part 4, issue 7 part 4), 1 then 2 threads
cd /work/main
B="--patched build/bin/llama-bench --stock build-stock/bin/llama-bench --rounds 1 --reps 1"
run() { # file tag level test threads...
    local f=$1 tag=$2 lv=$3 test=$4; shift 4
    echo "=== $(date +%T) $tag level $lv $test threads $*" >> /work/big/run8b-s6.log
    .venv/bin/python tools/bench.py /work/big/$f $B --tests $test $(for t in "$@"; do echo -t $t; done) \
        --env LLAMA_WISPARSE_LEVEL=$lv --json docs/results/cpu-8b/$tag-$test-s6-$lv.json >> /work/big/run8b-s6.log 2>&1
}
run l8b-q8_0.gguf q8_0 0.5 pp512 1
run l8b-q4_k_m.gguf q4_k_m 0.5 pp512 1
echo "=== $(date +%T) done" >> /work/big/run8b-s6.log
