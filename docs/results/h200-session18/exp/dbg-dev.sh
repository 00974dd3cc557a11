#!/bin/bash
# device runner prepared in session 17 for the next session's first call: what limits phase 2 of the K-quant decode
# kernel (streaming the active channels' quants). Session 17 measured it at 0.9-1.2 TB/s in test-backend-ops perf, where
# the weights of one op (13 MB of Q4_K quants at 50 %) stay in L2 between runs: so not DRAM bandwidth. Binaries of dev
# branch s17-dbg built on the CPU machine (flash attention off), bins-dbg.tar.xz. GGML_CUDA_SPARSE_DBG bits in
# mul_mat_sparse_vec_kq (wrong results, timing only): 1 skip phase 2, 2 skip the store, 4 skip the scale staging,
# 8 skip the scaling at segment ends, 16 skip the unpacking and dp4a (loads kept), 32 skip the global loads of phase 2
# (lookups kept). test-backend-ops perf at the 8B shapes per value (its inputs are fixed: the active set does not
# follow the wrong outputs), then an ncu detail (warp stall samples per SASS instruction, source counters) of the
# K-quant launches of an 8-layer Q4_K_M file at 0.5, unmodified (DBG unset). The build also holds session 17's
# warp-wide kernel (GGML_CUDA_SPARSE_KQW=1; off by default in this build), timed beside the others.
#   DEADLINE=760 OUT=$OUT bash .devcarry-s18/dev.sh start 580          (carry .devcarry-s18), then dev.sh 200
#   OUT=$OUT bash /tmp/w/repo/.devcarry-s18/dev.sh SECS
W=/tmp/w
D=.devcarry-s18
mkdir -p $W/log
S=$W/log/summary.txt
T0=$(date +%s)
log() { echo "[$(date +%H:%M:%S) +$(( $(date +%s) - ${TM:-$T0} ))s] $*" | tee -a "$S"; }
export PYTHONUNBUFFERED=1
BP=/tmp/t
M=$W/models
el() { echo $(( $(date +%s) - ${TM:-$T0} )); }
need() { [ $(( $(el) + $1 )) -lt ${DEADLINE:-1000} ]; }
export LD_LIBRARY_PATH=/tmp/t:/usr/local/cuda/lib64:/usr/local/cuda/targets/x86_64-linux/lib
gen() { # file extra-args
    mkdir -p $M
    (cd $W/repo && timeout 700 python3 tools/make_random_gguf.py $M/$1 --shape llama3-8b --outtype f16 \
        --levels 0,0.4,0.5,0.6 --level 0.5 --weights-on cuda $2 > $W/log/gen-$1.log 2>&1)
    log "gen $1 rc=$? $(ls -la $M/$1 2>&1)"
}
quant() { # in out type threads
    LD_PRELOAD=libcuda.so.1 $BP/llama-quantize $M/$1 $M/$2 $3 $4 > $W/log/quant-$2.log 2>&1
    log "quantize $2 rc=$?"
}
bench_one() { # model label secs-needed env...
    local f=$1 label=$2 secs=$3; shift 3
    need $secs || { log "skip $label (deadline)"; return; }
    echo "### $label: env $* llama-bench -m $(basename $f) -ngl 99 -p 0 -n 128 -r 3" >> $W/log/bench.log
    env LD_PRELOAD=libcuda.so.1 "$@" timeout $(( secs + 60 )) $BP/llama-bench -m $f -ngl 99 -p 0 -n 128 -r 3 -o md > $W/log/b.out 2> $W/log/b.err
    local rc=$?
    cat $W/log/b.out >> $W/log/bench.log
    log "bench $label rc=$rc: $(grep -E '^\| ' $W/log/b.out | grep tg128 | tail -1 | awk -F'|' '{print $(NF-1)}')"
}
tok() { # label model env...   ncu: every kernel of the decode, per-token sums (ncu_table.py, last 4 tokens)
    local label=$1 f=$2; shift 2
    need 60 || { log "skip ncu $label (deadline)"; return; }
    env LD_PRELOAD=libcuda.so.1 "$@" timeout 150 ncu --clock-control none --cache-control none --graph-profiling node \
        --metrics gpu__time_duration.sum,dram__bytes_read.sum --csv --print-units base --log-file $W/log/tok-$label.csv \
        --launch-count 1000 $BP/llama-bench -m $f -ngl 99 -p 0 -n 9 -r 1 > $W/log/tok-$label.out 2>&1
    log "ncu tok $label rc=$? ($*)"
    python3 $W/repo/$D/ncu_table.py $W/log/tok-$label.csv 4 > $W/log/tok-$label.txt 2>&1
    head -${TOKN:-16} $W/log/tok-$label.txt | tee -a "$S"
}
detail() { # label model env...   one layer's K-quant launches: stall samples per SASS instruction
    local label=$1 f=$2; shift 2
    need 120 || { log "skip detail $label (deadline)"; return; }
    env LD_PRELOAD=libcuda.so.1 "$@" timeout 150 ncu --clock-control none --cache-control none --graph-profiling node \
        -k regex:mul_mat_sparse_vec_kq --launch-skip 40 --launch-count 12 \
        --section SpeedOfLight --section WarpStateStats --section SourceCounters --section SchedulerStats \
        --section Occupancy --section LaunchStats \
        -o $W/log/detail-$label -f $BP/llama-bench -m $f -ngl 99 -p 0 -n 6 -r 1 > $W/log/detail-$label.out 2>&1
    log "ncu detail $label rc=$?"
    ncu -i $W/log/detail-$label.ncu-rep --page details > $W/log/detail-$label.txt 2>&1
    ncu -i $W/log/detail-$label.ncu-rep --page source --csv --print-source sass > $W/log/src-sass-$label.csv 2>&1
    python3 $W/repo/$D/sass_regions.py $W/log/src-sass-$label.csv > $W/log/regions-$label.txt 2>&1
    head -60 $W/log/regions-$label.txt | tee -a "$S"
}
case $1 in
start)
    rm -f $W/done; rm -rf $W/repo && mkdir -p $W/repo && cp -r $D tools wisparse_gguf $W/repo/
    (TM=$T0 setsid nohup bash $W/repo/$D/dev.sh main > $W/log/main.out 2>&1 < /dev/null &)
    echo "launched main"; shift
    ;;
main)
    export TM=${TM:-$T0}
    DEADLINE=${DEADLINE:-560}
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv,noheader | tee -a "$S"
    mkdir -p /tmp/t $W/site
    tar -xJf $W/repo/$D/bins-dbg.tar.xz -C /tmp/t
    python3 -c 'import gguf, tqdm, yaml' 2>/dev/null || python3 -m pip install -q --no-index --no-deps --no-compile --target $W/site $W/repo/$D/whl/*.whl
    export PYTHONPATH=$W/site
    F8=$M/l8b8-f16.gguf; Q4=$M/l8b8-q4_k_m.gguf
    L5=LLAMA_WISPARSE_LEVEL=0.5; G=GGML_CUDA_SPARSE_DBG
    ( env LD_PRELOAD=libcuda.so.1 timeout 200 $BP/test-backend-ops -o MUL_MAT_SPARSE -b CUDA0 -p 'type_a=\[?q[456]_K' > $W/log/t-kq.log 2>&1
      log "test-backend-ops K-quant cases, DBG unset rc=$?: $(grep -c FAIL $W/log/t-kq.log) FAIL; $(grep 'tests passed' $W/log/t-kq.log)" ) & T1=$!
    gen l8b8-f16.gguf "--n-layer 8"
    quant l8b8-f16.gguf l8b8-q4_k_m.gguf Q4_K_M 16
    wait $T1
    # the op alone at the 8B shapes (test-backend-ops perf: fixed inputs, so the active set does not depend on
    # the wrong results of a DBG variant), one token; stock's dense MUL_MAT of the same shapes beside it
    perf() { # label types env...
        local label=$1 types=$2; shift 2
        need 40 || { log "skip perf $label (deadline)"; return; }
        env LD_PRELOAD=libcuda.so.1 "$@" timeout 60 $BP/test-backend-ops perf -o MUL_MAT_SPARSE -b CUDA0 \
            -p "type_a=($types),m=[0-9]+,n=1,.*threshold=0.55" > $W/log/perf-$label.log 2>&1
        log "perf $label rc=$? ($*)"; grep -E 'us/run' $W/log/perf-$label.log | sed 's/^ *//' | tee -a "$S"
    }
    env LD_PRELOAD=libcuda.so.1 timeout 60 $BP/test-backend-ops perf -o MUL_MAT -b CUDA0 -p 'type_a=(q4_K|q6_K|f16|q8_0),type_b=f32,m=(4096|1024|14336),n=1,k=(4096|14336),' > $W/log/perf-dense.log 2>&1
    log "perf dense MUL_MAT rc=$?"; grep -E 'us/run' $W/log/perf-dense.log | sed 's/^ *//' | tee -a "$S"
    perf dbg0 "q4_K|q6_K" $G=0
    for v in 1 8 16 32 24 48 56; do
        perf dbg$v "q4_K" $G=$v
    done
    # session 17's warp-wide kernel (slower end to end, 32-layer Q4_K_M: 281 vs 309 t/s), here in the op alone
    perf kqw1 "q4_K|q6_K" GGML_CUDA_SPARSE_KQW=1
    for v in 8 16 32; do
        perf kqw1-dbg$v "q4_K" GGML_CUDA_SPARSE_KQW=1 $G=$v
    done
    detail q4-dbg0 $Q4 $L5
    TOKN=24 tok q4-dbg0 $Q4 $L5
    log "main end"; touch $W/done
    exit 0
    ;;
esac
for phase in "$@"; do
    end=$(( T0 + phase ))
    while [ ! -f $W/done ] && [ $(date +%s) -lt $end ]; do sleep 5; done
    cat $S
    [ -f $W/done ] && echo "DONE" || echo "running"
    [ -n "$OUT" ] && { cp $S $W/log/bench.log $OUT/ 2>/dev/null; tar -czf $OUT/logs.tgz --exclude='*.csv' --exclude='*.ncu-rep' -C $W log 2>/dev/null; cp $W/log/detail-*.ncu-rep $OUT/ 2>/dev/null; }
done
