"""Readable views of wisparse metadata and of evaluation results."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .arch import PROJECTIONS, parse_gguf_name
from .export import WisparseMetadata


def format_table(headers: list[str], rows: list[list], floatfmt: str = "{:.4f}") -> str:
    cells = [[floatfmt.format(c) if isinstance(c, float) else str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = lambda r: "  ".join(c.rjust(w) for c, w in zip(r, widths))  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in cells])


def block_sparsity(meta: WisparseMetadata) -> tuple[list[int], np.ndarray]:
    """Blocks and their parameter-weighted target sparsity per level: [n_blocks, L]."""
    p = meta.plan
    blocks = sorted({parse_gguf_name(t)[0] for t in p.tensors})
    out = np.zeros((len(blocks), len(p.levels)))
    for bi, b in enumerate(blocks):
        idx = [i for i, t in enumerate(p.tensors) if parse_gguf_name(t)[0] == b]
        w = np.asarray([p.n_params.get(p.tensors[i], 1) for i in idx], np.float64)
        out[bi] = (p.sparsity[:, idx] * w).sum(1) / w.sum()
    return blocks, out


def describe(meta: WisparseMetadata) -> str:
    p = meta.plan
    head = [f"wisparse metadata: method={meta.method}  default level={meta.level}  "
            f"levels={p.levels}  tensors={len(p.tensors)}"]
    blocks, bs = block_sparsity(meta)
    rows = []
    for bi, b in enumerate(blocks):
        idx = [i for i, t in enumerate(p.tensors) if parse_gguf_name(t)[0] == b]
        norms = np.concatenate([meta.col_norms[p.tensors[i]] for i in idx])
        rows.append([b, *[float(x) for x in bs[bi]], float(norms.min()), float(norms.mean()), float(norms.max())])
    table = format_table(["block", *[f"s@{l:g}" for l in p.levels], "norm min", "norm mean", "norm max"], rows)
    # thresholds at the default level, per projection kind (mean over blocks)
    li = p.level_index(meta.level)
    per_proj = []
    for proj in PROJECTIONS:
        idx = [i for i, t in enumerate(p.tensors) if parse_gguf_name(t)[1] == proj]
        thr = p.thresholds[li, idx]
        per_proj.append([proj, float(thr.min()), float(thr.mean()), float(thr.max())])
    thr_table = format_table(["proj", "thr min", "thr mean", "thr max"], per_proj)
    budget = "  ".join(f"{l:g}: {p.budget(l):.4f}" for l in p.levels)
    return "\n".join(head + ["", "per-block target sparsity per level, column-norm stats:", table, "",
                             f"thresholds at level {meta.level:g} by projection:", thr_table, "",
                             f"parameter-weighted budget per level: {budget}"])


def plot_block_sparsity(meta: WisparseMetadata, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    blocks, bs = block_sparsity(meta)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 4.5), gridspec_kw={"width_ratios": [3, 2]})
    for li, level in enumerate(meta.plan.levels):
        ax.plot(blocks, bs[:, li], marker="o", ms=3, label=f"level {level:g}")
    ax.set_xlabel("block")
    ax.set_ylabel("target sparsity")
    ax.set_title(f"wisparse ({meta.method}): per-block sparsity")
    ax.legend()
    # per-tensor sparsity at the default level: blocks x projections
    p = meta.plan
    row = p.sparsity[p.level_index(meta.level)]
    grid = np.full((len(blocks), len(PROJECTIONS)), np.nan)
    for i, t in enumerate(p.tensors):
        b, proj = parse_gguf_name(t)
        grid[blocks.index(b), PROJECTIONS.index(proj)] = row[i]
    im = ax2.imshow(grid, aspect="auto", cmap="viridis", vmin=0, vmax=max(0.95, float(np.nanmax(grid))))
    ax2.set_xticks(range(len(PROJECTIONS)), PROJECTIONS)
    ax2.set_ylabel("block")
    ax2.set_title(f"per-tensor sparsity at level {meta.level:g}")
    fig.colorbar(im, ax=ax2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
