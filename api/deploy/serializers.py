"""Request and response shapes for compressed models, exports and deployments. Rules live in
domain.deploy.services."""
from __future__ import annotations

from typing import Any

from rest_framework import serializers

from api.fields import IdField, ModelSerializer
from domain.deploy import engines as deploy_engines
from domain.deploy import services as deploy_services
from domain.deploy.models import Deployment, DeploymentKey, ModelExport, ModelVariant
from pipelines.export import engines


class VariantFromRunSerializer(serializers.Serializer):
    run = IdField(help_text="Id of a finished training run with a trained model.")


class PruneRequestSerializer(serializers.Serializer):
    config = serializers.JSONField(help_text="method (l1, l2, bn_scale, taylor), scope (uniform, global) and one of "
                                             "ratio, target_params or target_flops; see the guide.")

    def validate_config(self, value: object) -> object:
        if not isinstance(value, dict):
            raise serializers.ValidationError("must be a JSON object")
        return value


class QuantizeRequestSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(["auto", "dynamic", "static"], default="auto",
                                   help_text="auto: static for convolutional models, dynamic otherwise.")
    calibration_samples = serializers.IntegerField(min_value=1, max_value=4096, default=128)


class ExportRequestSerializer(serializers.Serializer):
    format = serializers.ChoiceField(list(deploy_services.EXPORT_FORMATS))


class DeployRequestSerializer(serializers.Serializer):
    model = IdField(help_text="Id of the model (variant) to serve.")
    name = serializers.SlugField(max_length=100, help_text="The endpoint name: /v2/models/<name>.")


class EngineExportQuerySerializer(serializers.Serializer):
    """``GET /deployments/<id>/export/``: the deployment for another serving engine."""

    target = serializers.ChoiceField(list(deploy_engines.TARGETS),
                                     help_text="triton: a zip of a Triton model repository; kserve: an "
                                               "InferenceService manifest (YAML).")
    max_batch_size = serializers.IntegerField(min_value=1, max_value=4096, default=32,
                                              help_text="triton: the largest batch Triton's dynamic batching forms.")
    max_queue_delay_us = serializers.IntegerField(min_value=0, max_value=10_000_000, default=100,
                                                  help_text="triton: how long dynamic batching waits to fill a batch.")
    storage_uri = serializers.RegexField(engines.STORAGE_URI, max_length=1000, required=False,
                                         help_text="kserve (required): where the model is stored, e.g. "
                                                   "s3://bucket/models/digits.")
    runtime = serializers.ChoiceField(list(engines.KSERVE_RUNTIMES), default="triton",
                                      help_text="kserve: triton (storage_uri holds the Triton repository) or "
                                                "onnx (storage_uri holds model.onnx).")
    namespace = serializers.RegexField(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", required=False,
                                       help_text="kserve: the Kubernetes namespace (omitted: kubectl's).")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["target"] == "kserve" and not attrs.get("storage_uri"):
            raise serializers.ValidationError({"storage_uri": ["required for target kserve, e.g. "
                                                               "s3://bucket/models/<name>"]})
        return attrs


class KeyRequestSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)


class ModelVariantSerializer(ModelSerializer):
    run = serializers.IntegerField(source="artifact.run_id", read_only=True)

    class Meta:
        model = ModelVariant
        fields = ["id", "project", "kind", "name", "run", "parent", "graph_version", "config", "status", "card",
                  "report", "error", "created_at", "finished_at"]
        read_only_fields = fields


class ModelExportSerializer(ModelSerializer):
    model = serializers.IntegerField(source="variant_id", read_only=True)
    download = serializers.SerializerMethodField()

    class Meta:
        model = ModelExport
        fields = ["id", "model", "format", "status", "verification", "error", "created_at", "finished_at", "download"]
        read_only_fields = fields

    def get_download(self, export: ModelExport) -> str | None:
        return f"/api/v1/exports/{export.pk}/download/" if export.status == "succeeded" else None


class DeploymentKeySerializer(ModelSerializer):
    class Meta:
        model = DeploymentKey
        fields = ["id", "name", "prefix", "created_at", "revoked_at"]
        read_only_fields = fields


class DeploymentSerializer(ModelSerializer):
    model = serializers.IntegerField(source="variant_id", read_only=True)
    url = serializers.SerializerMethodField()
    metrics = serializers.SerializerMethodField()

    class Meta:
        model = Deployment
        fields = ["id", "project", "model", "name", "version", "status", "url", "error", "max_body_bytes",
                  "rate_limit_per_minute", "metrics", "created_at", "ready_at", "stopped_at"]
        read_only_fields = fields

    def get_url(self, deployment: Deployment) -> str:
        return f"/v2/models/{deployment.name}"

    def get_metrics(self, deployment: Deployment) -> dict[str, Any]:
        return deploy_services.metrics(deployment)
