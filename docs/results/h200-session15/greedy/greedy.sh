#!/bin/bash
# device runner, session 15: greedy tokens of a sparse file on the CPU (-ngl 0) and the GPU (-ngl 99), issue 5 part 3.
# Binaries: the tree as committed (dev 9410e32), built on the CPU machine (flash attention off there), carried stripped.
# File: a random-weight Llama-3.2-1B-shaped GGUF (16 blocks, d=2048, GQA 32/8) with WiSparse thresholds, written by
# tools/make_random_gguf.py on the GPU; F16, and Q8_0 by llama-quantize. Greedy (--temp 0), 32 tokens, short prompt.
set -u
W=/tmp/w; M=$W/models; L=$W/log; mkdir -p $M $L /tmp/t $W/site
tar -xJf .devcarry-g15/bins.tar.xz -C /tmp/t
python3 -c 'import gguf, tqdm, yaml' 2>/dev/null || python3 -m pip install -q --no-index --no-deps --no-compile --target $W/site .devcarry-g15/whl/*.whl
export PYTHONPATH=$W/site
export LD_LIBRARY_PATH=/tmp/t:/usr/local/cuda/lib64:/usr/local/cuda/targets/x86_64-linux/lib
export LD_PRELOAD=libcuda.so.1
S=$OUT/greedy-summary.txt
t0=$(date +%s)
python3 tools/make_random_gguf.py $M/l1b-f16.gguf --shape llama3-1b --outtype f16 --levels 0.5 --level 0.5 --weights-on cuda > $L/gen.log 2>&1
echo "gen rc=$? $(( $(date +%s) - t0 )) s" | tee -a $S
/tmp/t/llama-quantize $M/l1b-f16.gguf $M/l1b-q8_0.gguf Q8_0 16 > $L/quant.log 2>&1
echo "quantize rc=$?" | tee -a $S
P="The capital of France is"
for T in f16 q8_0; do
    for mode in sparse dense; do
        envs=""; [ $mode = dense ] && envs="LLAMA_WISPARSE_ENABLE=0"
        for ngl in 0 99; do
            o=$OUT/greedy-$T-$mode-ngl$ngl.txt
            env $envs timeout 120 /tmp/t/llama-completion -m $M/l1b-$T.gguf -no-cnv -p "$P" -n 32 --temp 0 -s 1 -t 16 -ngl $ngl -lv 4 \
                > $o 2> $L/err-$T-$mode-$ngl.log
            echo "$T $mode -ngl $ngl rc=$? $(grep -c 'sparse active' $L/err-$T-$mode-$ngl.log) 'sparse active' lines" | tee -a $S
        done
        if cmp -s $OUT/greedy-$T-$mode-ngl0.txt $OUT/greedy-$T-$mode-ngl99.txt; then
            echo "$T $mode: CPU and GPU outputs IDENTICAL" | tee -a $S
        else
            echo "$T $mode: CPU and GPU outputs DIFFER" | tee -a $S
        fi
    done
done
grep -h "wisparse" $L/err-*.log | sort | uniq -c | head -20 | tee -a $S
