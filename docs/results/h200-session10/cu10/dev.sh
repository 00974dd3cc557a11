#!/bin/bash
# device runner, session 10 helper cu10 (branch cu10: Q8_0 / F16 one-token decode variants behind env switches)
#   bash .devcarry-cu10/dev.sh start SECS   then, within 30 s of its end,   bash .devcarry-cu10/dev.sh SECS   (polls)
# main (background): patched + stock CUDA builds; 8B-shape F16 (32 layers, GPU draw, levels 0.4/0.5) -> Q8_0, Q4_K_M;
# an 8-layer 8B-shape F16 for the F16 kernel A/B (loading the 32-layer F16 sparse file takes ~70 s: CPU re-layout);
# test-backend-ops MUL_MAT_SPARSE (default; each new variant on its types); llama-bench -p 0 -n 128 -r 3:
# Q8_0 A/B (GGML_CUDA_SPARSE_Q8=0/1/2), F16 A/B on 8 layers (GGML_CUDA_SPARSE_F16R, GGML_CUDA_SPARSE_VEC=flat), then
# stock vs patched (best variants) F16 at 0.5 and 0.4, Q4_K_M at 0.5. Steps after DEADLINE seconds are skipped.
W=/tmp/w
D=.devcarry-cu10
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
TG=0
bench_one() { # bin model label env...  (sets TG to the tg128 mean)
    local bin=$1 f=$2 label=$3; shift 3
    TG=0
    [ -f $f ] || { log "no model $f"; return; }
    left || { log "skip $label (deadline)"; return; }
    echo "### $label: env $* llama-bench -m $(basename $f) -ngl 99 -p 0 -n 128 -r 3" >> $W/log/bench.log
    env "$@" timeout 120 $bin/llama-bench -m $f -ngl 99 -p 0 -n 128 -r 3 -o md > $W/log/b.out 2> $W/log/b.err
    local rc=$?
    cat $W/log/b.out >> $W/log/bench.log
    grep -i "wisparse" $W/log/b.err | head -3 >> $W/log/bench.log
    local line=$(grep -E '^\| ' $W/log/b.out | grep tg128 | tail -1)
    TG=$(echo "$line" | awk -F'|' '{print $(NF-1)}' | awk '{print $1}')
    [ -n "$TG" ] || TG=0
    log "bench $label rc=$rc: tg128 $(echo "$line" | awk -F'|' '{print $(NF-1)}')"
}
best() { # prints the env of the highest TG among "tg env" lines on stdin
    sort -g -r | head -1 | cut -d' ' -f2-
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
    gen l8b-f16.gguf "" & P3=$!
    gen l8b8-f16.gguf "--n-layer 8" & P4=$!
    wait $P1; RCP=$?
    wait $P3
    if [ $RCP -eq 0 ]; then
        ( $BP/llama-quantize $M/l8b-f16.gguf $M/l8b-q8_0.gguf Q8_0 8 > $W/log/quant-q8.log 2>&1; log "quantize q8_0 rc=$?";
          $BP/llama-quantize $M/l8b-f16.gguf $M/l8b-q4_k_m.gguf Q4_K_M 8 > $W/log/quant-q4.log 2>&1; log "quantize q4_k_m rc=$?" ) & Q1=$!
        test_one LLAMA_X=1 ""
        test_one GGML_CUDA_SPARSE_Q8=1 'type_a=(q8_0|\[q8_0)'
        test_one GGML_CUDA_SPARSE_Q8=2 'type_a=(q8_0|\[q8_0)'
        test_one "GGML_CUDA_SPARSE_F16R=1 GGML_CUDA_SPARSE_VEC=flat" 'type_a=(f16|bf16|\[f16|\[bf16)'
        test_one "GGML_CUDA_SPARSE_EARLY_LC=1 GGML_CUDA_SPARSE_Q8=1" 'type_a=\['
        wait $Q1
    fi
    wait $P2 $P4
    if [ $RCP -eq 0 ]; then
        F=$M/l8b-f16.gguf; F8=$M/l8b8-f16.gguf; Q8=$M/l8b-q8_0.gguf; Q4=$M/l8b-q4_k_m.gguf
        L5=LLAMA_WISPARSE_LEVEL=0.5
        bench_one $BS $Q8 "q8_0 stock" LLAMA_X=1; S_Q8=$TG
        : > $W/log/q8ab.txt
        for v in 0 1 2; do
            bench_one $BP $Q8 "q8_0 sparse 0.5 [Q8=$v]" $L5 GGML_CUDA_SPARSE_Q8=$v; echo "$TG GGML_CUDA_SPARSE_Q8=$v" >> $W/log/q8ab.txt
        done
        QB=$(best < $W/log/q8ab.txt)
        bench_one $BP $Q8 "q8_0 sparse 0.5 [$QB EARLY_LC=1]" $L5 $QB GGML_CUDA_SPARSE_EARLY_LC=1; echo "$TG $QB GGML_CUDA_SPARSE_EARLY_LC=1" >> $W/log/q8ab.txt
        QB=$(best < $W/log/q8ab.txt); log "q8_0 best: $QB (stock $S_Q8)"
        EL=LLAMA_X=1; echo "$QB" | grep -q EARLY_LC && EL=GGML_CUDA_SPARSE_EARLY_LC=1
        : > $W/log/f16ab.txt
        bench_one $BS $F8 "f16 8-layer stock" LLAMA_X=1
        for v in "LLAMA_X=1" "GGML_CUDA_SPARSE_F16R=1" "GGML_CUDA_SPARSE_VEC=flat" "GGML_CUDA_SPARSE_VEC=flat GGML_CUDA_SPARSE_F16R=1"; do
            bench_one $BP $F8 "f16 8-layer sparse 0.5 [$v]" $L5 $v; echo "$TG $v" >> $W/log/f16ab.txt
        done
        FB=$(best < $W/log/f16ab.txt)
        bench_one $BP $F8 "f16 8-layer sparse 0.5 [$FB EARLY_LC=1]" $L5 $FB GGML_CUDA_SPARSE_EARLY_LC=1; echo "$TG $FB GGML_CUDA_SPARSE_EARLY_LC=1" >> $W/log/f16ab.txt
        FB=$(best < $W/log/f16ab.txt); log "f16 best (8 layers): $FB"
        bench_one $BS $F  "f16 stock" LLAMA_X=1
        bench_one $BP $F  "f16 sparse 0.5 [$FB]" $L5 $FB
        bench_one $BP $F  "f16 sparse 0.4 [$FB]" LLAMA_WISPARSE_LEVEL=0.4 $FB
        bench_one $BS $Q4 "q4_k_m stock" LLAMA_X=1
        bench_one $BP $Q4 "q4_k_m sparse 0.5 [$EL]" $L5 $EL
        [ "$FB" != "LLAMA_X=1" ] && bench_one $BP $F "f16 sparse 0.5 [master default]" $L5
        [ "$QB" != "GGML_CUDA_SPARSE_Q8=0" ] && test_one "GGML_CUDA_SPARSE_NO_CLUSTER=1 $QB" 'type_a=(q8_0|\[q8_0)'
        [ "$QB" != "GGML_CUDA_SPARSE_Q8=0" ] && bench_one $BP $Q8 "q8_0 sparse 0.5 [$QB] again" $L5 $QB
        bench_one $BS $Q8 "q8_0 stock again" LLAMA_X=1
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
