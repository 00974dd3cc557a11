#!/bin/bash
# CPU vs GPU perplexity of the SmolLM2 sparse file (and dense control): bash .devcarry/ppl.sh
W=/tmp/w; mkdir -p $W/src $W/log; S=$W/log/ppl.txt
tar -xzf .devcarry/src.tar.gz -C $W/src
cat $W/parts/s?? > $W/smol.gguf; sha256sum $W/smol.gguf | tee -a $S
cmake -S $W/src -B $W/build-p -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DGGML_CUDA_FA=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DGGML_NATIVE=ON > $W/log/cfg.log 2>&1
cmake --build $W/build-p -j16 --target llama-perplexity > $W/log/build.log 2>&1; echo "build rc=$?" | tee -a $S
for e in LLAMA_WISPARSE_ENABLE=0 LLAMA_WISPARSE_ENABLE=1; do for ngl in 0 99; do
    env $e GGML_SPARSE_STATS=0 timeout 120 $W/build-p/bin/llama-perplexity -m $W/smol.gguf -f .devdata/lambada.txt -c 512 --chunks 16 \
        -ngl $ngl -t 8 > $W/log/p.out 2>&1
    echo "$e ngl=$ngl rc=$? $(grep -o 'Final estimate: PPL = [0-9.]* +/- [0-9.]*' $W/log/p.out)" | tee -a $S
done; done
