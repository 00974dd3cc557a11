import pytest

from wisparse_gguf.zeroshot import TASK_DIRS, encode_pair, load_rows, question, score_task


def test_prompts_follow_lm_eval():
    q = question("winogrande", {"sentence": "A beat B so _ won.", "option1": "A", "option2": "B", "answer": "1"})
    assert q.contexts == ["A beat B so A", "A beat B so B"] and q.continuations == [" won.", " won."] and q.gold == 0
    q = question("hellaswag", {"activity_label": "Cooking", "ctx_a": "A man cooks.", "ctx_b": "he",
                               "endings": "['stirs [title] it.', 'eats.']", "label": "1"})
    assert q.contexts[0] == "Cooking: A man cooks. He" and q.continuations == [" stirs. it.", " eats."]
    q = question("boolq", {"passage": "P", "question": "is it", "answer": "True"})
    assert q.contexts[0] == "P\nQuestion: is it?\nAnswer:" and q.choices == ["no", "yes"] and q.gold == 1
    for task in TASK_DIRS:  # every local validation split loads and parses
        assert question(task, load_rows(task)[0]).gold >= 0


def test_encode_pair_moves_trailing_space(tiny_dirs):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_dirs["llama"]["hf"])
    ctx, cont = encode_pair(tok, "The quick ", "fox")
    assert ctx == tok("The quick", add_special_tokens=False).input_ids
    assert ctx + cont == tok("The quick fox", add_special_tokens=False).input_ids


@pytest.mark.parametrize("task", ["arc_easy", "winogrande"])
def test_scores_a_few_docs(tiny_dirs, task):
    from wisparse_gguf.model import load_model

    res = score_task(load_model(tiny_dirs["llama"]["hf"]), task, 4, None, "dense")
    assert res["n"] == 4 and 0.0 <= res["acc"] <= 1.0
