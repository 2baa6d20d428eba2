"""Request and response shapes for training runs. Rules live in domain.runs.services."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.fields import IdField, Int64Field, ModelSerializer
from api.projects.serializers import UserRefSerializer
from domain.runs.models import RunArtifact, RunEvent, TrainingRun
from pipelines.training.config import RunConfig


@extend_schema_field(RunConfig)
class RunConfigField(serializers.JSONField):
    """A run configuration: its JSON Schema is RunConfig's (pydantic), published in the OpenAPI
    schema so the browser's Train form and types come from it. The domain validates it
    (``domain.runs.services.plan_run``) and names the failing field."""


class RunCreateSerializer(serializers.Serializer):
    graph_version = IdField(help_text="Id of the graph version to train.")
    dataset_version = IdField(help_text="Id of the dataset version to train on.")
    config = RunConfigField(required=False, default=dict,
                            help_text="Run configuration; omitted fields take their defaults. See "
                                      "docs/guides/training.md.")

    def validate_config(self, value: object) -> object:
        if not isinstance(value, dict):
            raise serializers.ValidationError("must be a JSON object")
        return value


class RunEstimateSerializer(serializers.Serializer):
    config = RunConfigField(help_text="The run configuration with its defaults filled in.")
    plan = serializers.JSONField(help_text="Input resize, classes, FLOPs, parameters and the memory estimate "
                                           "({precision, estimated_bytes, device_bytes}).")


class RunNodeSerializer(serializers.Serializer):
    """One node of a multi-node run's current attempt (``domain.runs.nodes``)."""

    node = serializers.IntegerField(help_text="Its slot in the gang: 0 claimed the run and serves the rendezvous.")
    host = serializers.CharField(help_text="The worker's name (VMB_WORKER_NAME, else its host name).")
    address = serializers.CharField(help_text="The address the other nodes reach it at (VMB_NODE_ADDRESS).")
    pid = serializers.IntegerField(help_text="The worker process running this node's task.")
    devices = serializers.ListField(child=serializers.CharField(), help_text="The devices it leased.")


class TrainingRunSerializer(ModelSerializer):
    created_by = UserRefSerializer(read_only=True)
    nodes = RunNodeSerializer(many=True, read_only=True,
                              help_text="A multi-node run's nodes in its current attempt; empty on one node.")
    config = RunConfigField(read_only=True, help_text="The run configuration, defaults filled in.")
    graph = serializers.IntegerField(source="graph_version.graph_id", read_only=True,
                                     help_text="Id of the graph the trained version belongs to.")
    has_artifact = serializers.SerializerMethodField()

    class Meta:
        model = TrainingRun
        fields = ["id", "project", "graph", "graph_version", "dataset_version", "resumed_from", "config", "plan", "status",
                  "cancel_requested", "attempts", "worker", "nodes", "heartbeat_at", "epoch", "step", "progress", "metrics",
                  "best_metrics", "test_metrics", "precision", "error", "created_by", "created_at", "started_at",
                  "finished_at", "has_artifact"]
        read_only_fields = fields

    def get_has_artifact(self, run: TrainingRun) -> bool:
        return hasattr(run, "artifact")


class TrainingRunListSerializer(TrainingRunSerializer):
    class Meta(TrainingRunSerializer.Meta):
        fields = ["id", "project", "graph_version", "dataset_version", "status", "attempts", "epoch", "step",
                  "metrics", "created_by", "created_at", "started_at", "finished_at"]
        read_only_fields = fields


class RunEventSerializer(ModelSerializer):
    class Meta:
        model = RunEvent
        fields = ["id", "type", "data", "created_at"]
        read_only_fields = fields


class RunArtifactSerializer(ModelSerializer):
    class Meta:
        model = RunArtifact
        fields = ["run", "graph_version", "weights_path", "weights_sha256", "metrics", "config", "preprocessing",
                  "classes", "created_at"]
        read_only_fields = fields


class EventsQuerySerializer(serializers.Serializer):
    after = Int64Field(min_value=0, required=False, default=0,
                                     help_text="Only events with a larger id.")
    limit = serializers.IntegerField(min_value=1, max_value=5000, required=False, default=1000)
