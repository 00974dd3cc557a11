"""The ``wisparse.*`` GGUF metadata keys (format version 1, docs/FORMAT.md)."""

FORMAT_VERSION = 1

VERSION = "wisparse.version"  # u32
METHOD = "wisparse.method"  # str
TARGET_SPARSITY = "wisparse.target_sparsity"  # f32
ENABLE = "wisparse.enable"  # bool
TENSORS = "wisparse.tensors"  # [str] * T
LEVELS = "wisparse.levels"  # [f32] * L
LEVEL = "wisparse.level"  # f32
THRESHOLDS = "wisparse.thresholds"  # [f32] * (L*T), level-major
SPARSITY = "wisparse.sparsity"  # [f32] * (L*T), level-major
COL_NORM = "wisparse.col_norm.{name}"  # [f32] * n_in, name = tensor name without ".weight"


def col_norm_key(tensor_name: str) -> str:
    return COL_NORM.format(name=tensor_name.removesuffix(".weight"))
