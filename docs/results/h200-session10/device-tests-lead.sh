#!/bin/bash
# session 10 lead: merged master (cu10 F16/BF16 16-row two-phase decode kernel) -> CUDA tests not run by the helper:
# no-cluster fallback on the f16/bf16 cases, default full MUL_MAT_SPARSE, racecheck of one f16 decode case
W=/tmp/w; mkdir -p $W/src $OUT
T0=$(date +%s); log() { echo "[+$(( $(date +%s) - T0 ))s] $*" | tee -a $OUT/summary.txt; }
tar -xzf .devcarry10/src.tar.gz -C $W/src
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee -a $OUT/summary.txt
CONF="-G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DGGML_CUDA_FA=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DLLAMA_BUILD_TESTS=ON"
cmake -S $W/src -B $W/b $CONF > $OUT/build.log 2>&1 && cmake --build $W/b -j16 --target test-backend-ops >> $OUT/build.log 2>&1
log "build rc=$?"
B=$W/b/bin/test-backend-ops
for p in f16 bf16; do
  GGML_CUDA_SPARSE_NO_CLUSTER=1 timeout 90 $B -o MUL_MAT_SPARSE -b CUDA0 -p "type_a=$p" > $OUT/t-nocluster-$p.log 2>&1
  log "no-cluster $p rc=$? $(grep -c FAIL $OUT/t-nocluster-$p.log) FAIL; $(grep 'tests passed' $OUT/t-nocluster-$p.log)"
done
timeout 120 $B -o MUL_MAT_SPARSE -b CUDA0 > $OUT/t-default.log 2>&1
log "default rc=$? $(grep -c FAIL $OUT/t-default.log) FAIL; $(grep 'tests passed' $OUT/t-default.log)"
