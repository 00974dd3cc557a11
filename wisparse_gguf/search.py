"""WiSparse allocation: spend a global sparsity budget where the model can afford it.

Two levels (DESIGN.md section 3, docs/METHOD.md "Allocation"):

1. inside a block, a greedy path (TEAL-style small steps, weight-aware score)
   raises one of the block's seven tensors at a time, always the one whose step
   costs the least block-output reconstruction error per pruned weight. The path
   gives, for any block budget, a split over the seven tensors whose
   parameter-weighted mean is exactly that budget;
2. across blocks, an evolutionary search over per-block budgets keeps the
   parameter-weighted mean at the target (sum-preserving mutation and crossover,
   box [0, max_sparsity]). Its fitness is the mean KL(dense || sparse) of the
   next-token distributions on held-out calibration tokens (never used for the
   thresholds). Candidates are ranked by a surrogate, the sum of per-block
   sensitivity curves (KL with only that block sparse), and the best few
   (and the uniform plan) are then evaluated for real.

Everything that does not change between candidates is computed once: the score
histograms of every tensor (any tensor's threshold at any sparsity is a
quantile of its histogram), the dense hidden states entering every block, and
the dense log-probabilities of the held-out tokens.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .arch import PROJECTIONS, gguf_name
from .calibrate import CalibrationConfig, _run_block, block_inputs, calibration_batches, collect_dense
from .errors import WisparseError
from .histogram import LogHistogram
from .model import LoadedModel
from .plan import SparsityPlan
from .sparsify import SparseEngine, param_counts


@dataclass
class SearchConfig:
    generations: int = 60
    population: int = 32
    seed: int = 0
    heldout_seqs: int = 2  # calibration sequences after the threshold tokens, for the fitness
    curve_tokens: int = 64  # tokens per held-out sequence used for the sensitivity curves
    hist_tokens: int = 8192  # threshold tokens whose dense score histograms rank candidates
    recon_tokens: int = 128  # tokens (of the threshold set) for the intra-block reconstruction error
    grid: tuple[float, ...] = (0.0, 0.25, 0.4, 0.5, 0.6, 0.7, 0.85, 0.95)  # curve points
    tensor_step: float = 0.1  # greedy step of one tensor's sparsity inside a block
    max_sparsity: float = 0.95
    true_evals: int = 3  # best surrogate candidates evaluated for real, per level
    intra_block: bool = True  # False: every tensor of a block gets the block budget
    block_search: bool = True  # False: every block gets the level (ablation)
    batch_size: int = 4


# ---------------------------------------------------------------- budget algebra

def project_to_budget(s: np.ndarray, weights: np.ndarray, budget: float, hi: float) -> np.ndarray:
    """The vector clip(s + tau, 0, hi) whose weighted mean is ``budget`` (tau by bisection).

    A shift keeps the shape of ``s`` (the search's information) and is the
    Euclidean projection onto {weighted mean = budget, 0 <= s <= hi} for equal weights.
    """
    w = weights / weights.sum()
    if not 0.0 <= budget <= hi:
        raise ValueError(f"budget {budget} outside [0, {hi}]")
    lo_t, hi_t = -1.0 - float(s.max()), 1.0 + hi - float(s.min())
    for _ in range(100):
        mid = 0.5 * (lo_t + hi_t)
        if float((np.clip(s + mid, 0.0, hi) * w).sum()) < budget:
            lo_t = mid
        else:
            hi_t = mid
    out = np.clip(s + 0.5 * (lo_t + hi_t), 0.0, hi)
    # remove the last rounding error on an interior coordinate
    free = (out > 1e-9) & (out < hi - 1e-9)
    if free.any():
        out[free] += (budget - float((out * w).sum())) / float(w[free].sum())
    return np.clip(out, 0.0, hi)


def mutate(s: np.ndarray, weights: np.ndarray, rng: np.random.Generator, sigma: float, hi: float,
           n_moves: int = 2) -> np.ndarray:
    """Move sparsity between random pairs of blocks; each move keeps the weighted sum."""
    s = s.copy()
    for _ in range(n_moves):
        i, j = rng.choice(len(s), size=2, replace=False)
        # amount of "pruned weights" moved from block j to block i, kept inside the box
        amount = abs(rng.normal(0.0, sigma)) * min(weights[i], weights[j])
        amount = min(amount, (hi - s[i]) * weights[i], s[j] * weights[j])
        s[i] += amount / weights[i]
        s[j] -= amount / weights[j]
    return np.clip(s, 0.0, hi)


def crossover(a: np.ndarray, b: np.ndarray, weights: np.ndarray, budget: float, hi: float,
              rng: np.random.Generator) -> np.ndarray:
    """Uniform crossover of block budgets, projected back onto the budget."""
    child = np.where(rng.random(len(a)) < 0.5, a, b)
    return project_to_budget(child, weights, budget, hi)


# ---------------------------------------------------------------- thresholds

class ThresholdTable:
    """Any tensor's threshold at any sparsity, from its calibration histogram (no new pass)."""

    def __init__(self, hist: dict[str, dict[str, LogHistogram]], kind: str):
        self.hist, self.kind = hist, kind
        self._cache: dict[tuple[str, float], float] = {}

    def __call__(self, name: str, sparsity: float) -> float:
        key = (name, round(float(sparsity), 6))
        if key not in self._cache:
            self._cache[key] = self.hist[name][self.kind].quantile(key[1])
        return self._cache[key]

    def thresholds(self, sparsity: dict[str, float]) -> dict[str, float]:
        return {n: self(n, s) for n, s in sparsity.items() if s > 0}


# ---------------------------------------------------------------- intra-block split

@dataclass
class BlockPath:
    """The greedy path of one block: block sparsity and its seven tensors' sparsities at each step."""

    block_sparsity: np.ndarray  # [K], non-decreasing, from 0 to max_sparsity
    tensor_sparsity: np.ndarray  # [K, 7]
    error: np.ndarray  # [K] relative reconstruction error of the block output

    def split(self, budget: float) -> np.ndarray:
        """Per-tensor sparsities whose weighted mean is ``budget`` (linear between path points)."""
        bs = self.block_sparsity
        k = int(np.clip(np.searchsorted(bs, budget), 1, len(bs) - 1))
        span = bs[k] - bs[k - 1]
        f = 0.0 if span <= 0 else float(np.clip((budget - bs[k - 1]) / span, 0.0, 1.0))
        return (1 - f) * self.tensor_sparsity[k - 1] + f * self.tensor_sparsity[k]


def uniform_path(hi: float) -> BlockPath:
    bs = np.array([0.0, hi])
    return BlockPath(bs, np.repeat(bs[:, None], len(PROJECTIONS), axis=1), np.zeros(2))


@torch.no_grad()
def greedy_block_path(lm: LoadedModel, block: int, hidden: torch.Tensor, kwargs: dict, table: ThresholdTable,
                      col_norms: dict[str, torch.Tensor], cfg: SearchConfig) -> BlockPath:
    """TEAL-style greedy: each step raises the tensor whose step costs least error per pruned weight.

    Lazy evaluation: a tensor's marginal cost is recomputed only when it is the
    cheapest candidate; a stale cost is accepted once it is fresh and still the
    cheapest (costs change slowly between steps), which halves the block passes.
    """
    names = [gguf_name(block, p) for p in PROJECTIONS]
    linears = {n: lm.projection(block, p) for n, p in zip(names, PROJECTIONS)}
    sizes = np.array([linears[n].weight.numel() for n in names], dtype=np.float64)
    blk = lm.blocks[block]
    dense = _run_block(blk, hidden, kwargs, cfg.batch_size, keep_output=True)
    scale = float(((dense - hidden) ** 2).mean())  # the block's own contribution, for a relative error

    def error(s: np.ndarray) -> float:
        thr = table.thresholds({n: float(x) for n, x in zip(names, s)})
        with SparseEngine(linears, thr, col_norms):
            out = _run_block(blk, hidden, kwargs, cfg.batch_size, keep_output=True)
        return float(((out - dense) ** 2).mean()) / scale

    hi, step = cfg.max_sparsity, cfg.tensor_step
    s = np.zeros(len(names))
    err = 0.0
    path_s, path_t, path_e = [0.0], [s.copy()], [0.0]
    cost = np.zeros(len(names))  # stale marginal costs
    fresh = np.zeros(len(names), dtype=bool)
    trial: dict[int, tuple[np.ndarray, float]] = {}

    def evaluate(i: int) -> None:
        t = s.copy()
        t[i] = min(hi, t[i] + step)
        e = error(t)
        cost[i] = (e - err) / ((t[i] - s[i]) * sizes[i])
        fresh[i] = True
        trial[i] = (t, e)

    for i in range(len(names)):
        evaluate(i)
    while (s < hi - 1e-9).any():
        open_ = np.where(s < hi - 1e-9)[0]
        i = int(open_[np.argmin(cost[open_])])
        if not fresh[i]:
            evaluate(i)
            continue
        s, err = trial[i]
        fresh[:] = False
        path_s.append(float((s * sizes).sum() / sizes.sum()))
        path_t.append(s.copy())
        path_e.append(err)
    return BlockPath(np.array(path_s), np.array(path_t), np.array(path_e))


# ---------------------------------------------------------------- model pieces

def _body(lm: LoadedModel):
    return lm.model.get_submodule(lm.spec.layers.rsplit(".", 1)[0])


@torch.no_grad()
def dense_hidden_states(lm: LoadedModel, tokens: torch.Tensor, batch_size: int) -> tuple[list[torch.Tensor], dict]:
    """Dense hidden states entering every block (and leaving the last), with the blocks' kwargs."""
    hidden, kwargs = block_inputs(lm, tokens, batch_size)
    states = [hidden]
    for blk in lm.blocks:
        states.append(_run_block(blk, states[-1], kwargs, batch_size, keep_output=True))
    return states, kwargs


@torch.no_grad()
def tail_log_probs(lm: LoadedModel, hidden: torch.Tensor, kwargs: dict, start: int, batch_size: int) -> torch.Tensor:
    """Log-probabilities of the next token, running blocks start.. on ``hidden`` (hooks apply)."""
    for i in range(start, lm.n_blocks):
        hidden = _run_block(lm.blocks[i], hidden, kwargs, batch_size, keep_output=True)
    logits = lm.model.get_output_embeddings()(_body(lm).norm(hidden))
    return F.log_softmax(logits.float(), dim=-1)


def mean_kl(lp_dense: torch.Tensor, lp: torch.Tensor) -> float:
    return float((lp_dense.exp() * (lp_dense - lp)).sum(-1).mean())


# ---------------------------------------------------------------- search state

@dataclass
class SearchReport:
    level: float
    block_budgets: list[float]
    surrogate_kl: float
    true_kl: float
    uniform_true_kl: float
    seconds: float


@dataclass
class Allocation:
    """What the search computed once: paths, curves and the means to evaluate a plan for real."""

    lm: LoadedModel
    cfg: SearchConfig
    names: list[str]
    n_params: dict[str, int]
    block_weights: np.ndarray  # parameters per block
    paths: list[BlockPath]
    curves: np.ndarray  # [n_blocks, len(grid)] KL with only that block sparse
    table: ThresholdTable
    col_norms: dict[str, torch.Tensor]
    heldout: tuple  # (hidden0, kwargs, dense log-probs)
    timings: dict[str, float] = field(default_factory=dict)

    def tensor_sparsity(self, block_budgets: np.ndarray) -> dict[str, float]:
        out = {}
        for b, budget in enumerate(block_budgets):
            for p, s in zip(PROJECTIONS, self.paths[b].split(float(budget))):
                out[gguf_name(b, p)] = float(s)
        return out

    def surrogate(self, block_budgets: np.ndarray) -> float:
        grid = np.asarray(self.cfg.grid)
        return float(sum(np.interp(s, grid, c) for s, c in zip(block_budgets, self.curves)))

    @torch.no_grad()
    def true_kl(self, block_budgets: np.ndarray) -> float:
        hidden0, kwargs, lp_dense = self.heldout
        thr = self.table.thresholds(self.tensor_sparsity(block_budgets))
        with SparseEngine(self.lm.projections(), thr, self.col_norms):
            lp = tail_log_probs(self.lm, hidden0, kwargs, 0, self.cfg.batch_size)
        return mean_kl(lp_dense, lp)


def _model_device(lm: LoadedModel) -> torch.device:
    return next(lm.model.parameters()).device


def _device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def calibration_split(tokenizer, calib: CalibrationConfig, heldout_seqs: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(threshold tokens, held-out tokens): the held-out sequences come after the ones ``calibrate`` uses.

    ``calibration_batches`` cuts one seeded token stream, so asking it for more
    tokens returns the threshold tokens as a prefix; the held-out sequences are
    the next ones and never reach the thresholds. A text too short for both
    keeps at least one sequence on each side (then they overlap; warned).
    """
    n_thr = max(1, calib.n_tokens // calib.seq_len)
    want = CalibrationConfig(n_tokens=(n_thr + heldout_seqs) * calib.seq_len, seq_len=calib.seq_len,
                             batch_size=calib.batch_size, seed=calib.seed, text=calib.text)
    tokens = calibration_batches(tokenizer, want)
    if len(tokens) >= n_thr + heldout_seqs:
        return tokens[:n_thr], tokens[n_thr:n_thr + heldout_seqs]
    import warnings

    warnings.warn(f"calibration text too short for {heldout_seqs} held-out sequences after {n_thr}: "
                  "the fitness tokens overlap the threshold tokens")
    k = max(1, min(heldout_seqs, len(tokens) - 1)) if len(tokens) > 1 else 1
    return tokens[: max(1, len(tokens) - k)], tokens[-k:]


@torch.no_grad()
def prepare(lm: LoadedModel, calib: CalibrationConfig, cfg: SearchConfig, col_norms: dict[str, torch.Tensor],
            kind: str = "score", progress: bool = True) -> Allocation:
    """Everything the block search reuses: histograms, dense states, intra-block paths, curves."""
    timings: dict[str, float] = {}
    t0 = time.time()
    thr_tokens, heldout = calibration_split(lm.tokenizer, calib, cfg.heldout_seqs)
    n_hist = max(1, cfg.hist_tokens // thr_tokens.shape[1])
    home = _model_device(lm)  # histograms where the model is; the rest on the fastest device
    hist = collect_dense(lm, thr_tokens[:n_hist].to(home), col_norms, calib.batch_size, progress)
    table = ThresholdTable(hist, kind)
    timings["histograms"] = time.time() - t0

    dev = _device()
    lm.model.to(dev)
    norms = {n: c.to(dev) for n, c in col_norms.items()}
    names = list(lm.projections())
    n_params = param_counts(lm.projections())
    block_weights = np.array([sum(n_params[gguf_name(b, p)] for p in PROJECTIONS) for b in range(lm.n_blocks)],
                             dtype=np.float64)
    alloc = Allocation(lm, cfg, names, n_params, block_weights, [], np.zeros(0), table, norms, ())

    t0 = time.time()
    if cfg.intra_block:
        n_rec = max(1, cfg.recon_tokens // thr_tokens.shape[1])
        rec_tokens = thr_tokens[:n_rec, :min(cfg.recon_tokens, thr_tokens.shape[1])].to(dev)
        states, kwargs = dense_hidden_states(lm, rec_tokens, cfg.batch_size)
        for b in tqdm(range(lm.n_blocks), desc="intra-block paths", disable=not progress):
            alloc.paths.append(greedy_block_path(lm, b, states[b], kwargs, table, norms, cfg))
        del states
    else:
        alloc.paths = [uniform_path(cfg.max_sparsity) for _ in range(lm.n_blocks)]
    timings["intra_block"] = time.time() - t0

    t0 = time.time()
    heldout = heldout.to(dev)
    hidden0, kwargs = block_inputs(lm, heldout, cfg.batch_size)
    lp_dense = tail_log_probs(lm, hidden0, kwargs, 0, cfg.batch_size)
    alloc.heldout = (hidden0, kwargs, lp_dense)
    if cfg.block_search:
        short = heldout[:, :min(cfg.curve_tokens, heldout.shape[1])]
        states, kw_short = dense_hidden_states(lm, short, cfg.batch_size)
        lp_short = tail_log_probs(lm, states[-1], kw_short, lm.n_blocks, cfg.batch_size)
        curves = np.zeros((lm.n_blocks, len(cfg.grid)))
        bar = tqdm(total=lm.n_blocks * len(cfg.grid), desc="block sensitivity", disable=not progress)
        for b in range(lm.n_blocks):
            for g, level in enumerate(cfg.grid):
                if level > 0:
                    split = dict(zip([gguf_name(b, p) for p in PROJECTIONS], alloc.paths[b].split(level)))
                    with SparseEngine(lm.projections(), table.thresholds(split), norms):
                        lp = tail_log_probs(lm, states[b], kw_short, b, cfg.batch_size)
                    curves[b, g] = mean_kl(lp_short, lp)
                bar.update(1)
        bar.close()
        alloc.curves = curves
        del states
    timings["curves"] = time.time() - t0
    alloc.timings = timings
    return alloc


def evolve(alloc: Allocation, level: float, progress: bool = True) -> list[np.ndarray]:
    """Evolutionary search over block budgets on the surrogate; distinct candidates, best first."""
    cfg = alloc.cfg
    rng = np.random.default_rng([cfg.seed, int(round(level * 1e6))])
    w, hi, nb = alloc.block_weights, cfg.max_sparsity, len(alloc.block_weights)
    uniform = np.full(nb, level)
    pop = [uniform] + [project_to_budget(uniform + rng.normal(0, 0.1, nb), w, level, hi)
                       for _ in range(cfg.population - 1)]
    fit = np.array([alloc.surrogate(p) for p in pop])
    n_elite = max(1, cfg.population // 8)
    bar = tqdm(range(cfg.generations), desc=f"search @{level:g}", disable=not progress)
    for gen in bar:
        order = np.argsort(fit, kind="stable")
        children = [pop[i] for i in order[:n_elite]]
        sigma = 0.08 * (1 - gen / max(1, cfg.generations)) + 0.01  # anneal the step
        while len(children) < cfg.population:
            a, b = (pop[min(rng.choice(len(pop), 3, replace=False), key=lambda k: fit[k])] for _ in range(2))
            child = crossover(a, b, w, level, hi, rng) if rng.random() < 0.7 else a.copy()
            child = mutate(child, w, rng, sigma, hi)
            children.append(child)
        pop = children
        fit = np.array([alloc.surrogate(p) for p in pop])
        bar.set_postfix(gen=gen + 1, best_kl=f"{fit.min():.4f}")
    order = np.argsort(fit, kind="stable")
    out: list[np.ndarray] = []
    for i in order:
        if all(np.abs(pop[i] - o).max() > 1e-3 for o in out):
            out.append(pop[i])
    return out


def search_level(alloc: Allocation, level: float, progress: bool = True) -> tuple[np.ndarray, SearchReport]:
    """Block budgets for one level: surrogate search, then the best few evaluated for real."""
    t0 = time.time()
    uniform = np.full(len(alloc.block_weights), float(level))
    if not alloc.cfg.block_search or level <= 0:
        kl = alloc.true_kl(uniform) if level > 0 else 0.0
        return uniform, SearchReport(level, uniform.tolist(), float("nan"), kl, kl, time.time() - t0)
    candidates = evolve(alloc, level, progress)[:alloc.cfg.true_evals]
    uniform_kl = alloc.true_kl(uniform)
    scored = [(alloc.true_kl(c), i, c) for i, c in enumerate(candidates)]
    best_kl, _, best = min(scored, key=lambda x: (x[0], x[1]))
    if uniform_kl <= best_kl:  # never worse than uniform on the held-out tokens
        best_kl, best = uniform_kl, uniform
    return best, SearchReport(level, best.tolist(), alloc.surrogate(best), best_kl, uniform_kl, time.time() - t0)


def search_plan(lm: LoadedModel, levels, calib: CalibrationConfig, cfg: SearchConfig,
                col_norms: dict[str, torch.Tensor], kind: str = "score",
                progress: bool = True) -> tuple[SparsityPlan, dict]:
    """A SparsityPlan (per-tensor sparsities, no thresholds yet) for every level, and a report."""
    t_start = time.time()
    home = _model_device(lm)
    alloc = prepare(lm, calib, cfg, col_norms, kind, progress)
    levels = [float(x) for x in levels]
    plan = SparsityPlan(levels=levels, tensors=alloc.names, sparsity=np.zeros((len(levels), len(alloc.names)),
                        np.float32), n_params=alloc.n_params)
    reports = []
    t0 = time.time()
    try:
        for li, level in enumerate(levels):
            budgets, rep = search_level(alloc, level, progress)
            sp = alloc.tensor_sparsity(budgets)
            plan.sparsity[li] = [sp[n] for n in alloc.names]
            reports.append(rep)
    finally:
        lm.model.to(home)
    alloc.timings["search"] = time.time() - t0
    alloc.timings["total"] = time.time() - t_start
    report = {"config": asdict(cfg), "device": str(_device()), "timings_s": alloc.timings,
              "levels": [asdict(r) for r in reports],
              "block_paths": [{"block_sparsity": p.block_sparsity.tolist(), "error": p.error.tolist()}
                              for p in alloc.paths],
              "curves": {"grid": list(cfg.grid), "kl": alloc.curves.tolist()}}
    for level in levels:
        b = plan.budget(level)
        if abs(b - level) > 1e-4:  # the construction makes it exact; guard anyway
            raise RuntimeError(f"plan budget {b} != level {level}")
    return plan, report


# ---------------------------------------------------------------- plan files

PLAN_FORMAT = "wisparse-plan/1"


def save_plan(plan: SparsityPlan, path: Path, method: str = "wisparse", report: dict | None = None) -> None:
    data = {"format": PLAN_FORMAT, "method": method, "levels": plan.levels, "tensors": plan.tensors,
            "n_params": plan.n_params, "sparsity": np.asarray(plan.sparsity, float).tolist(),
            "report": report or {}}
    Path(path).write_text(json.dumps(data, indent=1))


def load_plan(path: Path) -> SparsityPlan:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise WisparseError(f"cannot read plan {path}: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != PLAN_FORMAT:
        raise WisparseError(f"{path} is not a wisparse plan (expected format {PLAN_FORMAT!r})")
    sp = np.asarray(data["sparsity"], np.float32)
    return SparsityPlan(levels=[float(x) for x in data["levels"]], tensors=list(data["tensors"]), sparsity=sp,
                        n_params={k: int(v) for k, v in data["n_params"].items()})


def allocate(lm: LoadedModel, names: list[str], levels, opts, col_norms: dict[str, torch.Tensor]) -> SparsityPlan:
    """The wisparse plan for ``convert``/``attach``: a saved plan (opts.plan_path) or a fresh search."""
    if opts.plan_path is not None:
        plan = load_plan(opts.plan_path)
        if plan.tensors != list(names):
            raise WisparseError(f"plan {opts.plan_path} was made for other tensors "
                                f"({len(plan.tensors)} tensors, this model has {len(names)})")
        if not any(abs(level - opts.sparsity) < 1e-6 for level in plan.levels):
            raise WisparseError(f"--sparsity {opts.sparsity} is not a level of plan {opts.plan_path} "
                                f"({', '.join(f'{x:g}' for x in plan.levels)})")
        for level in plan.levels:
            if abs(plan.budget(level) - level) > 0.005:
                raise WisparseError(f"plan {opts.plan_path}: level {level:g} has budget {plan.budget(level):.4f}")
        return plan
    plan, report = search_plan(lm, levels, opts.calibration, opts.search or SearchConfig(), col_norms,
                               progress=opts.progress)
    if opts.progress:
        print(format_report(report), file=sys.stderr)
    return plan


def format_report(report: dict) -> str:
    from .report import format_table

    rows = [[f"{r['level']:g}", r["uniform_true_kl"], r["true_kl"], r["seconds"]] for r in report["levels"]]
    t = report["timings_s"]
    head = (f"allocation on {report['device']}: histograms {t['histograms']:.0f}s, intra-block paths "
            f"{t['intra_block']:.0f}s, block curves {t['curves']:.0f}s, search {t['search']:.0f}s")
    return "\n".join([head, format_table(["level", "held-out KL uniform", "held-out KL searched", "seconds"],
                                         rows)])
