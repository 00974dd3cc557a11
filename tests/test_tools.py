"""tools/plot_gpu_bench.py and tools/parity.py: what they read from their input, without a GPU or a model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[1] / "tools"
sys.path.insert(0, str(TOOLS))

import parity  # noqa: E402
import plot_gpu_bench  # noqa: E402


def bench_block(header: str, pp: float, tg: float) -> str:
    return (f"### {header}: env X llama-bench -m m.gguf -ngl 99 -p 512 -n 128 -r 3\n"
            "| model | size | params | backend | ngl | test | t/s |\n"
            "| --- | ---: | ---: | --- | --: | ---: | ---: |\n"
            f"| llama 8B F16 | 14.96 GiB | 8.03 B | CUDA | 99 | pp512 | {pp:.2f} ± 10.00 |\n"
            f"| llama 8B F16 | 14.96 GiB | 8.03 B | CUDA | 99 | tg128 | {tg:.2f} ± 0.42 |\n\nbuild: unknown (0)\n")


def test_plot_pairs_each_sparse_run_with_the_stock_run_of_its_round(tmp_path: Path) -> None:
    log = tmp_path / "bench.log"
    log.write_text(bench_block("f16 32L stock", 1000, 200) + bench_block("f16 32L sparse 0.5", 1100, 310)
                   + bench_block("f16 32L sparse 0.4", 950, 270)
                   + bench_block("f16 32L sparse 0.5 [GGML_CUDA_SPARSE_FILL=0]", 1, 1)  # a switch: left out
                   + bench_block("f16 32L stock again", 1000, 250) + bench_block("f16 32L sparse 0.5 again", 1000, 300))
    runs = plot_gpu_bench.parse(log)
    assert runs[("f16", 0)]["stock"] == {"pp512": 1000.0, "tg128": 200.0}
    assert runs[("f16", 0)][0.5]["tg128"] == 310.0  # not the switch's 1.0
    assert runs[("f16", 0)][0.4]["tg128"] == 270.0
    assert runs[("f16", 1)]["stock"]["tg128"] == 250.0 and runs[("f16", 1)][0.5]["tg128"] == 300.0

    out = tmp_path / "ratio.png"
    r = subprocess.run([sys.executable, str(TOOLS / "plot_gpu_bench.py"), str(log), "-o", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert out.stat().st_size > 10_000
    assert "tg128 f16 round 0: 0.4: 1.350x, 0.5: 1.550x" in r.stdout
    assert "tg128 f16 round 1: 0.5: 1.200x" in r.stdout


def test_plot_takes_a_switched_run_as_the_default_of_one_type(tmp_path: Path) -> None:
    log = tmp_path / "bench.log"
    log.write_text(bench_block("q4_k_m 32L stock", 1000, 275) + bench_block("q4_k_m 32L sparse 0.5", 1000, 280)
                   + bench_block("q4_k_m 32L sparse 0.5 [K=0]", 1000, 308) + bench_block("q4_k_m 32L sparse 0.4", 1, 260)
                   + bench_block("f16 32L stock", 1000, 200) + bench_block("f16 32L sparse 0.5", 1000, 310)
                   + bench_block("f16 32L sparse 0.5 [K=0]", 1, 1))
    runs = plot_gpu_bench.parse(log, {"q4_k_m": "K=0"})
    assert runs[("q4_k_m", 0)]["stock"]["tg128"] == 275.0
    assert runs[("q4_k_m", 0)][0.5]["tg128"] == 308.0  # the switched run, not the default's 280
    assert 0.4 not in runs[("q4_k_m", 0)]  # a default run of that type: left out
    assert runs[("f16", 0)][0.5]["tg128"] == 310.0  # other types as before

    r = subprocess.run([sys.executable, str(TOOLS / "plot_gpu_bench.py"), str(log), "-o", str(tmp_path / "x.png"),
                        "--switch", "q4_k_m"], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and r.stderr.strip() == "plot_gpu_bench: --switch wants TYPE=SWITCH, got 'q4_k_m'"


def test_plot_refuses_a_log_without_benchmarks(tmp_path: Path) -> None:
    log = tmp_path / "empty.log"
    log.write_text("nothing here\n")
    r = subprocess.run([sys.executable, str(TOOLS / "plot_gpu_bench.py"), str(log), "-o", str(tmp_path / "x.png")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and r.stderr.strip() == f"plot_gpu_bench: no benchmark headers in {log}"
    assert not (tmp_path / "x.png").exists()


def test_parity_runs_take_leading_environment_words() -> None:
    runs = parity.parse_runs(["cpu=-dev none -fa off", "gpu=GGML_CUDA_SPARSE_FILL=0 LLAMA_WISPARSE_LEVEL=0.4 -ngl 99"])
    assert runs[0] == ("cpu", {}, ["-dev", "none", "-fa", "off"])
    assert runs[1] == ("gpu", {"GGML_CUDA_SPARSE_FILL": "0", "LLAMA_WISPARSE_LEVEL": "0.4"}, ["-ngl", "99"])


@pytest.mark.parametrize("specs, message", [
    (["a=-t 2"], "give at least two --run (the first is the base)"),
    (["a=-t 2", "a=-t 1"], "--run names must differ"),
    (["-t 2", "b=-t 1"], "--run wants NAME=\"FLAGS\", got '-t 2'"),
])
def test_parity_refuses_bad_runs(specs: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as e:
        parity.parse_runs(specs)
    assert str(e.value) == f"parity: {message}"


def test_parity_check_compares_a_run_with_the_spread_of_another() -> None:
    rows = [{"mode": "sparse", "run": "cpu-fa", "kld": 0.22}, {"mode": "sparse", "run": "gpu", "kld": 0.23},
            {"mode": "dense", "run": "gpu", "kld": 0.9}]  # dense rows are not what is checked
    ok, line = parity.check(rows, "gpu", "cpu-fa", 1.25)
    assert ok and line == "check passed: KLD of gpu 0.230000 = 1.045 x that of cpu-fa 0.220000 (at most 1.25 x)"
    ok, line = parity.check(rows, "gpu", "cpu-fa", 1.0)
    assert not ok and line.startswith("check failed: KLD of gpu 0.230000 = 1.045 x")


@pytest.mark.parametrize("spec, message", [
    ("gpu", "--check wants RUN:REF[:FACTOR], got 'gpu'"),
    ("gpu:cpu:x", "--check factor is not a number: 'x'"),
    ("gpu:cpu-fa:0", "--check factor must be > 0, got 0"),
    ("gpu:cpu", "--check names 'cpu', which is not a --run other than the base 'cpu'"),
    ("tpu:cpu-fa", "--check names 'tpu', which is not a --run other than the base 'cpu'"),
])
def test_parity_refuses_bad_checks(spec: str, message: str) -> None:
    assert parity.parse_check("gpu:cpu-fa:1.5", ["cpu", "cpu-fa", "gpu"]) == ("gpu", "cpu-fa", 1.5)
    with pytest.raises(SystemExit) as e:
        parity.parse_check(spec, ["cpu", "cpu-fa", "gpu"])
    assert str(e.value) == f"parity: {message}"
