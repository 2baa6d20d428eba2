"""deploy/k8s/base, the kustomize set for the whole app: every manifest reads as its Kubernetes
API model (unknown or misspelt fields fail), and its workloads run what docker-compose.yml and
the Dockerfile run, with the same image, settings and volume."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from tests.k8s_models import kubernetes_model

ROOT = Path(__file__).resolve().parent.parent
BASE = ROOT / "deploy" / "k8s" / "base"
# The compose services that are app workloads, and the manifest kind and name each becomes.
WORKLOADS = {"web": ("Deployment", "web"), "serving": ("Deployment", "serving"),
             "worker-cpu": ("Deployment", "worker-cpu"), "worker-gpu": ("Deployment", "worker-gpu"),
             "beat": ("Deployment", "beat"), "migrate": ("Job", "migrate")}


def _kustomization() -> dict[str, Any]:
    return yaml.safe_load((BASE / "kustomization.yaml").read_text())


def _documents() -> list[dict[str, Any]]:
    return [doc for name in _kustomization()["resources"]
            for doc in yaml.safe_load_all((BASE / name).read_text()) if doc]


def _compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _by_kind_name() -> dict[tuple[str, str], dict[str, Any]]:
    return {(doc["kind"], doc["metadata"]["name"]): doc for doc in _documents()}


def _pod(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["spec"]["template"]["spec"]


def test_the_kustomization_lists_every_manifest_once() -> None:
    kustomization = _kustomization()
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1" and kustomization["kind"] == "Kustomization"
    resources = kustomization["resources"]
    assert len(resources) == len(set(resources))
    assert sorted(resources) == sorted(p.name for p in BASE.glob("*.yaml") if p.name != "kustomization.yaml")


def test_every_manifest_reads_as_its_kubernetes_model() -> None:
    documents = _documents()
    assert {doc["kind"] for doc in documents} >= {"ConfigMap", "Secret", "Service", "PersistentVolumeClaim",
                                                  "Deployment", "Job", "Ingress"}
    for doc in documents:
        model = kubernetes_model(doc)
        assert model.metadata.name == doc["metadata"]["name"]


def test_a_misspelt_or_missing_field_fails() -> None:
    web = _by_kind_name()[("Deployment", "web")]
    misspelt = json.loads(json.dumps(web))
    _pod(misspelt)["containers"][0]["comand"] = _pod(misspelt)["containers"][0].pop("command")
    with pytest.raises(ValidationError, match="comand"):
        kubernetes_model(misspelt)
    nameless = json.loads(json.dumps(web))
    del _pod(nameless)["containers"][0]["name"]
    with pytest.raises(ValidationError, match="name"):
        kubernetes_model(nameless)


def test_workloads_run_what_compose_and_the_dockerfile_run() -> None:
    services, manifests = _compose()["services"], _by_kind_name()
    image, tag = services["web"]["image"].split(":")
    assert {"name": image, "newTag": tag} in _kustomization()["images"]
    for service, key in WORKLOADS.items():
        containers = _pod(manifests[key])["containers"]
        assert len(containers) == 1, service
        container = containers[0]
        assert services[service]["image"] == services["web"]["image"] and container["image"] == image, service
        # Compose escapes $ as $$ in commands; Kubernetes passes the command to sh as it is.
        expected = [part.replace("$$", "$") for part in services[service]["command"]]
        assert container["command"] == expected and "args" not in container, service
    dockerfile = (ROOT / "Dockerfile").read_text()
    cmd = re.search(r"^CMD (\[.*?\])\s*$", dockerfile.replace("\\\n", " "), re.MULTILINE | re.DOTALL)
    assert cmd is not None and _pod(manifests[WORKLOADS["web"]])["containers"][0]["command"] == json.loads(cmd.group(1))
    assert "USER vmb" in dockerfile and "--uid 1000" in dockerfile
    for key in WORKLOADS.values():
        assert _pod(manifests[key])["securityContext"]["runAsUser"] == 1000


def test_every_setting_compose_gives_the_app_is_in_the_config_or_the_secret() -> None:
    environment = _compose()["x-app"]["environment"]
    manifests = _by_kind_name()
    config = manifests[("ConfigMap", "vmb-config")]["data"]
    secret = manifests[("Secret", "vmb-secrets")]["stringData"]
    assert set(environment) <= set(config) | set(secret), set(environment) - set(config) - set(secret)
    assert not set(config) & set(secret)
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "S3_SECRET_ACCESS_KEY"} <= set(secret)
    assert config["DJANGO_SETTINGS_MODULE"] == environment["DJANGO_SETTINGS_MODULE"]
    media = config["MEDIA_ROOT"]
    assert media == environment["MEDIA_ROOT"]
    for service, key in WORKLOADS.items():
        container = _pod(manifests[key])["containers"][0]
        assert {"configMapRef": {"name": "vmb-config"}} in container["envFrom"], service
        assert {"secretRef": {"name": "vmb-secrets"}} in container["envFrom"], service
        if service != "beat":  # beat keeps no files (compose mounts the volume on every app service alike)
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            claims = {v["name"]: v.get("persistentVolumeClaim", {}).get("claimName") for v in _pod(manifests[key])["volumes"]}
            assert claims[mounts[media]] == "vmb-media", service


def test_postgres_and_redis_are_external_services_the_urls_name() -> None:
    manifests = _by_kind_name()
    secret = manifests[("Secret", "vmb-secrets")]["stringData"]
    for name, url in (("vmb-postgres", secret["DATABASE_URL"]), ("vmb-redis", secret["REDIS_URL"])):
        service = manifests[("Service", name)]["spec"]
        assert service["type"] == "ExternalName" and service["externalName"]
        assert f"@{name}:" in url or f"//{name}:" in url
    assert not any(doc["kind"] == "StatefulSet" for doc in _documents())


def test_the_gpu_worker_asks_for_a_gpu_and_beat_never_runs_twice() -> None:
    manifests = _by_kind_name()
    gpu = _pod(manifests[("Deployment", "worker-gpu")])["containers"][0]
    assert gpu["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert "nvidia.com/gpu" not in json.dumps(_pod(manifests[("Deployment", "worker-cpu")]))
    beat = manifests[("Deployment", "beat")]["spec"]
    assert beat["replicas"] == 1 and beat["strategy"]["type"] == "Recreate"


def test_the_ingress_routes_v2_to_serving_and_the_rest_to_web() -> None:
    rule = _by_kind_name()[("Ingress", "vmb")]["spec"]["rules"][0]
    routes = {p["path"]: p["backend"]["service"]["name"] for p in rule["http"]["paths"]}
    assert routes == {"/v2/": "serving", "/": "web"}


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed here")
def test_kustomize_builds_the_set_with_the_compose_image() -> None:
    built = subprocess.run(["kubectl", "kustomize", str(BASE)], capture_output=True, text=True, timeout=60, check=True)
    documents = [doc for doc in yaml.safe_load_all(built.stdout) if doc]
    assert len(documents) == len(_documents())
    image = _compose()["services"]["web"]["image"]
    for doc in documents:
        kubernetes_model(doc)
        if doc["kind"] in ("Deployment", "Job"):
            assert _pod(doc)["containers"][0]["image"] == image
            assert doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == "visual-model-builder"
