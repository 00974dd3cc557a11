#!/bin/sh
# the "stock" side of the session-7 fusion A/B: the same llama-bench (branch fuse build) with fusion off
GGML_CPU_DISABLE_FUSION=1 LLAMA_WISPARSE_LEVEL=0.5 exec /work/dev/build-fuse/bin/llama-bench "$@"
