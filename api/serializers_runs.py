"""Request and response shapes for training runs. Rules live in builder.run_services."""
from __future__ import annotations

from rest_framework import serializers

from builder.run_models import RunArtifact, RunEvent, TrainingRun

from .serializers import UserRefSerializer


class RunCreateSerializer(serializers.Serializer):
    graph_version = serializers.IntegerField(min_value=1, help_text="Id of the graph version to train.")
    dataset_version = serializers.IntegerField(min_value=1, help_text="Id of the dataset version to train on.")
    config = serializers.JSONField(required=False, default=dict,
                                   help_text="Run configuration; see docs/guides/training.md.")

    def validate_config(self, value: object) -> object:
        if not isinstance(value, dict):
            raise serializers.ValidationError("must be a JSON object")
        return value


class RunEstimateSerializer(serializers.Serializer):
    config = serializers.JSONField(help_text="The run configuration with its defaults filled in.")
    plan = serializers.JSONField(help_text="Input resize, classes, FLOPs, parameters and the memory estimate "
                                           "({precision, estimated_bytes, device_bytes}).")


class TrainingRunSerializer(serializers.ModelSerializer):
    created_by = UserRefSerializer(read_only=True)
    graph = serializers.IntegerField(source="graph_version.graph_id", read_only=True,
                                     help_text="Id of the graph the trained version belongs to.")
    has_artifact = serializers.SerializerMethodField()

    class Meta:
        model = TrainingRun
        fields = ["id", "project", "graph", "graph_version", "dataset_version", "resumed_from", "config", "plan", "status",
                  "cancel_requested", "attempts", "worker", "heartbeat_at", "epoch", "step", "progress", "metrics",
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


class RunEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = RunEvent
        fields = ["id", "type", "data", "created_at"]
        read_only_fields = fields


class RunArtifactSerializer(serializers.ModelSerializer):
    class Meta:
        model = RunArtifact
        fields = ["run", "graph_version", "weights_path", "weights_sha256", "metrics", "config", "preprocessing",
                  "classes", "created_at"]
        read_only_fields = fields


class EventsQuerySerializer(serializers.Serializer):
    after = serializers.IntegerField(min_value=0, required=False, default=0,
                                     help_text="Only events with a larger id.")
    limit = serializers.IntegerField(min_value=1, max_value=5000, required=False, default=1000)
