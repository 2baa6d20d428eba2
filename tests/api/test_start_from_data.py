"""/api/v1/dataset-versions/{id}/build-model/ and adapt-graph/: a graph proposed for a dataset
version, and a graph's input checked against and adapted to one. No worker: versions are made
ready by hand, as the ingest would leave them."""
from __future__ import annotations

from typing import Any

import pytest

from builder.graph.templates import get_template
from domain.datasets.models import Dataset, DatasetVersion
from domain.jobs.models import JobStatus
from domain.projects.models import Graph, GraphVersion, ProjectMembership, Role
from domain.projects.services import create_graph, create_graph_version, create_project

pytestmark = pytest.mark.django_db

DIGITS = {"input": "image", "channels": 1, "size": [8, 8], "layout": "NCHW"}


def _version(project: Any, user: Any, *, kind: str = "image", recipe: dict[str, Any] | None = None,
             classes: int = 10, task: str = "classification", status: str = JobStatus.SUCCEEDED,
             stats: dict[str, Any] | None = None) -> DatasetVersion:
    dataset = Dataset.objects.create(project=project, name="digits", kind=kind, created_by=user)
    return DatasetVersion.objects.create(
        dataset=dataset, number=1, status=status, task=task, classes=[str(i) for i in range(classes)],
        sample_count=100, created_by=user, recipe=DIGITS if recipe is None else recipe, stats=stats or {})


def _url(version: DatasetVersion, action: str) -> str:
    return f"/api/v1/dataset-versions/{version.pk}/{action}/"


@pytest.fixture
def project(alice: Any) -> Any:
    return create_project(alice, name="start from data")


def test_build_model_makes_a_graph_sized_to_the_digits(api: Any, alice: Any, project: Any) -> None:
    version = _version(project, alice)
    response = api.post(_url(version, "build-model"), {}, format="json")
    assert response.status_code == 201, response.json()
    built = response.json()
    assert built["graph_name"] == "digits model" and built["template"] == "lenet5"
    assert built["version"]["number"] == 1 and built["version"]["is_valid"] is True
    assert "input 'image' set to 1×8×8 (grey) (was 1×32×32)" in built["notes"]
    assert any("'same' padding so 8×8 fits" in note for note in built["notes"])
    graph = Graph.objects.get(pk=built["graph"])
    assert graph.project_id == project.pk and graph.template == "lenet5"
    saved = GraphVersion.objects.get(pk=built["version"]["id"])
    assert saved.document["nodes"][0]["params"] == {"channels": 1, "height": 8, "width": 8}
    assert saved.message.startswith("proposed for digits v1: started from the LeNet-5 template")
    # Training plans no resize: the graph takes the data as it is.
    estimate = api.post("/api/v1/runs/estimate/", {"graph_version": saved.pk, "dataset_version": version.pk,
                                                    "config": {"epochs": 1}}, format="json")
    assert estimate.status_code == 200, estimate.json()
    assert estimate.json()["plan"]["resize"] is None


def test_build_model_takes_a_name(api: Any, alice: Any, project: Any) -> None:
    version = _version(project, alice)
    built = api.post(_url(version, "build-model"), {"name": "my digits"}, format="json").json()
    assert built["graph_name"] == "my digits"


@pytest.mark.parametrize(("kind", "recipe", "stats", "task", "classes", "template", "output"), [
    ("table", {"input": "table", "features": ["a", "b", "c"]}, {}, "classification", 3, "tabular_mlp", [1, 3]),
    ("table", {"input": "table", "features": ["a", "b"]}, {}, "regression", 0, "tabular_mlp", [1, 1]),
    ("text", {"input": "text", "max_length": 64, "vocab_size": 500}, {}, "classification", 2, "text_transformer",
     [1, 2]),
    ("ct_nifti", {"input": "ct", "mode": "3d"}, {"sample_shape": [1, 16, 32, 32]}, "classification", 2, "ct_cnn3d",
     [1, 2]),
])
def test_build_model_for_other_modalities(api: Any, alice: Any, project: Any, kind: str, recipe: dict[str, Any],
                                          stats: dict[str, Any], task: str, classes: int, template: str,
                                          output: list[int]) -> None:
    version = _version(project, alice, kind=kind, recipe=recipe, stats=stats, task=task, classes=classes)
    response = api.post(_url(version, "build-model"), {}, format="json")
    assert response.status_code == 201, response.json()
    built = response.json()
    assert built["template"] == template and built["version"]["is_valid"]
    report = GraphVersion.objects.get(pk=built["version"]["id"]).validation
    node, port = report["outputs"][0].split(":")
    assert report["nodes"][node]["outputs"][port] == output


def test_build_model_for_ct_volumes_with_masks_adapts_the_3d_unet(api: Any, alice: Any, project: Any) -> None:
    # As the NIfTI mask ingest leaves a 3-D version: CT input, masks as the target, three classes.
    recipe = {"input": "ct", "mode": "3d", "layout": "N1DHW", "target": "mask", "volume_shape": [16, 32, 32]}
    version = _version(project, alice, kind="ct_nifti", recipe=recipe, stats={"sample_shape": [1, 16, 32, 32]},
                       task="segmentation", classes=3)
    response = api.post(_url(version, "build-model"), {}, format="json")
    assert response.status_code == 201, response.json()
    built = response.json()
    assert built["template"] == "unet3d" and built["version"]["is_valid"] is True
    assert built["notes"] == [
        "started from the U-Net (3D segmentation) template: a 3-D U-Net gives one class per voxel",
        "input 'volume' set to 1×16×32×32 (CT volume) (was 1×32×64×64)",
        "output 'mask_logits' set to 3 classes (was 2)",
        "kept the layers of U-Net (3D segmentation): they fit 1×16×32×32 (CT volume)"]
    saved = GraphVersion.objects.get(pk=built["version"]["id"])
    node, port = saved.validation["outputs"][0].split(":")
    assert saved.validation["nodes"][node]["outputs"][port] == [1, 3, 16, 32, 32]
    assert Graph.objects.get(pk=built["graph"]).template == "unet3d"
    check = api.get(_url(version, "adapt-graph"), {"graph_version": saved.pk}).json()
    assert check["fits"] is True and check["data"]["task"] == "segmentation"


def test_build_model_for_ct_volumes_a_3d_unet_cannot_halve_names_the_size(api: Any, alice: Any,
                                                                           project: Any) -> None:
    recipe = {"input": "ct", "mode": "3d", "target": "mask"}
    version = _version(project, alice, kind="ct_nifti", recipe=recipe, stats={"sample_shape": [1, 10, 30, 30]},
                       task="segmentation", classes=2)
    response = api.post(_url(version, "build-model"), {}, format="json")
    assert response.status_code == 400
    assert "each side must divide by 4: ingest a version with volume_shape 8×32×32" in response.json()["dataset_version"][0]
    assert not Graph.objects.exists()


def test_build_model_refuses_a_version_that_is_not_ready(api: Any, alice: Any, project: Any) -> None:
    version = _version(project, alice, status=JobStatus.RUNNING)
    response = api.post(_url(version, "build-model"), {}, format="json")
    assert response.status_code == 400
    assert "dataset version is running" in response.json()["dataset_version"][0]
    assert not Graph.objects.exists()


def test_build_model_refuses_a_version_with_one_class(api: Any, alice: Any, project: Any) -> None:
    version = _version(project, alice, classes=1)
    response = api.post(_url(version, "build-model"), {}, format="json")
    assert response.status_code == 400
    assert "the data has 1 class; classification needs at least 2" in response.json()["dataset_version"][0]


def test_build_model_needs_the_editor_role_and_visibility(alice: Any, bob: Any, client_for: Any, project: Any) -> None:
    version = _version(project, alice)
    assert client_for(bob).post(_url(version, "build-model"), {}, format="json").status_code == 404
    ProjectMembership.objects.create(project=project, user=bob, role=Role.VIEWER)
    assert client_for(bob).post(_url(version, "build-model"), {}, format="json").status_code == 403
    assert not Graph.objects.exists()


def _lenet(alice: Any, project: Any) -> GraphVersion:
    return create_graph_version(alice, create_graph(alice, project, name="lenet"), document=get_template("lenet5"))


def test_input_check_names_both_shapes_and_the_resize(api: Any, alice: Any, project: Any) -> None:
    version = _version(project, alice)
    lenet = _lenet(alice, project)
    response = api.get(_url(version, "adapt-graph"), {"graph_version": lenet.pk})
    assert response.status_code == 200, response.json()
    check = response.json()
    assert check["fits"] is False and check["graph_shape"] == [1, 32, 32] and check["data_shape"] == [1, 8, 8]
    assert check["resize"] == [32, 32]
    assert check["message"] == ("the graph takes 1×32×32 but the dataset's images are 1×8×8: training would "
                                "resize every image to 32×32")


def test_adapt_makes_a_new_version_that_fits(api: Any, alice: Any, project: Any) -> None:
    version = _version(project, alice)
    lenet = _lenet(alice, project)
    response = api.post(_url(version, "adapt-graph"), {"graph_version": lenet.pk}, format="json")
    assert response.status_code == 201, response.json()
    built = response.json()
    assert built["graph"] == lenet.graph_id and built["version"]["number"] == 2 and built["version"]["is_valid"]
    new = GraphVersion.objects.get(pk=built["version"]["id"])
    assert new.parent_id == lenet.pk and new.message.startswith("input adapted to digits v1: input 'image' set")
    lenet.refresh_from_db()
    assert lenet.document["nodes"][0]["params"]["height"] == 32  # the old version stays as it was
    check = api.get(_url(version, "adapt-graph"), {"graph_version": new.pk}).json()
    assert check["fits"] is True and check["resize"] is None


def test_adapt_refuses_a_graph_for_another_kind_of_data(api: Any, alice: Any, project: Any) -> None:
    version = _version(project, alice)
    mlp = create_graph_version(alice, create_graph(alice, project, name="mlp"), document=get_template("tabular_mlp"))
    response = api.post(_url(version, "adapt-graph"), {"graph_version": mlp.pk}, format="json")
    assert response.status_code == 400
    assert "takes feature vectors but the dataset holds images" in response.json()["graph_version"][0]
    check = api.get(_url(version, "adapt-graph"), {"graph_version": mlp.pk}).json()
    assert check["fits"] is False and check["resize"] is None and "training would be refused" in check["message"]


def test_adapt_needs_a_graph_version_of_yours(api: Any, alice: Any, bob: Any, project: Any) -> None:
    version = _version(project, alice)
    theirs = create_project(bob, name="theirs")
    other = create_graph_version(bob, create_graph(bob, theirs, name="x"), document=get_template("lenet5"))
    for body in ({"graph_version": other.pk}, {}):
        response = api.post(_url(version, "adapt-graph"), body, format="json")
        assert response.status_code == 400 and "graph_version" in response.json()
    assert api.get(_url(version, "adapt-graph")).status_code == 400


def test_adapt_refuses_a_dataset_of_another_project(api: Any, alice: Any, project: Any) -> None:
    version = _version(create_project(alice, name="elsewhere"), alice)
    response = api.post(_url(version, "adapt-graph"), {"graph_version": _lenet(alice, project).pk}, format="json")
    assert response.status_code == 400
    assert response.json()["dataset_version"] == ["the dataset version belongs to another project"]


def test_input_check_of_ct_slices_promises_no_resize(api: Any, alice: Any, project: Any) -> None:
    version = _version(project, alice, kind="ct_dicom", recipe={"input": "ct", "mode": "2d"},
                       stats={"sample_shape": [1, 64, 64]}, classes=2)
    check = api.get(_url(version, "adapt-graph"), {"graph_version": _lenet(alice, project).pk}).json()
    assert check["fits"] is False and check["resize"] is None and check["data_shape"] == [1, 64, 64]
    assert check["message"].endswith("training would be refused")
