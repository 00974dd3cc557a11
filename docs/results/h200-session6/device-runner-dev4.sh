#!/bin/bash
# device runner, session 6: bash .devcarry/dev4.sh start | poll SECS
# main4 (background): patched (dev master with the two-phase K-quant CUDA kernel) + stock CUDA builds, 8B-shape F16
# (GPU draw) -> Q4_K_M, test-backend-ops MUL_MAT_SPARSE (+ no cluster), test-mul-mat-sparse (CPU, AVX-512 host),
# compute-sanitizer on K-quant cases, llama-bench Q4_K_M stock vs sparse 0.5 / 0 / 0.4
ARGS=("$@"); set --
source "$(dirname "$0")/dev2.sh"   # functions only (no arguments: its phase loop does nothing)
set -- "${ARGS[@]}"
bench4() {
    local t=q4_k_m
    [ -f $M/l8b-$t.gguf ] || { log "no model $t"; return; }
    bench_one $BS $M/l8b-$t.gguf "$t stock" LLAMA_X=1
    for lv in 0.5 0 0.4; do
        bench_one $BP $M/l8b-$t.gguf "$t sparse $lv" LLAMA_WISPARSE_LEVEL=$lv
    done
}
case $1 in
start)
    rm -f $W/done; rm -rf $W/repo && mkdir -p $W/repo && cp -r .devcarry6 wisparse_gguf tools $W/repo/
    (setsid nohup bash $W/repo/.devcarry6/dev4.sh main4 > $W/log/main.out 2>&1 < /dev/null &)
    echo "launched main4"; shift
    ;;
main4)
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee -a "$S"
    mkdir -p $W/src $W/stock $W/site
    tar -xzf $W/repo/.devcarry6/src.tar.gz -C $W/src && tar -xzf $W/repo/.devcarry6/stock.tar.gz -C $W/stock
    python3 -c 'import gguf' 2>/dev/null || python3 -m pip install -q --no-index --no-deps --no-compile --target $W/site $W/repo/.devcarry6/whl/*.whl
    export PYTHONPATH=$W/site
    build_p 12 & P1=$!
    build_s & P2=$!
    gen3 & P3=$!
    wait $P1; RCP=$?
    if [ $RCP -eq 0 ]; then
        tests
        SAN_FILTER='type_a=(q4_K|q5_K|q6_K),.*m=(256|48|64|1040|272),n=(1|2|3|4),' san
    fi
    wait $P3
    [ $RCP -eq 0 ] && { $BP/llama-quantize $M/l8b-f16.gguf $M/l8b-q4_k_m.gguf Q4_K_M 16 > $W/log/quant.log 2>&1; log "quantize q4_k_m rc=$?"; }
    wait $P2
    [ $RCP -eq 0 ] && bench4
    log "main4 end ($(( $(date +%s) - T0 )) s)"; touch $W/done
    exit 0
    ;;
esac
for phase in "$@"; do
    end=$(( T0 + phase ))
    while [ ! -f $W/done ] && [ $(date +%s) -lt $end ]; do sleep 5; done
    tail -n ${TAILN:-40} $S
    [ -f $W/done ] && echo "DONE" || echo "running"
    [ -n "$OUT" ] && cp -r $W/log $OUT/ 2>/dev/null
done
