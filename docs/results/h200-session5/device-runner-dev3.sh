#!/bin/bash
# device runner, session 5: bash .devcarry/dev3.sh start|SECS
# main3 (background): patched + stock CUDA builds, the 8B-shape F16 model (GPU draw) + Q8_0, test-backend-ops,
# llama-bench stock vs sparse (0.5, 0, 0.4) for F16 and Q8_0, op perf of F16/Q8_0 decode
source "$(dirname "$0")/dev2.sh"
build_p() {
    [ -f $W/build-p/build.ninja ] || cmake -S $W/src -B $W/build-p $CONF -DLLAMA_BUILD_TESTS=ON > $W/log/build-p.log 2>&1
    cmake --build $W/build-p -j${1:-10} --target test-backend-ops llama-bench llama-quantize >> $W/log/build-p.log 2>&1
    local rc=$?; log "build patched rc=$rc"
    [ $rc -eq 0 ] || grep -B2 -A10 "error" $W/log/build-p.log | head -40 | tee -a "$S"
    return $rc
}
gen3() {
    mkdir -p $M
    (cd $W/repo && timeout 900 python3 tools/make_random_gguf.py $M/l8b-f16.gguf --shape llama3-8b --outtype f16 \
        --levels 0,0.4,0.5,0.6 --level 0.5 --weights-on cuda > $W/log/gen.log 2>&1)
    log "gen f16 rc=$? $(ls -la $M/l8b-f16.gguf 2>&1)"; tail -3 $W/log/gen.log >> "$S"
}
tests3() {
    timeout 240 $BP/test-backend-ops -o MUL_MAT_SPARSE -b CUDA0 > $W/log/t.tmp 2>&1
    rc=$?; cat $W/log/t.tmp >> $W/log/test.log
    log "test-backend-ops rc=$rc: $(grep -c ': OK' $W/log/t.tmp) OK, $(grep -c 'FAIL' $W/log/t.tmp) FAIL; $(grep 'tests passed' $W/log/t.tmp)"
    grep FAIL $W/log/t.tmp | head -12 | tee -a "$S"
}
bench3() {
    for t in f16 q8_0; do
        [ -f $M/l8b-$t.gguf ] || { log "no model $t"; continue; }
        bench_one $BS $M/l8b-$t.gguf "$t stock" LLAMA_X=1
        for lv in 0.5 0 0.4; do
            bench_one $BP $M/l8b-$t.gguf "$t sparse $lv" LLAMA_WISPARSE_LEVEL=$lv
        done
    done
}
perf3() {
    local PS='type_a=(f16|q8_0),type_b=f32,m=(4096|1024|14336),n=1,k=(4096|14336),bs=\[1,1\],nr=\[1,1\],per=\[0,1,2,3\],k_v=0,o=1'
    timeout 120 $BP/test-backend-ops perf -o MUL_MAT_SPARSE -b CUDA0 -p 'type_a=(f16|q8_0),.*n=1,' > $W/log/perf.log 2>&1
    timeout 60 $BP/test-backend-ops perf -o MUL_MAT -b CUDA0 -p "$PS" >> $W/log/perf.log 2>&1
    grep -E "MUL_MAT" $W/log/perf.log | sed -E 's/ +/ /g' | cut -c1-170 | tee -a "$S"
}
case $1 in
start)
    rm -f $W/done; rm -rf $W/repo && mkdir -p $W/repo && cp -r .devcarry wisparse_gguf tools $W/repo/
    (setsid nohup bash $W/repo/.devcarry/dev3.sh main3 > $W/log/main.out 2>&1 < /dev/null &)
    echo "launched main3"; shift
    ;;
main3)
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee -a "$S"
    mkdir -p $W/src $W/stock $W/site
    tar -xzf $W/repo/.devcarry/src.tar.gz -C $W/src && tar -xzf $W/repo/.devcarry/stock.tar.gz -C $W/stock
    python3 -c 'import gguf' 2>/dev/null || python3 -m pip install -q --no-index --no-deps --no-compile --target $W/site $W/repo/.devcarry/whl/*.whl
    export PYTHONPATH=$W/site
    build_p 10 & P1=$!
    build_s & P2=$!
    gen3 & P3=$!
    wait $P1; RCP=$?
    [ $RCP -eq 0 ] && tests3
    wait $P3
    if [ $RCP -eq 0 ]; then
        $BP/llama-quantize $M/l8b-f16.gguf $M/l8b-q8_0.gguf Q8_0 16 > $W/log/quant.log 2>&1; log "quantize q8_0 rc=$?"
    fi
    wait $P2
    [ $RCP -eq 0 ] && { bench3; perf3; }
    log "main3 end ($(( $(date +%s) - T0 )) s)"; touch $W/done
    exit 0
    ;;
esac
for phase in "$@"; do
    end=$(( T0 + phase ))
    while [ ! -f $W/done ] && [ $(date +%s) -lt $end ]; do sleep 5; done
    tail -n ${TAILN:-30} $S
    [ -f $W/done ] && echo "DONE" || echo "running"
    [ -n "$OUT" ] && cp -r $W/log $OUT/ 2>/dev/null
done
