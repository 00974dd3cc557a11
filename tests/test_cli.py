"""CLI behaviour on tiny models: attach, inspect, eval, and every bad input."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from wisparse_gguf import gguf_keys as K
from wisparse_gguf.cli import main

FAST = ["--calib-tokens", "512", "--seq-len", "128"]


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def one_line_error(result, *words):
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    # progress bars (model loading) may precede it; the error itself is one line, the last
    lines = [ln for ln in result.output.replace("\r", "\n").splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("Error")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.output
    assert "Usage:" not in result.output
    for w in words:
        assert w in errors[0], (w, errors[0])


@pytest.fixture(scope="module")
def attached(tiny_dirs, calib_text, tmp_path_factory):
    out = tmp_path_factory.mktemp("attach") / "out.gguf"
    r = run("attach", tiny_dirs["llama"]["gguf"], out, "--model", tiny_dirs["llama"]["hf"],
            "--sparsity", "0.45", "--method", "wina", "--calib-text", calib_text, *FAST)
    assert r.exit_code == 0, r.output
    return out


def test_attach_copies_tensors_and_writes_metadata(tiny_dirs, attached):
    import gguf
    import torch

    from wisparse_gguf.model import load_model

    src, dst = gguf.GGUFReader(tiny_dirs["llama"]["gguf"]), gguf.GGUFReader(attached)
    assert [t.name for t in src.tensors] == [t.name for t in dst.tensors]
    for a, b in zip(src.tensors, dst.tensors):
        assert a.tensor_type == b.tensor_type and a.data.tobytes() == b.data.tobytes()
    assert dst.get_field("general.name").contents() == "tiny"
    get = lambda k: dst.get_field(k).contents()  # noqa: E731
    assert get(K.VERSION) == 1 and get(K.METHOD) == "wina" and get(K.ENABLE) is True
    levels = [round(x, 6) for x in get(K.LEVELS)]
    assert levels == [0.3, 0.4, 0.45, 0.5, 0.6]  # --sparsity added to the default levels
    assert abs(get(K.LEVEL) - 0.45) < 1e-6 and abs(get(K.TARGET_SPARSITY) - 0.45) < 1e-6
    tensors = get(K.TENSORS)
    assert len(tensors) == 14 and tensors[:2] == ["blk.0.attn_q.weight", "blk.0.attn_k.weight"]
    assert len(get(K.THRESHOLDS)) == len(get(K.SPARSITY)) == 5 * 14
    sp = np.asarray(get(K.SPARSITY)).reshape(5, 14)
    assert np.allclose(sp, np.asarray(levels)[:, None])  # level-major
    lm = load_model(tiny_dirs["llama"]["hf"])
    for name, lin in lm.projections().items():
        norm = np.asarray(get(K.col_norm_key(name)))
        assert norm.shape == (lin.in_features,)
        np.testing.assert_allclose(norm, lin.weight.detach().norm(dim=0).numpy(), rtol=1e-5)
    del torch


def test_teal_writes_unit_norms(tiny_dirs, calib_text, tmp_path):
    from wisparse_gguf.export import read_metadata

    out = tmp_path / "teal.gguf"
    r = run("attach", tiny_dirs["qwen2"]["gguf"], out, "--model", tiny_dirs["qwen2"]["hf"], "--method", "teal",
            "--levels", "0.5", "--calib-text", calib_text, "--calibration", "dense", *FAST)
    assert r.exit_code == 0, r.output
    meta = read_metadata(out)
    assert meta.plan.levels == [0.5] and all((v == 1.0).all() for v in meta.col_norms.values())


def test_inspect_table_and_plot(attached, tmp_path):
    png = tmp_path / "p.png"
    r = run("inspect", attached, "--plot", png)
    assert r.exit_code == 0, r.output
    assert "s@0.45" in r.output and "norm mean" in r.output and png.stat().st_size > 1000


def test_inspect_refuses_plain_gguf(tiny_dirs):
    one_line_error(run("inspect", tiny_dirs["llama"]["gguf"]), "no wisparse metadata")


def test_eval_uses_file_thresholds(attached, tiny_dirs, tmp_path):
    # a GGUF without tokenizer cannot be evaluated, so check the plan is read from the file
    from wisparse_gguf.evalcmd import configs_from_file

    configs, targets = configs_from_file(attached, (0.45,))
    assert len(configs) == 1 and len(configs[0].thresholds) == 14 and list(targets.values()) == [0.45]


def test_dump_text(tmp_path):
    from wisparse_gguf.data import lambada_passages

    out = tmp_path / "l.txt"
    assert run("eval", "--dump-text", out, "--limit", 3).exit_code == 0
    assert out.read_text() == "\n\n".join(lambada_passages()[:3])


# ---- bad input: one line, non-zero exit, no output file ----

def test_missing_path(tmp_path):
    out = tmp_path / "o.gguf"
    one_line_error(run("attach", tmp_path / "nope.gguf", out), "nope.gguf")
    one_line_error(run("convert", tmp_path / "nope", out), "nope")
    assert not out.exists()


def test_bert_is_rejected(bert_dir, tmp_path):
    out = tmp_path / "o.gguf"
    one_line_error(run("convert", bert_dir, out), "unsupported architecture", "bert")
    one_line_error(run("eval", bert_dir), "unsupported architecture", "bert")
    assert not out.exists()


def test_truncated_gguf(tiny_dirs, tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(tiny_dirs["llama"]["gguf"].read_bytes()[:3000])
    out = tmp_path / "o.gguf"
    one_line_error(run("attach", bad, out, "--model", tiny_dirs["llama"]["hf"]), "bad.gguf")
    one_line_error(run("inspect", bad), "bad.gguf")
    assert not out.exists()


def test_sparsity_out_of_range(tiny_dirs, tmp_path):
    out = tmp_path / "o.gguf"
    one_line_error(run("attach", tiny_dirs["llama"]["gguf"], out, "--sparsity", "1.2"), "1.2", "[0, 1)")
    one_line_error(run("attach", tiny_dirs["llama"]["gguf"], out, "--levels", "0.3,-0.1"), "-0.1")
    assert not out.exists()


def test_output_directory_missing(tiny_dirs, tmp_path):
    out = tmp_path / "no" / "such" / "o.gguf"
    one_line_error(run("attach", tiny_dirs["llama"]["gguf"], out, "--model", tiny_dirs["llama"]["hf"]),
                   "output directory does not exist")
    assert not out.parent.exists()


def test_attach_shape_mismatch(tiny_dirs, calib_text, tmp_path):
    out = tmp_path / "o.gguf"
    one_line_error(run("attach", tiny_dirs["llama"]["gguf"], out, "--model", tiny_dirs["llama_wide"]["hf"],
                       "--calib-text", calib_text, *FAST), "shape mismatch")
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_failed_write_leaves_no_file(tmp_path):
    from wisparse_gguf import export

    out = tmp_path / "o.gguf"
    with pytest.raises(RuntimeError):
        with export.atomic_output(out) as tmp:
            tmp.write_bytes(b"partial")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
