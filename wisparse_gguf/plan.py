"""SparsityPlan: each tensor's target sparsity at each level, and its thresholds.

The allocation (which tensor gets how much sparsity at a given level) is kept
apart from calibration: a uniform plan gives every tensor the level itself; a
block search (wisparse) fills in per-tensor values whose parameter-weighted mean
is the level.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DEFAULT_LEVELS = (0.3, 0.4, 0.5, 0.6)


@dataclass
class SparsityPlan:
    levels: list[float]
    tensors: list[str]  # GGUF tensor names
    sparsity: np.ndarray  # [L, T] target sparsity of each tensor at each level
    thresholds: np.ndarray | None = None  # [L, T], filled by calibration
    n_params: dict[str, int] = field(default_factory=dict)

    @classmethod
    def uniform(cls, levels, tensors, n_params: dict[str, int] | None = None) -> "SparsityPlan":
        levels = [float(x) for x in levels]
        s = np.repeat(np.asarray(levels, dtype=np.float32)[:, None], len(tensors), axis=1)
        return cls(levels=levels, tensors=list(tensors), sparsity=s, n_params=dict(n_params or {}))

    def level_index(self, level: float) -> int:
        for i, x in enumerate(self.levels):
            if abs(x - level) < 1e-6:
                return i
        raise KeyError(f"level {level} not in plan levels {self.levels}")

    def budget(self, level: float) -> float:
        """Parameter-weighted mean sparsity at a level (equals the level for a valid plan)."""
        s = self.sparsity[self.level_index(level)]
        w = np.asarray([self.n_params.get(t, 1) for t in self.tensors], dtype=np.float64)
        return float((s * w).sum() / w.sum())

    def thresholds_at(self, level: float) -> dict[str, float]:
        if self.thresholds is None:
            raise ValueError("plan is not calibrated")
        row = self.thresholds[self.level_index(level)]
        return {t: float(row[i]) for i, t in enumerate(self.tensors)}


def with_level(levels, level: float) -> list[float]:
    """Levels, sorted, with ``level`` added when missing."""
    out = sorted({round(float(x), 6) for x in levels} | {round(float(level), 6)})
    return out
