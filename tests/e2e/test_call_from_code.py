"""Deploy's "Call it from code" (issue 16) in a real browser against the real server and worker, at
1440x900 and 1280x720: LeNet-5 (32x32) trained on the 8x8 digits is deployed from its page; the
panel says what /predict takes and the exact preprocessing it applies, generated from the recorded
recipe (8x8 as in the dataset, scaled to 0-1, resized to 32x32), and the tensor /infer takes; the
curl shown is then sent as it reads (its URL, its header, its file part) with Python's urllib and a
real 8x8 PNG of the dataset, and answers a prediction.

Screenshot: call-from-code.png under var/screenshots/ (or $VMB_SCREENSHOTS_DIR, e.g. docs/images);
model-card.png is test_model_cards.py's."""
from __future__ import annotations

import json
import re
import urllib.request
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest

from .journey import IMAGES, Clicks, as_user, sign_up_and_open_project, train_digits_lenet

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(600)]
VIEWPORTS = [(1440, 900), (1280, 720)]
STEPS = ["decoded and converted to grey (1 channel)",
         "brought to 8×8 as the dataset's images were (bilinear; an image of that size stays as it is)",
         "scaled to 0–1 (pixel ÷ 255)",
         "resized to 32×32 (bilinear), as training did for this model"]


def _digit_pngs(folder: Path, count: int = 10) -> list[tuple[str, bytes]]:
    """PNGs of the digits sample as a person uploads them (8x8, grey), with their labels."""
    from pipelines.datasets.samples import write_digits

    with zipfile.ZipFile(write_digits(folder)) as archive:
        names = sorted(n for n in archive.namelist() if n.endswith(".png"))  # digits/<label>/<index>.png
        return [(n.split("/")[1], archive.read(n)) for n in names[:: len(names) // count][:count]]


def _send_as_shown(curl: str, key: str, png: bytes) -> dict[str, Any]:
    """The shown curl (`-X POST <url>`, `-H "<header>"`, `-F "file=@<name>;type=<type>"`) sent with
    urllib: the same URL, header and one multipart file part, the file being ``png``."""
    url = re.search(r"curl -X POST (\S+)", curl)
    header = re.search(r'-H "([^:]+): ([^"]+)"', curl)
    part = re.search(r'-F "(\w+)=@([^;"]+);type=([^"]+)"', curl)
    assert url and header and part, curl
    field, filename, content_type = part.groups()
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n"
            f"Content-Type: {content_type}\r\n\r\n").encode() + png + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(url.group(1), data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    name, value = header.groups()
    request.add_header(name, value.replace("<your key>", key))
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 200
        return dict(json.loads(response.read()))


def _no_sideways_scroll(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_call_it_from_code_shows_the_preprocessing_and_the_raw_png_call_works(
        live_stack: Any, browser: Any, page: Any, tmp_path: Path) -> None:
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    username = f"code_{uuid.uuid4().hex[:8]}"
    sign_up_and_open_project(page, live_stack.url, Clicks(), username, "Digits")
    project_id = int(re.search(r"/projects/(\d+)", page.url).group(1))  # type: ignore[union-attr]
    run = as_user(username, lambda client: train_digits_lenet(client, project_id, live_stack))
    model = as_user(username, lambda client: client.get(f"/api/v1/models/?project={project_id}").json()["results"][0])
    assert model["run"] == run["id"]
    pngs = _digit_pngs(tmp_path)

    # Deploy from the model's page; the key is shown once.
    page.goto(f"{live_stack.url}/projects/{project_id}/models/{model['id']}")
    page.get_by_label("Endpoint name").fill("digits-code")
    page.get_by_role("button", name="Deploy", exact=True).click()
    key = page.get_by_label("API key").inner_text().strip()
    page.get_by_test_id("deployment-status").filter(has_text="ready").wait_for(timeout=180_000)

    for number, (width, height) in enumerate(VIEWPORTS):
        context = browser.new_context(viewport={"width": width, "height": height},
                                      storage_state=page.context.storage_state())
        view = context.new_page()
        view.set_default_timeout(15000)
        view.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
        view.goto(f"{live_stack.url}/projects/{project_id}/models/{model['id']}")
        panel = view.get_by_test_id("call-from-code")
        panel.locator("summary", has_text="Call it from code").click()
        said = panel.get_by_test_id("predict-input").inner_text()
        assert "/v2/models/digits-code/predict takes a grey PNG or JPEG, 8×8 as in the dataset" in said, said
        assert panel.get_by_test_id("preprocessing-steps").get_by_role("listitem").all_inner_texts() == STEPS
        tensor = panel.get_by_test_id("infer-tensor").inner_text()
        assert "FP32 [N, 1, 32, 32]: N grey images of 8×8 resized to 32×32, scaled to 0–1" in tensor, tensor
        blocks = panel.locator("pre").all_inner_texts()
        curl = blocks[0]
        assert curl.startswith(f"curl -X POST {live_stack.url}/v2/models/digits-code/predict"), curl
        assert '"shape": [1,1,32,32], "datatype": "FP32"' in blocks[2]  # the tensor call, for who preprocesses
        answer = _send_as_shown(curl, key, pngs[number][1])
        assert answer["model_name"] == "digits-code" and answer["label"] in answer["probabilities"]
        assert len(answer["probabilities"]) == 10
        if number == 0:
            # A real model trained two epochs: the dataset's own PNGs, sent as shown, are recognised.
            right = sum(_send_as_shown(curl, key, png)["label"] == label for label, png in pngs)
            assert right >= 6, right
        _no_sideways_scroll(view)
        if (width, height) == VIEWPORTS[0]:
            # The card's input line comes from the same generator as the steps above.
            contract = view.get_by_role("region", name="Model card").get_by_test_id("input-contract").inner_text()
            assert contract.startswith("grey image, 8×8, scaled to 0–1, resized to 32×32 for the model"), contract
            # The panel in a tall window scrolled to the deployment's heading (an element capture
            # would run under the sticky top bar).
            view.set_viewport_size({"width": width, "height": 1400})
            view.evaluate("window.scrollTo(0, document.getElementById('deploy-heading').getBoundingClientRect().top"
                          " + window.scrollY - 80)")
            view.screenshot(path=str(IMAGES / "call-from-code.png"))
        context.close()
    assert console_errors == [], console_errors
