#!/bin/bash
# device runner of session 18, call 1: dev branch s18 (the K-quant decode kernel reads per quad a row of precomputed
# channel offsets from shared memory, instead of looking up and computing them per channel) against master's
# libggml-cuda.so of the same local build (flash attention off; only that library differs). test-backend-ops
# (K-quant cases) and compute-sanitizer on s18; test-backend-ops perf of the K-quant ops at the 8B shapes, master and
# s18 alternated; llama-bench tg128 of an 8-layer Q4_K_M file at 0.5 and 0, alternated. GGML_CUDA_SPARSE_KQ8_ROWS
# (s18-exp only): the most rows of the 8-row-per-lane kernel (default 4096; 0: 16 rows per lane everywhere).
#   DEADLINE=480 OUT=$OUT bash .devcarry-s18b/dev.sh start 20     (carry .devcarry-s18b), then at once
#   mkdir -p /tmp/lx && tar -xJf .devcarry-s18c/lib-master.tar.xz -C /tmp/lx && mv /tmp/lx/* /tmp/lm/ && OUT=$OUT bash /tmp/w/repo/.devcarry-s18b/dev.sh 470
W=/tmp/w
D=.devcarry-s18b
mkdir -p $W/log
S=$W/log/summary.txt
T0=$(date +%s)
log() { echo "[$(date +%H:%M:%S) +$(( $(date +%s) - ${TM:-$T0} ))s] $*" | tee -a "$S"; }
export PYTHONUNBUFFERED=1
BP=/tmp/t
M=$W/models
el() { echo $(( $(date +%s) - ${TM:-$T0} )); }
need() { [ $(( $(el) + $1 )) -lt ${DEADLINE:-1000} ]; }
CU=/usr/local/cuda/lib64:/usr/local/cuda/targets/x86_64-linux/lib
LS=/tmp/t:$CU        # s18
LM=/tmp/lm:/tmp/t:$CU  # master's libggml-cuda.so first
export LD_PRELOAD=libcuda.so.1
SAN='type_a=\[?(q4_K|q5_K|q6_K),.*m=(256|\[256,64,64\]),n=1,k=4096,'
gen() {
    mkdir -p $M
    (cd $W/repo && timeout 300 python3 tools/make_random_gguf.py $M/$1 --shape llama3-8b --outtype f16 \
        --levels 0,0.4,0.5,0.6 --level 0.5 --weights-on cuda $2 > $W/log/gen-$1.log 2>&1)
    log "gen $1 rc=$? $(ls -la $M/$1 2>&1)"
}
perf() { # label lib types n env...
    local label=$1 lib=$2 types=$3 n=$4; shift 4
    need 30 || { log "skip perf $label (deadline)"; return; }
    env LD_LIBRARY_PATH=$lib "$@" timeout 60 $BP/test-backend-ops perf -o MUL_MAT_SPARSE -b CUDA0 \
        -p "type_a=($types),m=[0-9]+,n=$n,.*threshold=0.55" > $W/log/perf-$label.log 2>&1
    log "perf $label rc=$? ($*)"; grep -E 'us/run' $W/log/perf-$label.log | sed 's/^ *//; s/,bs=.*threshold=0.550000)//; s/ runs - / /; s/MFLOP.*//' | tee -a "$S"
}
bench() { # label lib model env...
    local label=$1 lib=$2 f=$3; shift 3
    need 25 || { log "skip $label (deadline)"; return; }
    echo "### $label: env $* llama-bench -m $(basename $f) -ngl 99 -p 0 -n 128 -r 3" >> $W/log/bench.log
    env LD_LIBRARY_PATH=$lib "$@" timeout 60 $BP/llama-bench -m $f -ngl 99 -p 0 -n 128 -r 3 -o md > $W/log/b.out 2> $W/log/b.err
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
    mkdir -p /tmp/t /tmp/lm $W/site
    tar -xJf $W/repo/$D/bins.tar.xz -C /tmp/t
    python3 -c 'import gguf, tqdm, yaml' 2>/dev/null || python3 -m pip install -q --no-index --no-deps --no-compile --target $W/site $W/repo/$D/whl/*.whl
    export PYTHONPATH=$W/site
    Q4=$M/l8b8-q4_k_m.gguf
    ( env LD_LIBRARY_PATH=$LS timeout 200 $BP/test-backend-ops -o MUL_MAT_SPARSE -b CUDA0 -p 'type_a=\[?q[456]_K' > $W/log/t-kq.log 2>&1
      log "test-backend-ops K-quant cases (s18) rc=$?: $(grep -c FAIL $W/log/t-kq.log) FAIL; $(grep 'tests passed' $W/log/t-kq.log)"
      grep FAIL $W/log/t-kq.log | head -10 | tee -a "$S" ) & T1=$!
    gen l8b8-f16.gguf "--n-layer 8"
    env LD_LIBRARY_PATH=$LS $BP/llama-quantize $M/l8b8-f16.gguf $Q4 Q4_K_M 16 > $W/log/quant.log 2>&1
    log "quantize rc=$?"
    wait $T1
    # master's library comes with the second call (.devcarry-s18c: the 64 MiB limit per call)
    for i in $(seq 150); do [ -f /tmp/lm/libggml-cuda.so.0 ] && break; sleep 2; done
    log "master library: $(ls -la /tmp/lm/libggml-cuda.so.0 2>&1)"
    perf m1 $LM "q4_K|q5_K|q6_K" 1
    perf s1 $LS "q4_K|q5_K|q6_K" 1
    perf s1-r16 $LS "q4_K|q6_K" 1 GGML_CUDA_SPARSE_KQ8_ROWS=0
    perf m1b $LM "q4_K|q6_K" 1
    perf s1b $LS "q4_K|q6_K" 1
    perf m2 $LM "q4_K|q6_K" 2
    perf s2 $LS "q4_K|q6_K" 2
    L5=LLAMA_WISPARSE_LEVEL=0.5
    bench "q4_k_m 8L 0.5 master" $LM $Q4 $L5
    bench "q4_k_m 8L 0.5 s18" $LS $Q4 $L5
    bench "q4_k_m 8L 0.5 s18 r16" $LS $Q4 $L5 GGML_CUDA_SPARSE_KQ8_ROWS=0
    bench "q4_k_m 8L 0.5 master" $LM $Q4 $L5
    bench "q4_k_m 8L 0.5 s18" $LS $Q4 $L5
    bench "q4_k_m 8L 0 master" $LM $Q4 LLAMA_WISPARSE_LEVEL=0
    bench "q4_k_m 8L 0 s18" $LS $Q4 LLAMA_WISPARSE_LEVEL=0
    need 90 && { env LD_LIBRARY_PATH=$LS timeout 80 compute-sanitizer --tool racecheck $BP/test-backend-ops -o MUL_MAT_SPARSE -b CUDA0 -p "$SAN" > $W/log/san-race.log 2>&1
      log "racecheck rc=$?: $(grep -E 'tests passed|RACECHECK SUMMARY' $W/log/san-race.log | tr '\n' ' ')"; }
    need 90 && { env LD_LIBRARY_PATH=$LS timeout 80 compute-sanitizer --tool memcheck $BP/test-backend-ops -o MUL_MAT_SPARSE -b CUDA0 -p "$SAN" > $W/log/san-mem.log 2>&1
      log "memcheck rc=$?: $(grep -E 'tests passed|ERROR SUMMARY' $W/log/san-mem.log | tr '\n' ' ')"; }
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
