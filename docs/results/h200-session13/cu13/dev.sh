#!/bin/bash
# device runner, session 13 helper cu13: RMS_NORM folded into the sparse q/k/v and gate/up launches (GGML_CUDA_SPARSE_FUSE_NORM)
#   bash .devcarry-cu13/dev.sh start SECS   then, within 30 s of its end,   bash .devcarry-cu13/dev.sh SECS   (polls)
# One machine session: patched build (branch cu13) and stock build (pristine source, same flags) side by side; 8-layer and
# 32-layer 8B-shape files (F16 drawn on the GPU, Q8_0 / Q4_K_M by llama-quantize); test-backend-ops, compute-sanitizer on the
# new fused cases, ncu per-token kernel time (switch on / off), then the timed benches alone on the machine (no overlap).
W=/tmp/w
D=.devcarry-cu13
mkdir -p $W/log
S=$W/log/summary.txt
T0=$(date +%s)
log() { echo "[$(date +%H:%M:%S) +$(( $(date +%s) - ${TM:-$T0} ))s] $*" | tee -a "$S"; }
export PYTHONUNBUFFERED=1
BP=$W/build-p/bin
BS=$W/build-s/bin
M=$W/models
CONF="-G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DGGML_CUDA_FA=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
# seconds since main started (TM is exported by main)
el() { echo $(( $(date +%s) - ${TM:-$T0} )); }
need() { [ $(( $(el) + $1 )) -lt ${DEADLINE:-1000} ]; }
# the new fused cases for the sanitizers: small shapes of every covered type, runs of 3 / 2, single, tail rows, Q4_K_M mix
SAN='norm=[01],.*m=\[(256,64,64|512,0,0|48,272,0|1024,1024,0)\],n=1,k=(4096|1024|512),threshold=0.8'

build() { # dir srcdir jobs targets extra-conf
    local bl=$W/log/$(basename $1).log
    cmake -S $2 -B $1 $CONF $5 > $bl 2>&1
    cmake --build $1 -j$3 --target $4 >> $bl 2>&1
    local rc=$?; log "build $(basename $1) rc=$rc"
    [ $rc -eq 0 ] || grep -B2 -A10 "error" $bl | head -40 | tee -a "$S"
    return $rc
}
gen() { # file extra-args
    mkdir -p $M
    (cd $W/repo && timeout 600 python3 tools/make_random_gguf.py $M/$1 --shape llama3-8b --outtype f16 \
        --levels 0.4,0.5 --level 0.5 --weights-on cuda $2 > $W/log/gen-$1.log 2>&1)
    log "gen $1 rc=$? $(ls -la $M/$1 2>&1)"
}
quant() { # in out type threads
    $BP/llama-quantize $M/$1 $M/$2 $3 $4 > $W/log/quant-$2.log 2>&1
    log "quantize $2 rc=$?"
}
test_one() { # label env pattern
    local label=$1 cfg=$2 pat=$3
    local tl=$W/log/t-$label.log
    need 60 || { log "skip test $label (deadline)"; return; }
    if [ -n "$pat" ]; then
        env $cfg timeout 240 $BP/test-backend-ops -o MUL_MAT_SPARSE -b CUDA0 -p "$pat" > $tl 2>&1
    else
        env $cfg timeout 240 $BP/test-backend-ops -o MUL_MAT_SPARSE -b CUDA0 > $tl 2>&1
    fi
    local rc=$?
    log "test-backend-ops $label [$cfg ${pat:+-p $pat}] rc=$rc: $(grep -c 'FAIL' $tl) FAIL; $(grep 'tests passed' $tl)"
    grep FAIL $tl | head -12 | tee -a "$S"
}
bench_one() { # bin model label secs-needed env...
    local bin=$1 f=$2 label=$3 secs=$4; shift 4
    [ -f $f ] || { log "no model $f"; return; }
    [ -x $bin/llama-bench ] || { log "no $bin/llama-bench"; return; }
    need $secs || { log "skip $label (deadline)"; return; }
    echo "### $label: env $* $bin/llama-bench -m $(basename $f) -ngl 99 -p 0 -n 128 -r 3 ($(uptime))" >> $W/log/bench.log
    env "$@" timeout $(( secs + 60 )) $bin/llama-bench -m $f -ngl 99 -p 0 -n 128 -r 3 -o md > $W/log/b.out 2> $W/log/b.err
    local rc=$?
    cat $W/log/b.out >> $W/log/bench.log
    local line=$(grep -E '^\| ' $W/log/b.out | grep tg128 | tail -1)
    log "bench $label rc=$rc: tg128 $(echo "$line" | awk -F'|' '{print $(NF-1)}')"
}
tok() { # label model env...   ncu: every kernel of the decode, per-token sums (ncu_table.py, last 4 tokens)
    local label=$1 f=$2; shift 2
    need 90 || { log "skip ncu $label (deadline)"; return; }
    env "$@" timeout 150 ncu --clock-control none --cache-control none --graph-profiling node \
        --metrics gpu__time_duration.sum,dram__bytes_read.sum --csv --print-units base --log-file $W/log/tok-$label.csv \
        --launch-count 700 $BP/llama-bench -m $f -ngl 99 -p 0 -n 8 -r 1 > $W/log/tok-$label.out 2>&1
    log "ncu tok $label rc=$? ($*)"
    python3 $W/repo/$D/ncu_table.py $W/log/tok-$label.csv 4 > $W/log/tok-$label.txt 2>&1
    head -30 $W/log/tok-$label.txt | tee -a "$S"
}
case $1 in
start)
    rm -f $W/done; rm -rf $W/repo && mkdir -p $W/repo && cp -r $D tools $W/repo/ && cp -r wisparse_gguf $W/repo/ 2>/dev/null
    (TM=$T0 setsid nohup bash $W/repo/$D/dev.sh main > $W/log/main.out 2>&1 < /dev/null &)
    echo "launched main"; shift
    ;;
main)
    export TM=${TM:-$T0}
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv,noheader | tee -a "$S"
    nproc | tee -a "$S"
    mkdir -p $W/src $W/stock $W/site
    tar -xzf $W/repo/$D/src.tar.gz -C $W/src
    tar -xzf $W/repo/$D/stock.tar.gz -C $W/stock
    python3 -c 'import gguf, tqdm, yaml' 2>/dev/null || python3 -m pip install -q --no-index --no-deps --no-compile --target $W/site $W/repo/$D/whl/*.whl
    export PYTHONPATH=$W/site
    F8=$M/l8b8-f16.gguf; Q88=$M/l8b8-q8_0.gguf
    F=$M/l8b-f16.gguf; Q8=$M/l8b-q8_0.gguf; Q4=$M/l8b-q4_k_m.gguf
    L5=LLAMA_WISPARSE_LEVEL=0.5; L4=LLAMA_WISPARSE_LEVEL=0.4; OFF=GGML_CUDA_SPARSE_FUSE_NORM=0
    # phase 1: both builds side by side (stock at lower priority: the patched one gates the tests), the files on the GPU
    build $W/build-p $W/src 16 "test-backend-ops llama-bench llama-quantize" "-DLLAMA_BUILD_TESTS=ON" & P1=$!
    ( renice -n 5 $BASHPID > /dev/null; build $W/build-s $W/stock 16 llama-bench -DLLAMA_BUILD_TESTS=OFF ) & P2=$!
    ( gen l8b8-f16.gguf "--n-layer 8"; gen l8b-f16.gguf "" ) & P4=$!
    wait $P1; RCP=$?
    [ $RCP -eq 0 ] || { log "main end (patched build failed)"; touch $W/done; exit 0; }
    # phase 2: tests, sanitizers, ncu (GPU) while the CPU quantizes; nothing timed
    wait $P4
    ( quant l8b8-f16.gguf l8b8-q8_0.gguf Q8_0 8; quant l8b-f16.gguf l8b-q8_0.gguf Q8_0 8; quant l8b-f16.gguf l8b-q4_k_m.gguf Q4_K_M 8 ) & Q1=$!
    test_one all "LLAMA_X=1" ""
    if need 100; then
        timeout 120 compute-sanitizer --tool racecheck $BP/test-backend-ops -o MUL_MAT_SPARSE -b CUDA0 -p "$SAN" > $W/log/san-race.log 2>&1
        log "racecheck rc=$?: $(grep -E 'tests passed|RACECHECK SUMMARY' $W/log/san-race.log | tr '\n' ' ')"
        timeout 120 compute-sanitizer --tool memcheck $BP/test-backend-ops -o MUL_MAT_SPARSE -b CUDA0 -p "$SAN" > $W/log/san-mem.log 2>&1
        log "memcheck rc=$?: $(grep -E 'tests passed|ERROR SUMMARY' $W/log/san-mem.log | tr '\n' ' ')"
    fi
    tok f16-on  $F8 $L5
    tok f16-off $F8 $L5 $OFF
    test_one norm-nocluster "GGML_CUDA_SPARSE_NO_CLUSTER=1" "norm="
    if [ $(el) -lt 620 ]; then
        while [ ! -f $W/log/quant-l8b8-q8_0.gguf.log ] || ! grep -q "quantize l8b8-q8_0.gguf" $S; do sleep 2; kill -0 $Q1 2>/dev/null || break; done
        tok q8-on  $Q88 $L5
        tok q8-off $Q88 $L5 $OFF
    else
        log "skip ncu q8 (time)"
    fi
    wait $Q1 $P2
    log "phase 3 (timed benches, nothing else running)"
    # phase 3: timed, one at a time; switch on / off interleaved on the 8-layer files, then stock vs patched on the 32-layer ones
    bench_one $BP $F8 "f16 8L sparse 0.5 [norm fused]" 40 $L5
    bench_one $BP $F8 "f16 8L sparse 0.5 [FUSE_NORM=0]" 40 $L5 $OFF
    bench_one $BS $F "f16 32L stock" 40
    bench_one $BP $F "f16 32L sparse 0.5" 110 $L5
    bench_one $BS $Q8 "q8_0 32L stock" 35
    bench_one $BP $Q8 "q8_0 32L sparse 0.5" 100 $L5
    bench_one $BP $Q88 "q8_0 8L sparse 0.5 [norm fused]" 40 $L5
    bench_one $BP $Q88 "q8_0 8L sparse 0.5 [FUSE_NORM=0]" 40 $L5 $OFF
    bench_one $BS $Q4 "q4_k_m 32L stock" 35
    bench_one $BP $Q4 "q4_k_m 32L sparse 0.5" 100 $L5
    bench_one $BP $F "f16 32L sparse 0.4" 110 $L4
    bench_one $BP $F8 "f16 8L sparse 0.5 [norm fused] again" 40 $L5
    bench_one $BP $F8 "f16 8L sparse 0.5 [FUSE_NORM=0] again" 40 $L5 $OFF
    log "main end"; touch $W/done
    exit 0
    ;;
esac
for phase in "$@"; do
    end=$(( T0 + phase ))
    while [ ! -f $W/done ] && [ $(date +%s) -lt $end ]; do sleep 5; done
    cat $S
    [ -f $W/done ] && echo "DONE" || echo "running"
    [ -n "$OUT" ] && { cp $S $W/log/bench.log $OUT/ 2>/dev/null; tar -czf $OUT/logs.tgz --exclude='*.csv' -C $W log 2>/dev/null; tar -czf $OUT/csv.tgz -C $W/log $(cd $W/log && ls tok-*.csv 2>/dev/null) 2>/dev/null; }
done
