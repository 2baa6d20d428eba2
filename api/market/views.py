"""The model market: browse and search entries, publish, star, fork, and bundles. Views are thin;
rules are in domain.market.services. Entries another user may not see answer 404."""
from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.market.serializers import (
    EntryUpdateSerializer,
    ForkSerializer,
    ImportSerializer,
    MarketEntryDetailSerializer,
    MarketEntrySerializer,
    MarketForkSerializer,
    MarketImportSerializer,
    MarketVersionSerializer,
    MarketVersionSummarySerializer,
    PublishSerializer,
    SearchSerializer,
    TorchvisionImportSerializer,
)
from domain.market import imports as market_imports
from domain.market import services as market_services
from domain.market.models import MarketEntry, MarketEntryVersion, MarketImport
from domain.projects.models import GraphVersion, Project
from domain.projects.services import visible_projects
from domain.runs import services as run_services
from domain.runs.models import RunArtifact


def _valid(serializer_class: type, data: object) -> dict[str, Any]:
    body = serializer_class(data=data)
    body.is_valid(raise_exception=True)
    return dict(body.validated_data)


def _publish(request: Request, entry: MarketEntry | None) -> MarketEntryVersion:
    data = _valid(PublishSerializer, request.data)
    fields = {k: data[k] for k in market_services.ENTRY_FIELDS if k in data}
    if "run" in data:
        artifact = RunArtifact.objects.select_related("run__project", "run__dataset_version__dataset",
                                                      "graph_version__graph").filter(
            run_id=data["run"], run__in=run_services.visible_runs(request.user)).first()
        if artifact is None:
            raise ValidationError({"run": ["no finished run of yours with a trained model has this id"]})
        return market_services.publish_artifact(request.user, artifact, entry=entry,
                                                changelog=data["changelog"], **fields)
    version = GraphVersion.objects.select_related("graph__project").filter(
        pk=data["graph_version"], graph__project__in=visible_projects(request.user)).first()
    if version is None:
        raise ValidationError({"graph_version": ["no graph version of yours has this id"]})
    return market_services.publish_template(request.user, version, entry=entry, changelog=data["changelog"],
                                            **fields)


class MarketEntryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    filter_backends: list[Any] = []

    def get_serializer_class(self) -> type:
        return MarketEntryDetailSerializer if self.action == "retrieve" else MarketEntrySerializer

    def get_queryset(self) -> QuerySet[MarketEntry]:
        if getattr(self, "swagger_fake_view", False):
            return MarketEntry.objects.none()
        entries = market_services.visible_entries(self.request.user).select_related("author")
        if self.action != "list":
            return entries
        return market_services.search(entries, **_valid(SearchSerializer, self.request.query_params))

    @extend_schema(parameters=[OpenApiParameter(name, str, required=False) for name in SearchSerializer().fields])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Search by text (title, description), task, modality, kind, size and accuracy; sort by
        recent, accuracy, size, -size, popularity, stars or downloads."""
        return super().list(request, *args, **kwargs)

    @extend_schema(request=PublishSerializer, responses={201: MarketEntryDetailSerializer})
    def create(self, request: Request) -> Response:
        """Publish a trained model (``run``) or a graph version as a template (``graph_version``)."""
        version = _publish(request, None)
        return Response(MarketEntryDetailSerializer(version.entry, context={"request": request}).data,
                        status=status.HTTP_201_CREATED)

    @extend_schema(request=EntryUpdateSerializer, responses={200: MarketEntryDetailSerializer})
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        """Change title, description, task, modality, licence or visibility (author only)."""
        entry = market_services.update_entry(request.user, self.get_object(),
                                             **_valid(EntryUpdateSerializer, request.data))
        return Response(MarketEntryDetailSerializer(entry, context={"request": request}).data)

    @extend_schema(methods=["get"], responses={200: MarketVersionSummarySerializer(many=True)})
    @extend_schema(methods=["post"], request=PublishSerializer, responses={201: MarketVersionSerializer})
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def versions(self, request: Request, pk: str | None = None) -> Response:
        """The entry's versions, newest first; POST publishes the next one (author only)."""
        entry = self.get_object()
        if request.method == "GET":
            return Response(MarketVersionSummarySerializer(entry.versions.all(), many=True).data)
        version = _publish(request, entry)
        return Response(MarketVersionSerializer(version).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: MarketEntrySerializer})
    @action(detail=True, methods=["post", "delete"])
    def star(self, request: Request, pk: str | None = None) -> Response:
        """POST stars the entry (once per user); DELETE takes the star back."""
        entry = self.get_object()
        if request.method == "POST":
            entry = market_services.star(request.user, entry)
        else:
            entry = market_services.unstar(request.user, entry)
        return Response(MarketEntrySerializer(entry, context={"request": request}).data)


class MarketVersionViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = MarketVersionSerializer
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[MarketEntryVersion]:
        if getattr(self, "swagger_fake_view", False):
            return MarketEntryVersion.objects.none()
        return market_services.visible_versions(self.request.user).select_related("entry")

    @extend_schema(request=ForkSerializer, responses={201: MarketForkSerializer})
    @action(detail=True, methods=["post"])
    def fork(self, request: Request, pk: str | None = None) -> Response:
        """Copy this version into a project as a new graph; a trained model's weights are kept with
        the fork as the starting point for fine-tuning."""
        version = self.get_object()
        data = _valid(ForkSerializer, request.data)
        project = visible_projects(request.user).filter(pk=data["project"]).first()
        if project is None:
            raise ValidationError({"project": ["no project of yours has this id"]})
        forked = market_services.fork(request.user, version, project, name=data["name"])
        return Response(MarketForkSerializer(forked).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "application/zip"): bytes})
    @action(detail=True, methods=["get"])
    def bundle(self, request: Request, pk: str | None = None) -> HttpResponse:
        """The version as one bundle file, to import into another installation."""
        version = self.get_object()
        response = HttpResponse(market_services.export_bundle(version), content_type="application/zip")
        response["Content-Disposition"] = (f'attachment; filename="market-{version.entry_id}-'
                                           f'v{version.number}.zip"')
        return response


class MarketBundleImportView(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(request={"multipart/form-data": ImportSerializer}, responses={202: MarketImportSerializer})
    def post(self, request: Request) -> Response:
        """Import a bundle as a new entry of yours. The answer (202) is an import job to poll at
        GET /api/v1/market/imports/{id}/: a worker checks the weights (SHA-256, safetensors, fit to
        the graph) and publishes. What can be checked without the weights is refused at once, 400
        naming the file: a damaged or unsafe zip, an unknown layer, a graph over the parameter cap."""
        data = _valid(ImportSerializer, request.data)
        job = market_imports.start_bundle_import(request.user, data["file"], visibility=data["visibility"],
                                                 project=_project(request, data))
        return _accepted(job)


class MarketTorchvisionImportView(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(request={"multipart/form-data": TorchvisionImportSerializer},
                   responses={202: MarketImportSerializer})
    def post(self, request: Request) -> Response:
        """Import a torchvision architecture with pretrained weights you upload, as a new trained-model
        entry of yours (fork it to fine-tune). The answer (202) is an import job to poll at
        GET /api/v1/market/imports/{id}/. Nothing in the file is executed: a worker reads a
        checkpoint with torch.load(weights_only=True), and every tensor must fit the architecture by
        name and shape; the job's error names the file and the missing, unexpected or wrongly shaped
        tensors. Bad fields (architecture, input size, classes, project) answer 400 at once."""
        data = _valid(TorchvisionImportSerializer, request.data)
        job = market_imports.start_torchvision_import(
            request.user, data["weights"], architecture=data["architecture"], num_classes=data.get("num_classes"),
            input_size=data["input_size"], title=data["title"], description=data["description"],
            licence=data["licence"], visibility=data["visibility"], project=_project(request, data),
            classes=data.get("classes"))
        return _accepted(job)


class MarketImportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Your import jobs, newest first; another user's answer 404."""

    serializer_class = MarketImportSerializer
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[MarketImport]:
        if getattr(self, "swagger_fake_view", False):
            return MarketImport.objects.none()
        return market_imports.visible_imports(self.request.user).select_related("entry")


def _accepted(job: MarketImport) -> Response:
    return Response(MarketImportSerializer(job).data, status=status.HTTP_202_ACCEPTED,
                    headers={"Location": f"/api/v1/market/imports/{job.pk}/"})


def _project(request: Request, data: dict[str, Any]) -> Project | None:
    if "project" not in data:
        return None
    project = visible_projects(request.user).filter(pk=data["project"]).first()
    if project is None:
        raise ValidationError({"project": ["no project of yours has this id"]})
    return project
