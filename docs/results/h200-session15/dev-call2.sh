#!/bin/bash
# device runner, session 15 lead, call 1: experiment build made on the CPU machine (FA off, see HOW.md of session 14),
# carried as bins.tar.xz. 8-layer 8B-shape files (F16 drawn on the GPU, Q8_0 and Q4_K_M by llama-quantize); ncu token
# tables (Q8_0, Q4_K_M) and llama-bench A/B of the split count of the gate/up launch (GGML_CUDA_SPARSE_EXP_SPLITS);
# call 2: the L2 prefetch of the kept channels' slices at scoring (GGML_CUDA_SPARSE_PF bits), test-backend-ops with it on.
#   DEADLINE=S bash .devcarry-s15/dev.sh start   then   bash .devcarry-s15/dev.sh SECS
W=/tmp/w
D=.devcarry-s15
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
gen() { # file extra-args
    mkdir -p $M
    (cd $W/repo && timeout 700 python3 tools/make_random_gguf.py $M/$1 --shape llama3-8b --outtype f16 \
        --levels 0,0.4,0.5,0.6 --level 0.5 --weights-on cuda $2 > $W/log/gen-$1.log 2>&1)
    log "gen $1 rc=$? $(ls -la $M/$1 2>&1)"
}
quant() { # in out type threads
    LD_PRELOAD=libcuda.so.1 $BP/llama-quantize $M/$1 $M/$2 $3 $4 > $W/log/quant-$2.log 2>&1
    log "quantize $2 rc=$?"
}
bench_one() { # model label secs-needed llama-bench-extra env...
    local f=$1 label=$2 secs=$3 extra=$4; shift 4
    [ -f $f ] || { log "no model $f"; return; }
    need $secs || { log "skip $label (deadline)"; return; }
    local pn=${PN:-"-p 0 -n 128"}
    echo "### $label: env $* llama-bench -m $(basename $f) -ngl 99 $pn -r 3 $extra" >> $W/log/bench.log
    env LD_PRELOAD=libcuda.so.1 "$@" timeout $(( secs + 60 )) $BP/llama-bench -m $f -ngl 99 $pn -r 3 $extra -o md > $W/log/b.out 2> $W/log/b.err
    local rc=$?
    cat $W/log/b.out >> $W/log/bench.log
    local line=$(grep -E '^\| ' $W/log/b.out | grep -E 'tg128|pp512' | tail -1)
    log "bench $label rc=$rc: $(echo "$line" | awk -F'|' '{print $(NF-2), $(NF-1)}')"
    [ $rc -eq 0 ] || tail -5 $W/log/b.err | tee -a "$S"
}
tok() { # label model env...   ncu: every kernel of the decode, per-token sums (ncu_table.py, last 4 tokens)
    local label=$1 f=$2; shift 2
    need 90 || { log "skip ncu $label (deadline)"; return; }
    env LD_PRELOAD=libcuda.so.1 "$@" timeout 150 ncu --clock-control none --cache-control none --graph-profiling node \
        --metrics gpu__time_duration.sum,dram__bytes_read.sum --csv --print-units base --log-file $W/log/tok-$label.csv \
        --launch-count 1000 $BP/llama-bench -m $f -ngl 99 -p 0 -n 9 -r 1 > $W/log/tok-$label.out 2>&1
    log "ncu tok $label rc=$? ($*)"
    python3 $W/repo/$D/ncu_table.py $W/log/tok-$label.csv 4 > $W/log/tok-$label.txt 2>&1
    head -${TOKN:-24} $W/log/tok-$label.txt | tee -a "$S"
}
case $1 in
start)
    rm -f $W/done; rm -rf $W/repo && mkdir -p $W/repo && cp -r $D tools $W/repo/ && cp -r wisparse_gguf $W/repo/ 2>/dev/null
    (TM=$T0 setsid nohup bash $W/repo/$D/dev.sh main > $W/log/main.out 2>&1 < /dev/null &)
    echo "launched main"; shift
    ;;
main)
    export TM=${TM:-$T0}
    DEADLINE=${DEADLINE:-560}
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv,noheader | tee -a "$S"
    mkdir -p /tmp/t $W/site
    tar -xJf $W/repo/$D/bins.tar.xz -C /tmp/t
    python3 -c 'import gguf, tqdm, yaml' 2>/dev/null || python3 -m pip install -q --no-index --no-deps --no-compile --target $W/site $W/repo/$D/whl/*.whl
    export PYTHONPATH=$W/site
    F8=$M/l8b8-f16.gguf; Q8=$M/l8b8-q8_0.gguf; Q4=$M/l8b8-q4_k_m.gguf
    L5=LLAMA_WISPARSE_LEVEL=0.5; X=GGML_CUDA_SPARSE_EXP_SPLITS
    P="GGML_CUDA_SPARSE_PF"
    ( env LD_PRELOAD=libcuda.so.1 GGML_CUDA_SPARSE_PF=7 timeout 300 $BP/test-backend-ops -o MUL_MAT_SPARSE -b CUDA0 > $W/log/t-pf7.log 2>&1
      log "test-backend-ops PF=7 rc=$?: $(grep -c FAIL $W/log/t-pf7.log) FAIL; $(grep 'tests passed' $W/log/t-pf7.log)" ) & T1=$!
    gen l8b8-f16.gguf "--n-layer 8"
    quant l8b8-f16.gguf l8b8-q8_0.gguf Q8_0 16 & Q0=$!
    quant l8b8-f16.gguf l8b8-q4_k_m.gguf Q4_K_M 16 & Q1=$!
    wait $Q0 $Q1 $T1
    grep FAIL $W/log/t-pf7.log | head -10 | tee -a "$S"
    for r in 1 2; do
        bench_one $F8 "f16 8L 0.5 [default] r$r" 20 "" $L5
        bench_one $F8 "f16 8L 0.5 [$P=4] r$r" 20 "" $L5 $P=4
        bench_one $Q8 "q8_0 8L 0.5 [default] r$r" 20 "" $L5
        bench_one $Q8 "q8_0 8L 0.5 [$X=2] r$r" 20 "" $L5 $X=2
        bench_one $Q8 "q8_0 8L 0.5 [$P=1] r$r" 20 "" $L5 $P=1
        bench_one $Q8 "q8_0 8L 0.5 [$X=2 $P=1] r$r" 20 "" $L5 $X=2 $P=1
        bench_one $Q4 "q4_k_m 8L 0.5 [default] r$r" 20 "" $L5
        bench_one $Q4 "q4_k_m 8L 0.5 [$P=2] r$r" 20 "" $L5 $P=2
    done
    TOKN=14
    tok q8-x2-pf1 $Q8 $L5 $X=2 $P=1
    tok q4-pf2 $Q4 $L5 $P=2
    tok f16-default $F8 $L5
    tok f16-pf4 $F8 $L5 $P=4
    log "main end"; touch $W/done
    exit 0
    ;;
esac
for phase in "$@"; do
    end=$(( T0 + phase ))
    while [ ! -f $W/done ] && [ $(date +%s) -lt $end ]; do sleep 5; done
    cat $S
    [ -f $W/done ] && echo "DONE" || echo "running"
    [ -n "$OUT" ] && { cp $S $W/log/bench.log $OUT/ 2>/dev/null; cp $W/log/tok-*.txt $OUT/ 2>/dev/null; tar -czf $OUT/logs.tgz --exclude='*.csv' -C $W log 2>/dev/null; }
done
