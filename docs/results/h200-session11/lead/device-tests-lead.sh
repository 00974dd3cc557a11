#!/bin/bash
# lead, session 11: the merged tree (cu11 + c11): CUDA build of test-backend-ops, MUL_MAT_SPARSE cases
W=/tmp/w; mkdir -p $W/src $OUT; T0=$(date +%s)
tar -xzf .devcarry-lead11/src.tar.gz -C $W/src
cmake -S $W/src -B $W/b -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DGGML_CUDA_FA=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=ON -DGGML_NATIVE=OFF > $OUT/cfg.log 2>&1
cmake --build $W/b -j16 --target test-backend-ops > $OUT/build.log 2>&1; echo "build rc=$? $(( $(date +%s) - T0 ))s"
timeout 150 $W/b/bin/test-backend-ops -o MUL_MAT_SPARSE -b CUDA0 > $OUT/t-all.log 2>&1; echo "all rc=$? $(grep -c FAIL $OUT/t-all.log) FAIL; $(grep 'tests passed' $OUT/t-all.log) $(( $(date +%s) - T0 ))s"
GGML_CUDA_SPARSE_NO_CLUSTER=1 timeout 60 $W/b/bin/test-backend-ops -o MUL_MAT_SPARSE -b CUDA0 -p 'add=' > $OUT/t-nocl-add.log 2>&1; echo "no-cluster add rc=$? $(grep -c FAIL $OUT/t-nocl-add.log) FAIL; $(grep 'tests passed' $OUT/t-nocl-add.log) $(( $(date +%s) - T0 ))s"
grep FAIL $OUT/t-*.log | head
