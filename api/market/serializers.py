"""Request and response shapes for the model market. Rules live in domain.market.services."""
from __future__ import annotations

from typing import Any

from rest_framework import serializers

from api.fields import IdField, Int64Field, ModelSerializer
from domain.market import services as market_services
from domain.market.models import (
    EntryKind,
    MarketEntry,
    MarketEntryVersion,
    MarketFork,
    MarketImport,
    Visibility,
)


class MarketVersionSerializer(ModelSerializer):
    has_weights = serializers.BooleanField(read_only=True)
    created_by = serializers.StringRelatedField()

    class Meta:
        model = MarketEntryVersion
        fields = ["id", "entry", "number", "card", "document", "has_weights", "weights_sha256", "metrics",
                  "metrics_dataset", "params", "flops", "registry_version", "source_artifact",
                  "source_graph_version", "changelog", "created_by", "created_at"]


class MarketVersionSummarySerializer(MarketVersionSerializer):
    class Meta(MarketVersionSerializer.Meta):
        fields = [f for f in MarketVersionSerializer.Meta.fields if f not in ("document", "card")]


class MarketEntrySerializer(ModelSerializer):
    author = serializers.StringRelatedField()
    # Plain strings, so the schema's enum names do not collide with the model variants' ``kind``.
    kind = serializers.CharField(read_only=True, help_text="model or template")
    latest_version = serializers.SerializerMethodField()
    starred = serializers.SerializerMethodField()

    class Meta:
        model = MarketEntry
        fields = ["id", "title", "description", "kind", "task", "modality", "classes", "input_contract", "licence",
                  "author", "project", "visibility", "stars", "forks", "downloads", "latest_params",
                  "latest_flops", "latest_accuracy", "latest_version", "starred", "created_at", "updated_at"]

    def get_latest_version(self, entry: MarketEntry) -> int | None:
        latest = entry.versions.order_by("-number").values_list("number", flat=True).first()
        return int(latest) if latest is not None else None

    def get_starred(self, entry: MarketEntry) -> bool:
        request = self.context.get("request")
        user = getattr(request, "user", None)
        return bool(user and user.is_authenticated and entry.star_set.filter(user=user).exists())


class MarketEntryDetailSerializer(MarketEntrySerializer):
    versions = MarketVersionSummarySerializer(many=True, read_only=True)

    class Meta(MarketEntrySerializer.Meta):
        fields = [*MarketEntrySerializer.Meta.fields, "versions"]


class PublishSerializer(serializers.Serializer):
    """Exactly one source: ``run`` (a trained model) or ``graph_version`` (a template)."""

    run = IdField(required=False, help_text="A finished run with a trained model.")
    graph_version = IdField(required=False, help_text="A graph version, as a template.")
    title = serializers.CharField(max_length=200, required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True)
    task = serializers.CharField(max_length=40, required=False, allow_blank=True)
    modality = serializers.CharField(max_length=40, required=False, allow_blank=True)
    licence = serializers.CharField(max_length=100, required=False, allow_blank=True)
    visibility = serializers.ChoiceField(Visibility.choices, required=False)
    changelog = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("run" in attrs) == ("graph_version" in attrs):
            raise serializers.ValidationError({"run": ["give exactly one of run or graph_version"]})
        return attrs


class EntryUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    task = serializers.CharField(max_length=40, required=False, allow_blank=True)
    modality = serializers.CharField(max_length=40, required=False, allow_blank=True)
    licence = serializers.CharField(max_length=100, required=False, allow_blank=True)
    visibility = serializers.ChoiceField(Visibility.choices, required=False)


class ForkSerializer(serializers.Serializer):
    project = IdField(help_text="The project the graph is copied into.")
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class MarketForkSerializer(ModelSerializer):
    graph = serializers.IntegerField(source="graph_version.graph_id", read_only=True)
    has_weights = serializers.SerializerMethodField()

    class Meta:
        model = MarketFork
        fields = ["id", "version", "project", "graph", "graph_version", "has_weights", "weights_sha256", "created_at"]

    def get_has_weights(self, fork: MarketFork) -> bool:
        return bool(fork.weights_path)


class ImportSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="A market bundle (.zip) exported by an installation.")
    visibility = serializers.ChoiceField(Visibility.choices, default=Visibility.PRIVATE)
    project = IdField(required=False,
                                       help_text="Needed for organization visibility.")


class ImportErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="refused (the upload is at fault) or failed (the import broke)")
    field = serializers.CharField(help_text="The request field at fault: file, weights, architecture, ...")
    message = serializers.CharField(help_text="What is wrong, naming the file or member.")


class MarketImportSerializer(ModelSerializer):
    """An import job: poll it until ``status`` is succeeded (``entry`` and ``version`` are set) or
    failed (``error`` says why)."""

    error = ImportErrorSerializer(allow_null=True, read_only=True, source="error_or_none")
    entry_title = serializers.CharField(source="entry.title", read_only=True, allow_null=True, default=None)
    progress = serializers.FloatField(source="progress.fraction", read_only=True, default=0.0,
                                      help_text="How far the import got, 0 to 1.")
    stage = serializers.CharField(source="progress.stage", read_only=True, default="",
                                  help_text="What the worker is doing, in words.")

    class Meta:
        model = MarketImport
        fields = ["id", "kind", "status", "progress", "stage", "filename", "params", "entry", "entry_title",
                  "version", "error", "created_at", "finished_at"]
        read_only_fields = fields


class TorchvisionImportSerializer(serializers.Serializer):
    architecture = serializers.CharField(max_length=100, help_text="A torchvision classifier, as listed by "
                                                                   "GET /api/v1/templates/ under torchvision.")
    weights = serializers.FileField(help_text="Its weights: a .safetensors file, or a PyTorch checkpoint (a state "
                                              "dict, or a dict holding one under state_dict or model) that "
                                              "torch.load(weights_only=True) reads.")
    num_classes = serializers.IntegerField(min_value=1, max_value=100_000, required=False,
                                           help_text="Outputs of the head; default: as in the weights.")
    input_size = serializers.IntegerField(min_value=32, max_value=1024, default=224,
                                          help_text="Height and width of the input images.")
    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    description = serializers.CharField(required=False, allow_blank=True, default="")
    licence = serializers.CharField(max_length=100, required=False, allow_blank=True, default="",
                                    help_text="The weights' licence.")
    classes = serializers.ListField(child=serializers.CharField(max_length=200), required=False,
                                    max_length=100_000, help_text="Class names, one per output.")
    visibility = serializers.ChoiceField(Visibility.choices, default=Visibility.PRIVATE)
    project = IdField(required=False,
                                       help_text="Needed for organization visibility.")


class SearchSerializer(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, default="")
    task = serializers.CharField(required=False, allow_blank=True, default="")
    modality = serializers.CharField(required=False, allow_blank=True, default="")
    kind = serializers.CharField(required=False, allow_blank=True, default="", help_text="model or template")
    max_params = Int64Field(min_value=0, required=False)
    min_params = Int64Field(min_value=0, required=False)
    min_accuracy = serializers.FloatField(min_value=0, max_value=1, required=False)
    sort = serializers.ChoiceField(list(market_services.SORTS), required=False, default="recent")

    def validate_kind(self, value: str) -> str:
        if value not in ("", *EntryKind.values):
            raise serializers.ValidationError("must be model or template")
        return value
