"""Datasets of a project, their immutable versions, samples, previews and sample datasets."""
from __future__ import annotations

from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from api.datasets.serializers import (
    AdaptGraphRequestSerializer,
    BuildModelRequestSerializer,
    BuiltModelSerializer,
    DatasetSampleSerializer,
    DatasetSerializer,
    DatasetVersionCreateSerializer,
    DatasetVersionListSerializer,
    DatasetVersionSerializer,
    InputCheckSerializer,
    PlaneQuerySerializer,
    PreviewQuerySerializer,
    SampleDatasetCreateSerializer,
    SplitPreviewRequestSerializer,
    SplitPreviewSerializer,
)
from domain.datasets import services as dataset_services
from domain.datasets.models import Dataset, DatasetVersion, Upload
from domain.projects import services
from domain.projects.models import GraphVersion, Role
from pipelines.datasets import cache as dataset_cache
from pipelines.datasets.options import Window
from pipelines.datasets.preview import plane_count, radiological, render_plane, render_png
from pipelines.datasets.samples import SAMPLES


class DatasetViewSet(viewsets.ModelViewSet):
    serializer_class = DatasetSerializer
    search_fields = ["name", "description"]
    ordering_fields = ["name", "created_at", "updated_at"]
    filterset_fields = {"project": ["exact"], "kind": ["exact"]}

    def get_queryset(self) -> QuerySet[Dataset]:
        if getattr(self, "swagger_fake_view", False):
            return Dataset.objects.none()
        return dataset_services.visible_datasets(self.request.user).select_related("project", "created_by")

    def perform_create(self, serializer: BaseSerializer) -> None:
        data = serializer.validated_data
        dataset = dataset_services.create_dataset(
            self.request.user, data["project"], name=data["name"], kind=data["kind"],
            description=data.get("description", ""),
        )
        if "augmentation" in data:
            dataset_services.set_augmentation(self.request.user, dataset, data["augmentation"])
        serializer.instance = dataset

    def perform_update(self, serializer: BaseSerializer) -> None:
        dataset = serializer.instance
        services.require_role(self.request.user, dataset.project, Role.EDITOR)
        data = dict(serializer.validated_data)
        if "augmentation" in data:
            dataset_services.set_augmentation(self.request.user, dataset, data.pop("augmentation"))
        serializer.save(**data)

    def perform_destroy(self, instance: Dataset) -> None:
        dataset_services.delete_dataset(self.request.user, instance)

    @extend_schema(methods=["GET"], responses=DatasetVersionListSerializer(many=True))
    @extend_schema(methods=["POST"], request=DatasetVersionCreateSerializer, responses={202: DatasetVersionSerializer})
    @action(detail=True, methods=["get", "post"])
    def versions(self, request: Request, pk: str | None = None) -> Response:
        """List versions, or ingest a complete upload as a new version (202: queued)."""
        dataset = self.get_object()
        if request.method == "GET":
            page = self.paginate_queryset(dataset.versions.select_related("created_by"))
            return self.get_paginated_response(DatasetVersionListSerializer(page, many=True).data)
        body = DatasetVersionCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        upload = Upload.objects.filter(pk=body.validated_data["upload"], owner=request.user).first()
        if upload is None:
            raise ValidationError({"upload": ["no complete upload of yours has this id"]})
        version = dataset_services.create_version(request.user, dataset, upload=upload,
                                                  options=body.validated_data["options"])
        return Response(DatasetVersionSerializer(version).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=SplitPreviewRequestSerializer, responses={200: SplitPreviewSerializer})
    @action(detail=True, methods=["post"], url_path="split-preview")
    def split_preview(self, request: Request, pk: str | None = None) -> Response:
        """How a complete upload would split with these options, before it is ingested: samples
        and groups (patients) per split, and warnings when a split would be empty."""
        dataset = self.get_object()
        body = SplitPreviewRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        upload = Upload.objects.filter(pk=body.validated_data["upload"], owner=request.user).first()
        if upload is None or not upload.storage_name:
            raise ValidationError({"upload": ["no complete upload of yours has this id"]})
        return Response(dataset_services.preview_split(dataset, upload, body.validated_data["options"]))

    @extend_schema(request=SampleDatasetCreateSerializer, responses={202: DatasetVersionSerializer})
    @action(detail=False, methods=["post"], url_path="from-sample")
    def from_sample(self, request: Request) -> Response:
        """Create a dataset from a built-in sample (see ``sample-catalog``) and ingest it."""
        body = SampleDatasetCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        project = services.visible_projects(request.user).filter(pk=body.validated_data["project"]).first()
        if project is None:
            raise ValidationError({"project": ["no project of yours has this id"]})
        version = dataset_services.create_sample_dataset(request.user, project, body.validated_data["sample"],
                                                         body.validated_data["name"])
        return Response(DatasetVersionSerializer(version).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={200: inline_serializer("SampleDataset", {
        "id": serializers.CharField(), "kind": serializers.CharField(), "title": serializers.CharField(),
    }, many=True)})
    @action(detail=False, methods=["get"], url_path="sample-catalog", pagination_class=None, filter_backends=[])
    def sample_catalog(self, request: Request) -> Response:
        return Response([{"id": key, "kind": spec["kind"], "title": spec["title"]} for key, spec in SAMPLES.items()])


NOT_READY = OpenApiResponse(description="The version is not ready (still ingesting, or failed).")
SAMPLE_FILTERS = [OpenApiParameter("split", str, enum=["train", "val", "test"]), OpenApiParameter("label", str)]


class DatasetVersionViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """A version is read only: its status, statistics, recipe, samples and previews."""

    serializer_class = DatasetVersionSerializer

    def get_queryset(self) -> QuerySet[DatasetVersion]:
        if getattr(self, "swagger_fake_view", False):
            return DatasetVersion.objects.none()
        return dataset_services.visible_versions(self.request.user).select_related("dataset", "created_by")

    def _usable(self) -> DatasetVersion:
        version = self.get_object()
        if not version.is_usable:
            raise ValidationError({"version": [f"the version is {version.status}, not ready"]})
        return version

    @extend_schema(parameters=SAMPLE_FILTERS, responses=DatasetSampleSerializer(many=True))
    @action(detail=True, methods=["get"])
    def samples(self, request: Request, pk: str | None = None) -> Response:
        """Page through samples; filter with ``?split=`` and ``?label=``."""
        version = self.get_object()
        rows = version.samples.all()
        for name in ("split", "label"):
            if name in request.query_params:
                rows = rows.filter(**{name: request.query_params[name]})
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(DatasetSampleSerializer(page, many=True).data)

    @extend_schema(responses={200: dict, 400: NOT_READY})
    @action(detail=True, methods=["get"], url_path=r"samples/(?P<index>\d+)")
    def sample(self, request: Request, pk: str | None = None, index: str = "0") -> Response:
        """One sample with its values: decoded text, table features, or the preview URL."""
        version = self._usable()
        row = version.samples.filter(index=int(index)).first()
        if row is None:
            raise NotFound(f"no sample {index} in this version")
        data = DatasetSampleSerializer(row).data
        with dataset_services.held_cache(version) as folder:  # not evicted while read
            values = dataset_cache.open_inputs(folder)[row.index]
            kind = version.recipe.get("input")
            if kind == "table":
                data["features"] = dict(zip(version.recipe["features"], (float(v) for v in values), strict=True))
            elif kind == "text":
                from tokenizers import Tokenizer

                tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
                data["text"] = tokenizer.decode([int(v) for v in values if v != version.recipe["pad_id"]])
            else:
                data["preview"] = request.build_absolute_uri(f"{request.path.rstrip('/')}/preview/")
        return Response(data)

    @extend_schema(parameters=[PreviewQuerySerializer], responses={(200, "image/png"): bytes})
    @action(detail=True, methods=["get"], url_path=r"samples/(?P<index>\d+)/preview")
    def preview(self, request: Request, pk: str | None = None, index: str = "0") -> HttpResponse:
        """A PNG of an image or CT sample; CT through ``?window=`` (a preset, or custom with
        ``center`` and ``width``) at ``?slice=``; segmentation with its mask overlaid unless
        ``?overlay=false``."""
        version = self._usable()
        query = PreviewQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        if version.recipe.get("input") not in ("image", "ct"):
            raise ValidationError({"index": ["previews are for image and CT datasets; read the sample instead"]})
        q = query.validated_data
        window = None
        if "window" in q:
            window = Window(preset=q["window"], center=q.get("center"), width=q.get("width"))
        with dataset_services.held_cache(version) as folder:  # not evicted while read
            inputs = dataset_cache.open_inputs(folder)
            if int(index) >= len(inputs):
                raise NotFound(f"no sample {index} in this version")
            mask = None
            if version.recipe.get("target") == "mask" and q["overlay"]:
                mask = dataset_cache.open_masks(folder)[int(index)]
            png = render_png(inputs[int(index)], version.recipe, window=window, slice_index=q.get("slice"),
                             size=q.get("size"), mask=mask)
        response = HttpResponse(png, content_type="image/png")
        response["Cache-Control"] = "private, max-age=3600"
        return response

    @extend_schema(parameters=[PlaneQuerySerializer], responses={
        (200, "image/png"): bytes,
        400: OpenApiResponse(description="a bad plane, slice, window or size (named), a version that is not ready, "
                                         "or one that is not CT"),
        404: OpenApiResponse(description="no such sample in this version"),
    })
    @action(detail=True, methods=["get"], url_path=r"samples/(?P<index>\d+)/plane")
    def plane(self, request: Request, pk: str | None = None, index: str = "0") -> HttpResponse:
        """One slice of a CT sample's volume in ``?plane=`` axial, coronal or sagittal, at
        ``?slice=`` (default the middle), through ``?window=``, as a PNG with square millimetres
        and its longer side ``?size=`` pixels. In 2d mode the sample's series is put together
        from its slices."""
        version = self._usable()
        query = PlaneQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        if version.recipe.get("input") != "ct":
            raise ValidationError({"plane": ["planes are for CT datasets"]})
        row = version.samples.filter(index=int(index)).first()
        if row is None:
            raise NotFound(f"no sample {index} in this version")
        volume = radiological(dataset_services.ct_volume(version, row), version.recipe)
        count = plane_count(volume.shape, q["plane"])
        chosen = q.get("slice", count // 2)
        if chosen >= count:
            raise ValidationError({"slice": [f"the {q['plane']} plane of sample {index} has slices 0 to {count - 1}"]})
        window = Window(preset=q["window"], center=q.get("center"), width=q.get("width"))
        png = render_plane(volume, q["plane"], chosen, window, voxel_mm=dataset_services.voxel_mm(version, row),
                           size=q["size"])
        response = HttpResponse(png, content_type="image/png")
        response["Cache-Control"] = "private, max-age=3600"
        return response

    @extend_schema(responses={200: dict, 400: NOT_READY})
    @action(detail=True, methods=["get"])
    def recipe(self, request: Request, pk: str | None = None) -> Response:
        """The preprocessing recipe, as it travels with models trained on this version."""
        return Response(self._usable().recipe)


    # ---- start from the data ------------------------------------------------------------------------
    @extend_schema(request=BuildModelRequestSerializer, responses={
        201: BuiltModelSerializer,
        400: OpenApiResponse(description="the version is not ready, or has no classes or no shape to build for"),
    })
    @action(detail=True, methods=["post"], url_path="build-model")
    def build_model(self, request: Request, pk: str | None = None) -> Response:
        """A new graph for this data: the closest template with its input, output and 2-D/3-D
        adapted to the version's samples and classes; ``notes`` say what was changed."""
        from domain.datasets.proposals import build_model

        body = BuildModelRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        built = build_model(request.user, self.get_object(), name=body.validated_data["name"])
        return Response(BuiltModelSerializer(built).data, status=status.HTTP_201_CREATED)

    @extend_schema(methods=["GET"], parameters=[OpenApiParameter("graph_version", int, required=True)],
                   responses={200: InputCheckSerializer, 400: NOT_READY})
    @extend_schema(methods=["POST"], request=AdaptGraphRequestSerializer, responses={
        201: BuiltModelSerializer,
        400: OpenApiResponse(description="the graph can't be adapted (another kind of input, several inputs, "
                                         "or it still does not validate), or the version is not ready"),
    })
    @action(detail=True, methods=["get", "post"], url_path="adapt-graph")
    def adapt_graph(self, request: Request, pk: str | None = None) -> Response:
        """GET: whether a graph version's input takes this data as it is (both shapes and the
        resize training would make). POST: a new version of that graph with its input adapted to
        this data; the given version stays as it is."""
        from domain.datasets.proposals import adapt_graph, input_check

        body = AdaptGraphRequestSerializer(data=request.query_params if request.method == "GET" else request.data)
        body.is_valid(raise_exception=True)
        version = self.get_object()
        graph_version = (GraphVersion.objects.select_related("graph__project")
                         .filter(graph__project__in=services.visible_projects(request.user),
                                 pk=body.validated_data["graph_version"]).first())
        if graph_version is None:
            raise ValidationError({"graph_version": ["no graph version of yours has this id"]})
        if request.method == "GET":
            return Response(InputCheckSerializer(input_check(graph_version, version)).data)
        built = adapt_graph(request.user, graph_version, version)
        return Response(BuiltModelSerializer(built).data, status=status.HTTP_201_CREATED)
