"""The PyTorch reference engine: the sparsity rule as forward pre-hooks on nn.Linear.

The rule (DESIGN.md section 2), one place in this engine: for a projection
``y = W x`` with column norms ``c_j = ||W[:, j]||_2`` and threshold ``t``,
keep ``x_j`` iff ``|x_j| * c_j > t``, per token, every token. Magnitude (teal)
tensors use ``c_j = 1``.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


def column_norms(weight: torch.Tensor) -> torch.Tensor:
    """L2 norm of each input column of a [n_out, n_in] weight, float32."""
    return weight.detach().float().norm(dim=0)


def keep_mask(x: torch.Tensor, col_norm: torch.Tensor, threshold: float) -> torch.Tensor:
    """THE rule: keep x_j iff |x_j| * c_j > t."""
    return x.abs() * col_norm > threshold


class SparseEngine:
    """Sparsify the inputs of some projections; count what was zeroed.

    ``token_mask`` (bool [batch, seq]) marks the real tokens of a padded batch, so
    that padding is not counted in the measured sparsity.
    """

    def __init__(self, linears: dict[str, nn.Linear], thresholds: dict[str, float],
                 col_norms: dict[str, torch.Tensor]):
        self.linears = {name: linears[name] for name in thresholds}
        self.thresholds = dict(thresholds)
        self.col_norms = {name: col_norms[name].float().to(self.linears[name].weight.device) for name in thresholds}
        self.zeroed = {name: 0 for name in thresholds}
        self.total = {name: 0 for name in thresholds}
        self.token_mask: torch.Tensor | None = None
        self._handles: list = []

    def _hook(self, name: str):
        c, t = self.col_norms[name], self.thresholds[name]

        def pre_hook(module, args):
            x = args[0]
            keep = keep_mask(x, c, t)
            self._count(name, keep)
            return (x * keep,) + tuple(args[1:])

        return pre_hook

    def _count(self, name: str, keep: torch.Tensor) -> None:
        n_in = keep.shape[-1]
        if self.token_mask is not None and self.token_mask.shape == keep.shape[:-1]:
            valid = self.token_mask
            kept = int((keep & valid.to(keep.device)[..., None]).sum())
            total = int(valid.sum()) * n_in
        else:
            kept = int(keep.sum())
            total = keep.numel()
        self.zeroed[name] += total - kept
        self.total[name] += total

    def install(self) -> "SparseEngine":
        if self._handles:
            raise RuntimeError("engine already installed")
        for name, lin in self.linears.items():
            self._handles.append(lin.register_forward_pre_hook(self._hook(name)))
        return self

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def __enter__(self) -> "SparseEngine":
        return self.install()

    def __exit__(self, *exc) -> None:
        self.remove()

    def reset_counts(self) -> None:
        for name in self.zeroed:
            self.zeroed[name] = 0
            self.total[name] = 0

    def measured_sparsity(self) -> dict[str, float]:
        return {n: self.zeroed[n] / self.total[n] if self.total[n] else float("nan") for n in self.zeroed}

    def overall_sparsity(self, weights: dict[str, int] | None = None) -> float:
        """Mean measured sparsity, weighted by parameter count (or by inputs seen if None)."""
        if weights is None:
            z, t = sum(self.zeroed.values()), sum(self.total.values())
            return z / t if t else float("nan")
        sp = self.measured_sparsity()
        w = sum(weights[n] for n in sp)
        return sum(sp[n] * weights[n] for n in sp) / w


def param_counts(linears: dict[str, nn.Linear]) -> dict[str, int]:
    return {n: lin.weight.numel() for n, lin in linears.items()}


def unit_norms(linears: dict[str, nn.Linear], names: Iterable[str] | None = None) -> dict[str, torch.Tensor]:
    names = names if names is not None else linears
    return {n: torch.ones(linears[n].in_features) for n in names}
