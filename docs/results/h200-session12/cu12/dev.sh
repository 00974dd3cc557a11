#!/bin/bash
# device runner, session 12 helper cu12: the fixed time of the sparse F16 decode launches (ncu inside llama-bench) + A/B
#   bash .devcarry-cu12/dev.sh start SECS   then, within 30 s of its end,   bash .devcarry-cu12/dev.sh SECS   (polls)
# MODE=exp (call 1): patched build only (-lineinfo); 8-layer 8B-shape F16 (GPU draw); "dense" = the same build with
#   LLAMA_WISPARSE_ENABLE=0; ncu per-launch times of the two-phase kernel under GGML_CUDA_SPARSE_DBG variants; A/B benches.
# MODE=final: patched build; 32-layer F16 (GPU draw) -> Q8_0; tests, sanitizers, tg128 benches.
W=/tmp/w
D=.devcarry-cu12
mkdir -p $W/log
S=$W/log/summary.txt
T0=$(date +%s)
log() { echo "[$(date +%H:%M:%S) +$(( $(date +%s) - T0 ))s] $*" | tee -a "$S"; }
export PYTHONUNBUFFERED=1
BP=$W/build-p/bin
M=$W/models
CONF="-G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DGGML_CUDA_FA=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
left() { [ $(( $(date +%s) - T0 )) -lt ${DEADLINE:-480} ]; }
RACE='type_a=\[(f16|q8_0|q4_K),.*m=\[(256|512),.*n=1,|add=mm\+r,type_a=(f16|q8_0|q4_K),m=(256|61|62),n=1,|glu=1,add=mm\+r,type_a=(f16|q4_K),m=(256|61|62),n=1,|^type_a=(f16|q4_K),m=(256|61),n=1,'
MEMC='type_a=\[(f16|q4_K),.*m=\[(256|61),.*n=1,|(add=r\+mm|glu=1,add=none),type_a=(f16|q8_0|q4_K|f32),m=(256|61|62),n=1,'

build_p() { # jobs targets extra-conf
    cmake -S $W/src -B $W/build-p $CONF -DLLAMA_BUILD_TESTS=ON $3 > $W/log/build-p.log 2>&1
    cmake --build $W/build-p -j$1 --target $2 >> $W/log/build-p.log 2>&1
    local rc=$?; log "build patched rc=$rc"
    [ $rc -eq 0 ] || grep -B2 -A10 "error" $W/log/build-p.log | head -40 | tee -a "$S"
    return $rc
}
gen() { # file extra-args
    mkdir -p $M
    (cd $W/repo && timeout 600 python3 tools/make_random_gguf.py $M/$1 --shape llama3-8b --outtype f16 \
        --levels 0.4,0.5 --level 0.5 --weights-on cuda $2 > $W/log/gen-$1.log 2>&1)
    log "gen $1 rc=$? $(ls -la $M/$1 2>&1)"
}
test_one() { # env pattern
    local cfg=$1 pat=$2
    local tl=$W/log/t-$(echo "$cfg" | tr ' ' '_').log
    left || { log "skip test [$cfg] (deadline)"; return; }
    if [ -n "$pat" ]; then
        env $cfg timeout 150 $BP/test-backend-ops -o MUL_MAT_SPARSE -b CUDA0 -p "$pat" > $tl 2>&1
    else
        env $cfg timeout 150 $BP/test-backend-ops -o MUL_MAT_SPARSE -b CUDA0 > $tl 2>&1
    fi
    rc=$?
    log "test-backend-ops [$cfg ${pat:+-p $pat}] rc=$rc: $(grep -c 'FAIL' $tl) FAIL; $(grep 'tests passed' $tl)"
    grep FAIL $tl | head -12 | tee -a "$S"
}
bench_one() { # bin model label env...
    local bin=$1 f=$2 label=$3; shift 3
    [ -f $f ] || { log "no model $f"; return; }
    left || { log "skip $label (deadline)"; return; }
    echo "### $label: env $* llama-bench -m $(basename $f) -ngl 99 -p 0 -n 128 -r 3" >> $W/log/bench.log
    env "$@" timeout ${BT:-120} $bin/llama-bench -m $f -ngl 99 -p 0 -n 128 -r 3 -o md > $W/log/b.out 2> $W/log/b.err
    local rc=$?
    cat $W/log/b.out >> $W/log/bench.log
    local line=$(grep -E '^\| ' $W/log/b.out | grep tg128 | tail -1)
    log "bench $label rc=$rc: tg128 $(echo "$line" | awk -F'|' '{print $(NF-1)}')"
}
var() { # label model env...   ncu: the 32 two-phase launches of one token (the 4th), serialised graph nodes
    local label=$1 f=$2; shift 2
    left || { log "skip var $label (deadline)"; return; }
    env "$@" timeout 90 ncu --clock-control none --cache-control none --graph-profiling node -k regex:mul_mat_sparse_vec_flat \
        --launch-skip 96 --launch-count 32 \
        --metrics gpu__time_duration.sum,dram__bytes_read.sum,sm__cycles_active.avg,sm__cycles_active.max,sm__cycles_active.min,gpc__cycles_elapsed.max,sm__warps_active.avg.pct_of_peak_sustained_active,launch__registers_per_thread \
        --csv --print-units base --log-file $W/log/var-$label.csv \
        $BP/llama-bench -m $f -ngl 99 -p 0 -n 6 -r 1 > $W/log/var-$label.out 2>&1
    log "ncu var $label rc=$? ($*)"
    python3 $W/repo/$D/ncu_var.py $W/log/var-$label.csv 2>&1 | tee -a "$S"
}
detail() { # label model env...  sections of 4 launches (one layer) + source page
    local label=$1 f=$2; shift 2
    left || { log "skip detail $label (deadline)"; return; }
    env "$@" timeout 120 ncu --clock-control none --cache-control none --graph-profiling node -k regex:mul_mat_sparse_vec_flat \
        --launch-skip 100 --launch-count 4 --import-source yes \
        --section SpeedOfLight --section WarpStateStats --section SourceCounters --section SchedulerStats \
        --section MemoryWorkloadAnalysis --section Occupancy --section LaunchStats \
        -o $W/log/detail-$label -f $BP/llama-bench -m $f -ngl 99 -p 0 -n 6 -r 1 > $W/log/detail-$label.out 2>&1
    log "ncu detail $label rc=$?"
    ncu -i $W/log/detail-$label.ncu-rep --page details > $W/log/detail-$label.txt 2>&1
    ncu -i $W/log/detail-$label.ncu-rep --page source --csv --print-source cuda > $W/log/src-cuda-$label.csv 2>&1
    ncu -i $W/log/detail-$label.ncu-rep --page source --csv --print-source sass > $W/log/src-sass-$label.csv 2>&1
    log "detail pages: $(wc -c $W/log/detail-$label.txt $W/log/src-*-$label.csv | tr '\n' ' ')"
    grep -E "Duration|Warp Cycles Per Issued|Achieved Occupancy|Stall|Memory Throughput|DRAM Throughput|Grid Size|Registers|Waves|Cluster" $W/log/detail-$label.txt | head -80 >> "$S"
}
case $1 in
start)
    rm -f $W/done; rm -rf $W/repo && mkdir -p $W/repo && cp -r $D tools $W/repo/ && cp -r wisparse_gguf $W/repo/ 2>/dev/null
    (setsid nohup bash $W/repo/$D/dev.sh main > $W/log/main.out 2>&1 < /dev/null &)
    echo "launched main"; shift
    ;;
main)
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv,noheader | tee -a "$S"
    mkdir -p $W/src $W/site
    tar -xzf $W/repo/$D/src.tar.gz -C $W/src
    python3 -c 'import gguf' 2>/dev/null || python3 -m pip install -q --no-index --no-deps --no-compile --target $W/site $W/repo/$D/whl/*.whl
    export PYTHONPATH=$W/site
    F8=$M/l8b8-f16.gguf
    L5=LLAMA_WISPARSE_LEVEL=0.5; DN=LLAMA_WISPARSE_ENABLE=0
    if [ "${MODE:-exp}" = exp ]; then
        build_p 16 "test-backend-ops llama-bench" "-DCMAKE_CUDA_FLAGS=-lineinfo" & P1=$!
        gen l8b8-f16.gguf "--n-layer 8" & P4=$!
        wait $P1; RCP=$?; wait $P4
        [ $RCP -eq 0 ] || { log "main end (build failed)"; touch $W/done; exit 0; }
        test_one GGML_CUDA_SPARSE_DBG=28 'type_a=(f16|bf16|q8_0)'
        var d0  $F8 $L5 GGML_CUDA_SPARSE_DBG=0
        var d1  $F8 $L5 GGML_CUDA_SPARSE_DBG=1
        var d3  $F8 $L5 GGML_CUDA_SPARSE_DBG=3
        var d28 $F8 $L5 GGML_CUDA_SPARSE_DBG=28
        bench_one $BP $F8 "f16 8L dense (ENABLE=0)" $DN
        bench_one $BP $F8 "f16 8L sparse 0.5 [DBG=0]" $L5 GGML_CUDA_SPARSE_DBG=0
        bench_one $BP $F8 "f16 8L sparse 0.5 [DBG=28]" $L5 GGML_CUDA_SPARSE_DBG=28
        bench_one $BP $F8 "f16 8L sparse 0.5 [DBG=0] again" $L5 GGML_CUDA_SPARSE_DBG=0
        bench_one $BP $F8 "f16 8L sparse 0.5 [DBG=28] again" $L5 GGML_CUDA_SPARSE_DBG=28
        detail d0 $F8 $L5 GGML_CUDA_SPARSE_DBG=0
        var d4  $F8 $L5 GGML_CUDA_SPARSE_DBG=4
        var d8  $F8 $L5 GGML_CUDA_SPARSE_DBG=8
        var d16 $F8 $L5 GGML_CUDA_SPARSE_DBG=16
        var d29 $F8 $L5 GGML_CUDA_SPARSE_DBG=29
        var nocl $F8 $L5 GGML_CUDA_SPARSE_NO_CLUSTER=1
    fi
    if [ "$MODE" = final ]; then
        # order: the tests and sanitizers run while a 32-layer sparse bench loads (~75 s of CPU re-layout, GPU idle),
        # never during a timed part; quantizing runs only beside untimed work or ncu (kernel times)
        F=$M/l8b-f16.gguf; Q8=$M/l8b-q8_0.gguf; Q4=$M/l8b-q4_k_m.gguf
        L4=LLAMA_WISPARSE_LEVEL=0.4; NB=GGML_CUDA_SPARSE_NB_BRANCHES=1
        build_p 16 "test-backend-ops llama-bench llama-quantize" "" & P1=$!
        ( gen l8b-f16.gguf ""; touch $W/gen32.done; gen l8b8-f16.gguf "--n-layer 8" ) & P4=$!
        wait $P1; RCP=$?
        [ $RCP -eq 0 ] || { log "main end (build failed)"; touch $W/done; exit 0; }
        while [ ! -f $W/gen32.done ]; do sleep 2; done
        ( $BP/llama-quantize $F $Q8 Q8_0 8 > $W/log/quant-q8.log 2>&1; log "quantize q8_0 rc=$?" ) & Q1=$!
        test_one LLAMA_X=1 "" & T1=$!
        BT=200 bench_one $BP $F "f16 32L sparse 0.5" $L5
        wait $T1 $Q1 $P4
        ( if left; then
            timeout 100 compute-sanitizer --tool racecheck $BP/test-backend-ops -o MUL_MAT_SPARSE -b CUDA0 -p "$RACE" > $W/log/san-race.log 2>&1
            log "racecheck rc=$?: $(grep -E 'tests passed|RACECHECK SUMMARY' $W/log/san-race.log | tr '\n' ' ')"
            timeout 100 compute-sanitizer --tool memcheck $BP/test-backend-ops -o MUL_MAT_SPARSE -b CUDA0 -p "$MEMC" > $W/log/san-mem.log 2>&1
            log "memcheck rc=$?: $(grep -E 'tests passed|ERROR SUMMARY' $W/log/san-mem.log | tr '\n' ' ')"
          fi ) & S1=$!
        BT=200 bench_one $BP $F "f16 32L sparse 0.4" $L4
        wait $S1
        bench_one $BP $F "f16 32L dense (ENABLE=0)" $DN
        bench_one $BP $Q8 "q8_0 32L dense (ENABLE=0)" $DN
        bench_one $BP $Q8 "q8_0 32L sparse 0.5" $L5
        var nb0 $F8 $L5
        var nb1 $F8 $L5 $NB
        detail nb0 $F8 $L5
        bench_one $BP $F8 "f16 8L sparse 0.5 [NB_BRANCHES=1]" $L5 $NB
        bench_one $BP $F8 "f16 8L sparse 0.5" $L5
        test_one GGML_CUDA_SPARSE_NB_BRANCHES=1 "add=|type_a=\\["
        if left; then
            $BP/llama-quantize $F $Q4 Q4_K_M 16 > $W/log/quant-q4.log 2>&1; log "quantize q4_k_m rc=$?"
            bench_one $BP $Q4 "q4_k_m 32L dense (ENABLE=0)" $DN
            bench_one $BP $Q4 "q4_k_m 32L sparse 0.5" $L5
        fi
    fi
    log "main end"; touch $W/done
    exit 0
    ;;
esac
for phase in "$@"; do
    end=$(( T0 + phase ))
    while [ ! -f $W/done ] && [ $(date +%s) -lt $end ]; do sleep 5; done
    cat $S
    [ -f $W/done ] && echo "DONE" || echo "running"
    [ -n "$OUT" ] && { cp $S $W/log/bench.log $OUT/ 2>/dev/null; tar -czf $OUT/logs.tgz --exclude='*.ncu-rep' --exclude='build-p.log' -C $W log 2>/dev/null; cp $W/log/detail-*.ncu-rep $OUT/ 2>/dev/null; }
done
