#!/usr/bin/env python3
"""The accuracy table: dense, teal and wina (uniform), and wisparse (allocated) side by side.

Same model, same calibration tokens, same evaluation harness for every row:
LAMBADA perplexity and KL(dense || sparse) from the PyTorch reference engine
(wisparse_gguf.evaluate), zero-shot accuracy from `wisparse_gguf.zeroshot`
(when present; --tasks), measured sparsity. The ablation is built in:

  wina            = the weight-aware score alone, uniform allocation
  wisparse-block  = + evolutionary block search (uniform split inside each block)
  wisparse        = + intra-block refinement (the full method)

Writes a JSON of everything, a Markdown table and a PNG (accuracy and perplexity
vs sparsity), and prints the table. Rerunnable:

  python tools/accuracy_table.py --limit 500 --levels 0.4,0.5,0.6 --out-dir docs/accuracy
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wisparse_gguf.calibrate import CalibrationConfig, calibrate, model_col_norms  # noqa: E402
from wisparse_gguf.data import default_model_path, lambada_passages  # noqa: E402
from wisparse_gguf.evaluate import SparseConfig, evaluate_passages  # noqa: E402
from wisparse_gguf.export import atomic_output  # noqa: E402
from wisparse_gguf.model import load_model  # noqa: E402
from wisparse_gguf.plan import SparsityPlan  # noqa: E402
from wisparse_gguf.report import format_table  # noqa: E402
from wisparse_gguf.search import SearchConfig, search_plan  # noqa: E402
from wisparse_gguf.sparsify import param_counts  # noqa: E402

METHODS = ("teal", "wina", "wisparse-block", "wisparse")
TASKS = ("piqa", "arc_easy", "arc_challenge", "hellaswag", "winogrande", "boolq")


def build_configs(lm, methods, levels, calib: CalibrationConfig, mode: str, search: SearchConfig, log):
    """SparseConfig per (method, level) and what each cost."""
    norms = {n: c.to(next(lm.model.parameters()).device) for n, c in model_col_norms(lm).items()}
    unit = {n: torch.ones_like(c) for n, c in norms.items()}
    names = list(lm.projections())
    weights = param_counts(lm.projections())
    configs, info = [], {}
    for method in methods:
        t0 = time.time()
        report = None
        if method.startswith("wisparse"):
            cfg = SearchConfig(**{**search.__dict__, "intra_block": method == "wisparse"})
            plan, report = search_plan(lm, levels, calib, cfg, norms)
            use, score = norms, "wisparse"
        else:
            plan = SparsityPlan.uniform(levels, names, weights)
            use, score = (norms, "wina") if method == "wina" else (unit, "teal")
        t_search = time.time() - t0
        calibrate(lm, plan, score, calib, col_norms=use, mode=mode)
        info[method] = {"search_s": t_search, "calibrate_s": time.time() - t0 - t_search,
                        "budgets": {f"{x:g}": plan.budget(x) for x in levels},
                        "search": None if report is None else {k: report[k] for k in ("timings_s", "levels")}}
        log(f"{method}: allocation {t_search:.0f}s, thresholds {info[method]['calibrate_s']:.0f}s")
        for level in levels:
            configs.append(SparseConfig(f"{method}@{level:g}", plan.thresholds_at(level), use))
    return configs, info


def zero_shot(lm, configs, tasks, limit, log):
    """label -> {task: acc}, through wisparse_gguf.zeroshot (H1's scorer), or {} when it is absent."""
    try:
        from wisparse_gguf.zeroshot import run_zeroshot
    except ImportError:
        log("zero-shot: wisparse_gguf.zeroshot is not there yet; skipped")
        return {}
    raw = run_zeroshot(lm, configs, ",".join(tasks), limit, log)
    return normalise_zeroshot(raw)


def normalise_zeroshot(raw) -> dict:
    """{label: {task: score}} from run_zeroshot's {label: {task: {acc, acc_norm?, n}, "average": x}}.

    The score is acc_norm where the task reports it, else acc: the metric that
    lm-eval papers average, and the one run_zeroshot averages.
    """
    out: dict = {}
    for label, per_task in raw.items():
        out[label] = {t: float(v.get("acc_norm", v["acc"])) for t, v in per_task.items() if isinstance(v, dict)}
    return out


def table_rows(results, zs, tasks):
    rows = []
    for r in results:
        label = r["label"]
        accs = [zs.get(label, {}).get(t) for t in tasks]
        avg = sum(accs) / len(accs) if accs and all(a is not None for a in accs) else None
        r["zeroshot"], r["avg_acc"] = dict(zip(tasks, accs)), avg
        rows.append([label, "-" if r["target"] is None else f"{r['target']:g}",
                     "-" if r["sparsity"] is None else f"{r['sparsity']:.3f}", f"{r['ppl']:.2f}",
                     "-" if r["kl"] is None else f"{r['kl']:.4f}",
                     *["-" if a is None else f"{100 * a:.1f}" for a in accs],
                     "-" if avg is None else f"{100 * avg:.2f}"])
    return rows


def gap_closed(results, level, key):
    """Fraction of the better baseline's gap to dense that wisparse closes at ``level``."""
    by = {r["label"]: r for r in results}
    dense = 0.0 if key == "kl" else by["dense"][key]
    base = [by[f"{m}@{level:g}"][key] for m in ("teal", "wina") if f"{m}@{level:g}" in by]
    ws = by.get(f"wisparse@{level:g}")
    if not base or ws is None:
        return None
    best = min(base)
    return (best - ws[key]) / (best - dense) if best != dense else None


def plot(results, levels, methods, path: Path, has_acc: bool):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by = {r["label"]: r for r in results}
    panels = [("ppl", "LAMBADA perplexity (log)")] + ([("avg_acc", "average zero-shot accuracy")] if has_acc else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.2), squeeze=False)
    for ax, (key, title) in zip(axes[0], panels):
        for m in methods:
            ys = [by[f"{m}@{x:g}"][key] for x in levels]
            ax.plot(levels, ys, marker="o", label=m)
        ax.axhline(by["dense"][key], color="k", ls="--", lw=1, label="dense")
        ax.set_xlabel("target sparsity")
        ax.set_title(title)
        if key == "ppl":
            ax.set_yscale("log")
        ax.legend()
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=None, help="HF dir or GGUF (default: SmolLM2-135M Q4_1)")
    ap.add_argument("--levels", default="0.4,0.5,0.6")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--limit", type=int, default=500, help="LAMBADA passages (0 = all)")
    ap.add_argument("--tasks", default="", help="zero-shot tasks, comma-separated, or 'all' (needs wisparse_gguf.zeroshot)")
    ap.add_argument("--task-limit", type=int, default=200, help="examples per zero-shot task")
    ap.add_argument("--calib-tokens", type=int, default=CalibrationConfig.n_tokens)
    ap.add_argument("--seq-len", type=int, default=CalibrationConfig.seq_len)
    ap.add_argument("--calibration", default="sequential", choices=("sequential", "dense"))
    ap.add_argument("--generations", type=int, default=SearchConfig.generations)
    ap.add_argument("--population", type=int, default=SearchConfig.population)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--search-opt", action="append", default=[], metavar="KEY=VALUE",
                    help="other SearchConfig fields, e.g. --search-opt true_evals=8 (repeatable)")
    ap.add_argument("--device", default=None, help="cuda when available, else cpu")
    ap.add_argument("--out-dir", type=Path, default=ROOT / "docs" / "accuracy")
    ap.add_argument("--name", default="smollm2-135m")
    ap.add_argument("--merge", type=Path, nargs="+", metavar="JSON",
                    help="combine the JSONs of runs that each did some methods into one table and plot")
    args = ap.parse_args(argv)
    if args.merge:
        return merge(args.merge, args.out_dir, args.name)

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    levels = [float(x) for x in args.levels.split(",")]
    methods = [m for m in args.methods.split(",") if m]
    tasks = list(TASKS) if args.tasks == "all" else [t for t in args.tasks.split(",") if t]
    args.out_dir.mkdir(parents=True, exist_ok=True)
    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    t_start = time.time()

    model = args.model or default_model_path()
    lm = load_model(model)
    lm.model.to(device)  # calibration, search and evaluation all run there
    calib = CalibrationConfig(n_tokens=args.calib_tokens, seq_len=args.seq_len, seed=args.seed)
    extra = {k: type(getattr(SearchConfig, k))(v) for k, v in (o.split("=", 1) for o in args.search_opt)}
    search = SearchConfig(generations=args.generations, population=args.population, seed=args.seed, **extra)
    configs, info = build_configs(lm, methods, levels, calib, args.calibration, search, log)

    for c in configs:
        c.col_norms = {n: v.to(device) for n, v in c.col_norms.items()}
    passages = lambada_passages()[:args.limit] if args.limit else lambada_passages()
    evals = evaluate_passages(lm, passages, configs)
    targets = {c.label: float(c.label.split("@")[1]) for c in configs}
    results = [{"label": e.label, "target": targets.get(e.label), "ppl": e.ppl,
                "kl": e.mean_kl if e.label != "dense" else None,
                "sparsity": e.overall_sparsity if e.label != "dense" else None, "n_pred": e.n_pred}
               for e in evals]
    zs = zero_shot(lm, configs, tasks, args.task_limit, log) if tasks else {}

    meta = {"command": "python tools/accuracy_table.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "model": str(model), "device": device, "levels": levels, "limit": args.limit, "n_passages": len(passages),
            "tasks": tasks, "task_limit": args.task_limit, "calibration": vars(calib) | {"text": None},
            "calibration_mode": args.calibration, "search": search.__dict__, "methods": info,
            "seconds": time.time() - t_start}
    render(results, zs, methods, meta, args.out_dir, args.name)
    return 0


def render(results, zs, methods, meta, out_dir: Path, name: str) -> None:
    """Markdown table, JSON of everything and the PNG, from the evaluated rows."""
    tasks, levels = meta["tasks"], meta["levels"]
    headers = ["config", "target", "sparsity", "ppl", "KL", *tasks, "avg"] if tasks else \
        ["config", "target", "sparsity", "ppl", "KL"]
    rows = table_rows(results, zs, tasks)
    if not tasks:
        rows = [r[:5] for r in rows]
    gaps = {f"{x:g}": {"ppl": gap_closed(results, x, "ppl"), "kl": gap_closed(results, x, "kl")} for x in levels}
    calib = meta["calibration"]
    md = [f"Model {Path(meta['model']).name}, {meta['n_passages']} LAMBADA passages ({results[0]['n_pred']} predicted "
          f"tokens), calibration {calib['n_tokens']} tokens ({meta['calibration_mode']}), device {meta['device']}, "
          f"{meta['seconds']:.0f} s in all.", "", "`" + meta["command"] + "`", "",
          "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    md += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    md += ["", "Gap to dense closed by wisparse vs the better uniform baseline (1 = all of it):", ""]
    md += [f"- {lvl}: perplexity {fmt(g['ppl'])}, KL {fmt(g['kl'])}" for lvl, g in gaps.items()]
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        plot(results, levels, methods, out_dir / f"accuracy_{name}.png", has_acc=bool(zs))
    except ImportError as e:  # the table matters more than the picture; --merge redraws it
        print(f"accuracy_table: no plot ({e})", file=sys.stderr)
    for suffix, text in (("md", "\n".join(md) + "\n"),
                         ("json", json.dumps({**meta, "results": results, "gaps": gaps}, indent=1, default=str))):
        with atomic_output(out_dir / f"accuracy_{name}.{suffix}") as tmp:
            tmp.write_text(text)
    print(format_table(headers, rows))
    print("\n".join(md[-len(gaps) - 2:]))
    print(f"wrote {out_dir}/accuracy_{name}.{{md,json,png}}")


def merge(paths: list[Path], out_dir: Path, name: str) -> int:
    """One table from runs of the same model and settings that each did some of the methods
    (e.g. one process per method on one or several GPUs). The dense row comes from the first."""
    docs = []
    for p in paths:
        try:
            docs.append(json.loads(p.read_text()))
        except (OSError, ValueError) as e:
            raise SystemExit(f"accuracy_table: cannot read {p}: {e}")
        if "results" not in docs[-1] or "methods" not in docs[-1]:
            raise SystemExit(f"accuracy_table: {p} is not an accuracy_table JSON (no results/methods)")
    same = ("model", "levels", "limit", "tasks", "task_limit", "calibration", "calibration_mode")
    for p, d in zip(paths[1:], docs[1:]):
        diff = [k for k in same if d.get(k) != docs[0].get(k)]
        if diff:
            raise SystemExit(f"accuracy_table: {p} was run with other settings than {paths[0]} ({', '.join(diff)})")
    results, seen, info = [], set(), {}
    for d in docs:
        for r in d["results"]:
            if r["label"] not in seen:
                seen.add(r["label"])
                results.append(r)
        info.update(d["methods"])
    methods = [m for m in METHODS if m in info] + [m for m in info if m not in METHODS]
    results.sort(key=lambda r: (r["label"] != "dense", methods.index(r["label"].split("@")[0])
                                if "@" in r["label"] else -1, r["target"] or 0))
    zs = {r["label"]: {t: a for t, a in (r.get("zeroshot") or {}).items() if a is not None} for r in results}
    zs = {k: v for k, v in zs.items() if v}
    meta = {k: v for k, v in docs[0].items() if k not in ("results", "gaps")}
    meta["methods"] = info
    meta["seconds"] = max(d["seconds"] for d in docs)  # the runs went side by side
    meta["command"] = " ; ".join(d["command"] for d in docs) + \
        " ; python tools/accuracy_table.py --merge " + " ".join(str(p) for p in paths)
    render(results, zs, methods, meta, out_dir, name)
    return 0


def fmt(x) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.2f}"


if __name__ == "__main__":
    sys.exit(main())
