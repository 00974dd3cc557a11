#!/usr/bin/env python3
"""Install llama-cpp-python (the pinned 0.3.36 sdist) so that it runs our patched llama.cpp.

Two ways, both from the same cached sdist that CMake builds from:

  --mode lib  (default, seconds): install the Python package without its C++ build
              (CMAKE_ARGS=-DLLAMA_BUILD=OFF) and point it at the patched libllama
              built by `make build`:  export LLAMA_CPP_LIB_PATH=$PWD/build/bin
  --mode full (a full llama.cpp build): extract the sdist, apply ggml-patch/*.patch to
              its vendored llama.cpp and `pip install` that; your CMAKE_ARGS pass
              through, e.g.  CMAKE_ARGS="-DGGML_CUDA=on" python tools/build_llama_cpp_python.py --mode full

Our patch adds no fields to llama.h structs (llama-cpp-python mirrors them with
ctypes); the runtime is switched by GGUF keys, so `kv_overrides` works:
    Llama(model_path="out.gguf", kv_overrides={"wisparse.enable": False})   # dense
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wisparse_gguf.llama_source import SDIST_NAME, apply_patches, sdist_path  # noqa: E402


def pip_install(target: Path, env: dict[str, str]) -> None:
    """Reinstall the package itself (switching modes), then whatever it needs that is missing."""
    for extra in (["--no-deps", "--force-reinstall"], []):
        cmd = [sys.executable, "-m", "pip", "install", "-q", *extra, str(target)]
        print("$ " + " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True, env=env)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=["lib", "full"], default="lib")
    ap.add_argument("--cache", type=Path, default=None, help="source cache (default: $WISPARSE_CACHE or .cache)")
    args = ap.parse_args()

    cache = args.cache or (Path(os.environ["WISPARSE_CACHE"]) if "WISPARSE_CACHE" in os.environ else ROOT / ".cache")
    sdist = sdist_path(cache)
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(sdist) as tar:
            tar.extractall(tmp, filter="data")
        src = Path(tmp) / SDIST_NAME
        if args.mode == "lib":
            env["CMAKE_ARGS"] = (env.get("CMAKE_ARGS", "") + " -DLLAMA_BUILD=OFF").strip()
            pip_install(src, env)
            print(f"\ninstalled llama-cpp-python without its own libllama; run it with\n"
                  f"  export LLAMA_CPP_LIB_PATH={ROOT / 'build' / 'bin'}")
            return
        vendored = src / "vendor" / "llama.cpp"
        (vendored / ".git").unlink(missing_ok=True)
        apply_patches(vendored, sorted((ROOT / "ggml-patch").glob("*.patch")))
        pip_install(src, env)


if __name__ == "__main__":
    main()
