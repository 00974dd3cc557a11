#!/bin/bash
# device runner prepared in session 18 for the next session's first call. Binaries of dev branch s19-dbg (= master, the
# kernels of ggml-patch/ at session 18's end, plus comparison switches), built on the CPU machine with flash attention
# off. With no switch set the kernels are master's. Switches:
#   GGML_CUDA_SPARSE_KQ8_ROWS=N  the most rows of the 8-row-per-lane K-quant kernel (default 4096; 0: 16 rows everywhere)
#   GGML_CUDA_SPARSE_KQ16_IN=N   16 rows per lane also for up to 4096 rows once n_in >= N (ffn_down: 14336)
#   GGML_CUDA_SPARSE_EXP=bits    1 the K-quant kernel's amax per column by one redux.sync (same value, fewer
#                                shuffles); 2 its scaling's int -> float conversions (3 per row and segment end) by
#                                the mantissa trick instead of I2FP.F32 (conversion rate not verified; same values);
#                                session 18's timing switch put the scaling at ~25 % of the gate/up op
#   GGML_CUDA_SPARSE_KQ_ALT=bits one block per multiprocessor (up to 255 registers) for the one-token K-quant kernels:
#                                1 the 16-row kernel with 4 quads per batch (default 2), 2 the same with 2, 4 the
#                                8-row kernel with 8 quads per batch (default 4): more bytes in flight per lane
#   LLAMA_WISPARSE_DENSE=role[:type],...  those projections stay dense at load (stock's kernels): per projection, is
#                                the sparse launch faster than the dense one inside the model? (session 15's ncu:
#                                attn_output 13.5 us sparse, stock's dense q launch of that shape 8.2; Q6_K attn_v 11.2 vs 5.3)
# 1. triage of session 18's failure: Q6_K 4096x14336 with 16 rows per lane in test-backend-ops perf (a run of three
#    fused copies of the op, CUDA graph) gave "unspecified launch failure"; here with clusters off, graphs off, and
#    under memcheck; and the new eval case (three fused 4352x14336 ops) with and without KQ8_ROWS=0;
# 2. the switches in the op alone and end to end (8-layer Q4_K_M at 0.5, tg128, three alternating rounds).
#   DEADLINE=840 OUT=$OUT bash .devcarry-s19/dev.sh start 580      (carry .devcarry-s19), then at once
#   OUT=$OUT bash /tmp/w/repo/.devcarry-s19/dev.sh 280             (about 14 minutes of device time in all)
W=/tmp/w
D=.devcarry-s19
mkdir -p $W/log
S=$W/log/summary.txt
T0=$(date +%s)
log() { echo "[$(date +%H:%M:%S) +$(( $(date +%s) - ${TM:-$T0} ))s] $*" | tee -a "$S"; }
export PYTHONUNBUFFERED=1
BP=/tmp/t
M=$W/models
el() { echo $(( $(date +%s) - ${TM:-$T0} )); }
need() { [ $(( $(el) + $1 )) -lt ${DEADLINE:-1000} ]; }
export LD_LIBRARY_PATH=/tmp/t:/usr/local/cuda/lib64:/usr/local/cuda/targets/x86_64-linux/lib
export LD_PRELOAD=libcuda.so.1
gen() {
    mkdir -p $M
    (cd $W/repo && timeout 300 python3 tools/make_random_gguf.py $M/$1 --shape llama3-8b --outtype f16 \
        --levels 0,0.4,0.5,0.6 --level 0.5 --weights-on cuda $2 > $W/log/gen-$1.log 2>&1)
    log "gen $1 rc=$? $(ls -la $M/$1 2>&1)"
}
tbo() { # label pattern env...   test-backend-ops eval
    local label=$1 pat=$2; shift 2
    need 60 || { log "skip test $label (deadline)"; return; }
    env "$@" timeout 200 $BP/test-backend-ops -o MUL_MAT_SPARSE -b CUDA0 -p "$pat" > $W/log/t-$label.log 2>&1
    log "test-backend-ops $label [$*] rc=$?: $(grep -c FAIL $W/log/t-$label.log) FAIL; $(grep 'tests passed' $W/log/t-$label.log)"
    grep -E "FAIL|CUDA error|launch failure" $W/log/t-$label.log | head -6 | tee -a "$S"
}
perf() { # label types n extra-pattern env...
    local label=$1 types=$2 n=$3 xp=$4; shift 4
    need 30 || { log "skip perf $label (deadline)"; return; }
    env "$@" timeout 60 $BP/test-backend-ops perf -o MUL_MAT_SPARSE -b CUDA0 \
        -p "type_a=($types),m=[0-9]+,n=$n,$xp.*threshold=0.55" > $W/log/perf-$label.log 2>&1
    log "perf $label rc=$? ($*)"
    grep -E 'us/run' $W/log/perf-$label.log | sed 's/^ *//; s/,bs=.*threshold=0.550000)//; s/ runs - / /; s/MFLOP.*//' | tee -a "$S"
    grep -E "CUDA error|launch failure" $W/log/perf-$label.log | head -3 | tee -a "$S"
}
bench() { # label model env...
    local label=$1 f=$2; shift 2
    need 25 || { log "skip $label (deadline)"; return; }
    echo "### $label: env $* llama-bench -m $(basename $f) -ngl 99 -p 0 -n 128 -r 3" >> $W/log/bench.log
    env "$@" timeout 60 $BP/llama-bench -m $f -ngl 99 -p 0 -n 128 -r 3 -o md > $W/log/b.out 2> $W/log/b.err
    local rc=$?
    cat $W/log/b.out >> $W/log/bench.log
    log "bench $label rc=$rc: $(grep -E '^\| ' $W/log/b.out | grep tg128 | tail -1 | awk -F'|' '{print $(NF-1)}')"
}
case $1 in
start)
    rm -f $W/done; rm -rf $W/repo && mkdir -p $W/repo && cp -r $D tools wisparse_gguf $W/repo/
    (TM=$T0 setsid nohup bash $W/repo/$D/dev.sh main > $W/log/main.out 2>&1 < /dev/null &)
    echo "launched main"; shift
    ;;
main)
    export TM=${TM:-$T0}
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv,noheader | tee -a "$S"
    mkdir -p /tmp/t $W/site
    tar -xJf $W/repo/$D/bins.tar.xz -C /tmp/t
    python3 -c 'import gguf, tqdm, yaml' 2>/dev/null || python3 -m pip install -q --no-index --no-deps --no-compile --target $W/site $W/repo/$D/whl/*.whl
    export PYTHONPATH=$W/site
    Q4=$M/l8b8-q4_k_m.gguf
    ( tbo kq 'type_a=\[?q[456]_K'; tbo kq-alt5-exp3 'type_a=\[?q[456]_K' GGML_CUDA_SPARSE_KQ_ALT=5 GGML_CUDA_SPARSE_EXP=3 ) & T1=$!
    gen l8b8-f16.gguf "--n-layer 8"
    $BP/llama-quantize $M/l8b8-f16.gguf $Q4 Q4_K_M 16 > $W/log/quant.log 2>&1
    log "quantize rc=$?"
    wait $T1
    # 1. the failure: Q6_K ffn_down shape with 16 rows per lane, test-backend-ops perf (three fused copies, a graph)
    K0=GGML_CUDA_SPARSE_KQ8_ROWS=0
    perf q6-r16 "q6_K" 1 "k=14336," $K0
    perf q6-r16-nocl "q6_K" 1 "k=14336," $K0 GGML_CUDA_SPARSE_NO_CLUSTER=1
    perf q6-r16-nograph "q6_K" 1 "k=14336," $K0 GGML_CUDA_DISABLE_GRAPHS=1
    perf q4-r16 "q4_K|q5_K" 1 "k=14336," $K0
    tbo kq-r16 'type_a=\[?q[456]_K' $K0
    need 110 && { env $K0 timeout 100 compute-sanitizer --tool memcheck $BP/test-backend-ops perf -o MUL_MAT_SPARSE -b CUDA0 -p 'type_a=q6_K,m=4096,n=1,k=14336' > $W/log/san-mem-perf.log 2>&1
      log "memcheck perf q6_K r16 rc=$?: $(grep -E 'ERROR SUMMARY' $W/log/san-mem-perf.log | tr '\n' ' ')"
      grep -m2 -B2 -A12 "Invalid\|Error\|error" $W/log/san-mem-perf.log | head -40 | tee -a "$S"; }
    # 2. the switches
    perf def "q4_K|q6_K" 1 ""
    perf exp1 "q4_K|q6_K" 1 "" GGML_CUDA_SPARSE_EXP=1
    perf exp2 "q4_K|q5_K|q6_K" 1 "" GGML_CUDA_SPARSE_EXP=2
    perf kq16 "q4_K" 1 "" GGML_CUDA_SPARSE_KQ16_IN=8192
    perf alt1 "q4_K|q6_K" 1 "" GGML_CUDA_SPARSE_KQ_ALT=1
    perf alt4 "q4_K|q6_K" 1 "" GGML_CUDA_SPARSE_KQ_ALT=4
    L5=LLAMA_WISPARSE_LEVEL=0.5
    # LLAMA_WISPARSE_DENSE=role[:type],...: those projections kept dense (stock's kernels), the rest sparse
    DN=LLAMA_WISPARSE_DENSE
    for r in 1 2 3; do
        bench "q4_k_m 8L 0.5 default" $Q4 $L5
        bench "q4_k_m 8L 0.5 exp1" $Q4 $L5 GGML_CUDA_SPARSE_EXP=1
        bench "q4_k_m 8L 0.5 exp2" $Q4 $L5 GGML_CUDA_SPARSE_EXP=2
        bench "q4_k_m 8L 0.5 exp3" $Q4 $L5 GGML_CUDA_SPARSE_EXP=3
        bench "q4_k_m 8L 0.5 kq16-in" $Q4 $L5 GGML_CUDA_SPARSE_KQ16_IN=8192
        bench "q4_k_m 8L 0.5 exp3 kq16-in" $Q4 $L5 GGML_CUDA_SPARSE_EXP=3 GGML_CUDA_SPARSE_KQ16_IN=8192
        bench "q4_k_m 8L 0.5 dense attn_output" $Q4 $L5 $DN=attn_output
        bench "q4_k_m 8L 0.5 dense ffn_down:q4_K" $Q4 $L5 $DN=ffn_down:q4_K
        bench "q4_k_m 8L 0.5 dense attn_v:q6_K" $Q4 $L5 $DN=attn_v:q6_K
        bench "q4_k_m 8L 0.5 dense attn_output,ffn_down:q4_K" $Q4 $L5 $DN=attn_output,ffn_down:q4_K
        bench "q4_k_m 8L 0.5 dense attn_output kq16-in" $Q4 $L5 $DN=attn_output GGML_CUDA_SPARSE_KQ16_IN=8192
        bench "q4_k_m 8L 0.5 alt1" $Q4 $L5 GGML_CUDA_SPARSE_KQ_ALT=1
        bench "q4_k_m 8L 0.5 alt4" $Q4 $L5 GGML_CUDA_SPARSE_KQ_ALT=4
        bench "q4_k_m 8L 0.5 alt5" $Q4 $L5 GGML_CUDA_SPARSE_KQ_ALT=5
    done
    bench "q4_k_m 8L 0 default" $Q4 LLAMA_WISPARSE_LEVEL=0
    log "main end"; touch $W/done
    exit 0
    ;;
esac
for phase in "$@"; do
    end=$(( T0 + phase ))
    while [ ! -f $W/done ] && [ $(date +%s) -lt $end ]; do sleep 5; done
    cat $S
    [ -f $W/done ] && echo "DONE" || echo "running"
    [ -n "$OUT" ] && { cp $S $W/log/bench.log $OUT/ 2>/dev/null; tar -czf $OUT/logs.tgz -C $W log 2>/dev/null; }
done
