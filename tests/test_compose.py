"""docker-compose.yml keeps the production topology the docs promise (no Docker engine runs here)."""
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_compose_has_the_production_topology() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert {"db", "redis", "web", "worker-gpu", "worker-cpu", "migrate", "beat"} <= set(services)
    assert "beat" in services["beat"]["command"]
    assert services["db"]["image"].startswith("postgres")
    assert services["redis"]["image"].startswith("redis")
    gpu = services["worker-gpu"]
    assert gpu["command"][gpu["command"].index("-Q") + 1] == "gpu"
    device = gpu["deploy"]["resources"]["reservations"]["devices"][0]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
    cpu = services["worker-cpu"]
    assert cpu["command"][cpu["command"].index("-Q") + 1] == "cpu"
    env = services["web"]["environment"]
    for name in ["DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS", "VMB_STORAGE_BACKEND"]:
        assert name in env, name
    assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.production"


def test_every_compose_variable_is_documented() -> None:
    readme = (ROOT / "README.md").read_text()
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name in services["web"]["environment"]:
        if name not in {"DJANGO_SETTINGS_MODULE"}:
            assert f"`{name}`" in readme, f"{name} is not in the README's configuration table"
