"""Load a model (HF directory or GGUF file) into PyTorch, float32, and find its projections."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

from .arch import PROJECTIONS, ArchSpec, UnsupportedArchitecture, arch_spec, gguf_name
from .errors import WisparseError


@dataclass
class LoadedModel:
    model: nn.Module
    tokenizer: object
    spec: ArchSpec
    path: Path

    @property
    def n_blocks(self) -> int:
        return len(self.blocks)

    @property
    def blocks(self) -> nn.ModuleList:
        return self.model.get_submodule(self.spec.layers)

    def projection(self, block: int, proj: str) -> nn.Linear:
        return self.model.get_submodule(self.spec.module_name(block, proj))

    def projections(self) -> dict[str, nn.Linear]:
        """GGUF tensor name -> nn.Linear, block-major in PROJECTIONS order."""
        return {gguf_name(i, p): self.projection(i, p) for i in range(self.n_blocks) for p in PROJECTIONS}

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def bos_token_id(self) -> int | None:
        return self.tokenizer.bos_token_id


def is_gguf(path: Path) -> bool:
    return Path(path).suffix == ".gguf"


def read_gguf(path: Path):
    """A GGUFReader, or a one-line error for a missing, truncated or non-GGUF file.

    Readers are cached per (path, size, mtime): parsing the header of a model with
    a 150k-token vocabulary takes gguf-py many seconds, and a command reads the
    same file several times (checks, column norms, copy).
    """
    path = Path(path)
    if not path.is_file():
        raise WisparseError(f"no such file: {path}")
    st = path.stat()
    return _read_gguf(str(path.resolve()), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=4)
def _read_gguf(path: str, size: int, mtime_ns: int):
    import gguf

    try:
        return gguf.GGUFReader(path)
    except Exception as exc:  # gguf-py raises ValueError/IndexError/etc. on bad files
        raise WisparseError(f"{path} is not a readable GGUF file (truncated or corrupt?): {exc}") from None


def gguf_architecture(reader) -> str:
    field = reader.get_field("general.architecture")
    if field is None:
        raise WisparseError("GGUF has no general.architecture key")
    return field.contents()


def model_type_of(path: Path) -> str:
    """The architecture name of a model path, read without loading any weights."""
    path = Path(path)
    if not path.exists():
        raise WisparseError(f"no such file or directory: {path}")
    if is_gguf(path):
        return gguf_architecture(read_gguf(path))
    config = path / "config.json"
    if not config.is_file():
        raise WisparseError(f"{path} is neither a .gguf file nor a HF model directory with config.json")
    return json.loads(config.read_text()).get("model_type", "?")


def check_supported(path: Path) -> ArchSpec:
    try:
        return arch_spec(model_type_of(path))
    except UnsupportedArchitecture as exc:
        raise WisparseError(f"{path}: {exc}") from None


def load_model(path: Path, device: str | None = None) -> LoadedModel:
    """Load ``path`` in float32 (a GGUF is dequantized by transformers; needs accelerate).

    float32 on purpose: bf16 matmuls may fault on these CPUs' AMX units, and the
    thresholds must be calibrated on the same numbers the evaluation sees.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(path)
    spec = check_supported(path)
    if is_gguf(path):
        read_gguf(path)  # clear error on a truncated file before transformers tries
        kwargs = dict(gguf_file=path.name)
        where = path.parent
    else:
        kwargs = {}
        where = path
    try:
        model = AutoModelForCausalLM.from_pretrained(where, dtype=torch.float32, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(where, **kwargs)
    except (OSError, ValueError, KeyError) as exc:
        raise WisparseError(f"could not load {path}: {str(exc).splitlines()[0]}") from None
    model.eval()
    if device:
        model.to(device)
    return LoadedModel(model=model, tokenizer=tokenizer, spec=spec, path=path)


def save_hf_directory(lm: LoadedModel, out_dir: Path) -> Path:
    """Write a loaded model as a plain HF directory (safetensors + tokenizer).

    transformers refuses ``save_pretrained`` on a model it dequantized from a GGUF,
    so the weights are moved into a fresh model built from the same config.
    """
    from transformers import AutoModelForCausalLM

    config = lm.model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    fresh.load_state_dict(lm.model.state_dict())
    out_dir = Path(out_dir)
    fresh.save_pretrained(out_dir)
    lm.tokenizer.save_pretrained(out_dir)
    return out_dir
