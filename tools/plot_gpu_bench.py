#!/usr/bin/env python3
"""Plot a device run's llama-bench log: patched-sparse / stock-dense ratio against the sparsity level, per weight type.

The log is the one the H200 runners write (docs/results/h200-session15/final/bench.log): per benchmark a header
`### <type> <layers> stock|sparse <level>[ [SWITCH=..]][ again]: env ...` and llama-bench's markdown table. Ratios pair
each sparse run with the stock run of its round (the "again" runs with the stock "again" run); runs with a switch in
brackets are left out. `--switch TYPE=SWITCH` takes the sparse runs of TYPE with that switch instead of those without
one (where the build's default for TYPE was an experiment and SWITCH selects the code that is on main).

    python tools/plot_gpu_bench.py docs/results/h200-session15/final/bench.log -o docs/results/h200-session15/ratio.png
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from pathlib import Path

HEADER = re.compile(r"^### (\S+) (\S+) (stock|sparse (\S+?))( \[[^\]]*\])?( again)?: ")
ROW = re.compile(r"\|\s*(pp\d+|tg\d+)\s*\|\s*([0-9.]+) ±")

# the goals (issue 5): (type, level, test) -> ratio
GOALS = {("f16", 0.5, "tg128"): 1.6, ("q8_0", 0.5, "tg128"): 1.6, ("q4_k_m", 0.5, "tg128"): 1.3,
         ("f16", 0.4, "tg128"): 1.3}
FLOOR = 0.9  # level 0 (tg128) and every pp512


def parse(path: Path, switch_of: dict[str, str] | None = None) -> dict:
    """{(type, round): {"stock": {test: t/s}, level: {test: t/s}}} of the runs without a switch; for a type in switch_of
    (type -> switch), its sparse runs with that switch instead."""
    switch_of = switch_of or {}
    runs: dict = defaultdict(dict)
    key = None
    for line in path.read_text().splitlines():
        m = HEADER.match(line)
        if m:
            typ, _, what, level, switch, again = m.groups()
            switch = switch.strip()[1:-1] if switch else None
            want = switch_of.get(typ) if what != "stock" else None
            key = None if switch != want else ((typ, 1 if again else 0), "stock" if what == "stock" else float(level))
            continue
        m = ROW.search(line)
        if m and key is not None:
            runs[key[0]].setdefault(key[1], {})[m.group(1)] = float(m.group(2))
    return runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("log", type=Path)
    ap.add_argument("-o", "--out", type=Path, required=True, help="the picture (.png, .svg)")
    ap.add_argument("--title", default="Llama-3.1-8B shape, random weights, H200: llama-bench, patched sparse / stock")
    ap.add_argument("--switch", action="append", default=[], metavar="TYPE=SWITCH",
                    help="the sparse runs of TYPE are those with [SWITCH] (e.g. q4_k_m=GGML_CUDA_SPARSE_KQW=0)")
    args = ap.parse_args()
    if not args.log.is_file():
        raise SystemExit(f"plot_gpu_bench: no such log: {args.log}")
    switch_of = {}
    for spec in args.switch:
        typ, sep, switch = spec.partition("=")
        if not sep or not typ or not switch:
            raise SystemExit(f"plot_gpu_bench: --switch wants TYPE=SWITCH, got {spec!r}")
        switch_of[typ] = switch
    runs = parse(args.log, switch_of)
    if not runs:
        raise SystemExit(f"plot_gpu_bench: no benchmark headers in {args.log}")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tests = ("tg128", "pp512")
    colors = {"f16": "tab:blue", "q8_0": "tab:orange", "q4_k_m": "tab:green"}
    fig, axes = plt.subplots(1, len(tests), figsize=(11, 4.2), sharey=False)
    for ax, test in zip(axes, tests):
        for (typ, rnd), by_level in sorted(runs.items()):
            stock = by_level.get("stock", {}).get(test)
            if stock is None:
                continue
            pts = sorted((lv, v[test] / stock) for lv, v in by_level.items() if lv != "stock" and test in v)
            if not pts:
                continue
            xs, ys = zip(*pts)
            color = colors.get(typ, None)
            if rnd == 0:
                ax.plot(xs, ys, "o-", color=color, label=typ.upper())
                for x, y in pts:
                    ax.annotate(f"{y:.2f}", (x, y), textcoords="offset points", xytext=(-5, 4), fontsize=7, ha="right",
                                color=color)
            else:
                ax.plot(xs, ys, "x", color=color, markersize=8, label=f"{typ.upper()}, second pair")
            print(f"{test} {typ} round {rnd}: " + ", ".join(f"{x:g}: {y:.3f}x" for x, y in pts))
        goals = defaultdict(list)
        for (typ, lv, t), goal in GOALS.items():
            if t == test:
                goals[(lv, goal)].append(typ)
        for (lv, goal), types in goals.items():
            # a bar in the type's colour (split where two types share a goal)
            w = 0.07/len(types)
            for k, typ in enumerate(types):
                x0 = lv - 0.035 + k*w
                ax.plot([x0, x0 + w], [goal, goal], "-", color=colors[typ], linewidth=4, alpha=0.5,
                        solid_capstyle="butt")
        ax.axhline(1.0, color="grey", linewidth=0.8)
        ax.axhline(FLOOR, color="grey", linewidth=0.8, linestyle=":")
        ax.set_xlabel("sparsity level")
        ax.set_ylabel(f"{test} ratio (sparse / stock)")
        ax.set_title(test + (" (bars: the issue's goals)" if test == "tg128" else " (dotted: the 0.9x floor)"),
                     fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(args.title, fontsize=10)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp" + args.out.suffix)
    fig.savefig(tmp, dpi=110)
    tmp.replace(args.out)


if __name__ == "__main__":
    sys.exit(main())
