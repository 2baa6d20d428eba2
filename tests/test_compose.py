"""docker-compose.yml keeps the production topology the docs promise (no Docker engine runs here)."""
import re
import shutil
import subprocess
from pathlib import Path

import pytest
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
    assert command.startswith("sh -c exec uvicorn") and command.endswith("serving.app:application")  # no Django
    assert "--workers $${SERVING_WORKERS:-2}" in command or "--workers ${SERVING_WORKERS:-2}" in command
    # Scalable: no fixed host port or container name that a second replica would collide on.
    assert "ports" not in serving and "container_name" not in serving and "8000" in serving["expose"]
    assert "/v2/health/ready" in " ".join(serving["healthcheck"]["test"])
    assert serving["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert web["command"][0] == "uvicorn"  # the web process still answers /v2/ (the embedded default)


def test_every_compose_variable_is_documented() -> None:
    readme = (ROOT / "README.md").read_text()
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name in services["web"]["environment"]:
        if name not in {"DJANGO_SETTINGS_MODULE"}:
            assert f"`{name}`" in readme, f"{name} is not in the README's configuration table"


def _nginx_conf() -> str:
    return (ROOT / "deploy" / "nginx.conf").read_text()


def _location(conf: str, pattern: str) -> str:
    match = re.search(r"location " + pattern + r" \{(.*?)\n    \}", conf, re.S)
    assert match, f"no location {pattern} in deploy/nginx.conf"
    return match.group(1)


def test_web_streams_request_bodies() -> None:
    """daphne read whole bodies into memory before Django ran (issue 15): web is uvicorn, in compose
    and in the image, with WebSockets on, the same app, and no trust in forwarded headers."""
    web = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["web"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    cmd = dockerfile[dockerfile.index("CMD [") + 4:].replace("\\\n", "")
    image_command = yaml.safe_load(cmd)
    assert image_command == web["command"]
    assert web["command"][0] == "uvicorn" and web["command"][-1] == "config.asgi:application"
    assert web["command"][web["command"].index("--ws") + 1] == "websockets"
    assert "--no-proxy-headers" in web["command"]
    assert "daphne" not in dockerfile and "daphne" not in (ROOT / "docker-compose.yml").read_text()


def test_a_reverse_proxy_is_the_only_way_in() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    proxy = services["proxy"]
    assert proxy["image"].startswith("nginx:")  # the official image
    assert proxy["ports"] == ["${PORT:-8000}:8000"]
    assert "./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro" in proxy["volumes"]
    assert {"web", "serving"} <= set(proxy["depends_on"])
    assert "healthcheck" in proxy
    published = [name for name, service in services.items() if "ports" in service]
    assert published == ["proxy"], published
    assert "8000" in services["web"]["expose"]


def test_the_proxy_routes_v2_to_serving_and_the_rest_to_web_with_limits() -> None:
    conf = _nginx_conf()
    assert re.search(r"upstream vmb_web \{\s*server web:8000;", conf)
    assert re.search(r"upstream vmb_serving \{\s*server serving:8000;", conf)
    assert "proxy_pass http://vmb_serving;" in _location(conf, "/v2/")
    assert "proxy_pass http://vmb_web;" in _location(conf, "/")
    ws = _location(conf, "/ws/")
    assert "proxy_pass http://vmb_web;" in ws and "Upgrade $http_upgrade" in ws
    # Limits: the server-wide default is the tus chunk (16 MiB); only the market's imports take 2 GiB,
    # streamed to web unbuffered so that it refuses anonymous clients after its small limit.
    assert re.search(r"^    client_max_body_size 16m;", conf, re.M)
    assert "client_max_body_size 8m;" in _location(conf, "/v2/")
    market = _location(conf, r"~ \^/api/v1/market/import\(-torchvision\)\?/\$")
    assert "client_max_body_size 2g;" in market and "proxy_request_buffering off;" in market
    for timeout in ["client_header_timeout", "client_body_timeout", "send_timeout", "proxy_read_timeout",
                    "proxy_connect_timeout", "keepalive_timeout"]:
        assert re.search(rf"^    {timeout} \d+s;", conf, re.M), timeout
    # The client's own X-Forwarded-For never reaches the app.
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in conf


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed here")
def test_nginx_accepts_the_config(tmp_path: Path) -> None:
    # The compose host names resolve only on the compose network: point them at loopback.
    conf = _nginx_conf().replace("server web:8000", "server 127.0.0.1:1").replace("server serving:8000",
                                                                                  "server 127.0.0.1:2")
    (tmp_path / "default.conf").write_text(conf)
    temp = " ".join(f"{kind}_temp_path {tmp_path / kind};" for kind in
                    ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"])
    (tmp_path / "nginx.conf").write_text(
        f"error_log stderr; pid {tmp_path / 'nginx.pid'}; events {{}}\n"
        f"http {{ access_log off; {temp} include {tmp_path / 'default.conf'}; }}\n")
    result = subprocess.run(["nginx", "-t", "-c", str(tmp_path / "nginx.conf")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_web_trusts_the_proxy_hop_and_probes_with_an_allowed_host() -> None:
    """Behind nginx the client is the one address nginx writes (VMB_TRUSTED_PROXIES=1), and the
    health probe names an allowed host: a probe to 127.0.0.1 would get DisallowedHost (400)."""
    web = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["web"]
    assert web["environment"]["VMB_TRUSTED_PROXIES"] == "${VMB_TRUSTED_PROXIES:-1}"
    assert web["environment"]["ALLOWED_HOSTS"]  # the shared settings still reach web
    probe = " ".join(web["healthcheck"]["test"])
    assert "ALLOWED_HOSTS" in probe and "'Host'" in probe


def test_minio_is_the_object_store_of_the_minio_profile() -> None:
    """Issue 18: `COMPOSE_PROFILES=minio` adds an S3-compatible store; the bucket is made before the
    app starts, and the app's S3_* variables point at it unless set otherwise."""
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    minio, setup = services["minio"], services["minio-setup"]
    assert minio["image"].startswith("minio/minio") and minio["profiles"] == ["minio"]
    assert minio["command"][:2] == ["server", "/data"] and "healthcheck" in minio
    assert "ports" not in minio  # reached on the compose network only
    env = services["web"]["environment"]
    assert minio["environment"]["MINIO_ROOT_USER"] == env["S3_ACCESS_KEY_ID"] == "${S3_ACCESS_KEY_ID:-vmb}"
    assert minio["environment"]["MINIO_ROOT_PASSWORD"] == env["S3_SECRET_ACCESS_KEY"]
    assert env["S3_ENDPOINT_URL"] == "${S3_ENDPOINT_URL:-http://minio:9000}"
    assert {"S3_BUCKET", "S3_REGION"} <= set(env)
    # The one-shot makes the app's bucket once MinIO answers; every app process waits for it
    # (through migrate), and without the profile the wait is skipped (required: false).
    assert setup["image"].startswith("minio/mc") and setup["profiles"] == ["minio"]
    script = " ".join(setup["entrypoint"])
    assert "http://minio:9000" in script and 'mc mb --ignore-existing "vmb/$$S3_BUCKET"' in script
    assert setup["environment"]["S3_BUCKET"] == env["S3_BUCKET"]
    assert setup["depends_on"]["minio"]["condition"] == "service_healthy"
    wait = services["migrate"]["depends_on"]["minio-setup"]
    assert wait == {"condition": "service_completed_successfully", "required": False}
    assert "miniodata" in yaml.safe_load((ROOT / "docker-compose.yml").read_text())["volumes"]
