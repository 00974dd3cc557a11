#!/bin/bash
# device runner, session 9 final (branch dev9 = master + cupp: K-quant prompt dequantization; threshold-0 tensors dense)
#   bash .devcarry9/dev.sh start SECS   then, within 30 s of its end,   bash .devcarry9/dev.sh SECS   (polls)
# main (background): patched + stock CUDA builds, 8B-shape F16 (GPU draw, levels 0/0.4/0.5/0.6) -> Q8_0, Q4_K_M;
# test-backend-ops MUL_MAT_SPARSE (default; no clusters; fused cases without fusion); llama-bench -p 512 -n 128 -r 3,
# stock vs sparse, F16 / Q8_0 / Q4_K_M at 0.5, F16 at 0.4 and 0.6, Q4_K_M at level 0.
# Steps after DEADLINE seconds are skipped (device budget).
W=/tmp/w
D=.devcarry9
mkdir -p $W/log
S=$W/log/summary.txt
T0=$(date +%s)
log() { echo "[$(date +%H:%M:%S) +$(( $(date +%s) - T0 ))s] $*" | tee -a "$S"; }
export PYTHONUNBUFFERED=1
BP=$W/build-p/bin
BS=$W/build-s/bin
M=$W/models
CONF="-G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DGGML_CUDA_FA=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
left() { [ $(( $(date +%s) - T0 )) -lt ${DEADLINE:-900} ]; }

build_p() {
    cmake -S $W/src -B $W/build-p $CONF -DLLAMA_BUILD_TESTS=ON > $W/log/build-p.log 2>&1
    cmake --build $W/build-p -j9 --target test-backend-ops llama-bench llama-quantize >> $W/log/build-p.log 2>&1
    local rc=$?; log "build patched rc=$rc"
    [ $rc -eq 0 ] || grep -B2 -A10 "error" $W/log/build-p.log | head -40 | tee -a "$S"
    return $rc
}
build_s() {
    cmake -S $W/stock -B $W/build-s $CONF -DLLAMA_BUILD_TESTS=OFF > $W/log/build-s.log 2>&1
    cmake --build $W/build-s -j7 --target llama-bench >> $W/log/build-s.log 2>&1
    log "build stock rc=$?"
}
gen() {
    mkdir -p $M
    (cd $W/repo && timeout 600 python3 tools/make_random_gguf.py $M/l8b-f16.gguf --shape llama3-8b --outtype f16 \
        --levels 0,0.4,0.5,0.6 --level 0.5 --weights-on cuda > $W/log/gen.log 2>&1)
    log "gen f16 rc=$? $(ls -la $M/l8b-f16.gguf 2>&1)"; tail -c 200 $W/log/gen.log >> "$S"; echo >> "$S"
}
test_one() { # label env pattern
    local cfg=$1 pat=$2
    left || { log "skip test [$cfg] (deadline)"; return; }
    if [ -n "$pat" ]; then
        env $cfg timeout 150 $BP/test-backend-ops -o MUL_MAT_SPARSE -b CUDA0 -p "$pat" > $W/log/t-$cfg.log 2>&1
    else
        env $cfg timeout 150 $BP/test-backend-ops -o MUL_MAT_SPARSE -b CUDA0 > $W/log/t-$cfg.log 2>&1
    fi
    rc=$?
    log "test-backend-ops [$cfg ${pat:+-p $pat}] rc=$rc: $(grep -c 'FAIL' $W/log/t-$cfg.log) FAIL; $(grep 'tests passed' $W/log/t-$cfg.log)"
    grep FAIL $W/log/t-$cfg.log | head -12 | tee -a "$S"
}
bench_one() { # bin model label pp env...
    local bin=$1 f=$2 label=$3 pp=$4; shift 4
    [ -f $f ] || { log "no model $f"; return; }
    left || { log "skip $label (deadline)"; return; }
    echo "### $label: env $* llama-bench -m $(basename $f) -ngl 99 -p $pp -n 128 -r 3" >> $W/log/bench.log
    env "$@" timeout 100 $bin/llama-bench -m $f -ngl 99 -p $pp -n 128 -r 3 -o md >> $W/log/bench.log 2> $W/log/b.err
    local rc=$?
    grep -i "wisparse" $W/log/b.err | head -2 >> $W/log/bench.log
    log "bench $label rc=$rc: $(grep -E '^\| ' $W/log/bench.log | grep -E 'pp512|tg128' | tail -$([ $pp = 0 ] && echo 1 || echo 2) | awk -F'|' '{printf "%s %s; ", $(NF-2), $(NF-1)}')"
}
case $1 in
start)
    rm -f $W/done; rm -rf $W/repo && mkdir -p $W/repo && cp -r $D wisparse_gguf tools $W/repo/
    (setsid nohup bash $W/repo/$D/dev.sh main > $W/log/main.out 2>&1 < /dev/null &)
    echo "launched main"; shift
    ;;
main)
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv,noheader | tee -a "$S"
    mkdir -p $W/src $W/stock $W/site
    tar -xzf $W/repo/$D/src.tar.gz -C $W/src && tar -xzf $W/repo/$D/stock.tar.gz -C $W/stock
    python3 -c 'import gguf' 2>/dev/null || python3 -m pip install -q --no-index --no-deps --no-compile --target $W/site $W/repo/$D/whl/*.whl
    export PYTHONPATH=$W/site
    build_p & P1=$!
    build_s & P2=$!
    gen & P3=$!
    wait $P1; RCP=$?
    wait $P3
    if [ $RCP -eq 0 ]; then
        ( $BP/llama-quantize $M/l8b-f16.gguf $M/l8b-q4_k_m.gguf Q4_K_M 8 > $W/log/quant-q4.log 2>&1; log "quantize q4_k_m rc=$?" ) & Q2=$!
        ( $BP/llama-quantize $M/l8b-f16.gguf $M/l8b-q8_0.gguf Q8_0 6 > $W/log/quant-q8.log 2>&1; log "quantize q8_0 rc=$?" ) & Q1=$!
        test_one LLAMA_X=1 ""
        wait $Q1 $Q2
    fi
    wait $P2
    if [ $RCP -eq 0 ]; then
        F=$M/l8b-f16.gguf; Q8=$M/l8b-q8_0.gguf; Q4=$M/l8b-q4_k_m.gguf
        bench_one $BS $Q4 "q4_k_m stock"        512 LLAMA_X=1
        bench_one $BP $Q4 "q4_k_m sparse 0.5"   512 LLAMA_WISPARSE_LEVEL=0.5
        bench_one $BS $F  "f16 stock"           512 LLAMA_X=1
        bench_one $BP $F  "f16 sparse 0.5"      512 LLAMA_WISPARSE_LEVEL=0.5
        bench_one $BS $Q8 "q8_0 stock"          512 LLAMA_X=1
        bench_one $BP $Q8 "q8_0 sparse 0.5"     512 LLAMA_WISPARSE_LEVEL=0.5
        bench_one $BP $Q4 "q4_k_m sparse 0"     512 LLAMA_WISPARSE_LEVEL=0
        bench_one $BP $F  "f16 sparse 0.4"      0   LLAMA_WISPARSE_LEVEL=0.4
        bench_one $BP $F  "f16 sparse 0.6"      0   LLAMA_WISPARSE_LEVEL=0.6
        bench_one $BS $Q4 "q4_k_m stock (again)" 512 LLAMA_X=1
        bench_one $BP $Q4 "q4_k_m sparse 0.5 (again)" 512 LLAMA_WISPARSE_LEVEL=0.5
        test_one GGML_CUDA_SPARSE_NO_CLUSTER=1 ""
        test_one GGML_CUDA_SPARSE_FUSE=0 'type_a=\['
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
    # at most 8 files come back: the summary, the bench log, the rest packed
    [ -n "$OUT" ] && { cp $S $W/log/bench.log $OUT/ 2>/dev/null; tar -czf $OUT/logs.tgz -C $W log 2>/dev/null; }
done
