"""The domain: projects with members, graphs and their immutable versions."""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

__all__ = ["Role", "ROLE_RANK", "Project", "ProjectMembership", "ProjectResource", "Graph", "ImmutableVersionError", "GraphVersion"]


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    EDITOR = "editor", "Editor"
    VIEWER = "viewer", "Viewer"


ROLE_RANK = {Role.VIEWER: 0, Role.EDITOR: 1, Role.OWNER: 2}


class Project(models.Model):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="owned_projects"
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="ProjectMembership", related_name="projects"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]

    def __str__(self) -> str:
        return self.name


class ProjectMembership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="unique_project_member")
        ]
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} ({self.role})"


class ProjectResource(models.Model):
    """Something a project holds under a name (a graph, a dataset): newest change first. Its
    immutable versions hang off it."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="%(class)ss")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["-updated_at", "-id"]

    def __str__(self) -> str:
        return self.name


class Graph(ProjectResource):
    # The shipped template (``builder/graph/templates``) the graph was created from, "" when none:
    # the Train form offers that template's recommended run settings.
    template = models.CharField(max_length=100, blank=True, default="")


class ImmutableVersionError(Exception):
    pass


class GraphVersion(models.Model):
    """One saved state of a graph. Never changed after it is written."""

    graph = models.ForeignKey(Graph, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    document = models.JSONField()
    message = models.CharField(max_length=500, blank=True, default="")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    parent = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="children"
    )
    # Saved invalid graphs are drafts: kept, marked, never compiled or trained.
    is_valid = models.BooleanField(default=False)
    validation = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["graph", "number"], name="unique_graph_version_number")
        ]

    def __str__(self) -> str:
        return f"{self.graph} v{self.number}"

    @property
    def is_draft(self) -> bool:
        return not self.is_valid

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not kwargs.pop("_allow_update", False):
            raise ImmutableVersionError("graph versions are immutable; save a new version instead")
        super().save(*args, **kwargs)

