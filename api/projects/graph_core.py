"""The graph core over HTTP: the layer registry, validation, source export, templates."""
from __future__ import annotations

import json
from typing import Any

from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.fields import IdField
from api.projects.graphs import graphs_for
from api.projects.serializers import MAX_DOCUMENT_BYTES, GraphSerializer
from builder.graph import registry, validate
from builder.graph.registry import REGISTRY_VERSION
from domain.projects import services

MAX_BATCH_SIZE = 65536


class LayerListView(APIView):
    """Every layer type the canvas can place: parameters (JSON Schema), ports, category, doc."""

    permission_classes = [AllowAny]

    @extend_schema(responses=inline_serializer("LayerRegistry", {
        "registry_version": serializers.IntegerField(),
        "categories": serializers.ListField(child=serializers.CharField()),
        "layers": serializers.ListField(child=serializers.DictField()),
    }))
    def get(self, request: Request) -> Response:
        layers = registry.describe_all()
        categories = sorted({layer["category"] for layer in layers})
        return Response({"registry_version": REGISTRY_VERSION, "categories": categories, "layers": layers})


@extend_schema_field({})  # any JSON, as the document's schema was (its checks are the graph core's)
class _DocumentField(serializers.DictField):
    pass


class ValidateRequestSerializer(serializers.Serializer):
    # An object, checked shallowly: the graph core validates it in depth, and the request's length
    # bounds its size. (A JSONField with check_document serialised the whole document twice more,
    # some 6 ms of DenseNet-121's edit round trip: docs/bench/canvas.md.)
    document = _DocumentField()
    batch_size = serializers.IntegerField(min_value=1, max_value=MAX_BATCH_SIZE, default=1)

    def validate_document(self, value: dict[str, Any]) -> dict[str, Any]:
        request = self.context.get("request")
        length = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
        if length > MAX_DOCUMENT_BYTES + 1024 or (not length and len(json.dumps(value)) > MAX_DOCUMENT_BYTES):
            raise serializers.ValidationError(f"is larger than {MAX_DOCUMENT_BYTES} bytes")
        return value


class ValidateView(APIView):
    """Validate any graph document: shapes, parameters, FLOPs, memory and every error at once.

    Answers 200 with the report whether or not the graph is valid (``ok`` says which); 400 only
    when the request itself is malformed.
    """

    @extend_schema(request=ValidateRequestSerializer, responses={200: dict})
    def post(self, request: Request) -> Response:
        body = ValidateRequestSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        report = validate(body.validated_data["document"], batch_size=body.validated_data["batch_size"])
        return Response(report.to_dict())


class VersionSourceView(APIView):
    """Standalone PyTorch source (a ``Model`` class) of a saved version."""

    @extend_schema(responses={
        200: inline_serializer("GraphSource", {"source": serializers.CharField(),
                                               "filename": serializers.CharField()}),
        400: OpenApiResponse(description="the version is a draft that does not validate"),
    })
    def get(self, request: Request, graph_pk: int, pk: int) -> Response:
        from builder.graph import GraphError, to_source

        graph = get_object_or_404(graphs_for(request.user), pk=graph_pk)
        version = get_object_or_404(graph.versions, pk=pk)
        try:
            source = to_source(version.document)
        except GraphError as exc:
            return Response(
                {"document": [str(exc)], "errors": exc.report.to_dict()["errors"]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response({"source": source, "filename": f"{_slug(graph.name)}_v{version.number}.py"})


def _slug(name: str) -> str:
    cleaned = "".join(c if c.isalnum() else "_" for c in name.lower()).strip("_")
    return cleaned or "model"


class TemplateListView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="templates_list", responses=inline_serializer("TemplateList", {
        "templates": serializers.ListField(child=serializers.DictField()),
        "torchvision": serializers.ListField(child=serializers.CharField()),
    }))
    def get(self, request: Request) -> Response:
        from builder.graph.templates import TORCHVISION_ARCHITECTURES, list_templates

        return Response({"templates": list_templates(), "torchvision": sorted(TORCHVISION_ARCHITECTURES)})


class TemplateDetailView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="templates_get", responses={200: dict})
    def get(self, request: Request, template_id: str) -> Response:
        from builder.graph.templates import get_template

        try:
            return Response(get_template(template_id))
        except KeyError:
            return Response({"detail": f"no template '{template_id}'"}, status=status.HTTP_404_NOT_FOUND)


class NewGraphSerializer(serializers.Serializer):
    project = IdField()
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class FromTemplateSerializer(NewGraphSerializer):
    template = serializers.CharField(max_length=100)


class FromTorchvisionSerializer(NewGraphSerializer):
    architecture = serializers.CharField(max_length=100)
    num_classes = serializers.IntegerField(min_value=1, max_value=100000, default=1000)
    input_size = serializers.IntegerField(min_value=32, max_value=1024, default=224)


def _create_with_document(request: Request, data: dict[str, Any], name: str, document: dict[str, Any],
                          message: str, template: str = "") -> Response:
    project = get_object_or_404(services.visible_projects(request.user), pk=data["project"])
    with transaction.atomic():
        graph = services.create_graph(request.user, project, name=data.get("name") or name,
                                      description=data.get("description", ""), template=template)
        services.create_graph_version(request.user, graph, document=document, message=message)
    return Response(GraphSerializer(graph, context={"request": request}).data, status=status.HTTP_201_CREATED)


class GraphFromTemplateView(APIView):
    """Create a graph whose first version is a shipped template, laid out and ready to edit."""

    @extend_schema(request=FromTemplateSerializer, responses={201: GraphSerializer})
    def post(self, request: Request) -> Response:
        from builder.graph.templates import get_template, list_templates

        body = FromTemplateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        template_id = body.validated_data["template"]
        try:
            document = get_template(template_id)
        except KeyError:
            known = ", ".join(t["id"] for t in list_templates())
            raise services.DomainError("template", f"no template '{template_id}'; known: {known}") from None
        return _create_with_document(request, body.validated_data, document.get("name") or template_id,
                                     document, f"from template {template_id}", template=template_id)


class GraphFromTorchvisionView(APIView):
    """Create a graph by importing a torchvision architecture (random weights) by name."""

    @extend_schema(request=FromTorchvisionSerializer, responses={201: GraphSerializer})
    def post(self, request: Request) -> Response:
        from builder.graph import GraphError
        from builder.graph.importer import InputSizeError, UnsupportedModuleError
        from builder.graph.templates import TORCHVISION_ARCHITECTURES, torchvision_graph

        body = FromTorchvisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        arch = body.validated_data["architecture"]
        if arch not in TORCHVISION_ARCHITECTURES:
            raise services.DomainError(
                "architecture", f"'{arch}' is not supported; choose one of {', '.join(sorted(TORCHVISION_ARCHITECTURES))}"
            )
        input_size = body.validated_data["input_size"]
        try:
            document, _weights = torchvision_graph(
                arch, num_classes=body.validated_data["num_classes"], input_size=input_size
            )
        except InputSizeError as exc:  # e.g. alexnet at 32: its pooling leaves nothing
            raise services.DomainError("input_size", f"{arch} can't take {input_size}x{input_size} images: {exc}") from exc
        except (UnsupportedModuleError, GraphError) as exc:
            raise services.DomainError("architecture", f"{arch} can't be imported: {exc}") from exc
        return _create_with_document(request, body.validated_data, arch, document, f"imported torchvision {arch}")
