"""Memory-bounded score distributions: histograms on the float32 bit pattern.

Scores span many decades (|x| * ||W_col|| from 1e-9 to 1e3). For a positive
float32 the bit pattern, read as an integer, is monotonic in the value; its top
16 bits are the exponent and 7 mantissa bits, so ``bits >> 16`` is a bin index
with 128 bins per octave (0.78 % wide in value) and no log to compute. We keep
the exponents 2^-40 .. 2^24 (8192 bins, 64 KiB per histogram); smaller values
(and exact zeros) fall into bin 0, larger into the last bin. Interpolating inside
a bin puts quantiles well within 1e-3 of the requested fraction.
"""

from __future__ import annotations

import torch

EXP_MIN = -40  # smallest octave kept: 2^-40
EXP_MAX = 24
BINS_PER_OCTAVE = 128  # 7 mantissa bits
N_BINS = (EXP_MAX - EXP_MIN) * BINS_PER_OCTAVE
_OFFSET = (127 + EXP_MIN) * BINS_PER_OCTAVE  # biased exponent of 2^EXP_MIN, in bins


def bin_index(values: torch.Tensor) -> torch.Tensor:
    bits = values.reshape(-1).float().contiguous().view(torch.int32)
    return (torch.bitwise_right_shift(bits, 16) - _OFFSET).clamp_(0, N_BINS - 1)


def bin_edge(b: float) -> float:
    """Lower edge of (fractional) bin b."""
    octave, m = divmod(b, BINS_PER_OCTAVE)
    return float(2.0 ** (EXP_MIN + octave) * (1.0 + m / BINS_PER_OCTAVE))


class LogHistogram:
    def __init__(self) -> None:
        self.counts = torch.zeros(N_BINS, dtype=torch.int64)

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def add(self, values: torch.Tensor) -> None:
        """Add non-negative values (any shape)."""
        self.counts += torch.bincount(bin_index(values), minlength=N_BINS)

    def quantile(self, q: float) -> float:
        """The value t with a fraction q of the samples <= t.

        Returns 0 when q falls in bin 0 (values below 2^-40, exact zeros included),
        so that the rule ``keep iff score > t`` drops exact zeros only.
        """
        total = self.total
        if total == 0:
            raise ValueError("empty histogram")
        if q <= 0:
            return 0.0
        k = q * total
        cum = torch.cumsum(self.counts, 0).double()
        b = min(int(torch.searchsorted(cum, torch.tensor([k], dtype=torch.float64)).item()), N_BINS - 1)
        if b == 0:
            return 0.0
        before = float(cum[b - 1])
        inside = float(self.counts[b])
        frac = min(max((k - before) / inside, 0.0), 1.0) if inside > 0 else 1.0
        return bin_edge(b + frac)
