"""Calibration: token batches -> per-tensor score histograms -> thresholds.

Data flow (how batches move through the model) is kept here; what a method does
with the statistics is in ``methods.py``/``plan.py``.

Two modes:
- ``dense``: ONE forward pass over the calibration tokens with statistics hooks;
  thresholds for every level come from the same histograms.
- ``sequential``: per level, block by block, with earlier blocks (and earlier
  input groups of the same block) already sparsified at that level, so that
  each threshold is the quantile of the activations the sparse model really
  sees. Costs one forward pass per level when a block pass over all calibration
  sequences fits in memory (else about 2.5); fixes the overshoot that dense
  thresholds show at high levels (docs/RESULTS.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from tqdm import tqdm

from .arch import INPUT_GROUPS, gguf_name
from .data import calibration_documents
from .histogram import LogHistogram
from .model import LoadedModel
from .plan import SparsityPlan
from .sparsify import SparseEngine, keep_mask


@dataclass
class CalibrationConfig:
    n_tokens: int = 4096
    seq_len: int = 512
    batch_size: int = 4
    seed: int = 0
    text: str | None = None  # .txt/.jsonl file; None = wiki summaries


def calibration_batches(tokenizer, cfg: CalibrationConfig) -> torch.Tensor:
    """[n_seqs, seq_len] token ids: seeded documents joined by blank lines, cut into sequences."""
    n_seqs = max(1, cfg.n_tokens // cfg.seq_len)
    need = n_seqs * cfg.seq_len
    ids: list[int] = []
    sep = tokenizer("\n\n", add_special_tokens=False).input_ids
    for doc in calibration_documents(cfg.text, cfg.seed):
        ids.extend(tokenizer(doc, add_special_tokens=False).input_ids)
        ids.extend(sep)
        if len(ids) >= need:
            break
    if len(ids) < need:
        n_seqs = max(1, len(ids) // cfg.seq_len)
        need = n_seqs * cfg.seq_len
        if len(ids) < need:
            raise ValueError(f"calibration text too short: {len(ids)} tokens < seq_len {cfg.seq_len}")
    return torch.tensor(ids[:need], dtype=torch.long).view(n_seqs, cfg.seq_len)


def uses_col_norm(method: str) -> bool:
    return method in ("wina", "wisparse")


class _StopForward(Exception):
    """Raised by a hook to end a forward pass once its input has been seen."""


class StatsCollector:
    """Forward pre-hooks on the first projection of each input group.

    For each tensor: a histogram of |x_j| * c_j (``score``) and, shared by the
    group, a histogram of |x_j| (``magnitude``).
    """

    def __init__(self, lm: LoadedModel, col_norms: dict[str, torch.Tensor], blocks=None,
                 groups=INPUT_GROUPS, kinds=("score", "magnitude"), stop: bool = False):
        self.lm, self.col_norms, self.kinds, self.stop = lm, col_norms, kinds, stop
        self.blocks = range(lm.n_blocks) if blocks is None else blocks
        self.groups = groups
        self.hist: dict[str, dict[str, LogHistogram]] = {}
        self._handles = []

    def _hook(self, block: int, group: tuple[str, ...]):
        names = [gguf_name(block, p) for p in group]
        for n in names:
            self.hist[n] = {k: LogHistogram() for k in self.kinds}

        def pre_hook(module, args):
            x = args[0].detach().reshape(-1, args[0].shape[-1]).abs()
            if "magnitude" in self.kinds:
                self.hist[names[0]]["magnitude"].add(x)
                for n in names[1:]:  # same input: share the histogram object
                    self.hist[n]["magnitude"] = self.hist[names[0]]["magnitude"]
            if "score" in self.kinds:
                for n in names:
                    self.hist[n]["score"].add(x * self.col_norms[n])
            if self.stop:
                raise _StopForward

        return pre_hook

    def __enter__(self):
        for i in self.blocks:
            for g in self.groups:
                lin = self.lm.projection(i, g[0])
                self._handles.append(lin.register_forward_pre_hook(self._hook(i, g)))
        return self

    def __exit__(self, *exc):
        for h in self._handles:
            h.remove()
        self._handles = []


def thresholds_from_histograms(plan: SparsityPlan, hist: dict[str, dict[str, LogHistogram]],
                               method: str, level_rows=None) -> None:
    """Fill ``plan.thresholds`` rows with each tensor's quantile at its target sparsity."""
    import numpy as np

    kind = "score" if uses_col_norm(method) else "magnitude"
    if plan.thresholds is None:
        plan.thresholds = np.zeros_like(plan.sparsity, dtype=np.float32)
    rows = range(len(plan.levels)) if level_rows is None else level_rows
    for l in rows:
        for i, name in enumerate(plan.tensors):
            if name in hist:
                plan.thresholds[l, i] = hist[name][kind].quantile(float(plan.sparsity[l, i]))


@torch.no_grad()
def collect_dense(lm: LoadedModel, tokens: torch.Tensor, col_norms: dict[str, torch.Tensor],
                  batch_size: int = 4, progress: bool = True) -> dict[str, dict[str, LogHistogram]]:
    """One dense pass; histograms of both scores for every tensor."""
    body = lm.model.get_submodule(lm.spec.layers.rsplit(".", 1)[0])  # the model without lm_head
    with StatsCollector(lm, col_norms) as stats:
        for b in tqdm(range(0, len(tokens), batch_size), desc="calibrate (dense)", disable=not progress):
            body(input_ids=tokens[b:b + batch_size], use_cache=False)
    return stats.hist


@torch.no_grad()
def block_inputs(lm: LoadedModel, tokens: torch.Tensor, batch_size: int) -> tuple[torch.Tensor, dict]:
    """Hidden states entering block 0 for all sequences, and the block call's keyword args."""
    captured: dict = {}

    def catch(module, args, kwargs):
        captured.setdefault("hidden", []).append(args[0] if args else kwargs["hidden_states"])
        if "kwargs" not in captured:
            captured["kwargs"] = {k: v for k, v in kwargs.items() if k != "hidden_states"}
        raise _StopForward

    body = lm.model.get_submodule(lm.spec.layers.rsplit(".", 1)[0])
    handle = lm.blocks[0].register_forward_pre_hook(catch, with_kwargs=True)
    try:
        # one sequence at a time: the captured kwargs (rotary cos/sin, mask) then
        # have batch dim 1 and broadcast over any batch size
        for b in range(len(tokens)):
            try:
                body(input_ids=tokens[b:b + 1], use_cache=False)
            except _StopForward:
                pass
    finally:
        handle.remove()
    kwargs = captured["kwargs"]
    kwargs["use_cache"] = False
    kwargs.pop("past_key_values", None)
    kwargs.pop("past_key_value", None)
    return torch.cat(captured["hidden"]), kwargs


def _run_block(block, hidden: torch.Tensor, kwargs: dict, batch_size: int, keep_output: bool):
    out = []
    for b in range(0, len(hidden), batch_size):
        try:
            y = block(hidden[b:b + batch_size], **kwargs)
        except _StopForward:
            continue
        if keep_output:
            out.append(y[0] if isinstance(y, tuple) else y)
    return torch.cat(out) if keep_output else None


# activations of one block pass over every calibration sequence at once must fit this
ONE_PASS_BYTES = 2 << 30


def one_pass_bytes(lm: LoadedModel, n_seqs: int, seq_len: int) -> int:
    """Rough peak of activations when one block runs on all ``n_seqs`` sequences at once."""
    cfg = lm.model.config
    cfg = cfg.get_text_config() if hasattr(cfg, "get_text_config") else cfg
    d = int(cfg.hidden_size)
    ff = int(getattr(cfg, "intermediate_size", 4 * d) or 4 * d)
    heads = int(getattr(cfg, "num_attention_heads", 1) or 1)
    n = n_seqs * seq_len
    return 4 * (n * (3 * ff + 6 * d) + n_seqs * heads * seq_len * seq_len)


class _CalibratingBlock:
    """Pre-hooks on one block's projections for a pass over ALL calibration sequences at once.

    The first time a projection sees its input (the whole calibration set), its
    threshold is the quantile of that input's scores at the tensor's target
    sparsity; then the input is masked with it, so every later projection of the
    block (and every later block) sees the sparse model's activations. One block
    pass per block and level, the same thresholds as the grouped multi-pass path.
    """

    def __init__(self, linears: dict, names: list[str], norms: dict[str, torch.Tensor], target: dict[str, float]):
        self.done: dict[str, float] = {}
        self._handles = [linears[n].register_forward_pre_hook(self._hook(n, norms[n], target[n])) for n in names]

    def _hook(self, name: str, c: torch.Tensor, sparsity: float):
        def pre_hook(module, args):
            x = args[0]
            if name not in self.done:
                h = LogHistogram()
                h.add(x.abs() * c)
                self.done[name] = h.quantile(sparsity)
            return (x * keep_mask(x, c, self.done[name]),) + tuple(args[1:])

        return pre_hook

    def remove(self) -> None:
        for h in self._handles:
            h.remove()


def _calibrate_block_one_pass(block, hidden: torch.Tensor, kwargs: dict, linears: dict, names: list[str],
                              norms: dict[str, torch.Tensor], target: dict[str, float]):
    """(the block's sparse output, each projection's threshold) from one pass over all sequences."""
    hooks = _CalibratingBlock(linears, names, norms, target)
    try:
        hidden = _run_block(block, hidden, kwargs, len(hidden), keep_output=True)
    finally:
        hooks.remove()
    missing = [n for n in names if n not in hooks.done]
    if missing:
        raise RuntimeError(f"projections never ran: {', '.join(missing)}")
    return hidden, hooks.done


@torch.no_grad()
def calibrate_sequential(lm: LoadedModel, tokens: torch.Tensor, plan: SparsityPlan, method: str,
                         col_norms: dict[str, torch.Tensor], batch_size: int = 4,
                         progress: bool = True) -> None:
    """Fill ``plan.thresholds`` level by level, block by block, group by group.

    When one block pass over all calibration sequences fits ``ONE_PASS_BYTES``, each
    block runs once per level (``_CalibratingBlock``); otherwise each input group
    re-runs the block up to that group in batches (about 2.5 block passes).
    """
    import numpy as np

    kind = "score" if uses_col_norm(method) else "magnitude"
    norms = col_norms if uses_col_norm(method) else {n: torch.ones_like(c) for n, c in col_norms.items()}
    linears = lm.projections()
    if plan.thresholds is None:
        plan.thresholds = np.zeros_like(plan.sparsity, dtype=np.float32)
    one_pass = one_pass_bytes(lm, len(tokens), tokens.shape[1]) <= ONE_PASS_BYTES
    hidden0, kwargs = block_inputs(lm, tokens, batch_size)
    col = {n: i for i, n in enumerate(plan.tensors)}
    bar = tqdm(total=len(plan.levels) * lm.n_blocks, desc=f"calibrate (sequential, {method})", disable=not progress)
    for l, level in enumerate(plan.levels):
        hidden = hidden0
        for i in range(lm.n_blocks):
            block = lm.blocks[i]
            names = [gguf_name(i, p) for group in INPUT_GROUPS for p in group]
            if one_pass:
                hidden, thresholds = _calibrate_block_one_pass(
                    block, hidden, kwargs, linears, names, norms, {n: float(plan.sparsity[l, col[n]]) for n in names})
                for n, t in thresholds.items():
                    plan.thresholds[l, col[n]] = t
                bar.update(1)
                continue
            done: dict[str, float] = {}
            for group in INPUT_GROUPS:
                # statistics of this group's input with the earlier groups already sparse
                with SparseEngine(linears, done, norms), \
                        StatsCollector(lm, norms, blocks=[i], groups=[group], kinds=(kind,), stop=True) as st:
                    _run_block(block, hidden, kwargs, batch_size, keep_output=False)
                for p in group:
                    name = gguf_name(i, p)
                    h = st.hist[name][kind] if kind == "score" else st.hist[gguf_name(i, group[0])][kind]
                    t = h.quantile(float(plan.sparsity[l, col[name]]))
                    plan.thresholds[l, col[name]] = t
                    done[name] = t
            with SparseEngine(linears, done, norms):
                hidden = _run_block(block, hidden, kwargs, batch_size, keep_output=True)
            bar.update(1)
    bar.close()


def model_col_norms(lm: LoadedModel) -> dict[str, torch.Tensor]:
    from .sparsify import column_norms

    return {n: column_norms(lin.weight) for n, lin in lm.projections().items()}


def calibrate(lm: LoadedModel, plan: SparsityPlan, method: str, cfg: CalibrationConfig,
              col_norms: dict[str, torch.Tensor] | None = None, mode: str = "sequential",
              progress: bool = True) -> SparsityPlan:
    """Thresholds for every level of ``plan`` (filled in place and returned)."""
    col_norms = col_norms if col_norms is not None else model_col_norms(lm)
    tokens = calibration_batches(lm.tokenizer, cfg).to(lm.device)
    col_norms = {n: c.to(lm.device) for n, c in col_norms.items()}
    if mode == "dense":
        hist = collect_dense(lm, tokens, col_norms, cfg.batch_size, progress)
        thresholds_from_histograms(plan, hist, method)
    elif mode == "sequential":
        calibrate_sequential(lm, tokens, plan, method, col_norms, cfg.batch_size, progress)
    else:
        raise ValueError(f"unknown calibration mode {mode!r}")
    return plan
