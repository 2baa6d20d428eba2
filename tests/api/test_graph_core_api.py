"""The graph core over HTTP: layers, validate, source, templates, torchvision import."""
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.api.test_graphs import VALID

pytestmark = pytest.mark.django_db


@pytest.fixture
def project_id(api: Any) -> int:
    return int(api.post("/api/v1/projects/", {"name": "p"}, format="json").json()["id"])


def test_layers_serve_the_registry_with_schemas() -> None:
    body = APIClient().get("/api/v1/layers/").json()
    by_id = {layer["id"]: layer for layer in body["layers"]}
    for required in ["conv2d", "linear", "image_input", "add", "concat", "lstm", "transformer_encoder_layer"]:
        assert required in by_id, required
    conv = by_id["conv2d"]
    assert conv["category"] in body["categories"] and conv["doc"]
    assert "out_channels" in conv["params_schema"]["properties"]
    assert by_id["add"]["variadic"] == {"param": "num_inputs", "prefix": "in"}


def test_validate_returns_shapes_and_every_error(api: Any) -> None:
    ok = api.post("/api/v1/graphs/validate/", {"document": VALID, "batch_size": 4}, format="json").json()
    assert ok["ok"] is True
    assert ok["nodes"]["fc"]["outputs"]["out"] == [4, 10]
    broken = {
        **VALID,
        "nodes": VALID["nodes"] + [{"id": "mystery", "type": "warp_drive", "params": {}}],
        "edges": [{"source": "x", "target": "c1"}, {"source": "c1", "target": "fc"}],
    }
    report = api.post("/api/v1/graphs/validate/", {"document": broken}, format="json").json()
    assert report["ok"] is False
    codes = {(e["node_id"], e["code"]) for e in report["errors"]}
    assert ("mystery", "unknown_type") in codes
    assert any(e["node_id"] == "fc" and e["code"] == "shape_mismatch" for e in report["errors"]) or any(
        e["node_id"] == "flat" for e in report["errors"]
    )


def test_validate_rejects_malformed_requests_naming_the_field(api: Any) -> None:
    assert "document" in api.post("/api/v1/graphs/validate/", {"document": [1]}, format="json").json()
    response = api.post("/api/v1/graphs/validate/", {"document": VALID, "batch_size": 0}, format="json")
    assert response.status_code == 400 and "batch_size" in response.json()


def test_validate_refuses_a_document_over_its_size_limit_naming_it(api: Any) -> None:
    from api.projects.serializers import MAX_DOCUMENT_BYTES

    huge = {**VALID, "name": "x" * (MAX_DOCUMENT_BYTES + 2048)}
    response = api.post("/api/v1/graphs/validate/", {"document": huge}, format="json")
    assert response.status_code == 400 and "larger than" in response.json()["document"][0]


def test_validate_never_500s_on_junk_documents(api: Any) -> None:
    junk = [
        {}, {"nodes": "x"}, {"nodes": [1, 2]}, {"nodes": [{"id": 3}]}, {"edges": [{"source": None}]},
        {"schema_version": "nine", "nodes": [{"id": "a", "type": "conv2d", "params": {"out_channels": -1}}]},
    ]
    for doc in junk:
        response = api.post("/api/v1/graphs/validate/", {"document": doc}, format="json")
        assert response.status_code == 200 and response.json()["ok"] is False, doc


def test_version_source_runs_standalone(api: Any, project_id: int) -> None:
    gid = api.post("/api/v1/graphs/", {"project": project_id, "name": "My Net"}, format="json").json()["id"]
    vid = api.post(f"/api/v1/graphs/{gid}/versions/", {"document": VALID}, format="json").json()["id"]
    body = api.get(f"/api/v1/graphs/{gid}/versions/{vid}/source/").json()
    assert body["filename"] == "my_net_v1.py"
    namespace: dict[str, Any] = {}
    exec(compile(body["source"], "generated", "exec"), namespace)
    import torch

    out = namespace["Model"]()(torch.zeros(2, 1, 8, 8))
    assert tuple(out.shape) == (2, 10)


def test_source_of_a_draft_is_400_with_errors(api: Any, project_id: int) -> None:
    gid = api.post("/api/v1/graphs/", {"project": project_id, "name": "g"}, format="json").json()["id"]
    draft = {**VALID, "edges": VALID["edges"][:1]}
    vid = api.post(f"/api/v1/graphs/{gid}/versions/", {"document": draft}, format="json").json()["id"]
    response = api.get(f"/api/v1/graphs/{gid}/versions/{vid}/source/")
    assert response.status_code == 400 and response.json()["errors"]


def test_templates_list_and_create_graph_from_one(api: Any, project_id: int) -> None:
    listing = api.get("/api/v1/templates/").json()
    ids = [t["id"] for t in listing["templates"]]
    assert len(ids) >= 8 and "resnet18" in listing["torchvision"]
    made = api.post(
        "/api/v1/graphs/from-template/", {"project": project_id, "template": ids[0]}, format="json"
    )
    assert made.status_code == 201, made.content
    assert made.json()["latest_version"]["is_valid"] is True
    unknown = api.post("/api/v1/graphs/from-template/", {"project": project_id, "template": "nope"}, format="json")
    assert unknown.status_code == 400 and "template" in unknown.json()


def test_a_graph_from_a_template_carries_its_recommended_run_settings(api: Any, project_id: int) -> None:
    from builder.graph.templates import template_config

    made = api.post(
        "/api/v1/graphs/from-template/", {"project": project_id, "template": "tabular_mlp"}, format="json"
    ).json()
    assert made["template"] == "tabular_mlp" and made["template_name"] == "MLP for tables"
    assert made["recommended_config"] == template_config("tabular_mlp")
    assert made["recommended_config"]["batch_size"] == 16
    assert made["recommended_config"]["optimizer"]["lr"] == 0.01
    assert made["recommended_config"]["schedule"]["name"] == "one_cycle"
    # Read the same way back, in the detail and in the project's list.
    detail = api.get(f"/api/v1/graphs/{made['id']}/").json()
    assert detail["template"] == "tabular_mlp" and detail["recommended_config"] == made["recommended_config"]
    listed = api.get("/api/v1/graphs/", {"project": project_id}).json()["results"]
    assert [g["template"] for g in listed if g["id"] == made["id"]] == ["tabular_mlp"]
    # Read-only: a rename leaves it, and a client can't claim a template for its graph.
    patched = api.patch(f"/api/v1/graphs/{made['id']}/", {"name": "prices", "template": "lenet5"}, format="json")
    assert patched.status_code == 200 and patched.json()["template"] == "tabular_mlp"
    # A graph from scratch, or a torchvision import, has none.
    scratch = api.post("/api/v1/graphs/", {"project": project_id, "name": "mine", "template": "tabular_mlp"},
                       format="json").json()
    assert scratch["template"] is None and scratch["template_name"] is None and scratch["recommended_config"] == {}
    # A template without recommended settings is recorded, with an empty config.
    lenet = api.post("/api/v1/graphs/from-template/", {"project": project_id, "template": "lenet5"},
                     format="json").json()
    assert lenet["template"] == "lenet5" and lenet["recommended_config"] == template_config("lenet5")


def test_create_graph_from_torchvision(api: Any, project_id: int) -> None:
    made = api.post(
        "/api/v1/graphs/from-torchvision/",
        {"project": project_id, "architecture": "resnet18", "num_classes": 3, "input_size": 64},
        format="json",
    )
    assert made.status_code == 201, made.content
    gid = made.json()["id"]
    version = api.get(f"/api/v1/graphs/{gid}/versions/{made.json()['latest_version']['id']}/").json()
    assert version["is_valid"] is True
    # Laid out as it is imported, and stored with the version: the canvas opens it as it is.
    at = {n["id"]: n["position"] for n in version["document"]["nodes"]}
    assert len(at) == len(version["document"]["nodes"])
    assert all(at[e["target"]]["y"] > at[e["source"]]["y"] for e in version["document"]["edges"])
    bad = api.post("/api/v1/graphs/from-torchvision/", {"project": project_id, "architecture": "os.system"}, format="json")
    assert bad.status_code == 400 and "architecture" in bad.json()


def _from_torchvision(api: Any, project_id: int, architecture: str, input_size: int) -> Any:
    return api.post(
        "/api/v1/graphs/from-torchvision/",
        {"project": project_id, "architecture": architecture, "num_classes": 3, "input_size": input_size},
        format="json",
    )


@pytest.mark.parametrize(
    ("architecture", "size", "reason"),
    [
        ("alexnet", 32, "fails on the example input [1, 3, 32, 32]"),  # its pooling leaves nothing
        ("vit_b_16", 40, "input_size 40 is not a multiple of its patch size 16"),
    ],
)
def test_torchvision_input_size_the_model_cant_take_is_400(
    api: Any, project_id: int, architecture: str, size: int, reason: str
) -> None:
    bad = _from_torchvision(api, project_id, architecture, size)
    assert bad.status_code == 400, bad.content
    (message,) = bad.json()["input_size"]
    assert f"{architecture} can't take {size}x{size} images" in message and reason in message


def test_torchvision_unsupported_operation_is_400_naming_architecture(
    api: Any, project_id: int, monkeypatch: Any
) -> None:
    from builder.graph import templates
    from builder.graph.importer import UnsupportedModuleError

    def unsupported(name: str, **kwargs: Any) -> Any:
        raise UnsupportedModuleError([{"node": "roll", "operation": "torch.roll", "reason": "no layer type"}])

    monkeypatch.setattr(templates, "torchvision_graph", unsupported)
    bad = _from_torchvision(api, project_id, "resnet18", 64)
    assert bad.status_code == 400, bad.content
    (message,) = bad.json()["architecture"]
    assert "resnet18 can't be imported" in message and "torch.roll: no layer type" in message


def test_template_into_someone_elses_project_is_404(alice: Any, bob: Any, client_for: Any, project_id: int) -> None:
    response = client_for(bob).post(
        "/api/v1/graphs/from-template/", {"project": project_id, "template": "lenet5"}, format="json"
    )
    assert response.status_code in (400, 404)
    assert response.status_code == 404 or "template" in response.json()
