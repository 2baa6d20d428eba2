"""Manifests read through the engines' own generated API models: the Kubernetes Python client's
for built-in kinds, the KServe SDK's for ``InferenceService``. Unknown or misspelt fields fail, as
missing required ones and wrong types do: the Kubernetes client's models are Pydantic models that
forbid extra fields; KServe's older generated models skip keys they do not know, so a manifest
must also serialize back through them with every field it sent (defaults may be added)."""
from __future__ import annotations

import importlib
import importlib.util
import json
import sys
import types
from typing import Any

# apiVersion and kind -> the Kubernetes client's model class.
K8S_MODELS = {
    ("v1", "ConfigMap"): "V1ConfigMap", ("v1", "Secret"): "V1Secret", ("v1", "Service"): "V1Service",
    ("v1", "PersistentVolumeClaim"): "V1PersistentVolumeClaim", ("apps/v1", "Deployment"): "V1Deployment",
    ("batch/v1", "Job"): "V1Job", ("networking.k8s.io/v1", "Ingress"): "V1Ingress",
}


def kubernetes_model(data: dict[str, Any]) -> Any:
    """A built-in Kubernetes object as its client model (``K8S_MODELS``); raises Pydantic's
    ``ValidationError`` naming the path of an unknown field, a missing one or a wrong type."""
    import kubernetes.client

    model = K8S_MODELS.get((data.get("apiVersion"), data.get("kind")))
    assert model is not None, f"no client model listed for {data.get('apiVersion')} {data.get('kind')}"
    return getattr(kubernetes.client, model).model_validate(data)


class _Body:
    def __init__(self, data: Any) -> None:
        self.data = json.dumps(data)


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def _unknown(sent: Any, back: Any, path: str = "") -> list[str]:
    if isinstance(sent, dict) and isinstance(back, dict):
        return [p for k, v in sent.items()
                for p in (_unknown(v, back[k], f"{path}.{k}") if k in back else [f"{path}.{k}"])]
    if isinstance(sent, list) and isinstance(back, list) and len(sent) == len(back):
        return [p for i, (a, b) in enumerate(zip(sent, back, strict=True)) for p in _unknown(a, b, f"{path}[{i}]")]
    return [] if sent == back else [path or "."]


def kserve_models() -> types.ModuleType:
    """``kserve.api_client`` (and ``kserve.models``) without ``kserve/__init__.py``, which imports
    the SDK's model server (FastAPI, gRPC, OpenTelemetry, pandas) and wants a psutil older than our
    pin. Only the generated models are installed, with their few dependencies
    (docs/guides/deploying.md, "Validation")."""
    if "kserve" not in sys.modules:
        spec = importlib.util.find_spec("kserve")
        assert spec is not None and spec.submodule_search_locations is not None, "kserve is not installed"
        package = types.ModuleType("kserve")
        package.__path__ = list(spec.submodule_search_locations)
        package.__spec__ = spec
        sys.modules["kserve"] = package
    importlib.import_module("kserve.models")
    return importlib.import_module("kserve.api_client")


def inference_service(data: dict[str, Any]) -> Any:
    """An ``InferenceService`` as the KServe SDK's ``V1beta1InferenceService``. Its metadata is a
    Kubernetes ``V1ObjectMeta``, read by the Kubernetes client: the two SDKs' generators spell
    nested types differently (``dict(str, str)``, ``Dict[str, str]``), so neither reads the other's."""
    import kubernetes.client

    api = kserve_models().ApiClient()
    import kserve.models

    assert set(data) <= {"apiVersion", "kind", "metadata", "spec"}, f"unknown top-level fields in {sorted(data)}"
    metadata = kubernetes.client.V1ObjectMeta.model_validate(data["metadata"])
    spec = api.deserialize(_Body(data["spec"]), "V1beta1InferenceServiceSpec")
    unknown = _unknown(_drop_none(data["spec"]), api.sanitize_for_serialization(spec))
    assert not unknown, f"fields the KServe schema does not know (or read otherwise): {unknown}"
    return kserve.models.V1beta1InferenceService(api_version=data["apiVersion"], kind=data["kind"],
                                                 metadata=metadata, spec=spec)
