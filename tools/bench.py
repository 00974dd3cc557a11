#!/usr/bin/env python3
"""llama-bench, patched-sparse vs stock-dense on the same GGUF, side by side.

Runs the stock and the patched llama-bench alternately (these machines are shared
and noisy, so the two are interleaved and repeated), prints tokens/s of each, the
ratio patched/stock and the peak resident memory of each process.

    python tools/bench.py out.gguf                       # tg128 and pp512, 2 threads
    python tools/bench.py out.gguf -t 1 -t 2 --rounds 5 --json results.json
    python tools/bench.py out.gguf --env LLAMA_WISPARSE_LEVEL=0.4   # extra env for the patched run

The figures are ratios measured in one run; quote them with the command line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Sample:
    tokens_per_s: list[float] = field(default_factory=list)
    peak_rss_mb: list[float] = field(default_factory=list)


def peak_rss_run(binary: Path, model: Path, test: str, threads: int, reps: int,
                 extra_env: dict[str, str]) -> tuple[float, float]:
    """One llama-bench process; returns (mean tokens/s, peak RSS in MB from wait4)."""
    n_prompt, n_gen = (int(test[2:]), 0) if test.startswith("pp") else (0, int(test[2:]))
    cmd = [str(binary), "-m", str(model), "-p", str(n_prompt), "-n", str(n_gen),
           "-t", str(threads), "-r", str(reps), "-o", "json"]
    env = {**os.environ, **extra_env}
    r, w = os.pipe()
    er, ew = os.pipe()
    pid = os.posix_spawn(cmd[0], cmd, env, file_actions=[
        (os.POSIX_SPAWN_DUP2, w, 1), (os.POSIX_SPAWN_DUP2, ew, 2),
        (os.POSIX_SPAWN_CLOSE, r), (os.POSIX_SPAWN_CLOSE, er)])
    os.close(w)
    os.close(ew)
    with os.fdopen(r) as fo, os.fdopen(er) as fe:
        out = fo.read()
        err = fe.read()
    _, status, rusage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        last = err.strip().splitlines()[-3:]
        raise SystemExit(f"bench: {binary} failed on {model.name} ({test}): {last}")
    rows = json.loads(out)
    return statistics.fmean(row["avg_ts"] for row in rows), rusage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--patched", type=Path, default=ROOT / "build" / "bin" / "llama-bench")
    ap.add_argument("--stock", type=Path, default=ROOT / "build-stock" / "bin" / "llama-bench")
    ap.add_argument("-t", "--threads", type=int, action="append", help="thread counts (default 2)")
    ap.add_argument("--tests", default="tg128,pp512", help="comma list of tgN / ppN")
    ap.add_argument("--rounds", type=int, default=3, help="alternating stock/patched rounds")
    ap.add_argument("--reps", type=int, default=2, help="llama-bench -r inside each round")
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for the patched run")
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args()

    if not args.model.is_file():
        raise SystemExit(f"bench: no such model file: {args.model}")
    for b in (args.patched, args.stock):
        if not b.is_file():
            raise SystemExit(f"bench: {b} is missing; build it first (make build build-stock)")
    patched_env = dict(kv.split("=", 1) for kv in args.env)
    threads = args.threads or [2]
    tests = [t.strip() for t in args.tests.split(",") if t.strip()]

    results = []
    for n_threads in threads:
        for test in tests:
            stock, patched = Sample(), Sample()
            for _ in range(args.rounds):
                for sample, binary, env in ((stock, args.stock, {}), (patched, args.patched, patched_env)):
                    ts, rss = peak_rss_run(binary, args.model, test, n_threads, args.reps, env)
                    sample.tokens_per_s.append(ts)
                    sample.peak_rss_mb.append(rss)
            s_ts, p_ts = statistics.median(stock.tokens_per_s), statistics.median(patched.tokens_per_s)
            row = {
                "model": args.model.name, "test": test, "threads": n_threads,
                "stock_ts": round(s_ts, 2), "patched_ts": round(p_ts, 2), "ratio": round(p_ts / s_ts, 3),
                "stock_rss_mb": round(max(stock.peak_rss_mb), 1), "patched_rss_mb": round(max(patched.peak_rss_mb), 1),
                "rounds": args.rounds, "env": patched_env,
                "stock_samples": [round(x, 2) for x in stock.tokens_per_s],
                "patched_samples": [round(x, 2) for x in patched.tokens_per_s],
            }
            results.append(row)
            print(f"{row['model']:<40} {test:>6} t={n_threads}  stock {s_ts:8.2f} t/s  patched {p_ts:8.2f} t/s  "
                  f"ratio {row['ratio']:.3f}  rss {row['stock_rss_mb']:.0f} / {row['patched_rss_mb']:.0f} MB",
                  flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    sys.exit(main())
