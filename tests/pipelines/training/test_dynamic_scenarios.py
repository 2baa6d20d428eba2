"""Dynamic precision earns its name on the two scenarios of ``bench/precision_scenarios.py``,
trained by ``engine.fit`` on the CPU:

- (a) overflow: over table values around 1e5, fixed fp16 never takes a finite step and ends at
  chance; dynamic (fp16) moves the overflowing first layer to fp32, says why, and ends within 0.5
  points of fp32 with most FLOPs still in fp16;
- (b) offset: a target of 1000 plus a small signal, which bf16 rounds to multiples of 4: fixed
  bf16's test RMSE is over twice fp32's, dynamic (bf16) is within 10% of fp32's.
"""
from __future__ import annotations

from bench.precision_scenarios import run

ROWS, EPOCHS = 2000, 6


def test_overflow_fixed_fp16_diverges_and_dynamic_matches_fp32() -> None:
    fp32 = run("overflow", "fp32", rows=ROWS, epochs=EPOCHS)
    fp16 = run("overflow", "fp16", rows=ROWS, epochs=EPOCHS)
    dynamic = run("overflow", "dynamic", rows=ROWS, epochs=EPOCHS)
    assert fp32["metric"] > 0.9, fp32["metric"]
    assert fp16["status"] != "succeeded" or fp16["metric"] <= fp32["metric"] - 0.05, fp16["metric"]
    assert abs(dynamic["metric"] - fp32["metric"]) <= 0.005, (dynamic["metric"], fp32["metric"])
    first = [d for d in dynamic["decisions"] if d["layer"] == "fc1"]
    assert first and first[0]["to"] == "fp32" and first[0]["reason"] == "overflow" and "Inf" in first[0]["detail"]
    assert dynamic["precision"]["layers"]["fc1"] == "fp32" and dynamic["precision"]["low_dtype"] == "fp16"
    assert dynamic["low_flops_share"] >= 0.5
    assert dynamic["precision"]["error_history"][0]["step"] == 1


def test_offset_fixed_bf16_loses_the_signal_and_dynamic_keeps_it() -> None:
    fp32 = run("offset", "fp32", rows=ROWS, epochs=EPOCHS)
    bf16 = run("offset", "bf16", rows=ROWS, epochs=EPOCHS)
    dynamic = run("offset", "dynamic", rows=ROWS, epochs=EPOCHS)
    assert bf16["metric"] >= 2 * fp32["metric"], (bf16["metric"], fp32["metric"])
    assert dynamic["metric"] <= 1.1 * fp32["metric"], (dynamic["metric"], fp32["metric"])
    out = [d for d in dynamic["decisions"] if d["layer"] == "out"]
    assert out and out[0]["reason"] == "signal", dynamic["decisions"]
    assert dynamic["precision"]["layers"]["out"] == "fp32" and dynamic["low_flops_share"] >= 0.5
    # The relative error alone (the old criterion) would have kept it in bf16.
    assert dynamic["precision"]["last_probe"]["out"]["relative"] < 0.01
