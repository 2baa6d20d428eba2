"""Benchmark of the graph canvas at the size of real networks, in a real browser.

Debian's Chromium (``/usr/bin/chromium``, headless, driven by Playwright; never a downloaded
browser) opens the editor served as ``make run`` serves it (uvicorn over ``config.asgi`` and the
built ``frontend/dist``) over a throwaway SQLite database. For LeNet-5 (the template), ResNet-50,
ViT-B/16 and DenseNet-121 (torchvision architectures with ``weights=None``, imported through the
app's importer: nothing downloads) it prints, all measured in the page with ``performance.now()``:

- first render: navigation start to the first node on the canvas;
- shapes shown: navigation start to the status bar saying "Valid" with every shape on screen known;
- the longest main-thread task (Long Tasks API, ``PerformanceObserver('longtask')``) while the
  graph opens (until shapes are shown, plus a second), and during Auto layout (``L``, until the
  layout has landed, plus a second);
- edit → shape: from the Enter keydown that commits a new ``out_channels`` on the first
  convolution to the DOM showing the new output shape (``MutationObserver``), median and p95 over
  ``--edits`` edits, with the validate requests' round trips (resource timing) beside them, the
  server's share; undo → shape likewise, from the Ctrl+Z keydown;
- pan/zoom FPS at Fit view: animation frames per second while the mouse wheel zooms and a drag
  pans for two seconds;
- JS heap after a garbage collection (CDP ``Runtime.getHeapUsage``).

``--baseline`` serves another copy of the tree as well (the code before a change, its own
``frontend/dist`` built), measured in the same run, model by model just before this tree, and
prints this tree's figures over the baseline's. Nothing here is asserted.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                 "--enable-precise-memory-info"]
# (label, how the graph is made, the convolution whose out_channels is edited)
MODELS = [
    ("LeNet-5", {"template": "lenet5"}, "c1"),
    ("ResNet-50", {"architecture": "resnet50"}, "conv1"),
    ("ViT-B/16", {"architecture": "vit_b_16"}, "conv_proj"),
    ("DenseNet-121", {"architecture": "densenet121"}, "features_conv0"),
]

# Installed before the page's own scripts: long tasks, first node, shapes shown, and the keydown
# and DOM change around each edit.
PROBE = r"""
(() => {
  const probe = window.__probe = { longtasks: [], firstNode: null, shapes: null, key: null, seen: null, want: null };
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) probe.longtasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: "longtask", buffered: true });
  } catch (e) { probe.noLongtasks = String(e); }
  document.addEventListener("keydown", (e) => { if (e.key === "Enter" || (e.key.toLowerCase() === "z" && (e.ctrlKey || e.metaKey))) probe.key = performance.now(); }, true);
  const check = () => {
    if (probe.firstNode === null && document.querySelector(".react-flow__node")) probe.firstNode = performance.now();
    if (probe.shapes === null) {
      const status = document.querySelector('[data-testid="validation-status"]');
      const shapes = [...document.querySelectorAll('[data-testid^="shape-"]')];
      if (status && status.textContent.startsWith("Valid") && shapes.length > 0 && shapes.every((s) => !s.textContent.trim().endsWith("?")))
        probe.shapes = performance.now();
    }
    if (probe.want && probe.seen === null) {
      const el = document.querySelector(probe.want.selector);
      if (el && el.textContent.includes(probe.want.text)) probe.seen = performance.now();
    }
  };
  new MutationObserver(check).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
  const frame = () => { check(); probe.frames = (probe.frames || 0) + 1; requestAnimationFrame(frame); };
  requestAnimationFrame(frame);
})();
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """uvicorn serving ``root`` (as ``make run`` does) over a migrated SQLite database in ``tmp``."""

    def __init__(self, root: Path, tmp: Path) -> None:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local",
               "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}", "MEDIA_ROOT": str(tmp / "media"),
               "PYTHONPATH": str(root)}
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=root, env=env,
                       check=True, timeout=600)
        self.port = _free_port()
        self.log = open(tmp / "web.log", "wb")  # noqa: SIM115  (closed in stop)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(self.port), "--http", "httptools",
             "--ws", "websockets", "--lifespan", "off", "--no-proxy-headers", "config.asgi:application"],
            cwd=root, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError((tmp / "web.log").read_text()[-2000:])
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=3):
                    return
            except urllib.error.HTTPError:
                return  # it answers (503: no Celery worker, which the canvas does not need)
            except OSError:
                time.sleep(0.5)
        raise RuntimeError("the server did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)
        self.log.close()


def _api(page: Any, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    return page.evaluate(
        """async ([method, path, body]) => {
          const csrf = (await (await fetch("/api/v1/auth/csrf/")).json()).csrfToken;
          const response = await fetch(path, { method, headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
                                               body: body ? JSON.stringify(body) : undefined });
          if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
          return response.json();
        }""",
        [method, path, body],
    )


def _percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def _longest(page: Any, since: float) -> float:
    tasks = page.evaluate("window.__probe.longtasks")
    return max((t["duration"] for t in tasks if t["start"] + t["duration"] >= since), default=0.0)


def _wait_layout_done(page: Any) -> None:
    # A layout in progress says so (data-testid="layout-progress"); a synchronous one is over already.
    page.wait_for_timeout(200)
    page.wait_for_function("!document.querySelector('[data-testid=\"layout-progress\"]')", timeout=120000)


def _edit_latencies(page: Any, node: str, edits: int) -> tuple[list[float], list[float], list[float]]:
    """Edit→shape and undo→shape times, and the round trips of the validate requests the edits
    sent (resource timing: request start to response end, the server's share)."""
    page.get_by_test_id(f"node-{node}").locator(".layer-node__header").click()
    field = page.get_by_test_id("param-out_channels").get_by_role("spinbutton")
    selector = f'[data-testid="shape-{node}-out"]'
    values = [20 + 4 * i for i in range(edits)]
    edit_ms: list[float] = []
    page.evaluate("performance.clearResourceTimings()")
    for value in values:
        field.fill(str(value))
        page.evaluate("([selector, text]) => { Object.assign(window.__probe, { want: { selector, text }, seen: null, key: null }); }",
                      [selector, f"×{value}×"])
        field.press("Enter")
        page.wait_for_function("window.__probe.seen !== null", timeout=30000)
        edit_ms.append(page.evaluate("window.__probe.seen - window.__probe.key"))
    server = page.evaluate("performance.getEntriesByType('resource').filter((e) => e.name.endsWith('/graphs/validate/'))"
                           ".map((e) => e.responseEnd - e.startTime)")
    page.get_by_test_id("canvas").locator(".react-flow__pane").click(position={"x": 5, "y": 5})
    undo_ms: list[float] = []
    for previous in reversed(values[:-1]):
        page.evaluate("([selector, text]) => { Object.assign(window.__probe, { want: { selector, text }, seen: null, key: null }); }",
                      [selector, f"×{previous}×"])
        page.keyboard.press("Control+z")
        page.wait_for_function("window.__probe.seen !== null", timeout=30000)
        undo_ms.append(page.evaluate("window.__probe.seen - window.__probe.key"))
    return edit_ms, undo_ms, server


def _fps(page: Any) -> float:
    page.get_by_role("toolbar", name="Editor").get_by_role("button", name="Fit view", exact=True).click()
    page.wait_for_timeout(400)
    box = page.get_by_test_id("canvas").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    start = page.evaluate("[performance.now(), window.__probe.frames]")
    deadline = time.monotonic() + 2.0
    step = 0
    while time.monotonic() < deadline:
        page.mouse.move(x, y)
        page.mouse.wheel(0, -120 if step % 2 == 0 else 120)
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + 30, y + 20, steps=3)
        page.mouse.move(x, y, steps=3)
        page.mouse.up()
        step += 1
    end = page.evaluate("[performance.now(), window.__probe.frames]")
    return (end[1] - start[1]) / ((end[0] - start[0]) / 1000)


def bench_model(browser: Any, server: Server, label: str, source: dict[str, Any], node: str, edits: int,
                viewport: dict[str, int]) -> dict[str, Any]:
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(60000)
    page.goto(server.url + "/sign-up")
    page.get_by_label("Username").fill(f"bench_{uuid.uuid4().hex[:8]}")
    page.get_by_label("Password").fill("a-long-passphrase-9")
    page.get_by_role("button", name="Sign up", exact=True).click()
    page.get_by_role("heading", name="Projects").wait_for()
    project = _api(page, "POST", "/api/v1/projects/", {"name": "Bench"})
    kind = "from-template" if "template" in source else "from-torchvision"
    graph = _api(page, "POST", f"/api/v1/graphs/{kind}/", {"project": project["id"], **source})
    # The first opening of a freshly made graph, as a person who just imported it sees it.
    result: dict[str, Any] = {"model": label}
    page.add_init_script(PROBE)
    page.goto(f"{server.url}/projects/{project['id']}/graphs/{graph['id']}")
    page.wait_for_function("window.__probe.shapes !== null", timeout=120000)
    page.wait_for_timeout(1000)
    probe = page.evaluate("window.__probe")
    result["first_render_ms"] = probe["firstNode"]
    result["shapes_ms"] = probe["shapes"]
    result["longtask_open_ms"] = max((t["duration"] for t in probe["longtasks"]), default=0.0)
    edit_ms, undo_ms, server_ms = _edit_latencies(page, node, edits)
    result["edit_median_ms"], result["edit_p95_ms"] = _percentiles(edit_ms)
    result["validate_median_ms"], result["validate_p95_ms"] = _percentiles(server_ms) if server_ms else (0.0, 0.0)
    result["undo_median_ms"], result["undo_p95_ms"] = _percentiles(undo_ms)
    page.get_by_test_id("canvas").locator(".react-flow__pane").click(position={"x": 5, "y": 5})
    since = page.evaluate("performance.now()")
    page.keyboard.press("l")
    _wait_layout_done(page)
    page.wait_for_timeout(1000)
    result["longtask_layout_ms"] = _longest(page, since)
    result["fps"] = _fps(page)
    cdp = context.new_cdp_session(page)
    cdp.send("HeapProfiler.collectGarbage")
    page.wait_for_timeout(200)
    result["heap_mb"] = cdp.send("Runtime.getHeapUsage")["usedSize"] / 2**20
    context.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the tree to serve (its frontend/dist built)")
    parser.add_argument("--baseline", type=Path, help="another tree (a copy of the code before a change, its "
                        "frontend built) measured in the same run, model by model, for ratios")
    parser.add_argument("--edits", type=int, default=12, help="edits (and undos) timed per model")
    parser.add_argument("--models", default=",".join(m[0] for m in MODELS), help="comma-separated labels")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"canvas bench: needs Debian's Chromium at {CHROMIUM}")
    trees = {"baseline": args.baseline, "this tree": args.root} if args.baseline else {"this tree": args.root}
    for tree in trees.values():
        if not (tree / "frontend" / "dist" / "index.html").exists():
            sys.exit(f"canvas bench: build the frontend first (npm --prefix {tree / 'frontend'} run build)")
    from playwright.sync_api import sync_playwright

    wanted = set(args.models.split(","))
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    with tempfile.TemporaryDirectory(prefix="vmb-canvas-bench-") as tmp:
        servers: dict[str, Server] = {}
        try:
            for i, (name, tree) in enumerate(trees.items()):
                (Path(tmp) / str(i)).mkdir()
                servers[name] = Server(tree.resolve(), Path(tmp) / str(i))
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                # Model by model, the baseline just before this tree: both see the same machine load.
                for label, source, node in MODELS:
                    if label not in wanted:
                        continue
                    for name in trees:
                        result = bench_model(browser, servers[name], label, source, node, args.edits,
                                             {"width": 1440, "height": 900})
                        results[name].append(result)
                        print(f"{name:>9}: {_line(result)}", flush=True)
                    if args.baseline:
                        print(f"    ratio: {_ratios(results['baseline'][-1], results['this tree'][-1])}", flush=True)
                browser.close()
        finally:
            for server in servers.values():
                server.stop()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


RATIO_KEYS = [("first render", "first_render_ms"), ("shapes", "shapes_ms"), ("longest task open", "longtask_open_ms"),
              ("Auto layout", "longtask_layout_ms"), ("edit p95", "edit_p95_ms"), ("undo p95", "undo_p95_ms"),
              ("FPS", "fps"), ("heap", "heap_mb")]


def _ratios(before: dict[str, Any], after: dict[str, Any]) -> str:
    """This tree's figures over the baseline's (below 1: less time, or fewer frames and bytes)."""
    parts = []
    for label, key in RATIO_KEYS:
        parts.append(f"{label} ×{after[key] / before[key]:.2f}" if before[key] else f"{label} {after[key]:.0f} (baseline 0)")
    return " · ".join(parts) + " (this tree / baseline)"


def _line(r: dict[str, Any]) -> str:
    return (f"canvas {r['model']:<13} first render {r['first_render_ms']:6.0f} ms · shapes {r['shapes_ms']:6.0f} ms · "
            f"longest task open {r['longtask_open_ms']:5.0f} ms, Auto layout {r['longtask_layout_ms']:5.0f} ms · "
            f"edit→shape {r['edit_median_ms']:4.0f}/{r['edit_p95_ms']:4.0f} ms (validate round trip "
            f"{r['validate_median_ms']:3.0f}/{r['validate_p95_ms']:3.0f}) · undo→shape "
            f"{r['undo_median_ms']:4.0f}/{r['undo_p95_ms']:4.0f} ms (median/p95) · "
            f"{r['fps']:4.0f} FPS · heap {r['heap_mb']:5.1f} MB")


if __name__ == "__main__":
    main()
