"""The model market in a real browser against a real server and worker: Alice publishes a graph
as a template and a trained model, searches the market, stars the model, downloads its bundle and
imports it back (and a tampered copy is refused in plain words). Bob, a second user, cannot see
Alice's private entries, forks her public model into his project and lands on the canvas, then
fine-tunes it with all but the head frozen: the run carries the freeze list and the canvas marks
the frozen layers. Carol imports pretrained torchvision weights made here through the market's form,
after a file of another architecture is refused at the file field. Screenshots go to
var/screenshots/market*.png (or $VMB_SCREENSHOTS_DIR)."""
from __future__ import annotations

import io
import json
import re
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest

from .journey import IMAGES, fill_field, poll

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct-horse-battery"
USABLE = ("succeeded",)


@pytest.fixture
def world(live_stack: Any, make_user: Any) -> dict[str, Any]:
    """Made before the browser opens (Django refuses database calls while Playwright's loop runs):
    Alice with a trained digits model, Bob with a project whose digits sample the worker ingests
    while the browser part runs."""
    from domain.datasets.services import create_sample_dataset
    from domain.deploy.services import variant_from_artifact
    from domain.projects import services
    from tests.deploy_factories import make_artifact

    tag = uuid.uuid4().hex[:6]
    alice = make_user(f"alice_{tag}", PASSWORD)
    bob = make_user(f"bob_{tag}", PASSWORD)
    artifact = make_artifact(alice, "concat")
    variant = variant_from_artifact(alice, artifact)
    bobs = services.create_project(bob, name=f"Bob's digits {tag}")
    create_sample_dataset(bob, bobs, "digits")
    return {"tag": tag, "alice": alice.username, "bob": bob.username, "alice_project": artifact.run.project_id,
            "graph": artifact.graph_version.graph.name, "model": variant.pk, "bob_project": bobs.pk}


def _sign_in(page: Any, url: str, username: str) -> None:
    page.goto(url + "/sign-in")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_role("heading", name="Projects").wait_for()


def _api(page: Any, path: str) -> Any:
    return page.evaluate(f"async () => (await fetch({json.dumps(path)})).json()")


def _tampered(bundle: bytes) -> bytes:
    """The same bundle with one byte of the weights changed and the manifest left as it was."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(bundle)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "weights.safetensors":
                data = data[:-1] + bytes([data[-1] ^ 0xFF])
            target.writestr(info.filename, data)
    return out.getvalue()


def test_publish_search_fork_fine_tune_and_bundles(live_stack: Any, world: dict[str, Any], page: Any,
                                                   tmp_path: Path) -> None:
    url, tag = live_stack.url, world["tag"]
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    _sign_in(page, url, world["alice"])

    # Alice publishes her graph as a private template, from the project page.
    page.goto(f"{url}/projects/{world['alice_project']}")
    page.get_by_role("button", name=f"Publish {world['graph']} as a template").click()
    dialog = page.get_by_role("dialog", name="Publish the graph as a template")
    dialog.get_by_label("Title").fill(f"Concat template {tag}")
    dialog.get_by_role("button", name="Publish").click()
    page.wait_for_url(re.compile(r"/market/\d+$"))
    template_url = page.url
    page.get_by_role("heading", name=f"Concat template {tag}").wait_for()
    graph = page.get_by_test_id("market-graph")
    graph.get_by_test_id("node-logits").wait_for()
    assert graph.locator(".react-flow__node").count() == 12
    assert graph.locator(".react-flow__handle.connectable").count() == 0  # read-only
    assert page.get_by_role("button", name="Fine-tune").count() == 0  # a template has no weights

    # ... and the trained model, public, from its model page.
    page.goto(f"{url}/projects/{world['alice_project']}/models/{world['model']}")
    page.get_by_role("button", name="Publish to the market").click()
    dialog = page.get_by_role("dialog", name="Publish the model to the market")
    dialog.get_by_label("Title").fill(f"Digits classifier {tag}")
    dialog.get_by_label("Licence").fill("MIT")
    dialog.get_by_label("Visibility").select_option("public")
    dialog.get_by_role("button", name="Publish").click()
    page.wait_for_url(re.compile(r"/market/\d+$"))
    model_url = page.url
    card = page.get_by_role("region", name="Model card")
    card.get_by_text("MIT").wait_for()
    assert "95.0%" in card.inner_text()
    page.screenshot(path=str(IMAGES / "market-entry.png"), full_page=True)

    # Search: both by text, only the model by kind.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Market").click()
    page.get_by_role("searchbox", name="Search").fill(tag)
    page.get_by_role("button", name="Search", exact=True).click()
    page.get_by_role("heading", name="2 results").wait_for()
    page.get_by_label("Kind").select_option("model")
    page.get_by_role("heading", name="1 result").wait_for()
    results = page.get_by_role("list", name="Market entries")
    assert results.get_by_role("listitem").count() == 1
    assert "MIT" not in results.inner_text() and "95.0%" in results.inner_text()
    page.screenshot(path=str(IMAGES / "market.png"), full_page=True)

    # Star it, and download its bundle.
    results.get_by_role("link", name=f"Digits classifier {tag}").click()
    page.get_by_role("button", name="☆ Star").click()
    page.get_by_role("button", name="★ Unstar").wait_for()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download bundle (v1)").click()
    bundle = tmp_path / "bundle.zip"
    download.value.save_as(bundle)
    with zipfile.ZipFile(bundle) as zf:
        assert sorted(zf.namelist()) == ["card.json", "graph.json", "manifest.json", "weights.safetensors"]

    # Import it back (the server answers with a job a worker runs; the page polls it); a tampered
    # copy is refused by the worker, in words a person understands.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Market").click()
    page.get_by_label("Bundle file").set_input_files(str(bundle))
    page.get_by_role("button", name="Import bundle").click()
    page.get_by_role("status").filter(has_text="Imported").get_by_role("link", name=f"Digits classifier {tag}").wait_for()
    tampered = tmp_path / "tampered.zip"
    tampered.write_bytes(_tampered(bundle.read_bytes()))
    page.get_by_label("Bundle file").set_input_files(str(tampered))
    page.get_by_role("button", name="Import bundle").click()
    refusal = page.get_by_role("alert").filter(has_text="changed after it was exported")
    refusal.wait_for()
    assert "Nothing was imported" in refusal.inner_text() and "weights.safetensors" in refusal.inner_text()
    page.screenshot(path=str(IMAGES / "market-import-refused.png"), full_page=True)

    # Bob sees the public model only: not the private template, not the private import.
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Sign in").wait_for()
    _sign_in(page, url, world["bob"])
    page.goto(f"{url}/market?q={tag}")
    page.get_by_role("heading", name="1 result").wait_for()
    assert page.get_by_role("list", name="Market entries").get_by_role("listitem").all_inner_texts()[0].startswith(
        f"Digits classifier {tag}")
    page.goto(template_url)
    page.get_by_role("heading", name="Entry not found").wait_for()

    # Bob forks the model into his project and lands on its canvas.
    page.goto(model_url)
    page.get_by_role("button", name="Fork into project").click()
    dialog = page.get_by_role("dialog", name=re.compile("^Fork "))
    poll(lambda: dialog.get_by_label("Project").input_value() == str(world["bob_project"]), 10, "Bob's project")
    dialog.get_by_role("button", name="Fork into project").click()
    page.wait_for_url(re.compile(rf"/projects/{world['bob_project']}/graphs/\d+$"))
    page.get_by_test_id("graph-editor").wait_for()
    page.get_by_test_id("node-logits").wait_for()
    assert page.get_by_role("heading", name=f"Digits classifier {tag}").count() == 1

    # Fine-tune: fork again, straight to the train form with the published weights chosen, once
    # the worker has ingested Bob's digits.
    poll(lambda: all(d["latest_version"]["status"] in USABLE for d in _api(
        page, f"/api/v1/datasets/?project={world['bob_project']}")["results"]), 120, "Bob's digits ingested")
    page.goto(model_url)
    page.get_by_role("button", name="Fine-tune").click()
    page.get_by_role("dialog", name=re.compile("^Fine-tune ")).get_by_role(
        "button", name="Fork and set up training").click()
    page.wait_for_url(re.compile(r"/train\?graph_version=\d+&market_version=\d+$"))
    weights = page.get_by_role("region", name="Starting weights")
    weights.get_by_role("link", name=re.compile(f"Digits classifier {tag} v1")).wait_for()
    page.get_by_role("option", name=re.compile(r"^Handwritten digits .*samples")).wait_for(state="attached")
    page.get_by_role("button", name="Freeze all but the head").click()
    page.get_by_text("4 of 5 frozen").wait_for()
    assert not page.get_by_role("checkbox", name="Freeze logits").is_checked()
    fill_field(page.get_by_label("Epochs"), "1")
    page.locator("summary", has_text="Advanced settings").click()
    page.get_by_label("Device").select_option("cpu")
    page.screenshot(path=str(IMAGES / "market-finetune.png"), full_page=True)
    page.get_by_role("button", name="Start training").click()
    page.wait_for_url(re.compile(r"/runs/\d+$"))
    run = _api(page, f"/api/v1/runs/{page.url.rsplit('/', 1)[1]}/")
    assert sorted(run["config"]["freeze"]) == ["a", "b", "cat_bn", "hidden"], run["config"]
    assert run["config"]["init_weights"]["market_version"] > 0

    # The canvas marks the frozen layers of that run, and only those.
    page.goto(f"{url}/projects/{world['bob_project']}/graphs/{run['graph']}?run={run['id']}")
    page.get_by_test_id("frozen-bar").filter(has_text="4 frozen layers").wait_for()
    for node in ("a", "b", "cat_bn", "hidden"):
        assert "layer-node--frozen" in (page.get_by_test_id(f"node-{node}").get_attribute("class") or "")
    assert page.get_by_test_id("frozen-logits").count() == 0
    for _ in range(3):  # close enough to read the badges in the middle of the chain
        page.get_by_role("button", name="Zoom In").click()
    page.screenshot(path=str(IMAGES / "market-frozen.png"))
    # Bob's look at the private entry is answered 404 on purpose (the refused import is a failed job).
    unexpected = [e for e in console_errors if not e.startswith("Failed to load resource")]
    assert unexpected == [], unexpected


@pytest.fixture
def carol(live_stack: Any, make_user: Any) -> str:
    """A user with nothing yet, made before the browser opens."""
    return str(make_user(f"carol_{uuid.uuid4().hex[:6]}", PASSWORD).username)


def _torchvision_files(tmp_path: Path) -> tuple[Path, Path]:
    """Real weights saved with safetensors: squeezenet1_1 with 3 classes, and shufflenet_v2_x0_5
    with 3 classes under a name that does not say so."""
    import torch
    import torchvision
    from safetensors.torch import save_file

    torch.manual_seed(0)
    files = []
    for name, architecture in (("squeezenet-pets.safetensors", "squeezenet1_1"),
                               ("pets-weights.safetensors", "shufflenet_v2_x0_5")):
        model = torchvision.models.get_model(architecture, num_classes=3)
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp_path / name))
        files.append(tmp_path / name)
    return files[0], files[1]


def test_import_torchvision_weights(live_stack: Any, carol: str, page: Any, tmp_path: Path) -> None:
    squeezenet, other = _torchvision_files(tmp_path)
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    _sign_in(page, live_stack.url, carol)
    page.goto(f"{live_stack.url}/market")
    form = page.get_by_role("form", name="Import torchvision weights")
    form.get_by_label("Architecture").select_option("squeezenet1_1")  # waits for the server's list
    form.get_by_label("Input size").fill("64")
    form.get_by_label("Number of classes").fill("3")
    form.get_by_label("Class names").fill("cat\ndog\nbird")
    form.get_by_label("Title").fill("SqueezeNet pets")
    form.get_by_label("Licence of the weights").fill("BSD-3-Clause")

    # Another architecture's weights: the worker refuses them, and the page shows it at the file
    # field, in words, with the tensors named.
    form.get_by_label("Weights file").set_input_files(str(other))
    form.get_by_role("button", name="Import weights").click()
    refusal = form.get_by_text("These weights do not fit squeezenet1_1 with 3 classes")
    refusal.wait_for()
    text = refusal.inner_text()
    assert "not in the file" in text and "not part of squeezenet1_1" in text and "another architecture" in text
    assert "pets-weights.safetensors does not fit squeezenet1_1" in text and "classifier.1.weight" in text
    assert form.get_by_label("Weights file").get_attribute("aria-invalid") == "true"
    page.screenshot(path=str(IMAGES / "market-torchvision-refused.png"), full_page=True)

    # The squeezenet weights: the new entry opens with its card and its graph, read-only.
    form.get_by_label("Weights file").set_input_files(str(squeezenet))
    form.get_by_role("button", name="Import weights").click()
    page.wait_for_url(re.compile(r"/market/\d+$"))
    page.get_by_role("heading", name="SqueezeNet pets").wait_for()
    card = page.get_by_role("region", name="Model card")
    card.get_by_text("BSD-3-Clause").wait_for()
    assert "cat, dog, bird" in card.inner_text() and "[-1, 3, 64, 64]" in card.inner_text()
    graph = page.get_by_test_id("market-graph")
    graph.get_by_test_id("node-flatten").wait_for()
    assert graph.locator(".react-flow__node").count() == 67
    assert graph.locator(".react-flow__handle.connectable").count() == 0
    assert page.get_by_role("button", name="Fine-tune").count() == 1  # it has weights
    page.screenshot(path=str(IMAGES / "market-torchvision.png"), full_page=True)
    unexpected = [e for e in console_errors if not e.startswith("Failed to load resource")]
    assert unexpected == [], unexpected
