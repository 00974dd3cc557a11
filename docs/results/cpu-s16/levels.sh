#!/bin/bash
cd /work/main
M=/work/big/smol/SmolLM2-135M-Instruct.Q4_1.wisparse-50.gguf
for lv in 0.3 0.4 0.6; do
  .venv/bin/python tools/parity.py $M --run cpu="LLAMA_WISPARSE_LEVEL=$lv -t 2 -fa off" --run cpu-fa="LLAMA_WISPARSE_LEVEL=$lv -t 2 -fa on" --run dense="LLAMA_WISPARSE_ENABLE=0 -t 2 -fa off" --json /tmp/gs/parity-l$lv.json > /tmp/gs/parity-l$lv.txt 2>&1
done
echo done > /tmp/gs/levels.done
