"""The `eval` command's work: build sparse configurations, run the evaluations, print tables."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .calibrate import CalibrationConfig, calibrate, model_col_norms, uses_col_norm
from .data import lambada_passages, lambada_text
from .errors import WisparseError
from .evaluate import SparseConfig, evaluate_passages, llama_cpp_tokens, llama_perplexity
from .export import metadata_from_reader
from .model import LoadedModel, check_supported, is_gguf, load_model, read_gguf
from .plan import SparsityPlan
from .report import format_table
from .sparsify import SparseEngine, param_counts

TOLERANCE = 0.02  # acceptance: measured sparsity within +-0.02 of the target


def configs_from_file(path: Path, levels) -> tuple[list[SparseConfig], dict[str, float]]:
    meta = metadata_from_reader(read_gguf(path))
    if meta is None:
        return [], {}
    levels = levels or (meta.level,)
    configs, targets = [], {}
    for level in levels:
        try:
            thr = meta.plan.thresholds_at(level)
        except KeyError:
            raise WisparseError(f"level {level} not in the file's levels {meta.plan.levels}") from None
        label = f"{meta.method}@{level:g} (file)"
        configs.append(SparseConfig(label, thr, {n: torch.from_numpy(v) for n, v in meta.col_norms.items()}))
        targets[label] = level
    return configs, targets


def configs_from_calibration(lm: LoadedModel, methods, levels, cfg: CalibrationConfig, mode: str):
    norms = model_col_norms(lm)
    names = list(lm.projections())
    weights = param_counts(lm.projections())
    configs, targets = [], {}
    for method in methods:
        plan = SparsityPlan.uniform(levels, names, weights)
        use = norms if uses_col_norm(method) else {n: torch.ones_like(c) for n, c in norms.items()}
        calibrate(lm, plan, method, cfg, col_norms=use, mode=mode)
        for level in levels:
            label = f"{method}@{level:g}"
            configs.append(SparseConfig(label, plan.thresholds_at(level), use))
            targets[label] = level
    return configs, targets


def gguf_add_bos(path: Path, lm: LoadedModel) -> bool:
    """Whether llama.cpp adds BOS for this model (GGUF key, else the HF tokenizer's own behaviour)."""
    if is_gguf(path):
        f = read_gguf(path).get_field("tokenizer.ggml.add_bos_token")
        if f is not None:
            return bool(f.contents())
    ids = lm.tokenizer("a").input_ids
    return lm.bos_token_id is not None and len(ids) > 0 and ids[0] == lm.bos_token_id


def run_eval(model, levels, methods, limit, cfg: CalibrationConfig, mode, llama_ppl, ctx_size, chunks,
             tasks, per_tensor, json_out, echo=print, device: str | None = None) -> dict:
    from .data import default_model_path

    model = Path(model) if model else default_model_path()
    if not model.exists():
        raise WisparseError(f"no such file or directory: {model}")
    if json_out and not Path(json_out).parent.is_dir():
        raise WisparseError(f"output directory does not exist: {Path(json_out).parent}")
    check_supported(model)
    lm = load_model(model, device)
    if methods:
        configs, targets = configs_from_calibration(lm, methods, levels or (0.5,), cfg, mode)
    elif is_gguf(model):
        configs, targets = configs_from_file(model, levels)
    else:
        configs, targets = [], {}
    out: dict = {"model": str(model), "limit": limit, "calibration": mode if methods else "file",
                 "calib_tokens": cfg.n_tokens if methods else None}
    if llama_ppl:
        out["llama_ppl"] = _llama_ppl(lm, model, configs, limit, ctx_size, chunks, echo)
    elif tasks:
        from .zeroshot import run_zeroshot

        out["zeroshot"] = run_zeroshot(lm, configs, tasks, limit, echo)
    else:
        out["lambada"] = _lambada(lm, configs, targets, limit, per_tensor, echo)
    if json_out:
        Path(json_out).write_text(json.dumps(out, indent=1))
        echo(f"wrote {json_out}")
    return out


def _lambada(lm, configs, targets, limit, per_tensor, echo) -> list[dict]:
    passages = lambada_passages()[:limit] if limit else lambada_passages()
    results = evaluate_passages(lm, passages, configs)
    rows, records = [], []
    for r in results:
        target = targets.get(r.label)
        ok = "" if target is None else ("yes" if abs(r.overall_sparsity - target) <= TOLERANCE else "NO")
        rows.append([r.label, r.ppl, r.mean_kl if target is not None else "-",
                     r.overall_sparsity if target is not None else "-", "-" if target is None else target, ok])
        records.append({"label": r.label, "ppl": r.ppl, "kl": r.mean_kl if target is not None else None,
                        "sparsity": r.overall_sparsity if target is not None else None, "target": target,
                        "n_pred": r.n_pred, "per_tensor": r.sparsity})
    echo(f"LAMBADA: {len(passages)} passages, {results[0].n_pred} predicted tokens")
    echo(format_table(["config", "ppl", "KL", "sparsity", "target", "within 0.02"], rows))
    if per_tensor:
        for r in results[1:]:
            echo(f"\n{r.label}: measured sparsity per tensor")
            echo(format_table(["tensor", "sparsity"], [[n, s] for n, s in r.sparsity.items()]))
    return records


def _llama_ppl(lm, model, configs, limit, ctx_size, chunks, echo) -> list[dict]:
    add_bos = gguf_add_bos(model, lm)
    tokens = llama_cpp_tokens(lm, lambada_text(limit), add_bos)
    rows, records = [], []
    linears = lm.projections()
    for c in [None] + configs:
        engine = SparseEngine(linears, c.thresholds, c.col_norms) if c else None
        try:
            ppl, n = llama_perplexity(lm, tokens, ctx_size, add_bos, engine, chunks)
        except ValueError as exc:
            raise WisparseError(str(exc)) from None
        sp = engine.overall_sparsity(param_counts(linears)) if engine else None
        label = c.label if c else "dense"
        rows.append([label, ppl, "-" if sp is None else sp])
        records.append({"label": label, "ppl": ppl, "sparsity": sp, "chunks": n, "n_ctx": ctx_size,
                        "add_bos": add_bos, "n_tokens": len(tokens)})
    echo(f"llama-perplexity style: {len(tokens)} tokens, n_ctx={ctx_size}, add_bos={add_bos}")
    echo(format_table(["config", "ppl", "sparsity"], rows))
    return records
