#!/bin/bash
# Session 9 CPU end-to-end runs (2-vCPU Intel Xeon VM, AVX-512; see RESULTS.md). Files:
#   /work/big/qwen-ws.gguf        wisparse-gguf attach qwen2.5-coder-1.5b-q4_k_m.gguf qwen-ws.gguf --method wina --levels 0.4,0.5
#                                 --calib-tokens 256 --seq-len 128 --calibration dense
#   /work/big/qwen-ws-T.gguf      build-stock/bin/llama-quantize --allow-requantize qwen-ws.gguf qwen-ws-T.gguf T 2   (Q8_0, Q4_0)
#   /work/big/l8b-q4_k_m.gguf     tools/make_random_gguf.py l8b-f16.gguf --shape llama3-8b --outtype f16 --levels 0.4,0.5 --level 0.5
#                                 build-stock/bin/llama-quantize l8b-f16.gguf l8b-q4_k_m.gguf Q4_K_M 2
#   /work/big/bin-base            build/bin before the K-quant decode changes of this session (A/B), run with LD_LIBRARY_PATH
set -x
cd /work/main
P=.venv/bin/python
R=docs/results/cpu-s9
B="--patched build/bin/llama-bench --stock build-stock/bin/llama-bench"
for f in qwen-ws qwen-ws-Q4_0 qwen-ws-Q8_0; do
  $P tools/bench.py /work/big/$f.gguf $B --tests tg64,pp512 -t 1 -t 2 --rounds 2 --reps 1 --env LLAMA_WISPARSE_LEVEL=0.5 --json $R/$f-0.5.json
done
# the same build before this session's K-quant decode changes, against stock (A/B by ratio)
$P tools/bench.py /work/big/qwen-ws.gguf --patched /work/big/bin-base/llama-bench --stock build-stock/bin/llama-bench \
   --tests tg64 -t 1 -t 2 --rounds 2 --reps 1 --env LLAMA_WISPARSE_LEVEL=0.5 --env LD_LIBRARY_PATH=/work/big/bin-base --json $R/qwen-ws-0.5-base.json
$P tools/bench.py /work/big/l8b-q4_k_m.gguf $B --tests tg16 -t 1 -t 2 --rounds 2 --reps 1 --env LLAMA_WISPARSE_LEVEL=0.5 --json $R/l8b-q4_k_m-0.5.json
$P tools/bench.py /work/big/l8b-q4_k_m.gguf --patched /work/big/bin-base/llama-bench --stock build-stock/bin/llama-bench \
   --tests tg16 -t 1 -t 2 --rounds 1 --reps 1 --env LLAMA_WISPARSE_LEVEL=0.5 --env LD_LIBRARY_PATH=/work/big/bin-base --json $R/l8b-q4_k_m-0.5-base.json
for f in qwen-ws-Q4_0 qwen-ws; do
  $P tools/bench.py /work/big/$f.gguf $B --tests tg64 -t 2 --rounds 2 --reps 1 --env LLAMA_WISPARSE_LEVEL=0.4 --json $R/$f-0.4.json
done
# interleaved A/B of the two patched builds (stock side = this session's build, "patched" side = the build before the
# K-quant decode changes; ratio = before / after), then the 1-thread 1.5B Q4_K_M pair again with 3 rounds
$P tools/bench.py /work/big/qwen-ws.gguf --stock build/bin/llama-bench --patched /work/big/bin-base/llama-bench \
   --tests tg64 -t 1 -t 2 --rounds 3 --reps 1 --env LD_LIBRARY_PATH=/work/big/bin-base --json $R/qwen-ws-0.5-base-vs-new.json
$P tools/bench.py /work/big/qwen-ws.gguf $B --tests tg64 -t 1 --rounds 3 --reps 1 --env LLAMA_WISPARSE_LEVEL=0.5 --json $R/qwen-ws-0.5-t1-again.json
# the 8B F16 and Q8_0 files on this machine (Q8_0: build-stock/bin/llama-quantize l8b-f16.gguf l8b-q8_0.gguf Q8_0 2)
for t in f16 q8_0; do
  $P tools/bench.py /work/big/l8b-$t.gguf $B --tests tg16 -t 1 -t 2 --rounds 2 --reps 1 --env LLAMA_WISPARSE_LEVEL=0.5 --json $R/l8b-$t-0.5.json
done
