#!/usr/bin/env python3
"""How far two ways of running one GGUF part: KL divergence and top-1 agreement of the logits.

A sparse file decodes through a threshold: a channel within rounding of its threshold is kept by one backend and
dropped by another, and the output moves by that channel's share. So the question "does the GPU run the file as the
CPU does" has no token-for-token answer; what can be measured is how far two runs part over real text, next to how far
the same file parts from itself under a switch that only changes rounding (flash attention on/off, say), and next to the
dense model under the same pair.

Runs llama-perplexity once per configuration over LAMBADA text (or --text): the first configuration saves its logits
(--kl-divergence-base), each other one is compared against them (--kl-divergence). With --dense the same pairs run
again with the sparsity off (LLAMA_WISPARSE_ENABLE=0). Optionally, a greedy continuation of --prompt per configuration.
Leading KEY=VALUE words of a --run are its environment (GGML_CUDA_SPARSE_FILL=0, LLAMA_WISPARSE_ENABLE=0, ...).

    python tools/parity.py out.gguf --run cpu="-fa off" --run cpu-fa="-fa on"
    python tools/parity.py out.gguf --run cpu="-dev none -fa off" --run gpu="-ngl 99 -fa off" --dense --greedy 32
    python tools/parity.py out.gguf --run sparse="-t 2" --run dense="LLAMA_WISPARSE_ENABLE=0 -t 2"
    python tools/parity.py out.gguf --run cpu="-dev none -fa off" --run cpu-fa="-dev none -fa on" \
        --run gpu="-ngl 99 -fa off" --check gpu:cpu-fa:1.25

--check RUN:REF[:FACTOR] makes it a test (exit status 1 when it fails): the sparse file's KLD of RUN against the base
may be at most FACTOR (default 1.25) times that of REF, another run against the same base. With REF a rounding-only
switch of the base's backend, this is what "the GPU decodes as the CPU does" can mean for a sparse file.

On a GPU build, `-dev none` keeps a run on the CPU (`-ngl 0` alone still offloads large batches). The first --run is
the base. llama-perplexity stores the base's log-probabilities in 16 bits, so a run compared with
itself shows a KLD of ~1e-6 and a top-1 agreement just below 100 % (near-ties). Quote the figures with the command line
that produced them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PATTERNS = {
    "kld": re.compile(r"^Mean\s+KLD:\s+([-0-9.eE+]+)", re.M),
    "same_top": re.compile(r"^Same top p:\s+([-0-9.eE+]+)", re.M),
    "ppl_ratio": re.compile(r"^Mean PPL\(Q\)/PPL\(base\)\s*:\s+([-0-9.eE+]+)", re.M),
    "ppl": re.compile(r"^Mean PPL\(Q\)\s*:\s+([-0-9.eE+]+)", re.M),
}


def fail(msg: str) -> None:
    raise SystemExit(f"parity: {msg}")


def run(cmd: list[str], env: dict[str, str], what: str) -> str:
    print(f"parity: {what} ...", file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        fail(f"{what} failed (exit {proc.returncode}): {tail}")
    return proc.stdout + proc.stderr


ENV_WORD = re.compile(r"^[A-Z_][A-Z0-9_]*=")


def parse_runs(specs: list[str]) -> list[tuple[str, dict[str, str], list[str]]]:
    """NAME="[KEY=VALUE ...] FLAGS": leading KEY=VALUE words are the run's environment, as in a shell."""
    runs = []
    for spec in specs:
        name, sep, rest = spec.partition("=")
        if not sep or not name:
            fail(f"--run wants NAME=\"FLAGS\", got {spec!r}")
        words = shlex.split(rest)
        env = {}
        while words and ENV_WORD.match(words[0]):
            key, _, value = words.pop(0).partition("=")
            env[key] = value
        runs.append((name, env, words))
    if len(runs) < 2:
        fail("give at least two --run (the first is the base)")
    if len({run[0] for run in runs}) != len(runs):
        fail("--run names must differ")
    return runs


def parse_check(spec: str, names: list[str]) -> tuple[str, str, float]:
    """RUN:REF[:FACTOR] -> (RUN, REF, FACTOR); RUN and REF are runs other than the base (names[0])."""
    parts = spec.split(":")
    if len(parts) not in (2, 3) or not all(parts):
        fail(f"--check wants RUN:REF[:FACTOR], got {spec!r}")
    try:
        factor = float(parts[2]) if len(parts) == 3 else 1.25
    except ValueError:
        fail(f"--check factor is not a number: {parts[2]!r}")
    if not factor > 0:
        fail(f"--check factor must be > 0, got {factor:g}")
    for name in parts[:2]:
        if name not in names[1:]:
            fail(f"--check names {name!r}, which is not a --run other than the base {names[0]!r}")
    return parts[0], parts[1], factor


def check(results: list[dict], run_name: str, ref_name: str, factor: float) -> tuple[bool, str]:
    """The sparse rows' KLD of run_name against factor times that of ref_name: (passed, a one-line verdict)."""
    kld = {r["run"]: r["kld"] for r in results if r["mode"] == "sparse"}
    ok = kld[run_name] <= factor*kld[ref_name]
    rel = kld[run_name]/kld[ref_name] if kld[ref_name] > 0 else 1.0 if kld[run_name] == 0 else float("inf")
    return ok, (f"check {'passed' if ok else 'failed'}: KLD of {run_name} {kld[run_name]:.6f} = {rel:.3f} x that of "
                f"{ref_name} {kld[ref_name]:.6f} (at most {factor:g} x)")


def greedy(binary: Path, model: Path, prompt: str, n: int, flags: list[str], env: dict[str, str]) -> str:
    cmd = [str(binary), "-m", str(model), "-no-cnv", "-p", prompt, "-n", str(n), "--temp", "0", *flags]
    proc = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True)
    if proc.returncode != 0:
        fail(f"llama-completion {' '.join(flags)} failed (exit {proc.returncode})")
    # llama-completion echoes the prompt: keep the continuation
    return proc.stdout[len(prompt):] if proc.stdout.startswith(prompt) else proc.stdout


def common_words(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a.split(), b.split()):
        if x != y:
            break
        n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--run", action="append", default=[], metavar='NAME="FLAGS"',
                    help="a configuration: llama-perplexity flags (the first is the base)")
    ap.add_argument("--bin", type=Path, default=ROOT / "build" / "bin", help="folder of llama-perplexity")
    ap.add_argument("--text", type=Path, help="text file (default: LAMBADA passages, wisparse_gguf.data)")
    ap.add_argument("--ctx", type=int, default=256, help="llama-perplexity -c")
    ap.add_argument("--chunks", type=int, default=16, help="llama-perplexity --chunks")
    ap.add_argument("--dense", action="store_true", help="also the same pairs with LLAMA_WISPARSE_ENABLE=0")
    ap.add_argument("--greedy", type=int, default=0, metavar="N",
                    help="also N greedy tokens of --prompt per run (the words the continuations share are counted)")
    ap.add_argument("--prompt", default="The capital of France is")
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--check", action="append", default=[], metavar="RUN:REF[:FACTOR]",
                    help="fail unless the sparse KLD of RUN is at most FACTOR (1.25) times that of REF")
    args = ap.parse_args()

    runs = parse_runs(args.run)
    checks = [parse_check(spec, [name for name, _, _ in runs]) for spec in args.check]
    if not args.model.is_file():
        fail(f"no such model file: {args.model}")
    ppl_bin = args.bin / "llama-perplexity"
    if not ppl_bin.is_file():
        fail(f"{ppl_bin} is missing; build it first (make build)")
    comp_bin = args.bin / "llama-completion"
    if args.greedy and not comp_bin.is_file():
        fail(f"{comp_bin} is missing; build it first (make build)")

    with tempfile.TemporaryDirectory(prefix="parity-") as tmp:
        if args.text:
            if not args.text.is_file():
                fail(f"no such text file: {args.text}")
            text = args.text
        else:
            sys.path.insert(0, str(ROOT))
            from wisparse_gguf.data import lambada_text
            text = Path(tmp) / "lambada.txt"
            text.write_text(lambada_text())

        modes = [("sparse", {})] + ([("dense", {"LLAMA_WISPARSE_ENABLE": "0"})] if args.dense else [])
        results = []
        for mode, mode_env in modes:
            base_name, base_env, base_flags = runs[0]
            kld_file = Path(tmp) / f"{mode}-base.kld"
            common = [str(ppl_bin), "-m", str(args.model), "-f", str(text), "-c", str(args.ctx),
                      "--chunks", str(args.chunks)]
            env = {**mode_env, **base_env}
            out = run(common + base_flags + ["--kl-divergence-base", str(kld_file)], env,
                      f"{mode} base {base_name}")
            m = PATTERNS["ppl"].search(out) or re.search(r"Final estimate: PPL = ([0-9.]+)", out)
            base_ppl = float(m.group(1)) if m else float("nan")
            base_text = greedy(comp_bin, args.model, args.prompt, args.greedy, base_flags, env) if args.greedy else ""
            for name, run_env, flags in runs[1:]:
                env = {**mode_env, **run_env}
                out = run(common + flags + ["--kl-divergence-base", str(kld_file), "--kl-divergence"], env,
                          f"{mode} {name}")
                row = {"mode": mode, "base": base_name, "run": name, "flags": " ".join(flags), "env": run_env,
                       "base_flags": " ".join(base_flags), "base_env": base_env, "base_ppl": base_ppl}
                for key, pat in PATTERNS.items():
                    m = pat.search(out)
                    if not m:
                        fail(f"{mode} {name}: no '{key}' in llama-perplexity's output")
                    row[key] = float(m.group(1))
                if args.greedy:
                    text_b = greedy(comp_bin, args.model, args.prompt, args.greedy, flags, env)
                    row["greedy_same"] = text_b == base_text
                    row["greedy_common_words"] = common_words(base_text, text_b)
                    row["greedy_base"], row["greedy_run"] = base_text, text_b
                results.append(row)
                greedy_col = ""
                if args.greedy:
                    greedy_col = (f"  greedy {'same' if row['greedy_same'] else 'differs'}"
                                  f" ({row['greedy_common_words']} words in common)")
                print(f"{mode:<6} {name:>12} vs {base_name:<12} KLD {row['kld']:.6f}  same top-1 "
                      f"{row['same_top']:6.2f} %  PPL ratio {row['ppl_ratio']:.4f}{greedy_col}", flush=True)

    if args.json:
        tmp_json = args.json.with_name(args.json.name + ".tmp")
        tmp_json.write_text(json.dumps({"model": str(args.model), "ctx": args.ctx, "chunks": args.chunks,
                                        "results": results}, indent=1))
        tmp_json.replace(args.json)

    failed = 0
    for run_name, ref_name, factor in checks:
        ok, line = check(results, run_name, ref_name, factor)
        print(line, flush=True)
        failed += not ok
    if failed:
        fail(f"{failed} of {len(checks)} checks failed")


if __name__ == "__main__":
    sys.exit(main())
