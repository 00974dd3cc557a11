"""Write GGUF files: copy a GGUF byte for byte and add the ``wisparse.*`` metadata.

Output goes to a temporary file next to OUT and is renamed at the very end, so a
failed or interrupted run never leaves a partial OUT.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import gguf_keys as K
from .errors import WisparseError
from .model import read_gguf
from .plan import SparsityPlan


@contextlib.contextmanager
def atomic_output(out: Path):
    """Yield a temp path in OUT's directory; rename it to OUT only on success."""
    out = Path(out)
    if not out.parent.is_dir():
        raise WisparseError(f"output directory does not exist: {out.parent}")
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it 0600; give OUT normal permissions
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def gguf_col_norms(reader, names: list[str], progress: bool = True) -> dict[str, np.ndarray]:
    """Column norms c_j of each named tensor, from the file's own (dequantized) weights.

    A GGUF weight's numpy array is [n_out, n_in] (ggml's ne is reversed), so the
    norm over axis 0 gives one value per input channel.
    """
    from gguf.quants import dequantize

    by_name = {t.name: t for t in reader.tensors}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise WisparseError(f"GGUF lacks tensor {missing[0]} (and {len(missing) - 1} more)")
    norms = {}
    for name in tqdm(names, desc="column norms", disable=not progress):
        t = by_name[name]
        w = dequantize(t.data, t.tensor_type).astype(np.float32)
        w = w.reshape(-1, int(t.shape[0]))  # t.shape is ggml order: (n_in, n_out)
        norms[name] = np.sqrt(np.einsum("ij,ij->j", w, w, dtype=np.float64)).astype(np.float32)
    return norms


@dataclass
class WisparseMetadata:
    method: str
    level: float  # default level (one of plan.levels)
    plan: SparsityPlan
    col_norms: dict[str, np.ndarray]  # all 1.0 for teal

    def key_values(self):
        """(key, value, GGUFValueType, sub_type) in file order; Python scalars only."""
        from gguf import GGUFValueType as V

        p = self.plan
        if p.thresholds is None:
            raise ValueError("plan has no thresholds")
        kv = [
            (K.VERSION, K.FORMAT_VERSION, V.UINT32, None),
            (K.METHOD, self.method, V.STRING, None),
            (K.TARGET_SPARSITY, float(self.level), V.FLOAT32, None),
            (K.ENABLE, True, V.BOOL, None),
            (K.TENSORS, list(p.tensors), V.ARRAY, V.STRING),
            (K.LEVELS, [float(x) for x in p.levels], V.ARRAY, V.FLOAT32),
            (K.LEVEL, float(self.level), V.FLOAT32, None),
            (K.THRESHOLDS, np.asarray(p.thresholds, np.float32).reshape(-1).tolist(), V.ARRAY, V.FLOAT32),
            (K.SPARSITY, np.asarray(p.sparsity, np.float32).reshape(-1).tolist(), V.ARRAY, V.FLOAT32),
        ]
        for name in p.tensors:
            kv.append((K.col_norm_key(name), np.asarray(self.col_norms[name], np.float32).tolist(),
                       V.ARRAY, V.FLOAT32))
        return kv


def write_with_metadata(src: Path, out: Path, meta: WisparseMetadata, progress: bool = True) -> None:
    """Copy every KV and tensor of ``src`` unchanged (old wisparse.* keys dropped), add ``meta``."""
    import gguf

    reader = read_gguf(src)
    arch = reader.get_field("general.architecture").contents()
    with atomic_output(out) as tmp:
        writer = gguf.GGUFWriter(tmp, arch, endianess=reader.endianess)
        align = reader.get_field("general.alignment")
        if align is not None:
            writer.data_alignment = int(align.contents())
        for field in reader.fields.values():
            if field.name == "general.architecture" or field.name.startswith("GGUF.") \
                    or field.name.startswith("wisparse."):
                continue
            vtype = field.types[0]
            sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
            if vtype == gguf.GGUFValueType.ARRAY and len(field.types) > 2:
                raise WisparseError(f"nested array key {field.name} is not supported")
            writer.add_key_value(field.name, field.contents(), vtype, sub_type=sub)
        for key, value, vtype, sub in meta.key_values():
            writer.add_key_value(key, value, vtype, sub_type=sub)
        total = 0
        for t in reader.tensors:
            total += t.n_bytes
            writer.add_tensor_info(t.name, t.data.shape, t.data.dtype, t.data.nbytes, t.tensor_type)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        with tqdm(desc="write GGUF", total=total, unit="B", unit_scale=True, disable=not progress) as bar:
            for t in reader.tensors:
                writer.write_tensor_data(t.data, tensor_endianess=reader.endianess)
                bar.update(t.n_bytes)
        writer.close()


def read_metadata(path: Path) -> WisparseMetadata | None:
    """The wisparse metadata of a GGUF, or None when it has none."""
    reader = read_gguf(path)
    return metadata_from_reader(reader)


def metadata_from_reader(reader) -> WisparseMetadata | None:
    def get(key):
        f = reader.get_field(key)
        return None if f is None else f.contents()

    if get(K.VERSION) is None:
        return None
    version = get(K.VERSION)
    if version != K.FORMAT_VERSION:
        raise WisparseError(f"unsupported wisparse.version {version} (this tool reads {K.FORMAT_VERSION})")
    tensors = list(get(K.TENSORS))
    levels = [round(float(x), 6) for x in get(K.LEVELS)]
    L, T = len(levels), len(tensors)
    thr = np.asarray(get(K.THRESHOLDS), np.float32).reshape(L, T)
    sp = np.asarray(get(K.SPARSITY), np.float32).reshape(L, T)
    by_name = {t.name: t for t in reader.tensors}
    n_params = {n: int(np.prod(by_name[n].shape)) for n in tensors if n in by_name}
    plan = SparsityPlan(levels=levels, tensors=tensors, sparsity=sp, thresholds=thr, n_params=n_params)
    norms = {n: np.asarray(get(K.col_norm_key(n)), np.float32) for n in tensors}
    return WisparseMetadata(method=get(K.METHOD), level=round(float(get(K.LEVEL)), 6), plan=plan, col_norms=norms)
