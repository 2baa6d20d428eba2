"""POST /api/v1/market/import-torchvision/: a torchvision architecture with weights the user
uploads (made here with torchvision, saved as safetensors and with torch.save) becomes a trained
market entry whose fork compiles to the same outputs as the torchvision model. The request answers
202 with an import job; bad fields are 400s at once, and files that do not fit, are not state dicts,
or would run code when unpickled fail the job with an error naming the file. The worker's function
runs here in-process; tests/api/test_market_import_jobs.py runs it through the real Celery worker."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import torch
import torchvision
from django.conf import settings
from rest_framework.test import APIClient
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from builder.graph import compile_graph
from domain.market.imports import run_import
from domain.market.models import MarketEntryVersion, MarketFork, MarketImport
from domain.projects import services
from domain.projects.models import GraphVersion

pytestmark = pytest.mark.django_db
URL = "/api/v1/market/import-torchvision/"
SIZE = 64  # input_size: small, so each import takes about a second


@pytest.fixture(autouse=True)
def _dirs(settings: Any, tmp_path: Path) -> None:
    settings.MARKET_DIR = tmp_path / "market"


@pytest.fixture(scope="module")
def resnet() -> torch.nn.Module:
    """resnet18 with 10 classes, random weights and batch-norm statistics that are not the
    defaults, so a buffer that failed to carry over would show in the outputs."""
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=10)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.normal_(0, 0.1)
            module.running_var.uniform_(0.5, 2.0)
    return model.eval()


def _torch_save(value: Any) -> bytes:
    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


def _upload(api: APIClient, data: bytes, name: str, **fields: Any) -> Any:
    file = io.BytesIO(data)
    file.name = name
    body = {"architecture": "resnet18", "weights": file, "input_size": SIZE, **fields}
    return api.post(URL, body, format="multipart")


def _imported(api: APIClient, data: bytes, name: str, **fields: Any) -> dict:
    """The finished job of an import the request accepted (202)."""
    response = _upload(api, data, name, **fields)
    assert response.status_code == 202, response.content
    run_import(response.json()["id"])
    return api.get(f"/api/v1/market/imports/{response.json()['id']}/").json()


def _entry(api: APIClient, data: bytes, name: str, **fields: Any) -> dict:
    job = _imported(api, data, name, **fields)
    assert job["status"] == "succeeded", job
    return api.get(f"/api/v1/market/entries/{job['entry']}/").json()


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.contiguous() for k, v in model.state_dict().items()}


def test_import_fork_and_compile_gives_the_torchvision_outputs(api: APIClient, alice: Any,
                                                             resnet: torch.nn.Module) -> None:
    entry = _entry(api, st_save(_state(resnet)), "resnet18-digits.safetensors", title="ResNet-18 digits",
                   licence="BSD-3-Clause", visibility="public", classes=[f"d{i}" for i in range(10)])
    assert entry["kind"] == "model" and entry["title"] == "ResNet-18 digits" and entry["visibility"] == "public"
    assert entry["licence"] == "BSD-3-Clause" and entry["classes"] == [f"d{i}" for i in range(10)]
    assert entry["latest_params"] == sum(p.numel() for p in resnet.parameters())
    assert entry["input_contract"]["inputs"][0]["shape"] == [-1, 3, SIZE, SIZE]
    assert entry["input_contract"]["outputs"][0]["shape"] == [-1, 10]  # num_classes read from the weights
    version = MarketEntryVersion.objects.get(pk=entry["versions"][0]["id"])
    assert version.card["lineage"][0]["file"] == "resnet18-digits.safetensors"
    assert version.card["architecture"] == "torchvision.models.resnet18" and version.metrics == {}

    project = services.create_project(alice, name="finetune")
    forked = api.post(f"/api/v1/market/versions/{version.pk}/fork/", {"project": project.pk}, format="json")
    assert forked.status_code == 201 and forked.json()["has_weights"], forked.content
    fork = MarketFork.objects.get(pk=forked.json()["id"])
    model = compile_graph(GraphVersion.objects.get(pk=forked.json()["graph_version"]).document)
    model.load_state_dict(st_load((Path(settings.MARKET_DIR) / fork.weights_path).read_bytes()))  # strict
    x = torch.randn(3, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = resnet(x)
        assert torch.allclose(model.eval()(x), expected, atol=1e-5, rtol=1e-5)
    assert expected.std() > 0.1  # not a degenerate comparison


def test_a_torch_save_checkpoint_imports_to_the_same_weights(api: APIClient, resnet: torch.nn.Module) -> None:
    state = _state(resnet)
    checkpoint = {"model": state, "epoch": 3, "best_acc1": 0.7}  # as torchvision's reference scripts save
    first = _entry(api, st_save(state), "a.safetensors")
    second = _entry(api, _torch_save(checkpoint), "b.pth")
    digests = {MarketEntryVersion.objects.get(pk=e["versions"][0]["id"]).weights_sha256 for e in (first, second)}
    assert len(digests) == 1


def test_a_long_file_name_keeps_its_extension(api: APIClient, resnet: torch.nn.Module) -> None:
    job = _imported(api, st_save(_state(resnet)), "w" * 300 + ".safetensors")
    assert job["status"] == "succeeded", job  # read as safetensors, not as a checkpoint


class Payload:
    """Unpickling this calls ``open(marker, "w")``: proof of execution if the file appears."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.marker), "w"))


def test_a_pickle_that_would_run_code_is_refused_without_running(api: APIClient, resnet: torch.nn.Module,
                                                                tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    data = _torch_save({**_state(resnet), "fc.bias": Payload(marker)})
    job = _imported(api, data, "evil.pt")
    assert job["status"] == "failed" and job["error"]["field"] == "weights", job
    message = job["error"]["message"]
    assert "evil.pt" in message and "weights_only" in message and "not run" in message
    assert not marker.exists()


def _without(state: dict[str, torch.Tensor], *names: str) -> dict[str, torch.Tensor]:
    return {k: v for k, v in state.items() if k not in names}


@pytest.mark.parametrize(("case", "field", "words"), [
    ("missing", "weights", ["m.safetensors", "missing (2)", "fc.weight", "fc.bias"]),
    ("unexpected", "weights", ["m.safetensors", "unexpected (1)", "head.extra"]),
    ("wrong_shape", "weights", ["m.safetensors", "wrong shape (2)", "fc.weight (10, 512) (needs (5, 512))"]),
    ("not_a_tensor", "weights", ["m.pt", "'note' holds a str, not a tensor"]),
    ("one_tensor", "weights", ["m.pt", "one tensor"]),
    ("a_list", "weights", ["m.pt", "list"]),
    ("not_a_checkpoint", "weights", ["m.pt", "neither a PyTorch checkpoint nor safetensors"]),
    ("not_safetensors", "weights", ["m.safetensors", "not a readable safetensors file"]),
    ("other_architecture", "weights", ["m.safetensors", "does not fit resnet34", "missing"]),
    ("unknown_architecture", "architecture", ["'resnet9000' is not supported"]),
    ("patch_size", "input_size", ["vit_b_16", "patch size 16"]),
    ("class_names", "classes", ["3 class names for a head of 10 classes"]),
    ("organization", "project", ["needs a project"]),
])
def test_refusals_name_the_field_and_file(api: APIClient, resnet: torch.nn.Module, case: str,
                                                     field: str, words: list[str]) -> None:
    state = _state(resnet)
    name, data, fields = "m.safetensors", b"", {}
    if case == "missing":
        data = st_save(_without(state, "fc.weight", "fc.bias"))
        fields = {"num_classes": 10}
    elif case == "unexpected":
        data = st_save({**state, "head.extra": torch.zeros(2)})
    elif case == "wrong_shape":
        data, fields = st_save(state), {"num_classes": 5}
    elif case in ("not_a_tensor", "one_tensor", "a_list", "not_a_checkpoint"):
        name = "m.pt"
        data = {"not_a_tensor": _torch_save({**state, "note": "trained on Tuesday"}),
                "one_tensor": _torch_save(state["fc.weight"]),
                "a_list": _torch_save(list(state.values())),
                "not_a_checkpoint": b"these are not weights"}[case]
    elif case == "not_safetensors":
        data = b"\x08\x00\x00\x00\x00\x00\x00\x00{broken}"
    elif case == "other_architecture":
        data, fields = st_save(state), {"architecture": "resnet34"}
    elif case == "unknown_architecture":
        data, fields = st_save(state), {"architecture": "resnet9000"}
    elif case == "patch_size":
        data, fields = st_save(state), {"architecture": "vit_b_16", "input_size": 40}
    elif case == "class_names":
        data, fields = st_save(state), {"classes": ["a", "b", "c"]}
    elif case == "organization":
        data, fields = st_save(state), {"visibility": "organization"}
    response = _upload(api, data, name, **fields)
    if field == "weights" or case == "class_names":  # needs the weights (their head): the worker's
        assert response.status_code == 202, response.content
        run_import(response.json()["id"])
        job = MarketImport.objects.get(pk=response.json()["id"])
        assert job.status == "failed" and job.error["field"] == field, job.error
        message = job.error["message"]
    else:
        assert response.status_code == 400, response.content
        message = " ".join(response.json()[field])
        assert not MarketImport.objects.exists()
    for word in words:
        assert word in message, (word, message)
    assert MarketEntryVersion.objects.count() == 0
    assert not (Path(settings.MARKET_DIR) / "imports").is_dir() or not any((Path(settings.MARKET_DIR) / "imports").iterdir())


def test_classes_that_do_not_match_num_classes_are_refused_at_once(api: APIClient, resnet: torch.nn.Module) -> None:
    response = _upload(api, st_save(_state(resnet)), "m.safetensors", num_classes=10, classes=["a", "b"])
    assert response.status_code == 400 and "2 class names for a head of 10" in response.json()["classes"][0]


def test_weights_larger_than_the_market_upload_limit_are_refused(api: APIClient, settings: Any) -> None:
    settings.MARKET_UPLOAD_MAX_BYTES = 4096
    response = _upload(api, b"x" * 5000, "big.safetensors")
    assert response.status_code == 413 and "limit is 4096 bytes" in response.json()["detail"]


def test_weights_are_required(api: APIClient) -> None:
    response = api.post(URL, {"architecture": "resnet18"}, format="multipart")
    assert response.status_code == 400 and "weights" in response.json()
