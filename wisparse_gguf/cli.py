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

METHOD_HELP = ("wisparse: |x|*||W_col|| score (uniform allocation for now); "
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
        raise click.BadParameter(f"not a comma-separated list of numbers: {value!r}")
    for s in levels:
        if not 0.0 <= s < 1.0:
            raise click.BadParameter(f"{s} is out of range: sparsity must be in [0, 1)")
    return levels


def check_sparsity(ctx, param, value):
    if value is not None and not 0.0 <= value < 1.0:
        raise click.BadParameter(f"{value} is out of range: sparsity must be in [0, 1)")
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
        click.option("--seed", type=int, default=0, show_default=True, help="Calibration sampling seed."),
        click.option("--calibration", "mode", type=click.Choice(["sequential", "dense"]), default="sequential",
                     show_default=True,
                     help="sequential: per level, block by block with earlier blocks already sparse; "
                          "dense: one pass on dense activations for all levels."),
    ]
    for o in reversed(opts):
        fn = o(fn)
    return fn


def make_options(sparsity, levels, method, calib_text, calib_tokens, seq_len, seed, mode):
    from .pipeline import SparsifyOptions

    cfg = CalibrationConfig(n_tokens=calib_tokens, seq_len=seq_len, seed=seed, text=calib_text)
    return SparsifyOptions(sparsity=sparsity, method=method, levels=levels, calibration=cfg, mode=mode)


def existing(path: Path) -> Path:
    if not Path(path).exists():
        raise WisparseError(f"no such file or directory: {path}")
    return Path(path)


@click.group(help=__doc__)
@click.version_option(package_name="wisparse-gguf")
def main():
    pass


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

    meta = run(existing(model), out, outtype, make_options(**kw))
    click.echo(f"wrote {out} ({meta.method}, levels {meta.plan.levels}, default {meta.level})")


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
    meta = run(src, out, existing(model) if model else src, make_options(**kw))
    click.echo(f"wrote {out} ({meta.method}, levels {meta.plan.levels}, default {meta.level})")


if __name__ == "__main__":
    main()
