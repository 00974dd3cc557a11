"""The pinned llama.cpp source: downloaded once with pip, cached, extracted.

The PyPI sdist of llama-cpp-python 0.3.36 vendors llama.cpp at commit 0c1e57098
under ``vendor/llama.cpp``. Both engines of this project use it: CMake builds the
patched and the stock runtime from it, and ``convert`` runs its
``convert_hf_to_gguf.py`` and imports its gguf-py.

This module uses the standard library only, so CMake can run it as a script
before the package is installed::

    python3 wisparse_gguf/llama_source.py --cache .cache   # prints the source dir
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

LLAMA_CPP_PYTHON_VERSION = "0.3.36"
LLAMA_CPP_COMMIT = "0c1e57098"
SDIST_NAME = f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}"


def default_cache_dir() -> Path:
    env = os.environ.get("WISPARSE_CACHE")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "wisparse-gguf"


def sdist_path(cache: Path) -> Path:
    """The llama-cpp-python sdist, downloaded with pip on first use."""
    cache.mkdir(parents=True, exist_ok=True)
    found = sorted(cache.glob(f"{SDIST_NAME}.tar.gz"))
    if found:
        return found[0]
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
               f"llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION}", "-d", tmp]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        got = list(Path(tmp).glob("*.tar.gz"))
        if proc.returncode != 0 or not got:
            raise RuntimeError(f"could not download llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION} "
                               f"with pip: {proc.stderr.strip().splitlines()[-1:]}")
        dest = cache / got[0].name
        os.replace(got[0], dest)
        return dest


def source_dir(cache: Path | None = None) -> Path:
    """The extracted, unpatched llama.cpp tree (``<cache>/llama.cpp-<commit>``)."""
    cache = Path(cache) if cache else default_cache_dir()
    dest = cache / f"llama.cpp-{LLAMA_CPP_COMMIT}"
    if (dest / "CMakeLists.txt").is_file():
        return dest
    archive = sdist_path(cache)
    prefix = f"{SDIST_NAME}/vendor/llama.cpp/"
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        with tarfile.open(archive) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith(prefix)
                       and not m.name.startswith(prefix + "models/")
                       and m.name != prefix + ".git"]  # a submodule pointer
            for m in members:
                m.name = m.name[len(prefix):]
            tar.extractall(tmp, members=members, filter="data")
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(tmp, dest)
        os.mkdir(tmp)  # TemporaryDirectory wants something to remove
    return dest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=None, help="cache folder (default: ~/.cache/wisparse-gguf)")
    args = ap.parse_args()
    print(source_dir(args.cache))


if __name__ == "__main__":
    main()
