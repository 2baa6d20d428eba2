"""A run's claims and lost messages (issue 18, "load held"): the attempt number fences an attempt
that was reaped and claimed again elsewhere (its heartbeat tells it to stop, it cannot end the run),
the reaper sends again the task of a queued run whose message the broker lost, and a run's event is
stored even when the channel layer cannot be reached. tests/integration/test_load_held.py runs all
of it with real workers, a SIGKILL and a broker restart."""
from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pytest
from celery import current_app
from django.utils import timezone

from builder.graph.templates import get_template
from domain.datasets.models import Dataset, DatasetVersion
from domain.jobs.models import JobStatus
from domain.projects.services import create_graph, create_graph_version, create_project
from domain.runs import services as run_services
from domain.runs import workers as run_workers
from domain.runs.models import RunEvent, TrainingRun

pytestmark = pytest.mark.django_db
DEAD_PID = 999_999_001  # no such process on this host


@pytest.fixture
def queue(settings: Any) -> Any:
    """A queue of the test Redis only these tests use, emptied afterwards."""
    name = f"claims-{os.getpid()}"
    settings.TRAINING_QUEUES = {"cpu": name, "gpu": name}
    settings.TRAINING_RESEND_AFTER_S = 60
    with current_app.connection_for_write() as connection:
        simple = connection.SimpleQueue(name)
        simple.clear()
        yield simple
        simple.clear()
        simple.close()


@pytest.fixture
def make_run(alice: Any) -> Any:
    project = create_project(alice, name="claims")
    version = create_graph_version(alice, create_graph(alice, project, name="lenet"), document=get_template("lenet5"))
    dataset = Dataset.objects.create(project=project, name="digits", kind="image", created_by=alice)
    data = DatasetVersion.objects.create(
        dataset=dataset, number=1, status=JobStatus.SUCCEEDED, task="classification",
        classes=[str(i) for i in range(10)], sample_count=100, created_by=alice,
        recipe={"input": "image", "channels": 1, "size": [8, 8], "layout": "NCHW"})

    def make(**config: Any) -> TrainingRun:
        # Inside the test's transaction, which is rolled back: create_run's own send never happens.
        return run_services.create_run(alice, version, data, {"epochs": 1, "device": {"kind": "cpu"}, **config})

    return make


def _silence(run_id: int, seconds: float) -> None:
    TrainingRun.objects.filter(pk=run_id).update(heartbeat_at=timezone.now() - timedelta(seconds=seconds),
                                                 created_at=timezone.now() - timedelta(seconds=seconds))


def test_an_attempt_reaped_and_claimed_again_stops_and_cannot_end_the_run(make_run: Any, queue: Any) -> None:
    run_id = make_run().pk
    first, _ = run_workers.begin_attempt(run_id, DEAD_PID)
    assert first is not None and first.attempts == 1
    assert run_workers.heartbeat(run_id, DEAD_PID, attempt=1) is False  # still its claim: go on
    _silence(run_id, 3600)  # its worker went silent (a long pause, a network split): reaped
    assert run_workers.reap_stale_runs() == [run_id]
    second, _ = run_workers.begin_attempt(run_id, os.getpid())
    assert second is not None and second.attempts == 2
    # The first attempt wakes up: its heartbeat says stop and leaves the row alone, it cannot end the run.
    before = TrainingRun.objects.get(pk=run_id).heartbeat_at
    assert run_workers.heartbeat(run_id, DEAD_PID, attempt=1) is True
    assert TrainingRun.objects.get(pk=run_id).heartbeat_at == before
    assert not run_workers.holds(run_id, 1) and run_workers.holds(run_id, 2)
    assert run_services.finish_run(run_id, JobStatus.CANCELLED, attempt=1) is False
    assert TrainingRun.objects.get(pk=run_id).status == JobStatus.RUNNING
    assert run_services.finish_run(run_id, JobStatus.FAILED, attempt=2, error={"code": "error", "message": "x"})
    assert TrainingRun.objects.get(pk=run_id).status == JobStatus.FAILED
    assert [m.payload[0] for m in _drain(queue)] == [[run_id]]  # the reaper's requeue


def test_a_redelivered_copy_finds_a_live_claim_busy(make_run: Any) -> None:
    run_id = make_run().pk
    assert run_workers.begin_attempt(run_id, os.getpid())[0] is not None  # this process: alive
    assert run_workers.begin_attempt(run_id, os.getpid()) == (None, "busy")
    assert TrainingRun.objects.get(pk=run_id).attempts == 1


def test_a_queued_run_whose_message_was_lost_is_sent_again(make_run: Any, queue: Any) -> None:
    lost, fresh, cancelled = make_run().pk, make_run().pk, make_run().pk
    _silence(lost, 120)
    _silence(cancelled, 120)
    TrainingRun.objects.filter(pk=cancelled).update(cancel_requested=True)
    assert run_workers.resend_lost_runs() == [lost]
    (message,) = _drain(queue)
    assert message.headers["task"] == "runs.train_run" and message.payload[0] == [lost]
    assert RunEvent.objects.filter(run_id=lost, data__reason="resent").count() == 1
    assert run_workers.resend_lost_runs() == []  # sent: quiet again only after TRAINING_RESEND_AFTER_S
    assert fresh not in run_workers.resend_lost_runs()


def test_a_queued_run_is_left_alone_while_its_queue_holds_messages(make_run: Any, queue: Any) -> None:
    waiting = make_run().pk
    _silence(waiting, 120)
    queue.put({"not": "a run"})  # the run's message may be this one, still in line
    assert run_workers.resend_lost_runs() == []
    _drain(queue)
    assert run_workers.resend_lost_runs() == [waiting]  # the queue ran dry and the run is still queued
    _drain(queue)


def test_a_run_waiting_for_its_device_is_not_resent(make_run: Any, queue: Any) -> None:
    run_id = make_run().pk
    _silence(run_id, 120)
    run_workers.touch_queued(run_id)  # the task retries while its device is busy: its message lives
    assert run_workers.resend_lost_runs() == []


def test_an_event_is_stored_when_the_channel_layer_is_down(make_run: Any, settings: Any) -> None:
    from channels.layers import channel_layers

    from scripts.test_services import free_port

    run_id = make_run().pk
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                           "CONFIG": {"hosts": [f"redis://127.0.0.1:{free_port()}/0"]}}}
    channel_layers.backends.clear()
    try:
        event = run_services.record_event(run_id, {"type": "run.log", "message": "while Redis restarts"})
    finally:
        channel_layers.backends.clear()
    assert RunEvent.objects.get(pk=event["id"]).data["message"] == "while Redis restarts"


def _drain(queue: Any) -> list[Any]:
    messages = []
    while True:
        try:
            message = queue.get(timeout=1)
        except queue.Empty:
            return messages
        message.ack()
        messages.append(message)
