"""The web process takes what it loaded at start out of the garbage collector's reach (config/asgi.py),
so a full collection during a request does not walk Django, the layer registry and torch, and
collects its youngest generation every 50,000 allocations."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import gc, sys
before = gc.get_freeze_count()
import config.asgi
print(before, gc.get_freeze_count(), len(gc.get_objects()), 'builder.graph.registry' in sys.modules, gc.get_threshold()[0])
"""


def test_the_asgi_app_freezes_what_it_loaded_at_start() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120, check=True).stdout.split()
    before, frozen, tracked, registry_loaded, gen0 = int(out[0]), int(out[1]), int(out[2]), out[3] == "True", int(out[4])
    assert before == 0
    assert registry_loaded  # the layer registry is among what was loaded, hence frozen
    assert frozen > 50_000  # Django, DRF, Channels and the graph core: tens of thousands of objects
    assert tracked < frozen / 10  # a full collection now walks a small fraction of the process
    assert gen0 == 50_000  # a large graph's validation (~100,000 objects) no longer sets off full collections
