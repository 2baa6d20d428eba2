"""Load held (issue 18): three Celery worker processes, each a simulated machine, take 30 small
queued training runs while one of them is SIGKILLed in the middle of a run and the broker (a
Valkey this test owns, nothing saved) restarts once, losing every message it held. Every run ends
in exactly one terminal status, none is lost, and none runs twice at once: the records show each
run's attempts one after another. bench/load_bench.py is the scenario, and prints its figures."""
from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from bench.load_bench import LoadReport, LoadScenario
from domain.runs.models import RunArtifact, RunEvent, TrainingRun
from tests.conftest import _env_for_children

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def load_report(tmp_path: Path) -> Iterator[LoadReport]:
    scenario = LoadScenario(tmp_path, _env_for_children())
    try:
        user = get_user_model().objects.create_user("load", password="correct-horse-battery")
        try:
            report = scenario.run(user)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{scenario.workers.log_tail()}") from exc
        print("load held:", report.figures())
        yield report
    finally:
        scenario.close()


def _attempts_in_order(run_id: int) -> list[int]:
    """The attempt each stored event of the run's attempts names, in the order they were stored."""
    return [a for a in RunEvent.objects.filter(run_id=run_id, data__has_key="attempt").order_by("id")
            .values_list("data__attempt", flat=True)]


def test_every_run_ends_once_through_a_killed_worker_and_a_broker_restart(load_report: LoadReport) -> None:
    report = load_report
    runs = {run.pk: run for run in TrainingRun.objects.filter(pk__in=report.runs)}
    assert len(runs) == len(report.runs) == 30  # none lost
    failed = {pk: run.error for pk, run in runs.items() if run.status != "succeeded"}
    assert not failed, failed
    for pk, run in runs.items():
        terminal = [status for status in RunEvent.objects.filter(run_id=pk, type="run.status")
                    .values_list("data__status", flat=True) if status in ("succeeded", "failed", "cancelled")]
        assert terminal == ["succeeded"], (pk, terminal)  # exactly one terminal status
        assert RunArtifact.objects.filter(run_id=pk).count() == 1
        # Never two at once: an attempt's events all come before the next attempt's first one, and
        # each attempt began once ("running" events), numbered 1, 2, ... up to the run's count.
        order = _attempts_in_order(pk)
        assert all(a <= b for a, b in pairwise(order)), (pk, order)
        began = list(RunEvent.objects.filter(run_id=pk, type="run.status", data__status="running")
                     .order_by("id").values_list("data__attempt", flat=True))
        assert began == list(range(1, run.attempts + 1)), (pk, began)

    killed = runs[report.killed_run]
    assert killed.attempts == 2 and killed.worker != report.killed_worker  # resumed on a live worker
    first = RunEvent.objects.filter(run_id=killed.pk, type="run.status", data__status="running").order_by("id")[0]
    assert first.data["worker"] == report.killed_worker
    assert report.killed_at < report.requeued_at < report.rerun_at
    assert all(run.attempts == 1 for pk, run in runs.items() if pk != killed.pk)

    # The restart lost the queued runs' messages; the reaper sent each again, and each ran.
    assert report.queued_at_restart, "the broker restarted after the queue had drained: nothing was at stake"
    assert set(report.queued_at_restart) & set(report.resent_runs), (report.queued_at_restart, report.resent_runs)
