"""Memory-bounded score distributions: histograms on the float32 bit pattern.

Scores span many decades (|x| * ||W_col|| from 1e-9 to 1e3). For a non-negative
float32 the bit pattern, read as an integer, is monotonic in the value; its top
16 bits (sign 0, 8 exponent bits, 7 mantissa bits) are a bin index with 128 bins
per octave (0.78 % wide in value) over the whole float range: one shift and one
``np.bincount`` per value, no log, no clamp (this is the hot loop of calibration).
32768 int64 counts = 256 KiB per histogram. Interpolating inside a bin puts
quantiles well within 1e-3 of the requested fraction.
"""

from __future__ import annotations

import numpy as np
import torch

BINS_PER_OCTAVE = 128  # 7 mantissa bits
N_BINS = 1 << 15  # every non-negative float32 (NaN/inf included, in the last octave)


def bin_index(values: torch.Tensor) -> np.ndarray:
    bits = values.detach().reshape(-1).float().contiguous().numpy().view(np.int32)
    return bits >> 16


def bin_edge(b: float) -> float:
    """Lower edge of (fractional) bin b (bins below 2^-126, the subnormals, are treated as 0)."""
    exponent, m = divmod(b, BINS_PER_OCTAVE)
    if exponent == 0:
        return 0.0
    return float(2.0 ** (exponent - 127) * (1.0 + m / BINS_PER_OCTAVE))


class LogHistogram:
    def __init__(self) -> None:
        self.counts = np.zeros(N_BINS, dtype=np.int64)

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def add(self, values: torch.Tensor) -> None:
        """Add non-negative values (any shape)."""
        if values.device.type != "cpu":  # count where the values are, move only the counts
            bits = values.detach().reshape(-1).float().contiguous().view(torch.int32)
            counts = torch.bincount(torch.bitwise_right_shift(bits, 16), minlength=N_BINS)
            self.counts += counts.cpu().numpy()
            return
        self.counts += np.bincount(bin_index(values), minlength=N_BINS)

    def quantile(self, q: float) -> float:
        """The value t with a fraction q of the samples <= t.

        Returns 0 when q falls among exact zeros (bin 0), so that the rule
        ``keep iff score > t`` drops exactly the zeros.
        """
        total = self.total
        if total == 0:
            raise ValueError("empty histogram")
        if q <= 0:
            return 0.0
        k = q * total
        cum = np.cumsum(self.counts)
        b = min(int(np.searchsorted(cum, k)), N_BINS - 1)
        if b == 0:
            return 0.0
        before = float(cum[b - 1])
        inside = float(self.counts[b])
        frac = min(max((k - before) / inside, 0.0), 1.0) if inside > 0 else 1.0
        return bin_edge(b + frac)
