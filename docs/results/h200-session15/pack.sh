#!/bin/bash
# pack the CPU-machine CUDA build's binaries for the device: bins.tar.xz (stripped)
set -e
B=/work/dev/build-cuda-local/bin
t=$(mktemp -d)
for f in llama-bench llama-quantize test-backend-ops libggml-base.so.0 libggml-cpu.so.0 libggml-cuda.so.0 libggml.so.0 libllama.so.0 libllama-common.so.0 libllama-bench-impl.so libllama-quantize-impl.so; do
    [ -e $B/$f ] && cp -L $B/$f $t/
done
strip $t/* 2>/dev/null || true
tar -cJf /work/main/.devcarry-s15/bins.tar.xz -C $t .
rm -rf $t
ls -la /work/main/.devcarry-s15/bins.tar.xz
