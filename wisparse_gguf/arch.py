"""Per-architecture table: where the seven projections are, and their GGUF names.

One row per supported ``model_type``. A projection is named by its short role
(q, k, v, o, gate, up, down); projections in the same *input group* read the same
activation vector, so calibration sees that input once.
"""

from __future__ import annotations

from dataclasses import dataclass

PROJECTIONS = ("q", "k", "v", "o", "gate", "up", "down")

# Projections that share an input, in the order a block computes them.
INPUT_GROUPS: tuple[tuple[str, ...], ...] = (("q", "k", "v"), ("o",), ("gate", "up"), ("down",))

# GGUF tensor name of each projection in block i (llama.cpp names, all our archs).
GGUF_NAMES = {
    "q": "blk.{i}.attn_q.weight",
    "k": "blk.{i}.attn_k.weight",
    "v": "blk.{i}.attn_v.weight",
    "o": "blk.{i}.attn_output.weight",
    "gate": "blk.{i}.ffn_gate.weight",
    "up": "blk.{i}.ffn_up.weight",
    "down": "blk.{i}.ffn_down.weight",
}

LLAMA_MODULES = {
    "q": "self_attn.q_proj",
    "k": "self_attn.k_proj",
    "v": "self_attn.v_proj",
    "o": "self_attn.o_proj",
    "gate": "mlp.gate_proj",
    "up": "mlp.up_proj",
    "down": "mlp.down_proj",
}


@dataclass(frozen=True)
class ArchSpec:
    """Where the blocks are and how each projection is named inside a block."""

    layers: str = "model.layers"  # attribute path of the block list
    modules: dict[str, str] = None  # projection -> module path inside a block

    def module_name(self, block: int, proj: str) -> str:
        return f"{self.layers}.{block}.{self.modules[proj]}"


LLAMA_LIKE = ArchSpec(modules=LLAMA_MODULES)

ARCHS: dict[str, ArchSpec] = {
    "llama": LLAMA_LIKE,
    "mistral": LLAMA_LIKE,
    "qwen2": LLAMA_LIKE,
    "qwen3": LLAMA_LIKE,
}


class UnsupportedArchitecture(ValueError):
    pass


def arch_spec(model_type: str) -> ArchSpec:
    try:
        return ARCHS[model_type]
    except KeyError:
        raise UnsupportedArchitecture(
            f"unsupported architecture {model_type!r} (supported decoders: {', '.join(sorted(ARCHS))})"
        ) from None


def gguf_name(block: int, proj: str) -> str:
    return GGUF_NAMES[proj].format(i=block)


def tensor_names(n_blocks: int) -> list[str]:
    """The sparsified tensors of a model, in file metadata order: block-major, PROJECTIONS order."""
    return [gguf_name(i, p) for i in range(n_blocks) for p in PROJECTIONS]


def parse_gguf_name(name: str) -> tuple[int, str]:
    """``blk.3.ffn_up.weight`` -> (3, "up")."""
    parts = name.split(".")
    block = int(parts[1])
    for proj, pattern in GGUF_NAMES.items():
        if pattern.format(i=block) == name:
            return block, proj
    raise ValueError(f"not a sparsified projection: {name}")
