import pytest
import torch

from wisparse_gguf.calibrate import CalibrationConfig, calibrate, calibration_batches, model_col_norms
from wisparse_gguf.model import load_model
from wisparse_gguf.plan import SparsityPlan
from wisparse_gguf.sparsify import SparseEngine, param_counts


@pytest.mark.parametrize("kind", ["llama", "qwen2"])
@pytest.mark.parametrize("method", ["wina", "teal"])
def test_sequential_thresholds_hit_target_on_calibration_tokens(tiny_dirs, calib_text, kind, method):
    lm = load_model(tiny_dirs[kind]["hf"])
    cfg = CalibrationConfig(n_tokens=1024, seq_len=128, text=calib_text)
    linears = lm.projections()
    plan = SparsityPlan.uniform([0.3, 0.6], list(linears), param_counts(linears))
    norms = model_col_norms(lm)
    if method == "teal":
        norms = {n: torch.ones_like(c) for n, c in norms.items()}
    calibrate(lm, plan, method, cfg, col_norms=norms, mode="sequential", progress=False)
    assert plan.thresholds.shape == (2, 14)
    assert (plan.thresholds[1] >= plan.thresholds[0]).all()
    tokens = calibration_batches(lm.tokenizer, cfg)
    for level in plan.levels:
        engine = SparseEngine(linears, plan.thresholds_at(level), norms)
        with engine, torch.no_grad():
            lm.model(input_ids=tokens)
        for name, s in engine.measured_sparsity().items():
            assert abs(s - level) < 0.01, (name, s, level)


def test_dense_mode_and_determinism(tiny_dirs, calib_text):
    lm = load_model(tiny_dirs["llama"]["hf"])
    cfg = CalibrationConfig(n_tokens=512, seq_len=128, text=calib_text)
    names = list(lm.projections())
    a = calibrate(lm, SparsityPlan.uniform([0.5], names), "wina", cfg, mode="dense", progress=False)
    b = calibrate(lm, SparsityPlan.uniform([0.5], names), "wina", cfg, mode="dense", progress=False)
    assert (a.thresholds == b.thresholds).all() and (a.thresholds > 0).all()


def test_default_calibration_samples_across_wiki():
    from wisparse_gguf.data import calibration_documents, wiki_paragraphs

    docs = calibration_documents(seed=0)
    assert docs == calibration_documents(seed=0) and docs != calibration_documents(seed=1)
    wiki = wiki_paragraphs()
    first = {wiki.index(d) for d in docs[:50]}
    assert max(first) > len(wiki) // 2 and min(first) < len(wiki) // 2  # not only the head of the file


@pytest.mark.parametrize("method", ["wina", "teal"])
def test_one_pass_sequential_equals_grouped_passes(tiny_dirs, calib_text, monkeypatch, method):
    """One block pass over all sequences gives the thresholds of the grouped multi-pass path."""
    import numpy as np

    from wisparse_gguf import calibrate as cal

    lm = load_model(tiny_dirs["llama"]["hf"])
    cfg = CalibrationConfig(n_tokens=1024, seq_len=128, text=calib_text)
    names = list(lm.projections())
    sparsity = np.linspace(0.2, 0.7, len(names))[None, :]  # different per tensor: the split is honoured
    plans = []
    for budget in (cal.ONE_PASS_BYTES, 0):  # 0 forces the grouped multi-pass path
        monkeypatch.setattr(cal, "ONE_PASS_BYTES", budget)
        plan = SparsityPlan.uniform([0.45], names)
        plan.sparsity[:] = sparsity
        plans.append(calibrate(lm, plan, method, cfg, mode="sequential", progress=False).thresholds)
    assert (plans[0] > 0).all()
    np.testing.assert_allclose(plans[0], plans[1], rtol=1e-5)
