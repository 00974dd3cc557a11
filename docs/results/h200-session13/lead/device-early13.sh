#!/bin/bash
# lead, session 13, same warm machine as device-lead13.sh: branch cu13-early (the norm reduced after the first chunk's
# c / norm-weight loads are issued) against the merged tree, 8-layer F16 and tests of the norm cases
W=/tmp/w; T0=$(date +%s); t() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
cp -r $W/b/bin $W/bin-base
patch -d $W/src -p1 < .devcarry-lead13/early.patch > $OUT/patch.log 2>&1 || { cat $OUT/patch.log; exit 1; }
cmake --build $W/b -j16 --target test-backend-ops llama-bench > $OUT/build-early.log 2>&1; t "build early rc=$?"
timeout 60 $W/b/bin/test-backend-ops -o MUL_MAT_SPARSE -b CUDA0 -p 'norm=|type_a=(f16|q8_0)' > $OUT/t-early.log 2>&1; t "tests early rc=$? $(grep -c FAIL $OUT/t-early.log) FAIL; $(grep 'tests passed' $OUT/t-early.log)"
F=$W/m/l8b8-f16.gguf
for r in 1 2; do for v in base early; do
    B=$W/bin-base; [ $v = early ] && B=$W/b/bin
    LLAMA_WISPARSE_LEVEL=0.5 timeout 40 $B/llama-bench -m $F -ngl 99 -p 0 -n 128 -r 3 > $OUT/b-$v-$r.log 2>&1
    t "$v round $r: $(grep tg128 $OUT/b-$v-$r.log | awk -F'|' '{print $(NF-1)}')"
done; done
