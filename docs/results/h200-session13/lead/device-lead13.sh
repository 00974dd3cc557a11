#!/bin/bash
# lead, session 13: the merged tree (cu13's fused RMS_NORM + the threaded re-layout at load): CUDA build, every
# MUL_MAT_SPARSE case of test-backend-ops, and the re-layout time and tg128 of an 8-layer 8B-shape F16 file at 0.5
W=/tmp/w; D=.devcarry-lead13; mkdir -p $W/src $W/site $W/m $OUT; T0=$(date +%s)
t() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
tar -xzf $D/src.tar.gz -C $W/src
python3 -c 'import gguf, tqdm, yaml' 2>/dev/null || python3 -m pip install -q --no-index --no-deps --no-compile --target $W/site $D/whl/*.whl
( PYTHONPATH=$W/site timeout 300 python3 tools/make_random_gguf.py $W/m/l8b8-f16.gguf --shape llama3-8b --outtype f16 \
    --levels 0.4,0.5 --level 0.5 --weights-on cuda --n-layer 8 > $OUT/gen.log 2>&1; t "gen rc=$?" ) &
cmake -S $W/src -B $W/b -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DGGML_CUDA_FA=OFF \
    -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_TESTS=ON -DGGML_NATIVE=OFF -DGGML_AVX2=ON \
    -DGGML_FMA=ON -DGGML_F16C=ON > $OUT/cfg.log 2>&1
cmake --build $W/b -j16 --target test-backend-ops llama-bench > $OUT/build.log 2>&1; t "build rc=$?"
grep -B2 -A8 " error" $OUT/build.log | head -30
T=$W/b/bin/test-backend-ops
timeout 150 $T -o MUL_MAT_SPARSE -b CUDA0 > $OUT/t-all.log 2>&1; t "test-backend-ops rc=$? $(grep -c FAIL $OUT/t-all.log) FAIL; $(grep 'tests passed' $OUT/t-all.log)"
grep FAIL $OUT/t-all.log | head
wait
for lv in 0.5; do
    LLAMA_WISPARSE_LEVEL=$lv timeout 100 $W/b/bin/llama-bench -m $W/m/l8b8-f16.gguf -ngl 99 -p 0 -n 128 -r 3 -v > $OUT/bench-$lv.log 2>&1
    t "bench 8L F16 $lv rc=$?: $(grep -E 're-laid' $OUT/bench-$lv.log | tail -1) | $(grep tg128 $OUT/bench-$lv.log | tail -1)"
done
LLAMA_WISPARSE_ENABLE=0 timeout 60 $W/b/bin/llama-bench -m $W/m/l8b8-f16.gguf -ngl 99 -p 0 -n 128 -r 3 > $OUT/bench-dense.log 2>&1
t "bench 8L F16 dense (ENABLE=0) rc=$?: $(grep tg128 $OUT/bench-dense.log | tail -1)"
