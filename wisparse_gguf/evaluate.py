"""Evaluation of the reference engine: LAMBADA perplexity, KL(dense || sparse),
measured sparsity; and a perplexity that reproduces ``llama-perplexity``.

The dense and every sparse configuration see the same batches, so the KL is taken
on identical inputs, and one dense forward serves every configuration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from tqdm import tqdm

from .model import LoadedModel
from .sparsify import SparseEngine, param_counts


@dataclass
class SparseConfig:
    label: str
    thresholds: dict[str, float]
    col_norms: dict[str, torch.Tensor]


@dataclass
class EvalResult:
    label: str
    nll: float = 0.0
    kl: float = 0.0
    n_pred: int = 0
    sparsity: dict[str, float] = field(default_factory=dict)  # measured, per tensor
    overall_sparsity: float = float("nan")  # parameter-weighted mean of the above

    @property
    def ppl(self) -> float:
        return math.exp(self.nll / self.n_pred) if self.n_pred else float("nan")

    @property
    def mean_kl(self) -> float:
        return self.kl / self.n_pred if self.n_pred else float("nan")


def passage_batches(tokenizer, passages, max_tokens: int = 2048):
    """Tokenized passages grouped (by length, to limit padding) into right-padded batches."""
    ids = [tokenizer(p).input_ids for p in passages]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    batch: list[list[int]] = []
    for i in order:
        if batch and (len(batch) + 1) * len(ids[i]) > max_tokens:
            yield _pad(batch)
            batch = []
        batch.append(ids[i])
    if batch:
        yield _pad(batch)


def _pad(seqs: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    n = max(len(s) for s in seqs)
    ids = torch.zeros(len(seqs), n, dtype=torch.long)
    mask = torch.zeros(len(seqs), n, dtype=torch.bool)
    for r, s in enumerate(seqs):
        ids[r, :len(s)] = torch.tensor(s)
        mask[r, :len(s)] = True
    return ids, mask


def _log_probs(lm: LoadedModel, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    logits = lm.model(input_ids=ids.to(lm.device), attention_mask=mask.long().to(lm.device), use_cache=False).logits
    return F.log_softmax(logits[:, :-1].float(), dim=-1)


@torch.no_grad()
def evaluate_passages(lm: LoadedModel, passages, configs: list[SparseConfig], max_tokens: int = 2048,
                      progress: bool = True) -> list[EvalResult]:
    """Perplexity over each passage's tokens after the first; KL(dense || sparse) per predicted token."""
    linears = lm.projections()
    weights = param_counts(linears)
    engines = [SparseEngine(linears, c.thresholds, c.col_norms) for c in configs]
    dense = EvalResult("dense")
    results = [EvalResult(c.label) for c in configs]
    batches = list(passage_batches(lm.tokenizer, passages, max_tokens))
    for ids, mask in tqdm(batches, desc="evaluate", disable=not progress):
        target = ids[:, 1:].to(lm.device)
        valid = mask[:, 1:].to(lm.device)
        lp_dense = _log_probs(lm, ids, mask)
        _accumulate(dense, lp_dense, target, valid, None)
        for engine, res in zip(engines, results):
            engine.token_mask = mask.to(lm.device)
            with engine:
                lp = _log_probs(lm, ids, mask)
            _accumulate(res, lp, target, valid, lp_dense)
    for engine, res in zip(engines, results):
        res.sparsity = engine.measured_sparsity()
        res.overall_sparsity = engine.overall_sparsity(weights)
    return [dense] + results


def _accumulate(res: EvalResult, lp: torch.Tensor, target, valid, lp_dense) -> None:
    nll = -lp.gather(-1, target[..., None])[..., 0]
    res.nll += float(nll[valid].double().sum())
    res.n_pred += int(valid.sum())
    if lp_dense is not None:
        kl = (lp_dense.exp() * (lp_dense - lp)).sum(-1)
        res.kl += float(kl[valid].double().sum())


def llama_cpp_tokens(lm: LoadedModel, text: str, add_bos: bool) -> list[int]:
    """Tokens as llama-perplexity gets them: the whole text, BOS first when the vocab adds BOS."""
    ids = lm.tokenizer(text, add_special_tokens=False).input_ids
    if add_bos:
        ids = [lm.bos_token_id] + ids
    return ids


@torch.no_grad()
def llama_perplexity(lm: LoadedModel, tokens: list[int], n_ctx: int, add_bos: bool,
                     engine: SparseEngine | None = None, n_chunks: int | None = None,
                     batch_chunks: int = 1, progress: bool = True) -> tuple[float, int]:
    """Reproduce llama.cpp tools/perplexity/perplexity.cpp ``perplexity()``.

    The tokens are cut into ``len // n_ctx`` chunks of n_ctx tokens (the rest is
    dropped); each chunk is evaluated on its own, its first token replaced by BOS
    when the vocab adds BOS; only the second half is scored: the logits at
    positions n_ctx/2 .. n_ctx-2 predict the tokens at n_ctx/2+1 .. n_ctx-1.
    Returns (perplexity, number of chunks).
    """
    n_chunk = len(tokens) // n_ctx
    if n_chunk < 2:  # llama-perplexity wants at least 2*n_ctx tokens
        raise ValueError(f"need at least {2 * n_ctx} tokens for n_ctx={n_ctx}, got {len(tokens)}")
    if n_chunks is not None and n_chunks > 0:
        n_chunk = min(n_chunk, n_chunks)
    first = n_ctx // 2
    chunks = torch.tensor(tokens[:n_chunk * n_ctx], dtype=torch.long).view(n_chunk, n_ctx).clone()
    if add_bos:
        chunks[:, 0] = lm.bos_token_id
    nll, count = 0.0, 0
    if engine is not None:
        engine.token_mask = None
        engine.install()
    try:
        for b in tqdm(range(0, n_chunk, batch_chunks), desc="llama-perplexity", disable=not progress):
            ids = chunks[b:b + batch_chunks].to(lm.device)
            logits = lm.model(input_ids=ids, use_cache=False).logits[:, first:n_ctx - 1].float()
            lp = F.log_softmax(logits, dim=-1)
            target = ids[:, first + 1:]
            nll -= float(lp.gather(-1, target[..., None]).double().sum())
            count += target.numel()
    finally:
        if engine is not None:
            engine.remove()
    return math.exp(nll / count), n_chunk
