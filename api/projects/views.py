"""Projects and their members. Objects the caller cannot see answer 404."""
from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import OuterRef, QuerySet, Subquery
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from api.projects.serializers import MembershipSerializer, MembershipUpdateSerializer, ProjectSerializer
from domain.projects import services
from domain.projects.models import Project, ProjectMembership, Role

User = get_user_model()


def projects_for(user: Any) -> QuerySet[Project]:
    role = ProjectMembership.objects.filter(project=OuterRef("pk"), user=user).values("role")[:1]
    return (
        services.visible_projects(user).select_related("owner").annotate(my_role=Subquery(role))
    )


class ProjectViewSet(viewsets.ModelViewSet):
    serializer_class = ProjectSerializer
    search_fields = ["name", "description"]
    ordering_fields = ["name", "created_at", "updated_at"]
    filterset_fields = {"created_at": ["gte", "lte"], "updated_at": ["gte", "lte"]}

    def get_queryset(self) -> QuerySet[Project]:
        if getattr(self, "swagger_fake_view", False):
            return Project.objects.none()
        return projects_for(self.request.user)

    def perform_create(self, serializer: BaseSerializer) -> None:
        serializer.instance = services.create_project(self.request.user, **serializer.validated_data)

    def perform_update(self, serializer: BaseSerializer) -> None:
        services.require_role(self.request.user, serializer.instance, Role.OWNER)
        serializer.save()

    def perform_destroy(self, instance: Project) -> None:
        services.require_role(self.request.user, instance, Role.OWNER)
        instance.delete()

    @extend_schema(request=None, responses={202: dict})
    @action(detail=True, methods=["post"])
    def ping(self, request: Request, pk: str | None = None) -> Response:
        """Queue a task that answers on the project's WebSocket (``worker.pong``)."""
        from domain.projects.tasks import ping_project

        project = self.get_object()
        nonce = uuid.uuid4().hex
        result = ping_project.delay(project.pk, nonce)
        return Response({"task_id": result.id, "nonce": nonce}, status=status.HTTP_202_ACCEPTED)


class MembershipViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Members of one project: everyone in it may list; owners add, change and remove."""

    serializer_class = MembershipSerializer
    queryset = ProjectMembership.objects.none()
    filterset_fields = ["role"]

    def project(self) -> Project:
        return get_object_or_404(projects_for(self.request.user), pk=self.kwargs["project_pk"])

    def get_queryset(self) -> QuerySet[ProjectMembership]:
        if getattr(self, "swagger_fake_view", False):
            return ProjectMembership.objects.none()
        return self.project().memberships.select_related("user", "project")

    def perform_create(self, serializer: BaseSerializer) -> None:
        username = serializer.validated_data["username"]
        user = User.objects.filter(username=username).first()
        if user is None:
            raise services.DomainError("username", f"no user named '{username}'")
        serializer.instance = services.add_member(
            self.request.user, self.project(), user, serializer.validated_data["role"]
        )

    @extend_schema(request=MembershipUpdateSerializer, responses=MembershipSerializer)
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        membership = self.get_object()
        body = MembershipUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.change_member_role(request.user, membership, body.validated_data["role"])
        return Response(MembershipSerializer(membership).data)

    def perform_destroy(self, instance: ProjectMembership) -> None:
        services.remove_member(self.request.user, instance)
