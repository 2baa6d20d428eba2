"""Models (trained, pruned, int8), their exports and deployments. Views are thin; rules are in
domain.deploy.services; the heavy work runs in pipelines/tasks_deploy.py."""
from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from api.deploy.serializers import (
    DeploymentKeySerializer,
    DeploymentSerializer,
    DeployRequestSerializer,
    EngineExportQuerySerializer,
    ExportRequestSerializer,
    KeyRequestSerializer,
    ModelExportSerializer,
    ModelVariantSerializer,
    PruneRequestSerializer,
    QuantizeRequestSerializer,
    VariantFromRunSerializer,
)
from domain.deploy import engines as deploy_engines
from domain.deploy import services as deploy_services
from domain.deploy import serving as deploy_serving
from domain.deploy.models import Deployment, DeploymentKey, ModelExport, ModelVariant
from domain.runs import services as run_services
from domain.runs.models import RunArtifact
from pipelines.export import engines

_WithKey = inline_serializer("DeploymentWithKey", {"deployment": DeploymentSerializer(),
                                                   "api_key": serializers.CharField()})
_KeyWithSecret = inline_serializer("DeploymentKeyWithSecret", {"key": DeploymentKeySerializer(),
                                                               "api_key": serializers.CharField()})


def _valid(serializer_class: type, data: object) -> dict:
    body = serializer_class(data=data)
    body.is_valid(raise_exception=True)
    return dict(body.validated_data)


class ModelVariantViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ModelVariantSerializer
    filterset_fields = {"project": ["exact"], "kind": ["exact"], "status": ["exact"]}

    def get_queryset(self) -> QuerySet[ModelVariant]:
        if getattr(self, "swagger_fake_view", False):
            return ModelVariant.objects.none()
        return deploy_services.visible_variants(self.request.user).select_related("artifact")

    @extend_schema(request=VariantFromRunSerializer, responses={201: ModelVariantSerializer})
    def create(self, request: Request) -> Response:
        """The trained model of a run as a model that can be pruned, quantized, exported and deployed."""
        data = _valid(VariantFromRunSerializer, request.data)
        artifact = RunArtifact.objects.select_related("run__project", "graph_version__graph").filter(
            run_id=data["run"], run__in=run_services.visible_runs(request.user)).first()
        if artifact is None:
            raise ValidationError({"run": ["no finished run of yours with a trained model has this id"]})
        variant = deploy_services.variant_from_artifact(request.user, artifact)
        return Response(ModelVariantSerializer(variant).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=PruneRequestSerializer, responses={202: ModelVariantSerializer})
    @action(detail=True, methods=["post"])
    def prune(self, request: Request, pk: str | None = None) -> Response:
        data = _valid(PruneRequestSerializer, request.data)
        variant = deploy_services.request_prune(request.user, self.get_object(), data["config"])
        return Response(ModelVariantSerializer(variant).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=QuantizeRequestSerializer, responses={202: ModelVariantSerializer})
    @action(detail=True, methods=["post"])
    def quantize(self, request: Request, pk: str | None = None) -> Response:
        data = _valid(QuantizeRequestSerializer, request.data)
        variant = deploy_services.request_quantize(request.user, self.get_object(), data["mode"],
                                                   data["calibration_samples"])
        return Response(ModelVariantSerializer(variant).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=ExportRequestSerializer, responses={202: ModelExportSerializer})
    @action(detail=True, methods=["post"])
    def exports(self, request: Request, pk: str | None = None) -> Response:
        data = _valid(ExportRequestSerializer, request.data)
        export = deploy_services.request_export(request.user, self.get_object(), data["format"])
        return Response(ModelExportSerializer(export).data, status=status.HTTP_202_ACCEPTED)


class ModelExportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ModelExportSerializer
    filterset_fields = {"variant": ["exact"], "format": ["exact"], "status": ["exact"]}

    def get_queryset(self) -> QuerySet[ModelExport]:
        if getattr(self, "swagger_fake_view", False):
            return ModelExport.objects.none()
        return deploy_services.visible_exports(self.request.user)

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    @action(detail=True, methods=["get"])
    def download(self, request: Request, pk: str | None = None) -> FileResponse:
        export = self.get_object()
        path = deploy_services.export_file(export)
        if path is None:
            raise NotFound(f"export {export.pk} has no file ({export.status})")
        return FileResponse(open(path, "rb"), as_attachment=True, filename=f"model-{export.variant_id}-{path.name}")


class DeploymentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = DeploymentSerializer
    filterset_fields = {"project": ["exact"], "status": ["exact"]}

    def get_queryset(self) -> QuerySet[Deployment]:
        if getattr(self, "swagger_fake_view", False):
            return Deployment.objects.none()
        return deploy_services.visible_deployments(self.request.user)

    # The requests serving processes pushed to Redis (every counts.FLUSH_EVERY_S) are folded into
    # the counters first, so the figures shown are never older than that.
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        deploy_serving.fold_counts()
        return super().list(request, *args, **kwargs)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        deploy_serving.fold_counts()
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(request=DeployRequestSerializer, responses={201: _WithKey})
    def create(self, request: Request) -> Response:
        """Deploy a model. The response holds the API key in clear, the only time it is shown."""
        data = _valid(DeployRequestSerializer, request.data)
        variant = deploy_services.visible_variants(request.user).filter(pk=data["model"]).first()
        if variant is None:
            raise ValidationError({"model": ["no model of yours has this id"]})
        deployment, key = deploy_services.deploy(request.user, variant, data["name"])
        return Response({"deployment": DeploymentSerializer(deployment).data, "api_key": key},
                        status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: DeploymentSerializer})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        """Undeploy: the endpoint stops answering and serving processes drop the model."""
        deployment = deploy_services.undeploy(request.user, self.get_object())
        return Response(DeploymentSerializer(deployment).data)

    @extend_schema(parameters=[EngineExportQuerySerializer], responses={
        (200, content_type): OpenApiResponse(bytes, description="target=triton: a zip of a Triton model repository; "
                                                                "target=kserve: an InferenceService (YAML)")
        for content_type in ("application/zip", "application/yaml")})
    @action(detail=True, methods=["get"], url_path="export", filter_backends=[], pagination_class=None)
    def export(self, request: Request, pk: str | None = None) -> FileResponse:
        """The live deployment for another serving engine (docs/guides/deploying.md): a Triton model
        repository of the ONNX model it serves, or a KServe InferenceService that loads it."""
        deployment = self.get_object()
        query = _valid(EngineExportQuerySerializer, request.query_params)
        if query["target"] == "triton":
            options = engines.TritonOptions(query["max_batch_size"], query["max_queue_delay_us"])
            result = deploy_engines.triton_repository(deployment, options)
        else:
            result = deploy_engines.kserve_manifest(deployment, query["storage_uri"], query["runtime"],
                                                    query.get("namespace"))
        return FileResponse(result.file, as_attachment=True, filename=result.filename,
                            content_type=result.content_type)

    @extend_schema(methods=["get"], responses={200: DeploymentKeySerializer(many=True)})
    @extend_schema(methods=["post"], request=KeyRequestSerializer, responses={201: _KeyWithSecret})
    @action(detail=True, methods=["get", "post"], pagination_class=None, filter_backends=[])
    def keys(self, request: Request, pk: str | None = None) -> Response:
        deployment = self.get_object()
        if request.method == "GET":
            return Response(DeploymentKeySerializer(deployment.keys.all(), many=True).data)
        data = _valid(KeyRequestSerializer, request.data)
        key, secret = deploy_services.create_key(request.user, deployment, data["name"])
        return Response({"key": DeploymentKeySerializer(key).data, "api_key": secret}, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: DeploymentKeySerializer})
    @action(detail=True, methods=["post"], url_path=r"keys/(?P<key_id>\d+)/revoke", filter_backends=[])
    def revoke(self, request: Request, pk: str | None = None, key_id: str | None = None) -> Response:
        deployment = self.get_object()
        key = DeploymentKey.objects.filter(deployment=deployment, pk=key_id).first()
        if key is None:
            raise NotFound(f"deployment {deployment.pk} has no key {key_id}")
        return Response(DeploymentKeySerializer(deploy_services.revoke_key(request.user, key)).data)
