#!/bin/bash
# cuda8: fused decode launch of consecutive MUL_MAT_SPARSE nodes (GGML_CUDA_SPARSE_FUSE=0 = off, A/B); benches below.
# device runner for branch cuda7 (L2 prefetch before the grid dependency sync, 16 splits of the per-column kernel;
# NOT yet run on the device):
#   bash .devcarry8/dev8.sh start SECS | SECS        (src.tar.gz = git archive of cuda7, see mk-tar line in NOTES)
# main8 (background): patched + stock CUDA builds (8+8 cores: in run 1 of cuda7 the stock build at -j5 was the
# critical path, 10 min), 8B-shape F16 model (GPU draw) -> Q8_0, Q4_K_M, test-backend-ops MUL_MAT_SPARSE (+ no
# cluster), racecheck on a few cases, llama-bench -p 0 -n 128 -r 3 stock vs sparse 0.5, A/B with
# GGML_CUDA_SPARSE_COL_SPLITS=8 / GGML_CUDA_SPARSE_PREFETCH=0 (same run), then level 0; PROFILE=1: ncu per-kernel times of ~2 decode tokens (untested)
W=/tmp/w
mkdir -p $W/log
S=$W/log/summary.txt
T0=$(date +%s)
log() { echo "[$(date +%H:%M:%S)] $*" | tee -a "$S"; }
export PYTHONUNBUFFERED=1
BP=$W/build-p/bin
BS=$W/build-s/bin
M=$W/models
CONF="-G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DGGML_CUDA_FA=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"

build_p() {
    cmake -S $W/src -B $W/build-p $CONF -DLLAMA_BUILD_TESTS=ON > $W/log/build-p.log 2>&1
    cmake --build $W/build-p -j8 --target test-backend-ops test-mul-mat-sparse llama-bench llama-quantize >> $W/log/build-p.log 2>&1
    local rc=$?; log "build patched rc=$rc"
    [ $rc -eq 0 ] || grep -B2 -A10 "error" $W/log/build-p.log | head -40 | tee -a "$S"
    return $rc
}
build_s() {
    cmake -S $W/stock -B $W/build-s $CONF -DLLAMA_BUILD_TESTS=OFF > $W/log/build-s.log 2>&1
    cmake --build $W/build-s -j8 --target llama-bench >> $W/log/build-s.log 2>&1
    log "build stock rc=$?"
}
gen() {
    mkdir -p $M
    (cd $W/repo && timeout 600 python3 tools/make_random_gguf.py $M/l8b-f16.gguf --shape llama3-8b --outtype f16 \
        --levels 0,0.5 --level 0.5 --weights-on cuda > $W/log/gen.log 2>&1)
    log "gen f16 rc=$? $(ls -la $M/l8b-f16.gguf 2>&1)"; tail -c 300 $W/log/gen.log >> "$S"; echo >> "$S"
}
tests() {
    for cfg in "LLAMA_X=1" "GGML_CUDA_SPARSE_NO_CLUSTER=1" "GGML_CUDA_SPARSE_FUSE=0" "GGML_CUDA_SPARSE_KQ_MB=1"; do
        local pat=""; [ $cfg = GGML_CUDA_SPARSE_FUSE=0 ] && pat="-p type_a=\\["; [ $cfg = GGML_CUDA_SPARSE_KQ_MB=1 ] && pat="-p q[456]_K"
        env $cfg timeout 240 $BP/test-backend-ops -o MUL_MAT_SPARSE -b CUDA0 $pat > $W/log/t.tmp 2>&1
        rc=$?; echo "### $cfg" >> $W/log/test.log; cat $W/log/t.tmp >> $W/log/test.log
        log "test-backend-ops [$cfg] rc=$rc: $(grep -c 'FAIL' $W/log/t.tmp) FAIL; $(grep 'tests passed' $W/log/t.tmp)"
        grep FAIL $W/log/t.tmp | head -12 | tee -a "$S"
    done
}
san() { # a few cases (prefetch on)
    timeout 120 compute-sanitizer --tool racecheck --error-exitcode 7 $BP/test-backend-ops -o MUL_MAT_SPARSE -b CUDA0 \
        -p 'type_a=(q4_K|q8_0),.*m=(256|48),n=(1|2),|type_a=\[(q4_K|q8_0|f16),.*m=\[256,64' > $W/log/t.tmp 2>&1
    rc=$?; echo "### racecheck" >> $W/log/san.log; tail -30 $W/log/t.tmp >> $W/log/san.log
    log "sanitizer racecheck rc=$rc: $(grep -c 'OK$' $W/log/t.tmp) OK, $(grep -c FAIL $W/log/t.tmp) FAIL; $(grep 'tests passed' $W/log/t.tmp); $(grep 'RACECHECK SUMMARY' $W/log/t.tmp | tail -1)"
}
bench_one() { # bin model label env...
    local bin=$1 f=$2 label=$3; shift 3
    [ -f $f ] || { log "no model $f"; return; }
    echo "### $label: env $* llama-bench -m $(basename $f) -ngl 99 -p 0 -n 128 -r 3" >> $W/log/bench.log
    env "$@" timeout 200 $bin/llama-bench -m $f -ngl 99 -p 0 -n 128 -r 3 -o md >> $W/log/bench.log 2> $W/log/b.err
    local rc=$?
    grep -i "wisparse" $W/log/b.err | head -4 >> $W/log/bench.log
    log "bench $label rc=$rc: $(grep -E '^\| ' $W/log/bench.log | grep -E 'tg128' | tail -1 | awk -F'|' '{printf "%s %s", $(NF-2), $(NF-1)}')"
}

prof() { # per-kernel time (ncu, serialized kernels, caches flushed) of ~2 decode tokens, sparse 0.5 and stock, F16
    for v in "p LLAMA_WISPARSE_LEVEL=0.5"; do
        set -- $v; local b=$BP; [ $1 = s ] && b=$BS
        env $2 timeout 100 ncu --clock-control none --metrics gpu__time_duration.sum --csv --launch-skip 3000 --launch-count 1500 \
            $b/llama-bench -m $M/l8b-q4_k_m.gguf -ngl 99 -p 0 -n 16 -r 1 > $W/log/ncu-$1.csv 2> $W/log/ncu-$1.err
        log "ncu $1 rc=$?"
        python3 - $W/log/ncu-$1.csv <<'PY' | tee -a "$S"
import csv, sys, collections
t = collections.defaultdict(float); n = collections.Counter()
rows = [r for r in csv.reader(l for l in open(sys.argv[1]) if l.startswith('"'))]
h = rows[0]; ik = h.index('Kernel Name'); iv = h.index('Metric Value')
for r in rows[1:]:
    try: v = float(r[iv].replace(',', ''))
    except ValueError: continue
    t[r[ik][:60]] += v; n[r[ik][:60]] += 1
tot = sum(t.values())
for k, v in sorted(t.items(), key=lambda x: -x[1])[:15]:
    print(f"{v/1e3:10.1f} us {n[k]:6d} x  {k}")
print(f"total {tot/1e3:.1f} us over {sum(n.values())} kernels")
PY
    done
}
case $1 in
start)
    rm -f $W/done; rm -rf $W/repo && mkdir -p $W/repo && cp -r .devcarry8 wisparse_gguf tools $W/repo/
    (setsid nohup bash $W/repo/.devcarry8/dev9.sh main8 > $W/log/main.out 2>&1 < /dev/null &)
    echo "launched main8"; shift
    ;;
main8)
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv,noheader | tee -a "$S"
    mkdir -p $W/src $W/stock $W/site
    tar -xzf $W/repo/.devcarry8/src.tar.gz -C $W/src && tar -xzf $W/repo/.devcarry8/stock.tar.gz -C $W/stock
    python3 -c 'import gguf' 2>/dev/null || python3 -m pip install -q --no-index --no-deps --no-compile --target $W/site $W/repo/.devcarry8/whl/*.whl
    export PYTHONPATH=$W/site
    build_p & P1=$!
    build_s & P2=$!
    gen & P3=$!
    wait $P1; RCP=$?
    wait $P3
    if [ $RCP -eq 0 ]; then
        ( $BP/llama-quantize $M/l8b-f16.gguf $M/l8b-q8_0.gguf Q8_0 8 > $W/log/quant-q8.log 2>&1; log "quantize q8_0 rc=$?" ) & Q1=$!
        ( $BP/llama-quantize $M/l8b-f16.gguf $M/l8b-q4_k_m.gguf Q4_K_M 8 > $W/log/quant-q4.log 2>&1; log "quantize q4_k_m rc=$?" ) & Q2=$!
        tests
        timeout 150 $BP/test-mul-mat-sparse > $W/log/cpu-test.log 2>&1; log "test-mul-mat-sparse (CPU, AVX2 build, Xeon host) rc=$?: $(tail -1 $W/log/cpu-test.log)"
        san
        wait $Q1 $Q2
    fi
    wait $P2
    if [ $RCP -eq 0 ]; then
        bench_one $BS $M/l8b-q4_k_m.gguf "q4_k_m stock" LLAMA_X=1
        bench_one $BP $M/l8b-q4_k_m.gguf "q4_k_m sparse 0.5" LLAMA_WISPARSE_LEVEL=0.5
        bench_one $BP $M/l8b-q4_k_m.gguf "q4_k_m sparse 0.5 FUSE=0" LLAMA_WISPARSE_LEVEL=0.5 GGML_CUDA_SPARSE_FUSE=0
        bench_one $BP $M/l8b-q4_k_m.gguf "q4_k_m sparse 0.5 KQ_MB=1" LLAMA_WISPARSE_LEVEL=0.5 GGML_CUDA_SPARSE_KQ_MB=1
        bench_one $BS $M/l8b-q8_0.gguf   "q8_0 stock"   LLAMA_X=1
        bench_one $BP $M/l8b-q8_0.gguf   "q8_0 sparse 0.5" LLAMA_WISPARSE_LEVEL=0.5
        bench_one $BP $M/l8b-q8_0.gguf   "q8_0 sparse 0.5 FUSE=0" LLAMA_WISPARSE_LEVEL=0.5 GGML_CUDA_SPARSE_FUSE=0
        bench_one $BS $M/l8b-f16.gguf    "f16 stock"    LLAMA_X=1
        bench_one $BP $M/l8b-f16.gguf    "f16 sparse 0.5" LLAMA_WISPARSE_LEVEL=0.5
        bench_one $BP $M/l8b-q8_0.gguf   "q8_0 sparse 0"  LLAMA_WISPARSE_LEVEL=0
        bench_one $BP $M/l8b-q4_k_m.gguf "q4_k_m sparse 0"  LLAMA_WISPARSE_LEVEL=0
        [ "${PROFILE:-0}" = 1 ] && prof
        bench_one $BP $M/l8b-f16.gguf    "f16 sparse 0.5 FUSE=0" LLAMA_WISPARSE_LEVEL=0.5 GGML_CUDA_SPARSE_FUSE=0
    fi
    log "main8 end ($(( $(date +%s) - T0 )) s)"; touch $W/done
    exit 0
    ;;
esac
for phase in "$@"; do
    end=$(( T0 + phase ))
    while [ ! -f $W/done ] && [ $(date +%s) -lt $end ]; do sleep 5; done
    cat $S
    [ -f $W/done ] && echo "DONE" || echo "running"
    [ -n "$OUT" ] && cp -r $W/log $OUT/ 2>/dev/null
done
