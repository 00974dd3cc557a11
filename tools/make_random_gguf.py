#!/usr/bin/env python3
"""A Llama-shaped GGUF with random weights and WiSparse metadata, for speed benchmarks.

Speed depends on the sparsity reached, not on the weights' values, so a model of a
realistic shape (default: Llama-3.1-8B, 32 blocks, d=4096, ffn=14336, GQA 32/8,
vocab 128256) with random weights measures what a real one would. Figures made
with such a file must say so.

The thresholds give each level's target sparsity on the model's *own*
activations: a first pass regenerates every block from its seed, runs a small
batch of random tokens through it (numpy, float32, one block in memory at a time)
and takes per-tensor quantiles of |x_j| * ||W[:, j]||. A second pass regenerates
the same weights and streams them to the file, so memory stays at about one block.

    python tools/make_random_gguf.py llama8b-q8_0.gguf --outtype q8_0
    python tools/make_random_gguf.py tiny.gguf --shape tiny --outtype f16
    build/bin/llama-quantize llama8b-f16.gguf llama8b-q4_k_m.gguf Q4_K_M   # keys are carried over
"""

from __future__ import annotations

import argparse
import sys
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without install

from wisparse_gguf.export import WisparseMetadata, atomic_output  # noqa: E402
from wisparse_gguf.plan import SparsityPlan  # noqa: E402


@dataclass(frozen=True)
class Shape:
    n_layer: int
    n_embd: int
    n_ff: int
    n_head: int
    n_head_kv: int
    n_vocab: int

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head


SHAPES = {
    "llama3-8b": Shape(32, 4096, 14336, 32, 8, 128256),
    "llama3-1b": Shape(16, 2048, 8192, 32, 8, 128256),
    "tiny": Shape(2, 256, 512, 4, 2, 512),
}
PROJ = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")


def proj_dims(shape: Shape) -> dict[str, tuple[int, int]]:
    """(n_out, n_in) of each projection of a block."""
    d, f, kv = shape.n_embd, shape.n_ff, shape.n_head_kv * shape.head_dim
    return {"attn_q": (d, d), "attn_k": (kv, d), "attn_v": (kv, d), "attn_output": (d, d),
            "ffn_gate": (f, d), "ffn_up": (f, d), "ffn_down": (d, f)}


def block_weights(shape: Shape, seed: int, layer: int, device: str | None = None) -> dict[str, np.ndarray]:
    """The random weights of one block, [n_out, n_in] float32, reproducible from (seed, layer).

    Column scales vary (log-normal), as trained weights' do, so column norms matter.
    With `device`, torch draws them there (a GPU draws the 8B shape in seconds; numpy takes
    minutes): same distribution, other values, which speed does not depend on.
    """
    if device is not None:
        import torch

        g = torch.Generator(device=device)
        g.manual_seed(seed * 100003 + layer)

        def normal(n_out, n_in):
            return torch.randn((n_out, n_in), generator=g, device=device, dtype=torch.float32)

        def lognormal(n):
            return torch.empty(n, device=device, dtype=torch.float32).log_normal_(0.0, 0.4, generator=g)
    else:
        rng = np.random.default_rng([seed, layer])

        def normal(n_out, n_in):
            return rng.standard_normal((n_out, n_in), dtype=np.float32)

        def lognormal(n):
            return rng.lognormal(0.0, 0.4, n).astype(np.float32)
    dims = proj_dims(shape)
    out = {}
    for name in PROJ:
        n_out, n_in = dims[name]
        w = normal(n_out, n_in)
        w *= (lognormal(n_in) / np.sqrt(n_in))[None, :]
        out[name] = w if device is None else w.cpu().numpy()
    return out


def rms_norm(x: np.ndarray) -> np.ndarray:
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + 1e-5)


def rope(x: np.ndarray, base: float = 500000.0) -> np.ndarray:
    """NeoX-style rotation on [tokens, heads, head_dim]; exact form does not matter for random weights."""
    n, _, hd = x.shape
    inv = base ** (-np.arange(0, hd, 2, dtype=np.float32) / hd)
    ang = np.arange(n, dtype=np.float32)[:, None] * inv[None, :]
    cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    a, b = x[..., : hd // 2], x[..., hd // 2:]
    return np.concatenate([a * cos - b * sin, a * sin + b * cos], axis=-1)


def block_forward(shape: Shape, w: dict[str, np.ndarray], h: np.ndarray, scores: dict[str, list]) -> np.ndarray:
    """One dense llama block on h [tokens, d]; records |x| * col_norm of each projection's input."""
    def proj(name, x):
        scores[name].append(np.abs(x) * np.linalg.norm(w[name], axis=0)[None, :])
        return x @ w[name].T

    n = h.shape[0]
    x = rms_norm(h)
    q = rope(proj("attn_q", x).reshape(n, shape.n_head, shape.head_dim))
    k = rope(proj("attn_k", x).reshape(n, shape.n_head_kv, shape.head_dim))
    v = proj("attn_v", x).reshape(n, shape.n_head_kv, shape.head_dim)
    rep = shape.n_head // shape.n_head_kv
    k, v = np.repeat(k, rep, axis=1), np.repeat(v, rep, axis=1)
    att = np.einsum("qhd,khd->hqk", q, k) / np.sqrt(shape.head_dim)
    att = att + np.triu(np.full((n, n), -np.inf, dtype=np.float32), 1)[None]
    att = np.exp(att - att.max(-1, keepdims=True))
    att /= att.sum(-1, keepdims=True)
    o = np.einsum("hqk,khd->qhd", att, v).reshape(n, -1)
    h = h + proj("attn_output", o)
    x = rms_norm(h)
    g = proj("ffn_gate", x)
    u = proj("ffn_up", x)
    return h + proj("ffn_down", (g / (1 + np.exp(-g))) * u)


def calibrate(shape: Shape, seed: int, levels: list[float], n_tokens: int, device: str | None = None):
    """Thresholds [L, T] and column norms from the model's own activations."""
    rng = np.random.default_rng([seed, 1_000_000])
    h = rng.standard_normal((n_tokens, shape.n_embd), dtype=np.float32)
    names, thresholds, norms = [], [], {}
    for layer in tqdm(range(shape.n_layer), desc="calibrate blocks"):
        w = block_weights(shape, seed, layer, device)
        scores = {p: [] for p in PROJ}
        h = block_forward(shape, w, h, scores)
        h = h / np.sqrt(np.mean(h * h, axis=-1, keepdims=True))  # keep a random deep stack well scaled
        for p in PROJ:
            name = f"blk.{layer}.{p}.weight"
            names.append(name)
            s = np.concatenate(scores[p]).reshape(-1)
            thresholds.append([float(np.quantile(s, lv)) if lv > 0 else 0.0 for lv in levels])
            norms[name] = np.linalg.norm(w[p], axis=0).astype(np.float32)
    return names, np.asarray(thresholds, np.float32).T, norms


def vocab_kv(n_vocab: int):
    """A SentencePiece-style vocabulary: <unk>, <s>, </s>, 256 byte tokens, then filler pieces."""
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{i:02X}>" for i in range(256)]
    tokens += [f"\u2581t{i}" for i in range(n_vocab - len(tokens))]
    types = [2, 3, 3] + [6] * 256 + [1] * (n_vocab - 259)  # unknown, control, byte, normal
    scores = [0.0] * 259 + [-float(i) for i in range(n_vocab - 259)]
    return tokens, scores, types


def main() -> None:
    import gguf
    from gguf.quants import quantize

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--shape", choices=sorted(SHAPES), default="llama3-8b")
    ap.add_argument("--n-layer", type=int, default=None,
                    help="number of blocks (default: the shape's); fewer make a small file of the same layer shapes")
    ap.add_argument("--outtype", choices=["f32", "f16", "bf16", "q8_0"], default="f16")
    ap.add_argument("--levels", default="0.4,0.5,0.6")
    ap.add_argument("--level", type=float, default=0.5)
    ap.add_argument("--calib-tokens", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--weights-on", default=None, metavar="DEVICE",
                    help="draw the weights with torch on this device (e.g. cuda) instead of numpy")
    args = ap.parse_args()

    shape = SHAPES[args.shape]
    if args.n_layer is not None:
        if args.n_layer < 1:
            ap.error(f"--n-layer must be at least 1, got {args.n_layer}")
        shape = dataclasses.replace(shape, n_layer=args.n_layer)
    levels = sorted({float(x) for x in args.levels.split(",")} | {args.level})
    qtype = {"f32": gguf.GGMLQuantizationType.F32, "f16": gguf.GGMLQuantizationType.F16,
             "bf16": gguf.GGMLQuantizationType.BF16, "q8_0": gguf.GGMLQuantizationType.Q8_0}[args.outtype]
    ftype = {"f32": 0, "f16": 1, "bf16": 32, "q8_0": 7}[args.outtype]

    names, thresholds, norms = calibrate(shape, args.seed, levels, args.calib_tokens, args.weights_on)
    plan = SparsityPlan.uniform(levels, names)
    plan.thresholds = thresholds
    meta = WisparseMetadata(method="wina", level=args.level, plan=plan, col_norms=norms)

    def q(w: np.ndarray) -> np.ndarray:
        return quantize(w, qtype) if qtype != gguf.GGMLQuantizationType.F32 else w

    d, v = shape.n_embd, shape.n_vocab
    with atomic_output(args.out) as tmp:
        wr = gguf.GGUFWriter(tmp, "llama")
        wr.add_name(f"random {args.shape} (benchmark only)")
        wr.add_block_count(shape.n_layer)
        wr.add_context_length(8192)
        wr.add_embedding_length(d)
        wr.add_feed_forward_length(shape.n_ff)
        wr.add_head_count(shape.n_head)
        wr.add_head_count_kv(shape.n_head_kv)
        wr.add_rope_dimension_count(shape.head_dim)
        wr.add_rope_freq_base(500000.0)
        wr.add_layer_norm_rms_eps(1e-5)
        wr.add_vocab_size(v)
        wr.add_file_type(ftype)
        wr.add_tokenizer_model("llama")
        tokens, scores, types = vocab_kv(v)
        wr.add_token_list(tokens)
        wr.add_token_scores(scores)
        wr.add_token_types(types)
        wr.add_bos_token_id(1)
        wr.add_eos_token_id(2)
        wr.add_unk_token_id(0)
        for key, value, vtype, sub in meta.key_values():
            wr.add_key_value(key, value, vtype, sub_type=sub)

        def info(name, n_out, n_in, dtype=qtype):
            logical = (n_in,) if n_out is None else (n_out, n_in)
            nbytes = gguf.quant_shape_to_byte_shape(logical, dtype) if dtype not in (
                gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16) else logical
            item = {gguf.GGMLQuantizationType.F32: 4, gguf.GGMLQuantizationType.F16: 2}.get(dtype, 1)
            np_dtype = {gguf.GGMLQuantizationType.F32: np.float32, gguf.GGMLQuantizationType.F16: np.float16}.get(
                dtype, np.uint8)
            wr.add_tensor_info(name, nbytes, np.dtype(np_dtype), int(np.prod(nbytes)) * item, dtype)

        dims = proj_dims(shape)
        info("token_embd.weight", v, d)
        for layer in range(shape.n_layer):
            info(f"blk.{layer}.attn_norm.weight", None, d, gguf.GGMLQuantizationType.F32)
            for p in PROJ:
                info(f"blk.{layer}.{p}.weight", *dims[p])
            info(f"blk.{layer}.ffn_norm.weight", None, d, gguf.GGMLQuantizationType.F32)
        info("output_norm.weight", None, d, gguf.GGMLQuantizationType.F32)
        info("output.weight", v, d)
        wr.write_header_to_file()
        wr.write_kv_data_to_file()
        wr.write_ti_data_to_file()

        rng = np.random.default_rng([args.seed, 2_000_000])
        ones = np.ones(d, np.float32)
        wr.write_tensor_data(q(rng.standard_normal((v, d), dtype=np.float32)))
        for layer in tqdm(range(shape.n_layer), desc="write blocks"):
            w = block_weights(shape, args.seed, layer, args.weights_on)
            wr.write_tensor_data(ones)
            for p in PROJ:
                wr.write_tensor_data(q(w[p]))
            wr.write_tensor_data(ones)
        wr.write_tensor_data(ones)
        wr.write_tensor_data(q(rng.standard_normal((v, d), dtype=np.float32) / np.sqrt(d)))
        wr.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
