"""Prometheus metrics of the Open Inference Protocol endpoints, per deployment. No Django: whatever
serves ``/v2/`` (the Django views today, the serving app) records through ``observe_inference``.

The ``deployment`` label is the deployment's name, as in ``/v2/models/<name>``: one series per live
deployment, so its cardinality is bounded by the deployments an installation keeps.
"""
from __future__ import annotations

from pipelines.metrics import Counter, Histogram

# From a fast tabular model (well under a millisecond) to a large image batch on a CPU.
LATENCY_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

INFERENCE_REQUESTS = Counter(
    "vmb_inference_requests", "Authorized infer and predict requests served, per deployment.", ["deployment"])
INFERENCE_ERRORS = Counter(
    "vmb_inference_errors", "Authorized infer and predict requests answered with an error, per deployment.",
    ["deployment"])
INFERENCE_LATENCY = Histogram(
    "vmb_inference_request_duration_seconds", "Time to answer an authorized infer or predict request.",
    ["deployment"], buckets=LATENCY_BUCKETS_S)


def observe_inference(deployment: str, ok: bool, seconds: float) -> None:
    """Count one request to ``deployment`` (its name): ``ok`` False counts an error too."""
    INFERENCE_REQUESTS.labels(deployment).inc()
    if not ok:
        INFERENCE_ERRORS.labels(deployment).inc()
    INFERENCE_LATENCY.labels(deployment).observe(seconds)
