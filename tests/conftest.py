"""Fixtures: tiny random models (llama, qwen2) with a tiny BPE tokenizer, and their GGUFs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

TEXT = ("The quick brown fox jumps over the lazy dog. A language model predicts the next token. "
        "Sparse activations skip weight columns. Calibration text comes from Wikipedia summaries. ") * 4


def make_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=["<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator([TEXT], trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>")


def make_model(kind: str, seed: int = 0, hidden: int = 64):
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    common = dict(vocab_size=320, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                  bos_token_id=0, eos_token_id=1)
    if kind == "llama":
        model = LlamaForCausalLM(LlamaConfig(**common))
    else:
        model = Qwen2ForCausalLM(Qwen2Config(**common))
    return model.float().eval()


def save_hf(model, path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    make_tokenizer().save_pretrained(path)
    return path


def write_plain_gguf(model, path: Path, arch: str = "llama") -> Path:
    """A minimal GGUF (F32) holding the model's projections under llama.cpp names."""
    import gguf

    from wisparse_gguf.arch import PROJECTIONS, gguf_name

    w = gguf.GGUFWriter(path, arch)
    w.add_block_count(model.config.num_hidden_layers)
    w.add_uint32("general.alignment", 32)
    w.add_string("general.name", "tiny")
    w.add_array("tokenizer.ggml.tokens", ["a", "b", "c"])
    w.add_tensor("token_embd.weight", model.model.embed_tokens.weight.detach().numpy().copy())
    mods = {"q": "self_attn.q_proj", "k": "self_attn.k_proj", "v": "self_attn.v_proj",
            "o": "self_attn.o_proj", "gate": "mlp.gate_proj", "up": "mlp.up_proj", "down": "mlp.down_proj"}
    for i, layer in enumerate(model.model.layers):
        for p in PROJECTIONS:
            weight = layer.get_submodule(mods[p]).weight.detach().numpy().astype(np.float32)
            w.add_tensor(gguf_name(i, p), weight.copy())
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


@pytest.fixture(scope="session")
def tiny_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    out = {}
    for kind in ("llama", "qwen2"):
        model = make_model(kind)
        hf = save_hf(model, root / kind)
        out[kind] = {"hf": hf, "gguf": write_plain_gguf(model, root / f"{kind}.gguf")}
    # a llama of another width: its shapes do not match the GGUFs above
    out["llama_wide"] = {"hf": save_hf(make_model("llama", hidden=96), root / "llama_wide")}
    return out


@pytest.fixture(scope="session")
def calib_text(tmp_path_factory):
    path = tmp_path_factory.mktemp("calib") / "calib.txt"
    path.write_text("\n\n".join([TEXT] * 20))
    return path


@pytest.fixture(scope="session")
def bert_dir(tmp_path_factory):
    from transformers import BertConfig

    path = tmp_path_factory.mktemp("bert")
    BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64).save_pretrained(path)
    return path
