#!/usr/bin/env python3
"""Decode GEMV kernels: ggml_mul_mat_sparse vs stock ggml_mul_mat, Llama-3.1-8B shapes.

Runs the op test's micro-benchmark (`test-mul-mat-sparse --bench`) once per weight type and
shape and prints a markdown table per thread count: the speedup sparse/stock at each sparsity,
then every measured row (median times, GB/s of both over the bytes each must read, and the
machine's read bandwidth: a plain multi-stream sum of the stock copies by as many threads, run
right after the op's calls, with the sparse op's share of it).

Shapes are n_in x n_out (ne0 x ne1 of the weight, y = W x with W [n_out, n_in]):
4096x4096 (attn q, o), 4096x1024 (attn k, v), 4096x14336 (ffn gate, up), 14336x4096 (ffn down).
Inside the benchmark each layout's weight is copied until the copies hold --stream-mb MiB (at
least 2 copies, more than the 32 MiB L3 here), the copies are used round robin so that the
weights stream from DRAM as in a model, and stock and sparse calls alternate; each figure is
the median of at least --calls calls. --hugepages puts the copies of both layouts in transparent
huge pages (fewer TLB misses; in a VM each miss walks two page tables). The machines are
shared: quote ratios from one run, with the command line.

    python tools/bench_kernels.py                      # build/bin/test-mul-mat-sparse (make build)
    python tools/bench_kernels.py --types Q8_0 --shapes 4096x14336 --threads 1
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHAPES = ["4096x4096", "4096x1024", "4096x14336", "14336x4096"]
TYPES = ["F16", "Q8_0", "Q4_0", "Q4_1", "Q4_K", "Q6_K"]
SPARSITIES = ["0", "0.4", "0.5", "0.6", "0.75"]
COLUMNS = ["type", "n_in", "n_out", "tokens", "threads", "sparsity", "stock us", "sparse us",
           "speedup", "stock GB/s", "sparse GB/s", "read GB/s", "sparse/read", "stock MB", "sparse MB", "copies",
           "best speedup"]


def run_case(binary: Path, type_name: str, shape: str, args: argparse.Namespace) -> list[dict[str, str]]:
    cmd = [str(binary), "--bench", "--types", type_name, "--shapes", shape,
           "--sparsity", ",".join(args.sparsity), "--threads", ",".join(map(str, args.threads)),
           "--tokens", str(args.tokens), "--calls", str(args.calls), "--stream-mb", str(args.stream_mb)]
    if args.hugepages:
        cmd += ["--hugepages", "1"]
    res = subprocess.run(cmd, check=True, capture_output=True, text=True)
    out = res.stdout
    for line in res.stderr.splitlines():
        if "huge pages" in line:
            print(line, file=sys.stderr)
    rows = []
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == len(COLUMNS) and cells[0].lower() == type_name.lower():
            rows.append(dict(zip(COLUMNS, cells)))
        elif "unsupported" in line:
            print(f"{type_name} {shape}: not supported by the sparse op, skipped", file=sys.stderr)
    return rows


def summary(rows: list[dict[str, str]], threads: int, sparsities: list[str]) -> str:
    """Speedup per (type, shape) and target sparsity, one thread count."""
    head = "| type | n_in x n_out | " + " | ".join(f"s={s}" for s in sparsities) + " |"
    lines = [head, "|" + "---|" * (2 + len(sparsities))]
    keys = []
    for r in rows:
        key = (r["type"], f'{r["n_in"]}x{r["n_out"]}')
        if key not in keys:
            keys.append(key)
    for key in keys:
        sel = [r for r in rows if (r["type"], f'{r["n_in"]}x{r["n_out"]}') == key and int(r["threads"]) == threads]
        if not sel:
            continue
        cells = [f'{r["speedup"]}x' for r in sel]
        cells += [""] * (len(sparsities) - len(cells))
        lines.append(f"| {key[0]} | {key[1]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", type=Path, default=ROOT / "build" / "bin" / "test-mul-mat-sparse",
                    help="the op test binary of the patched tree")
    ap.add_argument("--types", nargs="+", default=TYPES)
    ap.add_argument("--shapes", nargs="+", default=SHAPES, help="n_in x n_out")
    ap.add_argument("--sparsity", nargs="+", default=SPARSITIES)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--tokens", type=int, default=1)
    ap.add_argument("--calls", type=int, default=40, help="timed calls per side and case, at least")
    ap.add_argument("--stream-mb", type=float, default=256.0,
                    help="MiB of weight copies per layout (round robin, > L3)")
    ap.add_argument("--hugepages", action="store_true",
                    help="put the copies (and so the read-bandwidth probe) in transparent huge pages (Linux)")
    args = ap.parse_args()
    if not args.bin.is_file():
        raise SystemExit(f"bench_kernels: {args.bin} is missing; build it first (make build)")

    rows: list[dict[str, str]] = []
    for type_name in args.types:
        for shape in args.shapes:
            print(f"running {type_name} {shape} ...", file=sys.stderr, flush=True)
            rows += run_case(args.bin, type_name, shape, args)

    print(f"decode GEMV, {args.tokens} token(s): speedup = stock ggml_mul_mat time / sparse time (median)\n")
    for t in args.threads:
        print(f"### {t} thread(s)\n")
        print(summary(rows, t, args.sparsity) + "\n")
    print("### all rows\n")
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    for r in sorted(rows, key=lambda r: (int(r["threads"]), r["type"], int(r["n_in"]), int(r["n_out"]), float(r["sparsity"]))):
        print("| " + " | ".join(r[c] for c in COLUMNS) + " |")


if __name__ == "__main__":
    main()
