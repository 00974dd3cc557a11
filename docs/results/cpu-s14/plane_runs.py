#!/usr/bin/env python3
"""How scattered are the active channels of a block column on a real model, and would an order by activation
frequency gather them?  (The CPU decode kernels pay per jump to a non-adjacent active plane; session 14.)

SmolLM2-135M (the project's default GGUF), the calibration text (CalibrationConfig defaults: wiki summaries, seed 0),
4,096 tokens. Per projection: the score |x_j|*c_j of every token, the threshold of sparsity 0.5 (the median score of
the first half of the tokens), the active masks of the second half. Per block column of 32 channels and token: the
active planes that start a run (the plane before it in memory is not active, or it is the column's first) -- each is a
jump the kernel's reads pay. Natural order vs the channels of each block column sorted by their activation frequency
on the first half (descending; what a re-layout at load could do, since the active list maps plane -> channel).

    .venv/bin/python docs/results/cpu-s14/plane_runs.py
"""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from wisparse_gguf.calibrate import CalibrationConfig, calibration_batches  # noqa: E402
from wisparse_gguf.data import default_model_path  # noqa: E402
from wisparse_gguf.model import load_model  # noqa: E402
from wisparse_gguf.sparsify import column_norms  # noqa: E402

G = 32


def starts(mask: torch.Tensor) -> torch.Tensor:
    """mask [T, n_in] bool -> number of run starts per token, summed over block columns, and active count."""
    m = mask.view(mask.shape[0], -1, G)
    prev = torch.zeros_like(m)
    prev[:, :, 1:] = m[:, :, :-1]
    return (m & ~prev).sum().item(), m.sum().item()


def main() -> None:
    torch.manual_seed(0)
    lm = load_model(default_model_path())
    tokens = calibration_batches(lm.tokenizer, CalibrationConfig(n_tokens=4096, seq_len=512))
    inputs: dict[str, list[torch.Tensor]] = {}
    hooks = []
    for name, lin in lm.projections().items():
        def pre(mod, args, name=name):
            inputs.setdefault(name, []).append(args[0].detach().reshape(-1, args[0].shape[-1]).float())
        hooks.append(lin.register_forward_pre_hook(pre))
    with torch.no_grad():
        for i in range(tokens.shape[0]):
            lm.model(tokens[i:i + 1].to(lm.device))
    for h in hooks:
        h.remove()
    tot = {"natural": [0, 0], "sorted": [0, 0]}
    by_proj: dict[str, dict[str, list[int]]] = {}
    for name, lin in lm.projections().items():
        x = torch.cat(inputs[name])
        if x.shape[1] % G:
            continue
        score = x.abs() * column_norms(lin.weight)
        half = x.shape[0] // 2
        t = score[:half].flatten().median()
        fit, ev = score[:half] > t, score[half:] > t
        freq = fit.float().mean(0).view(-1, G)
        order = (torch.argsort(-freq, dim=1, stable=True) + torch.arange(freq.shape[0]).unsqueeze(1)*G).flatten()
        proj = name.split(".")[2]
        for label, m in (("natural", ev), ("sorted", ev[:, order])):
            s, a = starts(m)
            tot[label][0] += s
            tot[label][1] += a
            p = by_proj.setdefault(proj, {}).setdefault(label, [0, 0])
            p[0] += s
            p[1] += a
    print(f"model {default_model_path().name}, {tokens.numel()} tokens (thresholds from the first half, masks of the second)")
    print("| projection | active | jumps per active plane, natural order | sorted by frequency |")
    print("|---|---|---|---|")
    for proj, d in by_proj.items():
        n, s = d["natural"], d["sorted"]
        print(f"| {proj} | {n[1]} | {n[0]/n[1]:.3f} | {s[0]/s[1]:.3f} |")
    n, s = tot["natural"], tot["sorted"]
    print(f"| all | {n[1]} | {n[0]/n[1]:.3f} | {s[0]/s[1]:.3f} |")


if __name__ == "__main__":
    main()
