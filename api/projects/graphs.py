"""Graphs and their immutable versions."""
from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from rest_framework import mixins, viewsets
from rest_framework.serializers import BaseSerializer

from api.projects.serializers import GraphSerializer, GraphVersionListSerializer, GraphVersionSerializer
from domain.projects import services
from domain.projects.models import Graph, GraphVersion, Role


def graphs_for(user: object) -> QuerySet[Graph]:
    return Graph.objects.filter(project__in=services.visible_projects(user)).select_related(
        "project", "created_by"
    )


class GraphViewSet(viewsets.ModelViewSet):
    serializer_class = GraphSerializer
    search_fields = ["name", "description"]
    ordering_fields = ["name", "created_at", "updated_at"]
    filterset_fields = {"project": ["exact"], "created_at": ["gte", "lte"]}

    def get_queryset(self) -> QuerySet[Graph]:
        if getattr(self, "swagger_fake_view", False):
            return Graph.objects.none()
        return graphs_for(self.request.user)

    def perform_create(self, serializer: BaseSerializer) -> None:
        data = serializer.validated_data
        serializer.instance = services.create_graph(
            self.request.user, data["project"], name=data["name"],
            description=data.get("description", ""),
        )

    def perform_update(self, serializer: BaseSerializer) -> None:
        services.require_role(self.request.user, serializer.instance.project, Role.EDITOR)
        serializer.save()

    def perform_destroy(self, instance: Graph) -> None:
        services.require_role(self.request.user, instance.project, Role.EDITOR)
        instance.delete()


class GraphVersionViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Versions are immutable: create, list and read; never update or delete."""

    queryset = GraphVersion.objects.none()
    filterset_fields = ["is_valid"]
    ordering_fields = ["number", "created_at"]

    def get_serializer_class(self) -> type[BaseSerializer]:
        return GraphVersionListSerializer if self.action == "list" else GraphVersionSerializer

    def graph(self) -> Graph:
        return get_object_or_404(graphs_for(self.request.user), pk=self.kwargs["graph_pk"])

    def get_queryset(self) -> QuerySet[GraphVersion]:
        if getattr(self, "swagger_fake_view", False):
            return GraphVersion.objects.none()
        return self.graph().versions.select_related("author")

    def perform_create(self, serializer: BaseSerializer) -> None:
        data = serializer.validated_data
        serializer.instance = services.create_graph_version(
            self.request.user, self.graph(), document=data["document"],
            message=data.get("message", ""), parent=data.get("parent"),
        )
