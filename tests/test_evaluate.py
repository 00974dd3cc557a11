import math

import torch
import torch.nn.functional as F

from wisparse_gguf.evaluate import SparseConfig, evaluate_passages, llama_perplexity
from wisparse_gguf.model import load_model


def test_llama_perplexity_matches_chunked_definition(tiny_dirs):
    lm = load_model(tiny_dirs["llama"]["hf"])
    torch.manual_seed(1)
    n_ctx = 16
    tokens = torch.randint(2, 320, (3 * n_ctx + 5,)).tolist()
    ppl, n = llama_perplexity(lm, tokens, n_ctx, add_bos=True, progress=False)
    assert n == 3
    nll, count = 0.0, 0
    for c in range(3):
        ids = list(tokens[c * n_ctx:(c + 1) * n_ctx])
        ids[0] = lm.bos_token_id  # llama-perplexity puts BOS first in every chunk
        with torch.no_grad():
            lp = F.log_softmax(lm.model(input_ids=torch.tensor([ids])).logits[0], -1)
        for pos in range(n_ctx // 2, n_ctx - 1):  # second half only
            nll -= lp[pos, ids[pos + 1]].item()
            count += 1
    assert count == 3 * 7
    assert abs(ppl - math.exp(nll / count)) < 1e-3 * ppl


def test_passage_eval_dense_config_has_zero_kl(tiny_dirs):
    lm = load_model(tiny_dirs["llama"]["hf"])
    names = list(lm.projections())
    zero = SparseConfig("t=0", {n: -1.0 for n in names}, {n: torch.ones(lm.projections()[n].in_features) for n in names})
    dense, same = evaluate_passages(lm, ["a quick fox", "the lazy dog jumps over it"], [zero], progress=False)
    assert same.overall_sparsity == 0.0 and abs(same.mean_kl) < 1e-6 and abs(same.ppl - dense.ppl) < 1e-4
    full = SparseConfig("all", {n: 1e9 for n in names}, zero.col_norms)
    _, gone = evaluate_passages(lm, ["a quick fox", "the lazy dog jumps over it"], [full], progress=False)
    assert gone.overall_sparsity == 1.0 and gone.mean_kl > 0
    assert dense.n_pred == len(lm.tokenizer("a quick fox").input_ids) + len(
        lm.tokenizer("the lazy dog jumps over it").input_ids) - 2
