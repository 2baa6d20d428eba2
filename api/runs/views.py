"""Training runs: estimate and create (validated before queueing), list, retrieve, cancel, resume, the stored
event history and the trained model's artifact. Views are thin; rules are in run_services."""
from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from api.runs.serializers import (
    EventsQuerySerializer,
    RunArtifactSerializer,
    RunCreateSerializer,
    RunEstimateSerializer,
    RunEventSerializer,
    TrainingRunListSerializer,
    TrainingRunSerializer,
)
from domain.datasets import services as dataset_services
from domain.datasets.models import DatasetVersion
from domain.projects.models import GraphVersion
from domain.projects.services import visible_projects
from domain.runs import services as run_services
from domain.runs.models import RunArtifact, TrainingRun


class TrainingRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = TrainingRunSerializer
    filterset_fields = {"project": ["exact"], "status": ["exact"], "graph_version": ["exact"]}
    ordering_fields = ["created_at", "finished_at"]

    def get_queryset(self) -> QuerySet[TrainingRun]:
        if getattr(self, "swagger_fake_view", False):
            return TrainingRun.objects.none()
        return run_services.visible_runs(self.request.user).select_related("created_by", "artifact", "graph_version")

    def get_serializer_class(self) -> type:
        return TrainingRunListSerializer if self.action == "list" else TrainingRunSerializer

    @extend_schema(request=RunCreateSerializer, responses={202: TrainingRunSerializer})
    def create(self, request: Request) -> Response:
        graph_version, dataset_version, config = self._run_request(request)
        run = run_services.create_run(request.user, graph_version, dataset_version, config)
        return Response(TrainingRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=RunCreateSerializer, responses={200: RunEstimateSerializer})
    @action(detail=False, methods=["post"], filter_backends=[])
    def estimate(self, request: Request) -> Response:
        """What creating this run would check and plan (memory against the devices), creating nothing."""
        graph_version, dataset_version, raw_config = self._run_request(request)
        config, plan = run_services.estimate_run(request.user, graph_version, dataset_version, raw_config)
        return Response(RunEstimateSerializer({"config": config.model_dump(mode="json"), "plan": plan}).data)

    def _run_request(self, request: Request) -> tuple[GraphVersion, DatasetVersion, Any]:
        body = RunCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        graph_version = GraphVersion.objects.select_related("graph__project").filter(
            pk=data["graph_version"], graph__project__in=visible_projects(request.user)).first()
        if graph_version is None:
            raise ValidationError({"graph_version": ["no graph version of yours has this id"]})
        dataset_version = dataset_services.visible_versions(request.user).select_related("dataset").filter(
            pk=data["dataset_version"]).first()
        if dataset_version is None:
            raise ValidationError({"dataset_version": ["no dataset version of yours has this id"]})
        return graph_version, dataset_version, data["config"]

    @extend_schema(request=None, responses={202: TrainingRunSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        run = run_services.cancel_run(request.user, self.get_object())
        return Response(TrainingRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: TrainingRunSerializer})
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str | None = None) -> Response:
        run = run_services.resume_run(request.user, self.get_object())
        return Response(TrainingRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(parameters=[OpenApiParameter("after", int), OpenApiParameter("limit", int)],
                   responses={200: RunEventSerializer(many=True)})
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def events(self, request: Request, pk: str | None = None) -> Response:
        """The run's stored events in order; ``after`` (an event id) continues from there."""
        query = EventsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        run = self.get_object()
        events = run.events.filter(pk__gt=query.validated_data["after"])[: query.validated_data["limit"]]
        return Response(RunEventSerializer(events, many=True).data)

    @extend_schema(responses={200: RunArtifactSerializer})
    @action(detail=True, methods=["get"], filter_backends=[])
    def artifact(self, request: Request, pk: str | None = None) -> Response:
        run = self.get_object()
        artifact = RunArtifact.objects.filter(run=run).first()
        if artifact is None:
            raise NotFound(f"run {run.pk} has no trained model yet ({run.status})")
        return Response(RunArtifactSerializer(artifact).data)
