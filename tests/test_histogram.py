import torch

from wisparse_gguf.histogram import LogHistogram


def test_quantiles_match_exact_fractions():
    torch.manual_seed(0)
    x = torch.randn(200_000).abs() * torch.exp(torch.randn(200_000))  # heavy-tailed, many decades
    h = LogHistogram()
    for part in x.split(30_000):
        h.add(part)
    assert h.total == x.numel()
    for q in (0.01, 0.3, 0.4, 0.5, 0.6, 0.99):
        t = h.quantile(q)
        frac = (x <= t).float().mean().item()
        assert abs(frac - q) < 1e-3, (q, frac)


def test_zeros_give_zero_threshold():
    h = LogHistogram()
    h.add(torch.zeros(100))
    h.add(torch.ones(100))
    assert h.quantile(0.3) == 0.0  # keep iff score > 0 drops exactly the zeros
    assert 0.99 < h.quantile(0.75) <= 1.01
