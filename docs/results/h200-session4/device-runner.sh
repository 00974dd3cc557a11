#!/bin/bash
# device runner, session 4: bash .devcarry/dev2.sh PHASE...
#   recv        move carried pieces (.devdata/x/*) to /tmp/w/parts
#   start       launch `main` in the background (setsid), return at once
#   poll SECS   wait until main is done or SECS pass; print the summary; copy logs to $OUT
#   main        (background) builds patched + stock, generates the 8B-shape models, tests, parity, benches
#   rebuild     (background) re-extract src.tar.gz over the patched source, rebuild, test, then STEPS
W=/tmp/w
mkdir -p $W/parts $W/log
S=$W/log/summary.txt
T0=$(date +%s)
log() { echo "[$(date +%H:%M:%S)] $*" | tee -a "$S"; }
export PYTHONUNBUFFERED=1
BP=$W/build-p/bin
BS=$W/build-s/bin
M=$W/models
CONF="-G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DGGML_CUDA_FA=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DGGML_NATIVE=ON"

build_p() {
    [ -f $W/build-p/build.ninja ] || cmake -S $W/src -B $W/build-p $CONF -DLLAMA_BUILD_TESTS=ON > $W/log/build-p.log 2>&1
    cmake --build $W/build-p -j${1:-10} --target test-backend-ops test-mul-mat-sparse llama-bench llama-completion llama-quantize >> $W/log/build-p.log 2>&1
    local rc=$?; log "build patched rc=$rc"
    [ $rc -eq 0 ] || grep -B2 -A10 "error" $W/log/build-p.log | head -40 | tee -a "$S"
    return $rc
}
build_s() {
    [ -f $W/build-s/build.ninja ] || cmake -S $W/stock -B $W/build-s $CONF -DLLAMA_BUILD_TESTS=OFF > $W/log/build-s.log 2>&1
    cmake --build $W/build-s -j6 --target llama-bench >> $W/log/build-s.log 2>&1
    log "build stock rc=$?"
}
gen() {
    mkdir -p $M
    (cd $W/repo && timeout 900 python3 .devcarry/gen_model.py $M/l8b-f16.gguf --outtype f16 --levels 0,0.4,0.5,0.6 --level 0.5 > $W/log/gen.log 2>&1)
    log "gen f16 rc=$? $(ls -la $M/l8b-f16.gguf 2>&1)"
}
quant() {
    $BP/llama-quantize $M/l8b-f16.gguf $M/l8b-q8_0.gguf Q8_0 16 > $W/log/quant.log 2>&1; log "quantize q8_0 rc=$?"
    $BP/llama-quantize $M/l8b-f16.gguf $M/l8b-q4_k_m.gguf Q4_K_M 16 >> $W/log/quant.log 2>&1; log "quantize q4_k_m rc=$?"
}
tests() {
    for cfg in "" "GGML_CUDA_SPARSE_NO_CLUSTER=1"; do
        env $cfg timeout 240 $BP/test-backend-ops -o MUL_MAT_SPARSE -b CUDA0 > $W/log/t.tmp 2>&1
        rc=$?; cat $W/log/t.tmp >> $W/log/test.log
        log "test-backend-ops [$cfg] rc=$rc: $(grep -c ': OK' $W/log/t.tmp) OK, $(grep -c 'FAIL' $W/log/t.tmp) FAIL; $(grep 'tests passed' $W/log/t.tmp)"
        grep FAIL $W/log/t.tmp | head -12 | tee -a "$S"
    done
    timeout 200 $BP/test-mul-mat-sparse > $W/log/t.tmp 2>&1; log "test-mul-mat-sparse rc=$? $(tail -1 $W/log/t.tmp)"
}
san() {
    for tool in memcheck racecheck; do
        timeout 200 compute-sanitizer --tool $tool --error-exitcode 7 $BP/test-backend-ops -o MUL_MAT_SPARSE -b CUDA0 \
            -p "${SAN_FILTER:-type_a=(q4_K|q5_K|q6_K|q8_0|f16),.*m=(256|62|33|511),n=(1|2|3|8|33)}" > $W/log/t.tmp 2>&1
        rc=$?; tail -30 $W/log/t.tmp >> $W/log/san.log
        log "sanitizer $tool rc=$rc: $(grep -c ': OK' $W/log/t.tmp) OK, $(grep -c FAIL $W/log/t.tmp) FAIL; $(grep 'ERROR SUMMARY\|RACECHECK SUMMARY' $W/log/t.tmp | tail -1)"
    done
}
parity() { # greedy tokens of the SmolLM2 sparse file, CPU vs GPU
    local f=$W/smol.gguf
    [ -f $f ] || cat $W/parts/s?? > $f
    for ngl in 0 99; do
        timeout 120 $BP/llama-completion -m $f -ngl $ngl -no-cnv -p "The three largest cities of France are" -n 48 --temp 0 \
            --seed 1 -t 8 2> $W/log/parity-$ngl.err > $W/log/parity-$ngl.txt
        log "completion ngl=$ngl rc=$? $(grep -c 'sparse active' $W/log/parity-$ngl.err) sparse-active line(s)"
    done
    if cmp -s $W/log/parity-0.txt $W/log/parity-99.txt; then log "parity: CPU and GPU greedy text identical"; else log "parity: DIFFERENT"; fi
    head -c 400 $W/log/parity-99.txt | tee -a "$S"; echo | tee -a "$S"
}
bench_one() { # bin model label env...
    local bin=$1 f=$2 label=$3; shift 3
    echo "### $label: env $* llama-bench -m $(basename $f) -ngl 99 -n 128 -p 512 -r 3" >> $W/log/bench.log
    env "$@" timeout 240 $bin/llama-bench -m $f -ngl 99 -n 128 -p 512 -r 3 -o md >> $W/log/bench.log 2> $W/log/b.err
    local rc=$?
    grep -i "wisparse" $W/log/b.err | head -4 >> $W/log/bench.log
    log "bench $label rc=$rc: $(grep -E '^\| ' $W/log/bench.log | grep -E 'pp512|tg128' | tail -2 | awk -F'|' '{printf "%s %s; ", $(NF-2), $(NF-1)}')"
}
bench() {
    for t in ${BENCH_TYPES:-q4_k_m q8_0 f16}; do
        [ -f $M/l8b-$t.gguf ] || { log "no model $t"; continue; }
        bench_one $BS $M/l8b-$t.gguf "$t stock" LLAMA_X=1
        for lv in 0.5 0 0.4 0.6; do
            bench_one $BP $M/l8b-$t.gguf "$t sparse $lv" LLAMA_WISPARSE_LEVEL=$lv
        done
    done
}
cpu() { # the CPU op on the device's AVX-512 VNNI CPU: correctness of those paths, then the micro-benchmark at 1 and 2 threads
    lscpu | grep -E "Model name|^CPU\(s\)|L3" | tee -a "$S"
    [ -f $W/build-c/build.ninja ] || cmake -S $W/src -B $W/build-c -G Ninja -DCMAKE_BUILD_TYPE=Release -DLLAMA_BUILD_TESTS=ON \
        -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON \
        -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON -DGGML_AVX512_VBMI=ON \
        -DGGML_AVX_VNNI=ON > $W/log/build-c.log 2>&1
    cmake --build $W/build-c -j${1:-4} --target test-mul-mat-sparse >> $W/log/build-c.log 2>&1 || { log "cpu build failed"; grep -A8 error $W/log/build-c.log | head -20 | tee -a "$S"; return; }
    grep -o "__AVX512VNNI__" $W/build-c/ggml/src/CMakeFiles/*.dir/flags.make 2>/dev/null | head -1
    timeout 300 $W/build-c/bin/test-mul-mat-sparse > $W/log/t-cpu.txt 2>&1; log "cpu test-mul-mat-sparse (AVX-512 VNNI build) rc=$? $(tail -1 $W/log/t-cpu.txt)"
}
kern() {
    for t in ${KERN_TYPES:-Q8_0 Q4_0 F16 Q4_K Q6_K}; do
        (cd $W/repo && timeout 200 python3 tools/bench_kernels.py --bin $W/build-c/bin/test-mul-mat-sparse --types $t --threads 1 2 \
            --stream-mb 512 > $W/log/kern-$t.md 2>> $W/log/kern.err)
        log "kernel bench $t rc=$?"; grep -A8 "thread(s)" $W/log/kern-$t.md | grep "^|" >> "$S"
    done
}
perf() {
    timeout 120 $BP/test-backend-ops perf -o MUL_MAT_SPARSE -b CUDA0 -p "${PERF_FILTER:-type_a=(q4_K|q6_K),.*n=1,}" > $W/log/perf.log 2>&1
    timeout 60 $BP/test-backend-ops perf -o MUL_MAT -b CUDA0 \
        -p 'type_a=(q4_K|q6_K),type_b=f32,m=(4096|1024|14336),n=1,k=(4096|14336),bs=\[1,1\],nr=\[1,1\],per=\[0,1,2,3\],k_v=0,o=1' >> $W/log/perf.log 2>&1
    grep -E "MUL_MAT" $W/log/perf.log | sed -E 's/ +/ /g' | cut -c1-170 | tee -a "$S"
}

for phase in "$@"; do
case $phase in
recv)
    for f in .devdata/x/*; do [ -f "$f" ] && mv "$f" $W/parts/; done
    echo "parts: $(ls $W/parts | tr '\n' ' ')"
    ;;
start|restart)
    [ $phase = start ] && rm -f $W/done
    rm -rf $W/repo && mkdir -p $W/repo && cp -r .devcarry wisparse_gguf tools $W/repo/
    (setsid nohup bash $W/repo/.devcarry/dev2.sh ${MAIN:-main} > $W/log/main.out 2>&1 < /dev/null &)
    echo "launched ${MAIN:-main}"
    ;;
main)
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee -a "$S"
    mkdir -p $W/src $W/stock $W/site
    tar -xzf $W/repo/.devcarry/src.tar.gz -C $W/src && tar -xzf $W/repo/.devcarry/stock.tar.gz -C $W/stock
    python3 -c 'import gguf' 2>/dev/null || python3 -m pip install -q --no-index --no-deps --no-compile --target $W/site $W/repo/.devcarry/whl/*.whl
    export PYTHONPATH=$W/site
    build_p & P1=$!
    build_s & P2=$!
    cpu 4 & P4=$!
    gen & P3=$!
    wait $P1; RCP=$?
    if [ $RCP -eq 0 ]; then tests; parity; fi
    wait $P3
    [ $RCP -eq 0 ] && quant
    wait $P2 $P4
    kern & P5=$!
    [ $RCP -eq 0 ] && { bench; perf; san; }
    wait $P5
    log "main end ($(( $(date +%s) - T0 )) s)"; touch $W/done
    ;;
rebuild)
    rm -f $W/done
    tar -xzf $W/repo/.devcarry/src.tar.gz -C $W/src
    if build_p 16; then
        tests
        for s in ${STEPS:-}; do $s; done
    fi
    log "rebuild end ($(( $(date +%s) - T0 )) s)"; touch $W/done
    ;;
poll)
    ;;
[0-9]*)
    end=$(( T0 + phase ))
    while [ ! -f $W/done ] && [ $(date +%s) -lt $end ]; do sleep 5; done
    tail -n ${TAILN:-25} $S
    [ -f $W/done ] && echo "DONE" || echo "running"
    if [ -n "$OUT" ]; then cp -r $W/log $OUT/ 2>/dev/null; fi
    ;;
esac
done
