"""The pinned llama.cpp source: downloaded once with pip, cached, extracted.

The PyPI sdist of llama-cpp-python 0.3.36 vendors llama.cpp at commit 0c1e57098
under ``vendor/llama.cpp``. Both engines of this project use it: CMake builds the
patched and the stock runtime from it, and ``convert`` runs its
``convert_hf_to_gguf.py`` and imports its gguf-py.

This module uses the standard library only, so CMake can run it as a script
before the package is installed::

    python3 wisparse_gguf/llama_source.py --cache .cache   # prints the source dir
    python3 wisparse_gguf/llama_source.py --cache .cache --patched-tree build/src --patch ggml-patch/0001-x.patch
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


def patched_tree(dest: Path, patches: list[Path], cache: Path | None = None) -> Path:
    """``dest`` = the pristine tree with ``patches`` applied (``patch -p1``, in order).

    The tree is prepared in a staging folder and then synchronised into ``dest``,
    copying only files whose content changed, so a re-applied patch does not
    touch the timestamps of unchanged files (ggml.h!) and a rebuild stays small.
    """
    dest = Path(dest)
    pristine = source_dir(cache)
    dest.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".stage-", dir=dest.parent))
    try:
        shutil.copytree(pristine, stage, dirs_exist_ok=True, symlinks=True)
        apply_patches(stage, patches)
        _sync(stage, dest)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return dest


def apply_patches(tree: Path, patches: list[Path]) -> None:
    """``patch -p1`` each file, in order, inside ``tree``."""
    for p in patches:
        proc = subprocess.run(["patch", "-p1", "--batch", "--forward", "--silent", "-i", str(Path(p).resolve())],
                              cwd=tree, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{p} does not apply to {tree}:\n{proc.stdout}{proc.stderr}")


def _sync(src: Path, dest: Path) -> None:
    """Make ``dest`` equal to ``src``, writing only files whose bytes differ."""
    dest.mkdir(parents=True, exist_ok=True)
    keep = set()
    for root, _dirs, files in os.walk(src):
        rel = Path(root).relative_to(src)
        (dest / rel).mkdir(parents=True, exist_ok=True)
        for f in files:
            a, b = Path(root) / f, dest / rel / f
            keep.add(rel / f)
            if b.is_symlink() or not b.is_file() or a.stat().st_size != b.stat().st_size \
                    or a.read_bytes() != b.read_bytes():
                if b.is_symlink() or b.exists():
                    b.unlink()
                shutil.copy2(a, b, follow_symlinks=False)
    for root, _dirs, files in os.walk(dest):
        rel = Path(root).relative_to(dest)
        for f in files:
            if rel / f not in keep:
                (Path(root) / f).unlink()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=None, help="cache folder (default: ~/.cache/wisparse-gguf)")
    ap.add_argument("--patched-tree", type=Path, default=None,
                    help="also write the source with --patch files applied to this folder; print it")
    ap.add_argument("--patch", type=Path, action="append", default=[], help="patch file, in order (repeatable)")
    args = ap.parse_args()
    if args.patched_tree:
        print(patched_tree(args.patched_tree, args.patch, args.cache))
    else:
        print(source_dir(args.cache))


if __name__ == "__main__":
    main()
