"""llama-cpp-python on the patched build runs a WiSparse file sparse; kv_overrides switches it off.

Each run is a subprocess: the patched libllama prints its per-tensor skip counts
(GGML_SPARSE_STATS) when the process exits.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LIB = Path(os.environ.get("WISPARSE_BUILD_DIR", ROOT / "build" / "bin"))

pytestmark = [pytest.mark.slow, pytest.mark.runtime]

RUN = textwrap.dedent("""
    import json, sys
    from llama_cpp import Llama
    overrides = json.loads(sys.argv[2]) or None
    llm = Llama(model_path=sys.argv[1], kv_overrides=overrides, n_ctx=256, n_threads=2, verbose=False, seed=0)
    out = llm("The capital of France is", max_tokens=16, temperature=0.0)
    print(out["choices"][0]["text"])
""")


@pytest.fixture(scope="module")
def sparse_file(tmp_path_factory) -> Path:
    import importlib.util

    if importlib.util.find_spec("llama_cpp") is None:  # not imported here: it loads libllama at import
        pytest.skip("llama-cpp-python not installed (python tools/build_llama_cpp_python.py)")
    if not (LIB / "libllama.so").is_file():
        pytest.skip(f"patched libllama not built in {LIB}")
    from wisparse_gguf.data import default_model_path

    src = default_model_path()
    out = tmp_path_factory.mktemp("lcp") / "smol-wina.gguf"
    subprocess.run([sys.executable, "-m", "wisparse_gguf.cli", "attach", str(src), str(out), "--model", str(src), "--method", "wina",
                    "--sparsity", "0.5", "--levels", "0.5", "--calib-tokens", "4096", "--calibration", "dense"],
                   check=True, capture_output=True, text=True)
    return out


def generate(model: Path, overrides: dict, stats: Path) -> str:
    env = {**os.environ, "LLAMA_CPP_LIB_PATH": str(LIB), "GGML_SPARSE_STATS": str(stats)}
    proc = subprocess.run([sys.executable, "-c", RUN, str(model), __import__("json").dumps(overrides)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def skipped(stats: Path) -> list[float]:
    if not stats.is_file():
        return []
    return [float(line.split("\t")[2]) for line in stats.read_text().splitlines() if line.strip()]


def test_llama_cpp_python_runs_sparse_and_dense(sparse_file, tmp_path):
    sparse_stats, dense_stats = tmp_path / "sparse.tsv", tmp_path / "dense.tsv"
    sparse_text = generate(sparse_file, {}, sparse_stats)
    dense_text = generate(sparse_file, {"wisparse.enable": False}, dense_stats)

    fractions = skipped(sparse_stats)
    assert len(fractions) == 30 * 7, "every projection of SmolLM2's 30 blocks should run sparse"
    assert 0.3 < sum(fractions) / len(fractions) < 0.7
    assert skipped(dense_stats) == [], "wisparse.enable=False must run dense"
    assert sparse_text.strip() and dense_text.strip()
