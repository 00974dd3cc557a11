#!/bin/bash
# device runner of session 18 (final): dev branch s18 (= ggml-patch/ as committed: the K-quant decode kernel reads per
# quad a row of channel offsets computed in phase 1) and the pristine source, both built on the H200 with flash
# attention. 32-layer 8B-shape files (F16 drawn on the GPU, Q8_0 and Q4_K_M by llama-quantize). test-backend-ops (all
# sparse cases), compute-sanitizer racecheck and memcheck on one-token Q8_0 / Q4_K / Q6_K cases, then llama-bench:
# every type stock vs sparse 0.5 (pp512 + tg128), every type at 0 / 0.4 / 0.6, a second round of the pairs, an ncu
# token table of Q4_K_M at 0.5.
#   DEADLINE=790 OUT=$OUT bash .devcarry-s18f/dev.sh start 585     (carry .devcarry-s18f)
#   OUT=$OUT bash /tmp/w/repo/.devcarry-s18f/dev.sh 230
W=/tmp/w
D=.devcarry-s18f
mkdir -p $W/log
S=$W/log/summary.txt
T0=$(date +%s)
log() { echo "[$(date +%H:%M:%S) +$(( $(date +%s) - ${TM:-$T0} ))s] $*" | tee -a "$S"; }
export PYTHONUNBUFFERED=1
BP=$W/build-p/bin
BS=$W/build-s/bin
M=$W/models
CONF="-G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
el() { echo $(( $(date +%s) - ${TM:-$T0} )); }
need() { [ $(( $(el) + $1 )) -lt ${DEADLINE:-1000} ]; }
# sanitizer cases: F16 (FLAT16 kernel: runs, single, ADD, SWIGLU+ADD, norm) and Q8_0 at 1 token, small shapes
SAN='type_a=\[?(q8_0|q4_K|q5_K|q6_K),.*m=(256|\[256,64,64\]),n=1,k=4096,'

build() { # dir srcdir jobs targets extra-conf
    local bl=$W/log/$(basename $1).log t=$(date +%s)
    cmake -S $2 -B $1 $CONF $5 > $bl 2>&1
    cmake --build $1 -j$3 --target $4 >> $bl 2>&1
    local rc=$?; log "build $(basename $1) rc=$rc in $(( $(date +%s) - t )) s"
    [ $rc -eq 0 ] || grep -B2 -A10 "error" $bl | head -40 | tee -a "$S"
    return $rc
}
gen() { # file extra-args
    mkdir -p $M
    (cd $W/repo && timeout 700 python3 tools/make_random_gguf.py $M/$1 --shape llama3-8b --outtype f16 \
        --levels 0,0.4,0.5,0.6 --level 0.5 --weights-on cuda $2 > $W/log/gen-$1.log 2>&1)
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
san() { # label env [pattern]
    local label=$1 cfg=$2 SAN=${3:-$SAN}
    need 100 || { log "skip sanitizers $label (deadline)"; return; }
    env $cfg timeout 100 compute-sanitizer --tool racecheck $BP/test-backend-ops -o MUL_MAT_SPARSE -b CUDA0 -p "$SAN" > $W/log/san-race-$label.log 2>&1
    log "racecheck $label [$cfg] rc=$?: $(grep -E 'tests passed|RACECHECK SUMMARY' $W/log/san-race-$label.log | tr '\n' ' ')"
    env $cfg timeout 100 compute-sanitizer --tool memcheck $BP/test-backend-ops -o MUL_MAT_SPARSE -b CUDA0 -p "$SAN" > $W/log/san-mem-$label.log 2>&1
    log "memcheck $label [$cfg] rc=$?: $(grep -E 'tests passed|ERROR SUMMARY' $W/log/san-mem-$label.log | tr '\n' ' ')"
}
bench_one() { # bin model label secs-needed llama-bench-extra env...
    local bin=$1 f=$2 label=$3 secs=$4 extra=$5; shift 5
    [ -f $f ] || { log "no model $f"; return; }
    [ -x $bin/llama-bench ] || { log "no $bin/llama-bench"; return; }
    need $secs || { log "skip $label (deadline)"; return; }
    local pn=${PN:-"-p 0 -n 128"}
    echo "### $label: env $* $bin/llama-bench -m $(basename $f) -ngl 99 $pn -r 3 $extra ($(uptime))" >> $W/log/bench.log
    env "$@" timeout $(( secs + 60 )) $bin/llama-bench -m $f -ngl 99 $pn -r 3 $extra -o md > $W/log/b.out 2> $W/log/b.err
    local rc=$?
    cat $W/log/b.out >> $W/log/bench.log
    local line=$(grep -E '^\| ' $W/log/b.out | grep -E 'tg128|pp512' | tail -1)
    log "bench $label rc=$rc: $(echo "$line" | awk -F'|' '{print $(NF-2), $(NF-1)}')"
}
tok() { # label model env...   ncu: every kernel of the decode, per-token sums (ncu_table.py, last 4 tokens)
    local label=$1 f=$2; shift 2
    need 90 || { log "skip ncu $label (deadline)"; return; }
    env "$@" timeout 150 ncu --clock-control none --cache-control none --graph-profiling node \
        --metrics gpu__time_duration.sum,dram__bytes_read.sum --csv --print-units base --log-file $W/log/tok-$label.csv \
        --launch-count 900 $BP/llama-bench -m $f -ngl 99 -p 0 -n 9 -r 1 > $W/log/tok-$label.out 2>&1
    log "ncu tok $label rc=$? ($*)"
    python3 $W/repo/$D/ncu_table.py $W/log/tok-$label.csv 4 > $W/log/tok-$label.txt 2>&1
    head -${TOKN:-22} $W/log/tok-$label.txt | tee -a "$S"
}
case $1 in
start)
    rm -f $W/done; rm -rf $W/repo && mkdir -p $W/repo && cp -r $D tools $W/repo/ && cp -r wisparse_gguf $W/repo/ 2>/dev/null
    (TM=$T0 setsid nohup bash $W/repo/$D/dev.sh main > $W/log/main.out 2>&1 < /dev/null &)
    echo "launched main"; shift
    ;;
main)
    export TM=${TM:-$T0}
    DEADLINE=${DEADLINE:-1080}
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv,noheader | tee -a "$S"
    nproc | tee -a "$S"
    mkdir -p $W/src $W/stock $W/site
    tar -xzf $W/repo/$D/src.tar.gz -C $W/src
    tar -xzf $W/repo/$D/stock.tar.gz -C $W/stock
    python3 -c 'import gguf, tqdm, yaml' 2>/dev/null || python3 -m pip install -q --no-index --no-deps --no-compile --target $W/site $W/repo/$D/whl/*.whl
    export PYTHONPATH=$W/site
    F=$M/l8b-f16.gguf; Q8=$M/l8b-q8_0.gguf; Q4=$M/l8b-q4_k_m.gguf
    QW=GGML_CUDA_SPARSE_Q8_WIDE=0; L5=LLAMA_WISPARSE_LEVEL=0.5
    build $W/build-p $W/src 16 "test-backend-ops llama-bench llama-quantize llama-perplexity llama-completion" "-DLLAMA_BUILD_TESTS=ON -DCMAKE_CUDA_FLAGS=-lineinfo" & P1=$!
    ( renice -n 10 $BASHPID > /dev/null; build $W/build-s $W/stock 16 llama-bench -DLLAMA_BUILD_TESTS=OFF ) & P2=$!
    ( gen l8b-f16.gguf "" ) & P4=$!
    wait $P1; RCP=$?
    [ $RCP -eq 0 ] || { log "main end (patched build failed)"; touch $W/done; exit 0; }
    wait $P4
    ( quant l8b-f16.gguf l8b-q8_0.gguf Q8_0 8 ) & Q0=$!
    ( quant l8b-f16.gguf l8b-q4_k_m.gguf Q4_K_M 8 ) & Q1=$!
    test_one all "LLAMA_X=1" ""
    # the new case (16 rows per lane, splits of less than a chunk) under memcheck, while the stock build runs
    need 120 && { timeout 110 compute-sanitizer --tool memcheck $BP/test-backend-ops -o MUL_MAT_SPARSE -b CUDA0 -p 'type_a=q[456]_K,m=4352,n=1,k=14336' > $W/log/san-mem-big.log 2>&1
      log "memcheck big rc=$?: $(grep -E 'tests passed|ERROR SUMMARY' $W/log/san-mem-big.log | tr '\n' ' ')"; grep -m3 -A6 "Invalid\|error" $W/log/san-mem-big.log | head -24 | tee -a "$S"; }
    wait $P2 $Q0 $Q1
    log "phase 3 (timed benches, one at a time on the GPU; llama-bench default -fa = auto)"
    PN="-p 512 -n 128"
    for T in q4_k_m q8_0 f16; do
        f=$M/l8b-$T.gguf
        bench_one $BS $f "$T 32L stock" 40 ""
        bench_one $BP $f "$T 32L sparse 0.5" 45 "" $L5
    done
    PN="-p 0 -n 128"
    for T in q4_k_m q8_0 f16; do
        for L in 0.4 0.6 0; do
            bench_one $BP $M/l8b-$T.gguf "$T 32L sparse $L" 30 "" LLAMA_WISPARSE_LEVEL=$L
        done
    done
    bench_one $BS $Q4 "q4_k_m 32L stock again" 30 ""
    bench_one $BP $Q4 "q4_k_m 32L sparse 0.5 again" 30 "" $L5
    bench_one $BS $Q8 "q8_0 32L stock again" 30 ""
    bench_one $BP $Q8 "q8_0 32L sparse 0.5 again" 30 "" $L5
    bench_one $BS $F "f16 32L stock again" 30 ""
    bench_one $BP $F "f16 32L sparse 0.5 again" 30 "" $L5
    san default "LLAMA_X=1"
    TOKN=24 tok q4-0.5 $Q4 $L5

    log "main end"; touch $W/done
    exit 0
    ;;
parity)
    cat $W/smol/smol.part0 $W/smol/smol.part1 $W/smol/smol.part2 $W/smol/smol.part3 > $W/smol.gguf 2>/dev/null
    if [ "$(sha256sum $W/smol.gguf | awk '{print $1}')" != "$(cat $W/repo/$D/smol.sha256)" ]; then
        echo "parity: SmolLM2 file incomplete ($(ls $W/smol 2>&1 | tr '\n' ' '))" | tee -a "$S"; exit 1
    fi
    for lv in ${PLV:-0.5}; do
        timeout 400 python3 $W/repo/tools/parity.py $W/smol.gguf --bin $BP --text $W/repo/$D/lambada-300k.txt \
            --run cpu="LLAMA_WISPARSE_LEVEL=$lv -dev none -fa off -t 16" --run cpu-fa="LLAMA_WISPARSE_LEVEL=$lv -dev none -fa on -t 16" \
            --run cpu-t8="LLAMA_WISPARSE_LEVEL=$lv -dev none -fa off -t 8" --run gpu="LLAMA_WISPARSE_LEVEL=$lv -ngl 99 -fa off" \
            --run gpu-fa="LLAMA_WISPARSE_LEVEL=$lv -ngl 99 -fa on" \
            $([ $lv = 0.5 ] && echo --dense) --greedy 32 --json $W/log/parity-$lv.json 2>&1 | tee -a "$S"
    done
    [ -n "$OUT" ] && cp $S $W/log/parity-*.json $OUT/ 2>/dev/null
    exit 0
    ;;
esac
for phase in "$@"; do
    end=$(( T0 + phase ))
    while [ ! -f $W/done ] && [ $(date +%s) -lt $end ]; do sleep 5; done
    cat $S
    [ -f $W/done ] && echo "DONE" || echo "running"
    [ -n "$OUT" ] && { cp $S $W/log/bench.log $OUT/ 2>/dev/null; tar -czf $OUT/logs.tgz --exclude='*.csv' -C $W log 2>/dev/null; }
done
