"""The ggml op's own test (tests/test-mul-mat-sparse.cpp of patch 0001), run from the suite.

It checks, for every supported weight type, odd shapes and 1-64 tokens, with 1, 2 and 3
threads: the re-layout is a bijection; threshold 0 equals ggml_mul_mat; a threshold equals
ggml_mul_mat on the masked input; the skip counters; the SIMD decode equals the scalar one.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(os.environ.get("WISPARSE_BUILD_DIR", ROOT / "build" / "bin"))

pytestmark = pytest.mark.runtime


def test_mul_mat_sparse_op():
    binary = BIN / "test-mul-mat-sparse"
    if not binary.is_file():
        pytest.skip(f"{binary} is not built (make build)")
    proc = subprocess.run([str(binary)], capture_output=True, text=True, timeout=1800)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    found = re.search(r"(\d+) cases x (\d+) thread counts, (\d+) failures", out)
    assert found, out[-3000:]
    cases, _, failures = map(int, found.groups())
    assert failures == 0 and cases >= 250, found.group(0)
