"""``bench/gpu_check.py --smoke`` runs on this machine (tiny sizes, on the CPU without a GPU) and
prints every figure as ``<key> = <ratio or skipped> | <how measured>``, then the same as JSON."""
from __future__ import annotations

import json
import math
import re
import subprocess
import sys

from tests.conftest import ROOT

LINE = re.compile(r"^(?P<key>[a-z0-9_.]+) = (?P<value>skipped|-?\d+\.\d+) \| (?P<how>.+)$")
EXPECTED = {"step_time.fp16_vs_fp32", "step_time.bf16_vs_fp32", "step_time.dynamic_vs_fp32",
            "step_time.dynamic_vs_fixed_low", "step_time.dynamic_probe_share",
            "peak.fp16_vs_fp32", "peak.bf16_vs_fp32", "peak.dynamic_vs_fp32", "peak.resnet18.dynamic_vs_fp32",
            "scenario.overflow.fp16_minus_fp32_points", "scenario.overflow.dynamic_minus_fp32_points",
            "scenario.overflow.dynamic_low_flops_share", "scenario.overflow.dynamic_peak_vs_fp32",
            "scenario.offset.bf16_vs_fp32_rmse", "scenario.offset.dynamic_vs_fp32_rmse",
            "scenario.offset.dynamic_low_flops_share", "scenario.offset.dynamic_peak_vs_fp32",
            "attention.sdpa_vs_naive_peak", "onnx.cuda_vs_cpu_speedup", "total seconds"}


def test_the_gpu_check_smoke_run_prints_every_figure() -> None:
    done = subprocess.run([sys.executable, "bench/gpu_check.py", "--smoke"], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("gpu check on ")
    parsed = {}
    for line in lines[1:-1]:
        match = LINE.match(line.replace("total seconds", "total_seconds"))
        assert match, line
        parsed[match["key"].replace("total_seconds", "total seconds")] = match["value"]
    assert set(parsed) == EXPECTED
    figures = json.loads(lines[-1])
    assert figures["smoke"] is True and set(figures["gpu_check"]) == EXPECTED - {"total seconds"}
    for key, value in figures["gpu_check"].items():
        if parsed[key] == "skipped":
            assert value is None
        else:
            assert isinstance(value, float) and math.isfinite(value), (key, value)
    assert 0.0 < figures["gpu_check"]["attention.sdpa_vs_naive_peak"] < 1.0  # SDPA holds less
    assert figures["gpu_check"]["scenario.overflow.dynamic_low_flops_share"] >= 0.5
    assert 0.0 <= figures["gpu_check"]["step_time.dynamic_probe_share"] < 1.0


def test_a_section_past_the_budget_is_reported_skipped() -> None:
    done = subprocess.run([sys.executable, "bench/gpu_check.py", "--smoke", "--budget-s", "0"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])["gpu_check"]
    assert set(figures) == EXPECTED - {"total seconds"} and all(v is None for v in figures.values())
    assert "over the time budget" in done.stdout

