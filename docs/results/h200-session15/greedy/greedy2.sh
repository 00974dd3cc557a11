#!/bin/bash
# device runner, session 15, greedy call 2: is the sparse CPU/GPU difference of call 1 chaos (a channel near its threshold
# flipping on a rounding difference) or a discrepancy? Each backend alone, under switches that change only rounding
# and summation order: GPU (fusions off, no clusters, plan of before) and CPU (flash attention on / off, no fusion).
set -u
W=/tmp/w; M=$W/models; L=$W/log; mkdir -p $M $L /tmp/t $W/site
tar -xJf .devcarry-g15/bins.tar.xz -C /tmp/t
python3 -c 'import gguf, tqdm, yaml' 2>/dev/null || python3 -m pip install -q --no-index --no-deps --no-compile --target $W/site .devcarry-g15/whl/*.whl
export PYTHONPATH=$W/site
export LD_LIBRARY_PATH=/tmp/t:/usr/local/cuda/lib64:/usr/local/cuda/targets/x86_64-linux/lib
export LD_PRELOAD=libcuda.so.1
S=$OUT/greedy2-summary.txt
t0=$(date +%s)
python3 tools/make_random_gguf.py $M/l1b-f16.gguf --shape llama3-1b --outtype f16 --levels 0.5 --level 0.5 --weights-on cuda > $L/gen.log 2>&1
echo "gen rc=$? $(( $(date +%s) - t0 )) s" | tee -a $S
P="The capital of France is"
one() { # label ngl extra-args env...
    local label=$1 ngl=$2 extra=$3; shift 3
    env "$@" timeout 120 /tmp/t/llama-completion -m $M/l1b-f16.gguf -no-cnv -p "$P" -n 32 --temp 0 -s 1 -t 16 -ngl $ngl $extra \
        > $OUT/g2-$label.txt 2> $L/err-$label.log
    echo "$label rc=$? [ngl $ngl $extra $*]: $(head -c 400 $OUT/g2-$label.txt | tr '\n' ' ' | cut -c1-150)" | tee -a $S
}
one gpu-default 99 "" X=1
one gpu-nofuse 99 "" GGML_CUDA_SPARSE_FUSE=0 GGML_CUDA_SPARSE_FUSE_NORM=0 GGML_CUDA_SPARSE_FUSE_ADD=0 GGML_CUDA_SPARSE_FUSE_GLU=0
one gpu-nocluster 99 "" GGML_CUDA_SPARSE_NO_CLUSTER=1
one gpu-fill0 99 "" GGML_CUDA_SPARSE_FILL=0
one gpu-dense 99 "" LLAMA_WISPARSE_ENABLE=0
one cpu-default 0 "" X=1
one cpu-fa-off 0 "-fa off" X=1
one cpu-fa-on 0 "-fa on" X=1
one cpu-nofusion 0 "" GGML_CPU_DISABLE_FUSION=1
one cpu-t1 0 "-t 1" X=1
one cpu-dense 0 "" LLAMA_WISPARSE_ENABLE=0
one cpu-dense-fa-off 0 "-fa off" LLAMA_WISPARSE_ENABLE=0
one gpu-dense-fa-off 99 "-fa off" LLAMA_WISPARSE_ENABLE=0
one gpu-fa-off 99 "-fa off" X=1
