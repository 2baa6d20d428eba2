"""The Train form's Nodes field (``device.nodes``, a multi-node run): it sits in the Device group,
checks its range as typed, and two nodes of one device each bring up the data-parallel settings
(the "Multi-GPU" group), as two GPUs do. Nothing is started: a two-node run would wait for a second
worker that the live stack does not have (tests/integration/test_multinode.py trains one)."""
from __future__ import annotations

import uuid
from typing import Any

import pytest

from .journey import Clicks, fill_field, lenet_and_digits_at_train, open_advanced_settings

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_two_nodes_bring_up_the_data_parallel_settings(live_stack: Any, page: Any) -> None:
    click = Clicks()
    lenet_and_digits_at_train(page, live_stack.url, click, f"nodes_{uuid.uuid4().hex[:8]}")
    open_advanced_settings(page, click)
    device = page.get_by_role("group", name="Device")
    nodes = device.get_by_label("Nodes")
    nodes.wait_for()
    multi = page.get_by_role("group", name="Multi-GPU")
    assert multi.count() == 0  # one node of one device: nothing to synchronise
    fill_field(nodes, "0")
    device.get_by_text("Nodes must be at least 1").wait_for()
    fill_field(nodes, "2")
    multi.wait_for()
    assert multi.get_by_label("Gradient compression").count() == 1
    fill_field(nodes, "1")
    multi.wait_for(state="detached")
