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


def test_serving_is_its_own_scalable_service() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    serving, web = services["serving"], services["web"]
    assert serving["image"] == web["image"] and serving["environment"] == web["environment"]
    command = " ".join(serving["command"])
    assert command.startswith("sh -c exec uvicorn") and command.endswith("config.asgi:application")
    assert "--workers $${SERVING_WORKERS:-2}" in command or "--workers ${SERVING_WORKERS:-2}" in command
    # Scalable: no fixed host port or container name that a second replica would collide on.
    assert "ports" not in serving and "container_name" not in serving and "8000" in serving["expose"]
    assert "/v2/health/ready" in " ".join(serving["healthcheck"]["test"])
    assert serving["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert web["command"][0] == "daphne"  # the web process still answers /v2/ (the embedded default)


def test_every_compose_variable_is_documented() -> None:
    readme = (ROOT / "README.md").read_text()
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name in services["web"]["environment"]:
        if name not in {"DJANGO_SETTINGS_MODULE"}:
            assert f"`{name}`" in readme, f"{name} is not in the README's configuration table"
