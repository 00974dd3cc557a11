"""tools/make_random_gguf.py: the random model of a named shape, and --n-layer for a short file of the same layers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import gguf
import pytest

TOOL = Path(__file__).resolve().parents[1] / "tools" / "make_random_gguf.py"


def run_tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True, timeout=300)


def test_n_layer_writes_that_many_blocks(tmp_path: Path) -> None:
    out = tmp_path / "tiny1.gguf"
    r = run_tool(str(out), "--shape", "tiny", "--n-layer", "1", "--levels", "0.5")
    assert r.returncode == 0, r.stderr
    reader = gguf.GGUFReader(out)
    assert int(reader.fields["llama.block_count"].parts[-1][0]) == 1
    names = {t.name for t in reader.tensors}
    assert "blk.0.ffn_down.weight" in names
    assert not any(n.startswith("blk.1.") for n in names)
    # the sparsity metadata covers exactly the projections of the one block
    norms = sorted(k for k in reader.fields if k.startswith("wisparse.col_norm."))
    assert len(norms) == 7 and all(k.startswith("wisparse.col_norm.blk.0.") for k in norms)
    # tiny shape: n_embd 256, so attn_q's norms have 256 entries
    assert len(reader.fields["wisparse.col_norm.blk.0.attn_q"].data) == 256


def test_n_layer_zero_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "none.gguf"
    r = run_tool(str(out), "--shape", "tiny", "--n-layer", "0")
    assert r.returncode != 0
    assert "--n-layer must be at least 1" in r.stderr
    assert not out.exists()
