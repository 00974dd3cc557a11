#!/bin/bash
# lead, session 12: the merged tree: CUDA build of test-backend-ops, MUL_MAT_SPARSE cases, and which kernels the
# fusion cases launch (ncu kernel names: a fused case has no separate ADD / GLU kernel)
W=/tmp/w; mkdir -p $W/src $OUT; T0=$(date +%s)
tar -xzf .devcarry-lead12/src.tar.gz -C $W/src
cmake -S $W/src -B $W/b -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DGGML_CUDA_FA=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=ON -DGGML_NATIVE=OFF > $OUT/cfg.log 2>&1
cmake --build $W/b -j16 --target test-backend-ops > $OUT/build.log 2>&1; echo "build rc=$? $(( $(date +%s) - T0 ))s"
T=$W/b/bin/test-backend-ops
timeout 150 $T -o MUL_MAT_SPARSE -b CUDA0 > $OUT/t-all.log 2>&1; echo "all rc=$? $(grep -c FAIL $OUT/t-all.log) FAIL; $(grep 'tests passed' $OUT/t-all.log) $(( $(date +%s) - T0 ))s"
GGML_CUDA_SPARSE_NO_CLUSTER=1 timeout 60 $T -o MUL_MAT_SPARSE -b CUDA0 -p 'add=|glu=' > $OUT/t-nocl-add.log 2>&1; echo "no-cluster add/glu rc=$? $(grep -c FAIL $OUT/t-nocl-add.log) FAIL; $(grep 'tests passed' $OUT/t-nocl-add.log) $(( $(date +%s) - T0 ))s"
grep FAIL $OUT/t-*.log | head
# kernels per case (one graph evaluation on CUDA0 per case)
for pat in 'add=mm\+r,type_a=f16,m=256,n=1,k=4096' 'add=r\+mm,type_a=f16,m=256,n=1,k=4096' 'glu=1,add=mm\+r,type_a=f16,m=256,n=1,k=4096' \
           'glu=geglu,add=mm\+r,type_a=f16' 'mm_uses=2,type_a=f16' 'glu=1x,add=mm\+r,type_a=f16' 'glu_uses=2,type_a=f16' \
           'add=r\+mm,type_a=q4_K,m=256,n=1,k=4096'; do
    f=$OUT/k-$(echo "$pat" | tr -c 'a-zA-Z0-9_=,\n' '_').csv
    timeout 60 ncu --clock-control none --metrics gpu__time_duration.sum --csv $T -o MUL_MAT_SPARSE -b CUDA0 -p "$pat" > $f 2>&1
    echo "== $pat: $(grep -c '"gpu__time_duration.sum"' $f) kernels: $(grep '"gpu__time_duration.sum"' $f | awk -F'","' '{print $5}' | sed 's/(.*//' | tr '\n' ' ' | cut -c1-400)"
done
tar -czf $OUT/k.tgz -C $OUT $(cd $OUT && ls k-*.csv) && rm -f $OUT/k-*.csv
