"""Request and response shapes for uploads and datasets. Rules live in domain.datasets.services."""
from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.fields import IdField, ModelSerializer
from api.projects.serializers import ProjectResourceSerializer, UserRefSerializer
from domain.datasets.models import Dataset, DatasetKind, DatasetSample, DatasetVersion, Upload
from pipelines.datasets.samples import SAMPLES


class UploadSerializer(ModelSerializer):
    class Meta:
        model = Upload
        fields = ["id", "filename", "length", "offset", "status", "created_at", "updated_at"]
        read_only_fields = fields


class DatasetVersionRefSerializer(ModelSerializer):
    has_warnings = serializers.BooleanField(read_only=True, help_text="succeeded, but some files were skipped")

    class Meta:
        model = DatasetVersion
        fields = ["id", "number", "status", "has_warnings", "sample_count", "skipped_total", "created_at"]
        read_only_fields = fields


class DatasetSerializer(ProjectResourceSerializer):
    fixed_after_create = ("kind",)
    kind = serializers.ChoiceField(choices=DatasetKind.choices)
    created_by = UserRefSerializer(read_only=True)
    latest_version = serializers.SerializerMethodField()
    augmentation = serializers.JSONField(required=False)

    class Meta:
        model = Dataset
        fields = ["id", "project", "name", "description", "kind", "augmentation", "created_by",
                  "created_at", "updated_at", "latest_version"]
        read_only_fields = ["id", "created_by", "created_at", "updated_at", "latest_version"]

    @extend_schema_field(DatasetVersionRefSerializer(allow_null=True))
    def get_latest_version(self, dataset: Dataset) -> dict[str, Any] | None:
        latest = dataset.versions.order_by("-number").first()
        return DatasetVersionRefSerializer(latest).data if latest else None


class DatasetVersionSerializer(ModelSerializer):
    created_by = UserRefSerializer(read_only=True)
    upload = serializers.UUIDField(source="upload_id", read_only=True)
    has_warnings = serializers.BooleanField(read_only=True, help_text="succeeded, but some files were skipped "
                                            "(`skipped` says which and why)")

    class Meta:
        model = DatasetVersion
        fields = ["id", "dataset", "number", "upload", "sample_source", "source_name", "options", "status",
                  "has_warnings", "progress", "error", "skipped", "skipped_total", "task", "classes", "sample_count", "stats",
                  "recipe", "created_by", "created_at", "started_at", "finished_at"]
        read_only_fields = fields


class DatasetVersionListSerializer(DatasetVersionSerializer):
    """Lists leave out the (possibly large) skipped list, statistics and recipe."""

    class Meta(DatasetVersionSerializer.Meta):
        fields = ["id", "dataset", "number", "upload", "sample_source", "source_name", "options", "status",
                  "has_warnings", "progress", "error", "skipped_total", "task", "classes", "sample_count", "created_by",
                  "created_at", "started_at", "finished_at"]


class DatasetVersionCreateSerializer(serializers.Serializer):
    upload = serializers.UUIDField(help_text="id of a complete upload (from POST /uploads/)")
    options = serializers.JSONField(required=False, default=dict,
                                    help_text="ingest options of the dataset's kind (see docs/guides/datasets.md)")


class SampleDatasetCreateSerializer(serializers.Serializer):
    project = IdField()
    sample = serializers.ChoiceField(choices=sorted(SAMPLES))
    name = serializers.CharField(max_length=200, required=False, default="")


class DatasetSampleSerializer(ModelSerializer):
    class Meta:
        model = DatasetSample
        fields = ["index", "name", "label", "target", "group", "split", "meta"]
        read_only_fields = fields


class PreviewQuerySerializer(serializers.Serializer):
    window = serializers.ChoiceField(choices=["lung", "mediastinum", "bone", "brain", "custom"], required=False)
    center = serializers.FloatField(required=False, min_value=-4000, max_value=4000)
    width = serializers.FloatField(required=False, min_value=1, max_value=10000)
    slice = serializers.IntegerField(required=False, min_value=0, max_value=4096)
    size = serializers.IntegerField(required=False, min_value=16, max_value=512)
    overlay = serializers.BooleanField(required=False, default=True,
                                       help_text="segmentation: draw the mask over the image (default true)")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("window") == "custom" and ("center" not in attrs or "width" not in attrs):
            raise serializers.ValidationError({"center": ["a custom window needs center and width"]})
        return attrs
