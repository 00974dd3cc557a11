#!/usr/bin/env python3
"""Run a WiSparse GGUF through llama-cpp-python built on the patched llama.cpp.

    make build && python tools/build_llama_cpp_python.py       # once
    export LLAMA_CPP_LIB_PATH=$PWD/build/bin                     # the patched libllama
    python examples/llama_cpp_python_sparse.py out.gguf [--level 0.4] [--dense]

The sparsity level and the on/off switch are GGUF keys, so `kv_overrides` picks them.
"""

import argparse

from llama_cpp import Llama


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--prompt", default="The three most important inventions of the nineteenth century were")
    ap.add_argument("--level", type=float, default=None, help="one of the file's wisparse.levels")
    ap.add_argument("--dense", action="store_true", help="run dense (wisparse.enable = false)")
    args = ap.parse_args()

    overrides = {}
    if args.level is not None:
        overrides["wisparse.level"] = args.level
    if args.dense:
        overrides["wisparse.enable"] = False
    llm = Llama(model_path=args.model, kv_overrides=overrides or None, n_ctx=512, verbose=False)
    out = llm(args.prompt, max_tokens=48, temperature=0.0)
    print(args.prompt + out["choices"][0]["text"])


if __name__ == "__main__":
    main()
