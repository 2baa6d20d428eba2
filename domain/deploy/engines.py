"""A live deployment exported for serving engines other than this app's: a Triton model
repository (a zip) or a KServe ``InferenceService`` (YAML). Built on request from the ONNX file
the deployment serves, so the engine runs exactly the model this app answers with."""
from __future__ import annotations

import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import yaml

from domain.deploy import store as deploy_store
from domain.deploy.models import Deployment
from domain.jobs.models import JobStatus
from domain.projects.services import DomainError
from pipelines.export import engines
from pipelines.export.package import ONNX_FILE, PackageError, read_card

TARGETS = ("triton", "kserve")


# What the manifest expects at its storage URI, said at its top (docs/guides/deploying.md).
_KSERVE_HEADER = {
    "triton": ("# KServe InferenceService for deployment {name!r}: upload the unzipped Triton repository\n"
               "# (GET .../export/?target=triton: {name}/config.pbtxt, {name}/1/model.onnx) to {uri}\n"
               "# then: kubectl apply -f this file\n"),
    "onnx": ("# KServe InferenceService for deployment {name!r}: upload model.onnx (from the Triton\n"
             "# repository's {name}/1/) to {uri}\n# then: kubectl apply -f this file\n"),
}


@dataclass
class EngineExport:
    """What to send back: an open file (closed by the response), its name and media type."""

    file: IO[bytes]
    filename: str
    content_type: str


def _served_onnx(deployment: Deployment) -> Path:
    if deployment.status != JobStatus.SUCCEEDED or not deployment.folder:
        raise DomainError("deployment", f"deployment {deployment.pk} is {deployment.status}, not live")
    try:  # with a shared object store this web process may not have the serving folder yet
        path = deploy_store.local_folder(deployment.folder) / ONNX_FILE
    except FileNotFoundError as exc:
        raise DomainError("deployment", f"the serving folder of deployment {deployment.pk} is missing") from exc
    if not path.is_file():
        raise DomainError("target", "this deployment serves its PyTorch bundle (its ONNX export did not pass the "
                                    "parity check), so there is no ONNX model for an engine to load")
    return path


def _engine_error(exc: engines.EngineExportError | PackageError) -> DomainError:
    field = exc.field if isinstance(exc, engines.EngineExportError) else "model"
    return DomainError(field, exc.message)


def triton_repository(deployment: Deployment, options: engines.TritonOptions) -> EngineExport:
    """A zip of a Triton model repository holding the deployment's model under its name, so
    Triton answers at the same ``/v2/models/<name>/infer``. Raises ``DomainError``."""
    onnx_path = _served_onnx(deployment)
    archive = tempfile.TemporaryFile()  # removed when the response closes it
    try:
        with tempfile.TemporaryDirectory(prefix="vmb-triton-") as staging:
            root = Path(staging)
            engines.write_triton_repository(onnx_path, read_card(onnx_path.parent), deployment.name, root, options)
            with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
                for file in sorted(root.rglob("*")):
                    if file.is_file():
                        zf.write(file, file.relative_to(root).as_posix())
    except (engines.EngineExportError, PackageError) as exc:
        archive.close()
        raise _engine_error(exc) from exc
    archive.seek(0)
    return EngineExport(archive, f"{deployment.name}-triton.zip", "application/zip")


def kserve_manifest(deployment: Deployment, storage_uri: str, runtime: str,
                    namespace: str | None = None) -> EngineExport:
    """An ``InferenceService`` serving the deployment's model from ``storage_uri`` (see
    ``pipelines.export.engines.kserve_inference_service``), as YAML. Raises ``DomainError``."""
    _served_onnx(deployment)
    try:
        manifest = engines.kserve_inference_service(deployment.name, storage_uri, runtime, namespace)
    except engines.EngineExportError as exc:
        raise _engine_error(exc) from exc
    text = _KSERVE_HEADER[runtime].format(name=deployment.name, uri=storage_uri) + yaml.safe_dump(manifest, sort_keys=False)
    archive = tempfile.TemporaryFile()
    archive.write(text.encode())
    archive.seek(0)
    return EngineExport(archive, f"{deployment.name}-inferenceservice.yaml", "application/yaml")
