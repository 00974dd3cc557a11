#!/bin/bash
# device runner, session 11 helper cu11: per-kernel profile of decode (ncu) + benches
#   bash .devcarry-cu11/dev.sh start SECS   then, within 30 s of its end,   bash .devcarry-cu11/dev.sh SECS   (polls)
# MODE=prof (call 1): patched build only; 8-layer 8B-shape F16 (GPU draw) -> Q8_0, Q4_K_M; "stock" = the same build with
#   LLAMA_WISPARSE_ENABLE=0 (dense layout, stock kernels, stock graph); ncu per-kernel times + DRAM bytes; llama-bench.
W=/tmp/w
D=.devcarry-cu11
mkdir -p $W/log
S=$W/log/summary.txt
T0=$(date +%s)
log() { echo "[$(date +%H:%M:%S) +$(( $(date +%s) - T0 ))s] $*" | tee -a "$S"; }
export PYTHONUNBUFFERED=1
BP=$W/build-p/bin
BS=$W/build-s/bin
M=$W/models
CONF="-G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DGGML_CUDA_FA=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
left() { [ $(( $(date +%s) - T0 )) -lt ${DEADLINE:-960} ]; }

build_p() { # jobs targets
    cmake -S $W/src -B $W/build-p $CONF -DLLAMA_BUILD_TESTS=ON > $W/log/build-p.log 2>&1
    cmake --build $W/build-p -j$1 --target $2 >> $W/log/build-p.log 2>&1
    local rc=$?; log "build patched rc=$rc"
    [ $rc -eq 0 ] || grep -B2 -A10 "error" $W/log/build-p.log | head -40 | tee -a "$S"
    return $rc
}
build_s() {
    cmake -S $W/stock -B $W/build-s $CONF -DLLAMA_BUILD_TESTS=OFF > $W/log/build-s.log 2>&1
    cmake --build $W/build-s -j$1 --target llama-bench >> $W/log/build-s.log 2>&1
    log "build stock rc=$?"
}
gen() { # file extra-args
    mkdir -p $M
    (cd $W/repo && timeout 600 python3 tools/make_random_gguf.py $M/$1 --shape llama3-8b --outtype f16 \
        --levels 0.4,0.5 --level 0.5 --weights-on cuda $2 > $W/log/gen-$1.log 2>&1)
    log "gen $1 rc=$? $(ls -la $M/$1 2>&1)"
}
test_one() { # label env pattern
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
    env "$@" timeout 120 $bin/llama-bench -m $f -ngl 99 -p 0 -n 128 -r 3 -o md > $W/log/b.out 2> $W/log/b.err
    local rc=$?
    cat $W/log/b.out >> $W/log/bench.log
    local line=$(grep -E '^\| ' $W/log/b.out | grep tg128 | tail -1)
    log "bench $label rc=$rc: tg128 $(echo "$line" | awk -F'|' '{print $(NF-1)}')"
}
prof() { # label model env...   ncu: every kernel of llama-bench -n 8 (graph nodes profiled one by one), caches NOT flushed
    local label=$1 f=$2; shift 2
    [ -f $f ] || { log "no model $f"; return; }
    left || { log "skip prof $label (deadline)"; return; }
    env "$@" timeout 240 ncu --clock-control none --cache-control none --graph-profiling node \
        --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum --csv --print-units base \
        --launch-count 1600 --log-file $W/log/ncu-$label.csv \
        $BP/llama-bench -m $f -ngl 99 -p 0 -n 8 -r 1 > $W/log/ncu-$label.out 2>&1
    log "ncu $label rc=$? ($*)"
    python3 $W/repo/$D/ncu_table.py $W/log/ncu-$label.csv 5 > $W/log/tab-$label.txt 2>&1
    head -45 $W/log/tab-$label.txt | tee -a "$S"
}
case $1 in
start)
    rm -f $W/done; rm -rf $W/repo && mkdir -p $W/repo && cp -r $D wisparse_gguf tools $W/repo/
    (setsid nohup bash $W/repo/$D/dev.sh main > $W/log/main.out 2>&1 < /dev/null &)
    echo "launched main"; shift
    ;;
main)
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv,noheader | tee -a "$S"
    which ncu | tee -a "$S"
    mkdir -p $W/src $W/stock $W/site
    tar -xzf $W/repo/$D/src.tar.gz -C $W/src
    python3 -c 'import gguf' 2>/dev/null || python3 -m pip install -q --no-index --no-deps --no-compile --target $W/site $W/repo/$D/whl/*.whl
    export PYTHONPATH=$W/site
    F8=$M/l8b8-f16.gguf; Q8=$M/l8b8-q8_0.gguf; Q4=$M/l8b8-q4_k_m.gguf
    L5=LLAMA_WISPARSE_LEVEL=0.5; DN=LLAMA_WISPARSE_ENABLE=0
    if [ "${MODE:-prof}" = prof ]; then
        build_p 16 "llama-bench llama-quantize" & P1=$!
        gen l8b8-f16.gguf "--n-layer 8" & P4=$!
        wait $P1; RCP=$?; wait $P4
        [ $RCP -eq 0 ] || { log "main end (build failed)"; touch $W/done; exit 0; }
        ( $BP/llama-quantize $F8 $Q8 Q8_0 8 > $W/log/quant-q8.log 2>&1; log "quantize q8_0 rc=$?" ) & Q1=$!
        ( $BP/llama-quantize $F8 $Q4 Q4_K_M 8 > $W/log/quant-q4.log 2>&1; log "quantize q4_k_m rc=$?" ) & Q2=$!
        prof f16-dense $F8 $DN
        prof f16-sparse $F8 $L5
        wait $Q1 $Q2
        bench_one $BP $F8 "f16 8L dense (ENABLE=0)" $DN
        bench_one $BP $F8 "f16 8L sparse 0.5" $L5
        prof q8-dense $Q8 $DN
        prof q8-sparse $Q8 $L5
        prof q4-dense $Q4 $DN
        prof q4-sparse $Q4 $L5
        bench_one $BP $Q8 "q8_0 8L dense (ENABLE=0)" $DN
        bench_one $BP $Q8 "q8_0 8L sparse 0.5" $L5
        bench_one $BP $Q4 "q4_k_m 8L dense (ENABLE=0)" $DN
        bench_one $BP $Q4 "q4_k_m 8L sparse 0.5" $L5
    fi
    if [ "${MODE:-prof}" = fix ]; then
        build_p 16 "test-backend-ops llama-bench llama-quantize" & P1=$!
        gen l8b8-f16.gguf "--n-layer 8" & P4=$!
        wait $P1; RCP=$?; wait $P4
        [ $RCP -eq 0 ] || { log "main end (build failed)"; touch $W/done; exit 0; }
        ( $BP/llama-quantize $F8 $Q8 Q8_0 8 > $W/log/quant-q8.log 2>&1; log "quantize q8_0 rc=$?" ) & Q1=$!
        ( $BP/llama-quantize $F8 $Q4 Q4_K_M 8 > $W/log/quant-q4.log 2>&1; log "quantize q4_k_m rc=$?" ) & Q2=$!
        test_one LLAMA_X=1 ""
        test_one GGML_CUDA_SPARSE_NO_CLUSTER=1 'add='
        test_one "GGML_CUDA_SPARSE_RED_PAR=0 GGML_CUDA_SPARSE_FUSE_ADD=0 GGML_CUDA_SPARSE_FUSE_GLU=0" 'add='
        wait $Q1 $Q2
        OLD="GGML_CUDA_SPARSE_FUSE_ADD=0 GGML_CUDA_SPARSE_FUSE_GLU=0 GGML_CUDA_SPARSE_RED_PAR=0"
        bench_one $BP $F8 "f16 8L dense (ENABLE=0)" $DN
        bench_one $BP $F8 "f16 8L sparse 0.5 [master: $OLD]" $L5 $OLD
        bench_one $BP $F8 "f16 8L sparse 0.5 [ADD only]" $L5 GGML_CUDA_SPARSE_FUSE_GLU=0 GGML_CUDA_SPARSE_RED_PAR=0
        bench_one $BP $F8 "f16 8L sparse 0.5 [ADD+GLU, RED_PAR=0]" $L5 GGML_CUDA_SPARSE_RED_PAR=0
        bench_one $BP $F8 "f16 8L sparse 0.5 [new default]" $L5
        bench_one $BP $Q8 "q8_0 8L dense (ENABLE=0)" $DN
        bench_one $BP $Q8 "q8_0 8L sparse 0.5 [master]" $L5 $OLD
        bench_one $BP $Q8 "q8_0 8L sparse 0.5 [new default]" $L5
        bench_one $BP $Q4 "q4_k_m 8L dense (ENABLE=0)" $DN
        bench_one $BP $Q4 "q4_k_m 8L sparse 0.5 [master]" $L5 $OLD
        bench_one $BP $Q4 "q4_k_m 8L sparse 0.5 [new default]" $L5
        bench_one $BP $F8 "f16 8L sparse 0.5 [new default, NO_CLUSTER=1]" $L5 GGML_CUDA_SPARSE_NO_CLUSTER=1
        bench_one $BP $F8 "f16 8L sparse 0.5 [master] again" $L5 $OLD
        bench_one $BP $F8 "f16 8L sparse 0.5 [new default] again" $L5
        bench_one $BP $Q8 "q8_0 8L sparse 0.5 [master] again" $L5 $OLD
        bench_one $BP $Q8 "q8_0 8L sparse 0.5 [new default] again" $L5
        if left; then
            timeout 100 compute-sanitizer --tool racecheck $BP/test-backend-ops -o MUL_MAT_SPARSE -b CUDA0 -p 'add=mm\+r,type_a=(f16|q8_0|q4_K|q6_K),m=(256|61|62),n=1,' > $W/log/san-race.log 2>&1
            log "racecheck rc=$?: $(grep -E 'tests passed|RACECHECK SUMMARY' $W/log/san-race.log | tr '\n' ' ')"
        fi
        if left; then
            timeout 100 compute-sanitizer --tool memcheck $BP/test-backend-ops -o MUL_MAT_SPARSE -b CUDA0 -p '(add=r\+mm|glu=1,add=none),type_a=(f16|q8_0|q4_K|f32),m=(256|61|62),n=1,' > $W/log/san-mem.log 2>&1
            log "memcheck rc=$?: $(grep -E 'tests passed|ERROR SUMMARY' $W/log/san-mem.log | tr '\n' ' ')"
        fi
        prof f16-sparse-new $F8 $L5
        prof q8-sparse-new $Q8 $L5
        if left; then
            timeout 100 ncu --clock-control none --cache-control none --section SpeedOfLight --section WarpStateStats --section Occupancy --section LaunchStats \
                -k regex:mul_mat_sparse_vec_flat --launch-skip 60 --launch-count 4 $BP/llama-bench -m $F8 -ngl 99 -p 0 -n 4 -r 1 > $W/log/ncu-detail-f16.txt 2>&1
            log "ncu detail rc=$?"
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
    [ -n "$OUT" ] && { cp $S $W/log/bench.log $OUT/ 2>/dev/null; tar -czf $OUT/logs.tgz -C $W log 2>/dev/null; }
done
