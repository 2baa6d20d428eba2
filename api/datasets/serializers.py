"""Request and response shapes for uploads and datasets. Rules live in domain.datasets.services."""
from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.fields import IdField, ModelSerializer
from api.projects.serializers import GraphVersionRefSerializer, ProjectResourceSerializer, UserRefSerializer
from domain.datasets.models import Dataset, DatasetKind, DatasetSample, DatasetVersion, Upload
from pipelines.datasets.samples import SAMPLES


class UploadSerializer(ModelSerializer):
    class Meta:
        model = Upload
        fields = ["id", "filename", "length", "offset", "status", "created_at", "updated_at"]
        read_only_fields = fields


class DatasetVersionRefSerializer(ModelSerializer):
    has_warnings = serializers.BooleanField(read_only=True, help_text="succeeded, but some files were skipped")
    task = serializers.CharField(read_only=True, help_text="classification, regression or segmentation: the task a "
                                 "run on this version must have ('' until the ingest has read the data)")

    class Meta:
        model = DatasetVersion
        fields = ["id", "number", "status", "has_warnings", "task", "sample_count", "skipped_total", "created_at"]
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


class DeidentificationSerializer(serializers.Serializer):
    originals = serializers.ChoiceField(choices=["deleted", "deidentified_copies_kept"],
                                        help_text="what became of the uploaded files after the ingest")
    profile = serializers.CharField(help_text="the de-identification profile of the kept copies ('' when deleted)")
    kept_files = serializers.IntegerField()
    derived = serializers.CharField(help_text="what the preprocessed cache keeps of the patient")


class SeriesWarningSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=["single_slice", "irregular_spacing", "missing_slices", "mixed_orientation",
                                            "non_axial", "gantry_tilt", "no_positions"])
    message = serializers.CharField()
    gaps_mm = serializers.ListField(child=serializers.ListField(child=serializers.FloatField()), required=False,
                                    help_text="missing_slices: [from, to] positions of each wide gap")
    positions_mm = serializers.ListField(child=serializers.FloatField(), required=False,
                                         help_text="irregular_spacing: the slice positions along the normal")


class SeriesReportSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="the sample's name, e.g. 'series 3 (normal)'")
    series = serializers.CharField(help_text="pseudonym of the series")
    patient = serializers.CharField(help_text="pseudonym of the patient")
    label = serializers.CharField()
    slices = serializers.IntegerField()
    spacing_mm = serializers.ListField(child=serializers.FloatField())
    thickness_mm = serializers.FloatField(allow_null=True)
    sample = serializers.IntegerField(required=False, help_text="index of the series' sample (its first slice in 2d mode)")
    study = serializers.CharField(required=False, help_text="pseudonym of the study")
    orientation = serializers.CharField(required=False, help_text="axial, coronal or sagittal (oblique when over 1° "
                                        "off), mixed, or unknown")
    hu_range = serializers.ListField(child=serializers.FloatField(), required=False,
                                     help_text="[lowest, highest] HU of the series' slices as read")
    kvp = serializers.FloatField(required=False, allow_null=True, help_text="tube voltage (KVP)")
    extent_mm = serializers.ListField(child=serializers.FloatField(), required=False,
                                      help_text="the stack's size along the normal, the rows and the columns")
    warnings = SeriesWarningSerializer(many=True)


class SplitWarningSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=["empty_train_split", "empty_val_split", "empty_test_split",
                                            "small_dataset"])
    split = serializers.CharField(help_text="train, val or test; '' for the whole dataset")
    message = serializers.CharField()


class DatasetVersionSerializer(ModelSerializer):
    created_by = UserRefSerializer(read_only=True)
    upload = serializers.UUIDField(source="upload_id", read_only=True, allow_null=True,
                                   help_text="null once a DICOM upload was deleted after its ingest")
    has_warnings = serializers.BooleanField(read_only=True, help_text="succeeded, but some files were skipped "
                                            "(`skipped` says which and why) or some series warned (`series`)")
    deidentification = serializers.SerializerMethodField()
    series = serializers.SerializerMethodField()
    split_warnings = serializers.SerializerMethodField()

    class Meta:
        model = DatasetVersion
        fields = ["id", "dataset", "number", "upload", "sample_source", "source_name", "options", "status",
                  "has_warnings", "progress", "error", "skipped", "skipped_total", "task", "classes", "sample_count", "stats",
                  "recipe", "deidentification", "series", "split_warnings", "created_by", "created_at", "started_at",
                  "finished_at"]
        read_only_fields = fields

    @extend_schema_field(DeidentificationSerializer(allow_null=True))
    def get_deidentification(self, version: DatasetVersion) -> dict[str, Any] | None:
        """CT from DICOM: what became of the originals and the profile used; null for other kinds."""
        return (version.stats or {}).get("deidentification")

    @extend_schema_field(SeriesReportSerializer(many=True))
    def get_series(self, version: DatasetVersion) -> list[dict[str, Any]]:
        """CT from DICOM: each series with its geometry and the warnings about it."""
        return list((version.stats or {}).get("series", []))

    @extend_schema_field(SplitWarningSerializer(many=True))
    def get_split_warnings(self, version: DatasetVersion) -> list[dict[str, Any]]:
        """An empty split, or too few patients (groups) for trustworthy metrics."""
        return list((version.stats or {}).get("split_warnings", []))


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


class SplitPreviewRequestSerializer(DatasetVersionCreateSerializer):
    """The upload and options a version would be created with."""


class SplitPreviewSizeSerializer(serializers.Serializer):
    samples = serializers.IntegerField()
    groups = serializers.IntegerField(help_text="patients for DICOM")


class SplitPreviewSerializer(serializers.Serializer):
    available = serializers.BooleanField(help_text="false where only the ingest can count (tables, text)")
    reason = serializers.CharField(required=False)
    grouped_by = serializers.CharField(required=False)
    groups = serializers.IntegerField(required=False)
    splits = serializers.DictField(child=SplitPreviewSizeSerializer(), required=False,
                                   help_text="train, val and test")
    warnings = SplitWarningSerializer(many=True, required=False)
    files_read = serializers.IntegerField(required=False)
    files_unread = serializers.IntegerField(required=False)


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


class PlaneQuerySerializer(serializers.Serializer):
    plane = serializers.ChoiceField(choices=["axial", "coronal", "sagittal"])
    slice = serializers.IntegerField(required=False, min_value=0, max_value=4096,
                                     help_text="the slice in that plane; default the middle one")
    window = serializers.ChoiceField(choices=["lung", "mediastinum", "bone", "brain", "custom"], default="lung")
    center = serializers.FloatField(required=False, min_value=-4000, max_value=4000)
    width = serializers.FloatField(required=False, min_value=1, max_value=10000)
    size = serializers.IntegerField(required=False, min_value=16, max_value=512, default=256,
                                    help_text="the longer side of the PNG in pixels")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("window") == "custom" and ("center" not in attrs or "width" not in attrs):
            raise serializers.ValidationError({"center": ["a custom window needs center and width"]})
        return attrs


# ---- start from the data ---------------------------------------------------------------------------
class DataSummarySerializer(serializers.Serializer):
    modality = serializers.ChoiceField(choices=["image", "ct", "table", "text"])
    shape = serializers.ListField(child=serializers.IntegerField(), help_text="one sample: [C,H,W], [C,D,H,W], "
                                  "[features] or [tokens]")
    task = serializers.ChoiceField(choices=["classification", "regression", "segmentation"])
    classes = serializers.IntegerField()
    vocab_size = serializers.IntegerField(allow_null=True)


class BuildModelRequestSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="",
                                 help_text="the new graph's name; default '<dataset> model'")


class AdaptGraphRequestSerializer(serializers.Serializer):
    graph_version = IdField(help_text="the graph version whose input to adapt (it stays as it is)")


class BuiltModelSerializer(serializers.Serializer):
    """A graph made for the data, the version saved, and what was changed, for a person to read."""

    graph = serializers.IntegerField(source="graph.pk")
    graph_name = serializers.CharField(source="graph.name")
    version = GraphVersionRefSerializer()
    template = serializers.CharField(allow_blank=True, help_text="the template started from ('' when none)")
    notes = serializers.ListField(child=serializers.CharField())


class InputCheckSerializer(serializers.Serializer):
    fits = serializers.BooleanField(help_text="the graph's input takes the samples as they are")
    graph_shape = serializers.ListField(child=serializers.IntegerField(), allow_null=True)
    data_shape = serializers.ListField(child=serializers.IntegerField())
    resize = serializers.ListField(child=serializers.IntegerField(), allow_null=True,
                                   help_text="[H, W] training would resize images to; null when none")
    message = serializers.CharField()
    data = DataSummarySerializer()
