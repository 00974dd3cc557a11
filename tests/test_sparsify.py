import torch
from torch import nn

from wisparse_gguf.sparsify import SparseEngine, column_norms


def test_rule_is_score_above_threshold_and_hooks_are_removed():
    torch.manual_seed(0)
    lin = nn.Linear(16, 8, bias=False)
    x = torch.randn(3, 5, 16)
    c = column_norms(lin.weight)
    t = float((x.abs() * c).median())
    engine = SparseEngine({"w": lin}, {"w": t}, {"w": c})
    with engine:
        y = lin(x)
    keep = x.abs() * c > t
    torch.testing.assert_close(y, (x * keep) @ lin.weight.T)
    assert not lin._forward_pre_hooks
    assert engine.zeroed["w"] == int((~keep).sum())
    assert engine.total["w"] == x.numel()
    assert abs(engine.measured_sparsity()["w"] - 0.5) < 0.01


def test_padding_is_not_counted():
    lin = nn.Linear(4, 2, bias=False)
    engine = SparseEngine({"w": lin}, {"w": 0.0}, {"w": torch.ones(4)})
    engine.token_mask = torch.tensor([[True, False]])
    x = torch.tensor([[[0.0, 1.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0]]])
    with engine:
        lin(x)
    assert engine.total["w"] == 4 and engine.zeroed["w"] == 2
