#!/bin/bash
cd /work/main
M=/work/big/smol/SmolLM2-135M-Instruct.Q4_1.wisparse-50.gguf
while [ ! -f /tmp/gs/levels.done ]; do sleep 10; done
lv=0.5
.venv/bin/python tools/parity.py $M --run cpu="LLAMA_WISPARSE_LEVEL=$lv -t 2 -fa off" --run cpu-fa="LLAMA_WISPARSE_LEVEL=$lv -t 2 -fa on" --run dense="LLAMA_WISPARSE_ENABLE=0 -t 2 -fa off" --json /tmp/gs/parity-l$lv.json > /tmp/gs/parity-l$lv.txt 2>&1
echo done > /tmp/gs/l05.done
