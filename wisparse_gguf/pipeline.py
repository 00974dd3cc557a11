"""The commands' work, without click: attach metadata to a GGUF, convert a HF model."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .arch import tensor_names
from .calibrate import CalibrationConfig, calibrate, uses_col_norm
from .errors import WisparseError
from .export import WisparseMetadata, atomic_output, gguf_col_norms, write_with_metadata
from .model import LoadedModel, check_supported, gguf_architecture, is_gguf, load_model, read_gguf
from .plan import DEFAULT_LEVELS, SparsityPlan, with_level
from .search import SearchConfig

METHODS = ("wisparse", "wina", "teal")
OUTTYPES = ("f32", "f16", "bf16", "q8_0")


@dataclass
class SparsifyOptions:
    sparsity: float = 0.5
    method: str = "wisparse"
    levels: tuple[float, ...] = DEFAULT_LEVELS
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)
    mode: str = "sequential"
    progress: bool = True
    search: "SearchConfig | None" = None  # wisparse allocation settings (None: defaults)
    plan_path: Path | None = None  # wisparse: a saved plan (`wisparse-gguf search`) instead of searching
    timings: dict[str, float] = field(default_factory=dict)  # filled by the run: step -> wall seconds

    @contextmanager
    def timed(self, step: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timings[step] = self.timings.get(step, 0.0) + time.perf_counter() - t0

    def check(self) -> None:
        for s in (self.sparsity, *self.levels):
            if not 0.0 <= s < 1.0:
                raise WisparseError(f"sparsity {s} out of range: must be in [0, 1)")
        if self.method not in METHODS:
            raise WisparseError(f"unknown method {self.method!r} (one of {', '.join(METHODS)})")


def check_output(out: Path) -> None:
    out = Path(out)
    if not out.parent.is_dir():
        raise WisparseError(f"output directory does not exist: {out.parent}")


def check_shapes(lm: LoadedModel, reader) -> list[str]:
    """The projection tensor names, after checking the model matches the GGUF's shapes."""
    by_name = {t.name: t for t in reader.tensors}
    arch = gguf_architecture(reader)
    n_file = reader.get_field(f"{arch}.block_count")
    n_file = int(n_file.contents()) if n_file is not None else None
    if n_file is not None and n_file != lm.n_blocks:
        raise WisparseError(f"shape mismatch: model has {lm.n_blocks} blocks, GGUF has {n_file}")
    names = tensor_names(lm.n_blocks)
    for name, lin in zip(names, lm.projections().values()):
        t = by_name.get(name)
        if t is None:
            raise WisparseError(f"shape mismatch: GGUF has no tensor {name}")
        file_shape = tuple(int(x) for x in reversed(t.shape))  # ggml ne is (n_in, n_out)
        if file_shape != tuple(lin.weight.shape):
            raise WisparseError(f"shape mismatch: {name} is {file_shape} in the GGUF, "
                                f"{tuple(lin.weight.shape)} in the model")
    return names


def build_metadata(lm: LoadedModel, reader, opts: SparsifyOptions) -> WisparseMetadata:
    names = check_shapes(lm, reader)
    levels = with_level(opts.levels, opts.sparsity)
    n_params = {n: lin.weight.numel() for n, lin in lm.projections().items()}
    plan = SparsityPlan.uniform(levels, names, n_params)
    if uses_col_norm(opts.method):
        with opts.timed("norms"):
            norms = gguf_col_norms(reader, names, opts.progress)
    else:  # teal: c_j = 1 so the runtime keeps one rule
        norms = {n: np.ones(lm.projections()[n].in_features, np.float32) for n in names}
    if opts.method == "wisparse":  # mixed-granularity allocation (search.py); thresholds below
        from .search import allocate

        with opts.timed("allocation"):
            plan = allocate(lm, names, levels, opts, {n: torch.from_numpy(v) for n, v in norms.items()})
    with opts.timed("calibration"):
        calibrate(lm, plan, opts.method, opts.calibration,
                  col_norms={n: torch.from_numpy(v) for n, v in norms.items()},
                  mode=opts.mode, progress=opts.progress)
    return WisparseMetadata(method=opts.method, level=opts.sparsity, plan=plan, col_norms=norms)


def attach(src: Path, out: Path, model: Path, opts: SparsifyOptions) -> WisparseMetadata:
    """Copy ``src`` byte for byte to ``out`` with wisparse metadata calibrated on ``model``."""
    opts.check()
    check_output(out)
    reader = read_gguf(src)
    check_supported(src)
    with opts.timed("load"):
        lm = load_model(model)
    meta = build_metadata(lm, reader, opts)
    del lm
    with opts.timed("write"):
        write_with_metadata(src, out, meta, progress=opts.progress)
    return meta


def hf_to_gguf(model_dir: Path, out: Path, outtype: str) -> None:
    """Run the pinned llama.cpp ``convert_hf_to_gguf.py`` (with its own gguf-py)."""
    from .llama_source import source_dir

    src = source_dir()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(src / "gguf-py"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("NO_LOCAL_GGUF", None)
    cmd = [sys.executable, str(src / "convert_hf_to_gguf.py"), str(model_dir), "--outfile", str(out),
           "--outtype", outtype]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0 or not Path(out).is_file():
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise WisparseError(f"convert_hf_to_gguf.py failed on {model_dir}: {last}")


def convert(model: Path, out: Path, outtype: str, opts: SparsifyOptions) -> WisparseMetadata:
    """HF directory -> GGUF (llama.cpp's converter) -> GGUF with wisparse metadata."""
    opts.check()
    check_output(out)
    model = Path(model)
    check_supported(model)
    if is_gguf(model):
        raise WisparseError(f"{model} is already a GGUF: use `wisparse-gguf attach {model} OUT.gguf "
                            f"--model {model}` (tensors are copied unchanged)")
    if outtype not in OUTTYPES:
        raise WisparseError(f"unknown --outtype {outtype!r} (one of {', '.join(OUTTYPES)})")
    with tempfile.TemporaryDirectory(prefix=".wisparse-", dir=Path(out).parent) as tmp:
        plain = Path(tmp) / "plain.gguf"
        with opts.timed("convert_hf_to_gguf"):
            hf_to_gguf(model, plain, outtype)
        return attach(plain, out, model, opts)
