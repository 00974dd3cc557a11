"""wisparse-gguf: weight-aware activation sparsity for GGUF models.

\b
  wisparse-gguf convert MODEL_DIR OUT.gguf --sparsity 0.5 --outtype q8_0
  wisparse-gguf attach IN.gguf OUT.gguf --model IN.gguf --sparsity 0.5
  wisparse-gguf inspect OUT.gguf
  wisparse-gguf eval MODEL|FILE.gguf --sparsity 0.5 --method wina --limit 500
"""

from __future__ import annotations

import functools
from pathlib import Path

import click

from .calibrate import CalibrationConfig
from .errors import WisparseError
from .plan import DEFAULT_LEVELS
from .search import SearchConfig

METHOD_HELP = ("wisparse: |x|*||W_col|| score, budget allocated by block search + intra-block split; "
               "wina: |x|*||W_col||, uniform; teal: |x|, uniform")


def user_errors(fn):
    """Turn WisparseError into a one-line click error (no traceback, exit code 1)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except WisparseError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


def parse_levels(ctx, param, value):
    if value is None:
        return None
    try:
        levels = tuple(float(x) for x in str(value).split(",") if x.strip())
    except ValueError:
        raise click.ClickException(f"--{param.name}: not a comma-separated list of numbers: {value!r}")
    for s in levels:
        if not 0.0 <= s < 1.0:
            raise click.ClickException(f"--{param.name} {s} is out of range: sparsity must be in [0, 1)")
    return levels


def check_sparsity(ctx, param, value):
    if value is not None and not 0.0 <= value < 1.0:
        # a one-line error (BadParameter would print the usage too)
        raise click.ClickException(f"--sparsity {value} is out of range: sparsity must be in [0, 1)")
    return value


def sparsify_options(fn):
    """Options shared by convert and attach."""
    opts = [
        click.option("--sparsity", type=float, default=0.5, show_default=True, callback=check_sparsity,
                     help="Default sparsity level written to the file, in [0, 1)."),
        click.option("--levels", default=",".join(map(str, DEFAULT_LEVELS)), show_default=True,
                     callback=parse_levels, help="Comma-separated levels to calibrate (the default level is added)."),
        click.option("--method", type=click.Choice(["wisparse", "wina", "teal"]), default="wisparse",
                     show_default=True, help=METHOD_HELP),
        click.option("--calib-text", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
                     help="Calibration text (.txt, blank-line separated, or .jsonl with 'text'); "
                          "default: a seeded sample of the wiki summaries."),
        click.option("--calib-tokens", type=int, default=CalibrationConfig.n_tokens, show_default=True,
                     help="Calibration token budget."),
        click.option("--seq-len", type=int, default=CalibrationConfig.seq_len, show_default=True,
                     help="Calibration sequence length."),
        click.option("--seed", type=int, default=0, show_default=True,
                     help="Seed of the calibration sample and of the wisparse search."),
        click.option("--generations", type=int, default=SearchConfig.generations, show_default=True,
                     help="wisparse: generations of the evolutionary block search."),
        click.option("--population", type=int, default=SearchConfig.population, show_default=True,
                     help="wisparse: population of the evolutionary block search."),
        click.option("--plan", "plan_path", type=click.Path(dir_okay=False, path_type=Path),
                     default=None, help="wisparse: use this plan (`wisparse-gguf search -o`) instead of searching; "
                                        "its levels replace --levels."),
        click.option("--calibration", "mode", type=click.Choice(["sequential", "dense"]), default="sequential",
                     show_default=True,
                     help="sequential: per level, block by block with earlier blocks already sparse; "
                          "dense: one pass on dense activations for all levels."),
    ]
    for o in reversed(opts):
        fn = o(fn)
    return fn


def took(opts) -> str:
    """'in 3m41s (convert_hf_to_gguf 21s, load 5s, ...)': where the wall time went."""
    t = opts.timings
    if not t:
        return ""
    total = sum(t.values())
    parts = ", ".join(f"{k} {v:.0f}s" for k, v in t.items())
    return f"in {int(total // 60)}m{total % 60:02.0f}s ({parts})"


def make_options(sparsity, levels, method, calib_text, calib_tokens, seq_len, seed, mode,
                 generations=SearchConfig.generations, population=SearchConfig.population, plan_path=None):
    from .pipeline import SparsifyOptions

    if generations < 1 or population < 2:
        raise WisparseError("--generations must be >= 1 and --population >= 2")
    if plan_path is not None and method != "wisparse":
        raise WisparseError(f"--plan is a wisparse allocation; it does not apply to --method {method}")
    cfg = CalibrationConfig(n_tokens=calib_tokens, seq_len=seq_len, seed=seed, text=calib_text)
    search = SearchConfig(generations=generations, population=population, seed=seed)
    return SparsifyOptions(sparsity=sparsity, method=method, levels=levels, calibration=cfg, mode=mode,
                           search=search, plan_path=plan_path)


def existing(path: Path) -> Path:
    if not Path(path).exists():
        raise WisparseError(f"no such file or directory: {path}")
    return Path(path)


@click.group(help=__doc__)
@click.version_option(package_name="wisparse-gguf")
def main():
    # SIGTERM (a killed job) unwinds like Ctrl-C, so temporary files are removed
    # and no partial OUT is left behind
    import signal
    import sys

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


@main.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--outtype", type=click.Choice(["f32", "f16", "bf16", "q8_0"]), default="f16", show_default=True,
              help="Weight type, as in llama.cpp's convert_hf_to_gguf.py.")
@sparsify_options
@user_errors
def convert(model, out, outtype, **kw):
    """Convert a HF model directory to a GGUF with wisparse metadata.

    Runs the pinned llama.cpp convert_hf_to_gguf.py, then calibrates MODEL and
    adds the metadata (see `attach`). For a MODEL that is already a GGUF use
    `attach`.

    \b
    Example:
      wisparse-gguf convert ./SmolLM2-135M smollm2-ws.gguf --sparsity 0.5 --outtype q8_0
    """
    from .pipeline import convert as run

    opts = make_options(**kw)
    meta = run(existing(model), out, outtype, opts)
    click.echo(f"wrote {out} ({meta.method}, levels {meta.plan.levels}, default {meta.level}) {took(opts)}")


@main.command()
@click.argument("src", metavar="IN", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--model", type=click.Path(path_type=Path), default=None,
              help="Model to calibrate on (HF dir or GGUF); default: IN itself.")
@sparsify_options
@user_errors
def attach(src, out, model, **kw):
    """Copy IN.gguf to OUT.gguf (tensors byte for byte) and add wisparse metadata.

    \b
    Example:
      wisparse-gguf attach SmolLM2-135M-Instruct.Q4_1.gguf ws.gguf \\
          --model SmolLM2-135M-Instruct.Q4_1.gguf --sparsity 0.5 --method wisparse
    """
    from .pipeline import attach as run

    src = existing(src)
    opts = make_options(**kw)
    meta = run(src, out, existing(model) if model else src, opts)
    click.echo(f"wrote {out} ({meta.method}, levels {meta.plan.levels}, default {meta.level}) {took(opts)}")


@main.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Write the plan (per-tensor sparsity per level) to this JSON file.")
@sparsify_options
@user_errors
def search(model, out, **kw):
    """Search the wisparse allocation of MODEL (HF dir or GGUF) and save it as a plan.

    The plan holds each tensor's target sparsity at each level; `convert`/`attach
    --plan plan.json` then only calibrate its thresholds.

    \b
    Example:
      wisparse-gguf search SmolLM2-135M-Instruct.Q4_1.gguf --sparsity 0.5 -o plan.json
      wisparse-gguf attach SmolLM2-135M-Instruct.Q4_1.gguf ws.gguf --plan plan.json
    """
    from .pipeline import check_output
    from .plan import with_level
    from .search import format_report, save_plan, search_plan
    from .calibrate import model_col_norms
    from .model import check_supported, load_model

    opts = make_options(**kw)
    if opts.method != "wisparse" or opts.plan_path is not None:
        raise WisparseError("search makes a wisparse plan: leave --method and --plan out")
    opts.check()
    check_output(out)
    check_supported(existing(model))
    lm = load_model(model)
    plan, report = search_plan(lm, with_level(opts.levels, opts.sparsity), opts.calibration, opts.search,
                               model_col_norms(lm))
    save_plan(plan, out, report=report)
    click.echo(format_report(report))
    click.echo(f"wrote {out} (levels {plan.levels}; budgets " +
               ", ".join(f"{plan.budget(x):.4f}" for x in plan.levels) + ")")


@main.command()
@click.argument("path", metavar="FILE.gguf", type=click.Path(path_type=Path))
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also draw per-block sparsity per level and per-tensor sparsity to this PNG.")
@user_errors
def inspect(path, plot):
    """Show the wisparse metadata of a GGUF as a table.

    \b
    Example:
      wisparse-gguf inspect smollm2-ws.gguf --plot blocks.png
    """
    from .export import read_metadata
    from .report import describe, plot_block_sparsity

    meta = read_metadata(existing(path))
    if meta is None:
        raise WisparseError(f"{path} has no wisparse metadata (make one with `wisparse-gguf attach`)")
    click.echo(describe(meta))
    if plot:
        plot_block_sparsity(meta, plot)
        click.echo(f"wrote {plot}")


@main.command(name="eval")
@click.argument("model", required=False, type=click.Path(path_type=Path))
@click.option("--sparsity", default=None, callback=parse_levels,
              help="Level(s) to evaluate, comma-separated (default: the file's level, or 0.5).")
@click.option("--method", "methods", multiple=True, type=click.Choice(["wisparse", "wina", "teal"]),
              help="Calibrate this method in-process (repeatable). Without it a GGUF's own "
                   "wisparse metadata is used; a model without metadata is evaluated dense only.")
@click.option("--limit", type=int, default=None, help="Use the first N LAMBADA passages (or N per task).")
@click.option("--calib-tokens", type=int, default=CalibrationConfig.n_tokens, show_default=True)
@click.option("--seq-len", type=int, default=CalibrationConfig.seq_len, show_default=True)
@click.option("--calibration", "mode", type=click.Choice(["sequential", "dense"]), default="sequential",
              show_default=True)
@click.option("--llama-ppl", is_flag=True, help="Perplexity the way llama-perplexity computes it "
              "(LAMBADA passages joined into one text, chunks of --ctx-size, second halves scored).")
@click.option("--ctx-size", type=int, default=512, show_default=True, help="n_ctx for --llama-ppl.")
@click.option("--chunks", type=int, default=None, help="At most this many chunks for --llama-ppl.")
@click.option("--dump-text", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the LAMBADA passages (joined as --llama-ppl joins them) to this file, "
                   "for `llama-perplexity -f`, and exit.")
@click.option("--tasks", default=None, help="Zero-shot tasks, comma-separated: "
              "piqa,arc_easy,arc_challenge,hellaswag,winogrande,boolq (or 'all').")
@click.option("--device", default=None, help="torch device for the reference engine (default cpu), e.g. cuda.")
@click.option("--per-tensor", is_flag=True, help="Also print measured sparsity per tensor.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write all results to this JSON file.")
@user_errors
def eval_(model, sparsity, methods, limit, calib_tokens, seq_len, mode, llama_ppl, ctx_size, chunks,
          dump_text, tasks, per_tensor, json_out, device):
    """PyTorch reference: LAMBADA perplexity, KL(dense || sparse), measured sparsity.

    MODEL is a HF directory or a GGUF (default: the SmolLM2-135M Q4_1 GGUF).

    \b
    Examples:
      wisparse-gguf eval --method teal --method wina --sparsity 0.3,0.4,0.5,0.6 --limit 500
      wisparse-gguf eval smollm2-ws.gguf --sparsity 0.5 --llama-ppl --ctx-size 512
      wisparse-gguf eval --dump-text lambada.txt
      wisparse-gguf eval --method wina --sparsity 0.5 --tasks all --limit 200
    """
    from .data import lambada_text

    if dump_text:
        if not dump_text.parent.is_dir():
            raise WisparseError(f"output directory does not exist: {dump_text.parent}")
        dump_text.write_text(lambada_text(limit), encoding="utf-8")
        click.echo(f"wrote {dump_text}")
        return
    from .evalcmd import run_eval

    run_eval(model, sparsity, methods, limit, CalibrationConfig(n_tokens=calib_tokens, seq_len=seq_len), mode,
             llama_ppl, ctx_size, chunks, tasks, per_tensor, json_out, echo=click.echo, device=device)


if __name__ == "__main__":
    main()
