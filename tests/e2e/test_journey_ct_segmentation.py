"""3-D segmentation in a real browser against a real server and worker: CT volumes with label
masks (NIfTI) ingested, a model built for them by "start from the data" (the 3-D U-Net, sized to
the volumes and their classes), trained by the worker, opened from its run page, deployed, and
tried with a NIfTI volume: the predicted mask is drawn in red over the slice with the most
predicted voxels, and it lies on the volume's bright lesion. The data set and the training go
through the API (the upload form and the Train form have journeys of their own); what a person
looks at goes through the browser. Screenshot: var/screenshots/journey-ct-segmentation.png."""
from __future__ import annotations

import gzip
import re
import uuid
from pathlib import Path
from typing import Any

import nibabel
import numpy as np
import pytest

from tests.api.test_datasets import upload
from tests.pipelines.test_volume_masks import archive, case

from .journey import IMAGES, Clicks, as_user, poll, sign_up_and_open_project

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
VOLUME_SHAPE = [8, 12, 12]  # the cases' 8 slices of 10 x 12 voxels, stretched to a grid the U-Net halves twice
CASES, EPOCHS = 12, 12


def _train(client: Any, project: int, data: bytes, stack: Any) -> tuple[int, list[str]]:
    """The masks set ingested, the graph "build a model for this data" proposes, and a run of it
    trained by the live worker: (run id, the proposal's notes)."""
    dataset = client.post("/api/v1/datasets/", {"project": project, "name": "lesions", "kind": "ct_nifti"},
                          format="json").json()["id"]
    upload_id = upload(client, data, "lesions.zip", chunk=1 << 20).rstrip("/").rsplit("/", 1)[-1]
    options = {"volume_shape": VOLUME_SHAPE, "val_fraction": 0.17, "test_fraction": 0.17}
    version = client.post(f"/api/v1/datasets/{dataset}/versions/", {"upload": upload_id, "options": options},
                          format="json")
    assert version.status_code == 202, version.content
    version_id = version.json()["id"]
    poll(lambda: client.get(f"/api/v1/dataset-versions/{version_id}/").json()["status"] in ("succeeded", "failed"),
         120, "the masks ingest")
    assert client.get(f"/api/v1/dataset-versions/{version_id}/").json()["task"] == "segmentation"
    built = client.post(f"/api/v1/dataset-versions/{version_id}/build-model/", {}, format="json")
    assert built.status_code == 201, built.content
    assert built.json()["template"] == "unet3d"
    config = {"task": "segmentation", "loss": "dice_cross_entropy", "epochs": EPOCHS, "batch_size": 2,
              "optimizer": {"name": "adam", "lr": 1e-2}, "device": {"kind": "cpu"}}
    run = client.post("/api/v1/runs/", {"graph_version": built.json()["version"]["id"],
                                        "dataset_version": version_id, "config": config}, format="json")
    assert run.status_code == 202, run.content
    run_id = run.json()["id"]
    poll(lambda: client.get(f"/api/v1/runs/{run_id}/").json()["status"] in ("succeeded", "failed", "cancelled"),
         300, f"run {run_id}")
    body = client.get(f"/api/v1/runs/{run_id}/").json()
    assert body["status"] == "succeeded", (body.get("error"), stack.log_tail())
    return run_id, list(built.json()["notes"])


def _red_pixels(canvas: Any) -> list[list[int]]:
    """(column, row) of every pixel the overlay coloured: grey pixels have R = G = B, the overlay
    mixes in (230, 25, 75), so red exceeds green by about 100."""
    return list(canvas.evaluate(
        """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; const out = [];
        for (let i = 0; i < d.length; i += 4) if (d[i] - d[i + 1] > 50) out.push([(i / 4) % c.width, Math.floor(i / 4 / c.width)]);
        return out; }"""))


def test_a_segmentation_run_shows_its_predicted_mask_over_the_volume(live_stack: Any, page: Any,
                                                                    tmp_path: Path) -> None:
    click = Clicks()
    username = f"seg_{uuid.uuid4().hex[:8]}"
    sign_up_and_open_project(page, live_stack.url, click, username, "Lesions")
    project = int(re.findall(r"/projects/(\d+)", page.url)[0])
    data = archive(tmp_path / "lesions.zip", cases=CASES).read_bytes()
    run_id, notes = as_user(username, lambda client: _train(client, project, data, live_stack))
    assert "input 'volume' set to 1×8×12×12 (CT volume) (was 1×32×64×64)" in notes, notes
    assert "output 'mask_logits' kept: 2 classes" in notes, notes

    page.goto(f"{live_stack.url}/projects/{project}/runs/{run_id}")
    page.get_by_text(re.compile("Dice")).first.wait_for(timeout=30_000)
    click(page.get_by_role("button", name="Open the trained model"))
    page.get_by_role("heading", name="Model card").wait_for(timeout=60_000)
    click(page.get_by_role("button", name="Deploy", exact=True))
    page.get_by_test_id("deployment-status").filter(has_text="ready").wait_for(timeout=180_000)

    # A case the model has not seen (another seed): its lesion is a bright box.
    volume, box = case(CASES + 1)
    path = tmp_path / "unseen.nii.gz"
    path.write_bytes(gzip.compress(nibabel.Nifti1Image(volume.astype(np.int16), np.diag([1.5, 1.0, 2.0, 1.0])).to_bytes()))
    click.choose_file(page.get_by_label("NIfTI volume (.nii, .nii.gz)"), path)
    figure = page.get_by_test_id("predicted-mask")
    figure.wait_for(timeout=60_000)
    caption = figure.locator("figcaption").inner_text()
    shown = int(re.findall(r"Slice (\d+) of", caption)[0]) - 1
    red = _red_pixels(figure.locator("canvas"))
    # The deployment's status, Try it and the mask in one view (a full-page shot would show the
    # fixed header in the middle of the page).
    figure.evaluate("f => f.scrollIntoView({block: 'end'})")
    page.evaluate("window.scrollBy(0, 40)")
    page.screenshot(path=str(IMAGES / "journey-ct-segmentation.png"))
    # The canvas draws voxel (x, y) of the shown slice at column x, row (height - 1 - y).
    height = volume.shape[1]
    lesion = {(x, height - 1 - y) for x, y in zip(*np.nonzero(box[:, :, shown]), strict=True)}
    assert red, f"no predicted voxel drawn on slice {shown + 1}: {caption}"
    inside = sum((x, y) in lesion for x, y in red)
    print(f"\nsegmentation journey: {len(red)} red pixels on slice {shown + 1}, {inside} on the lesion "
          f"({len(lesion)} lesion pixels there); {caption}")
    assert inside / len(red) >= 0.7 and inside / max(len(lesion), 1) >= 0.5, (inside, len(red), len(lesion))
