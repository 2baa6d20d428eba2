"""The rules of the domain. Views call these; they never touch models directly for writes."""
from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Max, QuerySet

from domain.projects.models import ROLE_RANK, Graph, GraphVersion, Project, ProjectMembership, Role


class PermissionDeniedError(Exception):
    """The caller can see the object but lacks the role for this action."""


class DomainError(Exception):
    """A request that breaks a rule; ``field`` names what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# ---- visibility and roles ------------------------------------------------------------------
def visible_projects(user: AbstractBaseUser) -> QuerySet[Project]:
    return Project.objects.filter(memberships__user=user).distinct()


def role_of(user: AbstractBaseUser, project: Project) -> str | None:
    membership = ProjectMembership.objects.filter(project=project, user=user).only("role").first()
    return membership.role if membership else None


def require_role(user: AbstractBaseUser, project: Project, needed: str) -> str:
    role = role_of(user, project)
    if role is None or ROLE_RANK[Role(role)] < ROLE_RANK[Role(needed)]:
        raise PermissionDeniedError(f"this action needs the {needed} role in project '{project.name}'")
    return role


# ---- projects ------------------------------------------------------------------------------
@transaction.atomic
def create_project(user: AbstractBaseUser, *, name: str, description: str = "") -> Project:
    project = Project.objects.create(owner=user, name=name, description=description)
    ProjectMembership.objects.create(project=project, user=user, role=Role.OWNER)
    return project


def add_member(actor: AbstractBaseUser, project: Project, user: AbstractBaseUser, role: str) -> ProjectMembership:
    require_role(actor, project, Role.OWNER)
    try:
        with transaction.atomic():
            return ProjectMembership.objects.create(project=project, user=user, role=role)
    except IntegrityError as exc:
        raise DomainError("username", f"'{user}' is already a member of this project") from exc


def change_member_role(actor: AbstractBaseUser, membership: ProjectMembership, role: str) -> ProjectMembership:
    require_role(actor, membership.project, Role.OWNER)
    if membership.user_id == membership.project.owner_id and role != Role.OWNER:
        raise DomainError("role", "the project's owner keeps the owner role")
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


def remove_member(actor: AbstractBaseUser, membership: ProjectMembership) -> None:
    if membership.user_id != actor.pk:  # anyone may leave; only owners remove others
        require_role(actor, membership.project, Role.OWNER)
    if membership.user_id == membership.project.owner_id:
        raise DomainError("user", "the project's owner cannot be removed")
    membership.delete()


# ---- graphs and versions ---------------------------------------------------------------------
def create_graph(user: AbstractBaseUser, project: Project, *, name: str, description: str = "",
                 template: str = "") -> Graph:
    """A new, empty graph; ``template`` is the id of the shipped template it is made from, if any."""
    require_role(user, project, Role.EDITOR)
    return Graph.objects.create(project=project, name=name, description=description, created_by=user,
                                template=template)


def validation_summary(document: Any) -> tuple[bool, dict[str, Any]]:
    """Validate a document with the graph core; returns (ok, report as JSON)."""
    from builder.graph import validate

    report = validate(document)
    return bool(report.ok), report.to_dict()


def create_graph_version(
    user: AbstractBaseUser,
    graph: Graph,
    *,
    document: dict[str, Any],
    message: str = "",
    parent: GraphVersion | None = None,
) -> GraphVersion:
    """Save a new immutable version. Invalid graphs are kept as drafts with their report."""
    require_role(user, graph.project, Role.EDITOR)
    if parent is not None and parent.graph_id != graph.pk:
        raise DomainError("parent", f"version {parent.pk} is not a version of this graph")
    ok, report = validation_summary(document)
    for _attempt in range(5):
        try:
            with transaction.atomic():
                last = graph.versions.aggregate(n=Max("number"))["n"] or 0
                if parent is None:
                    parent = graph.versions.filter(number=last).first()
                version = GraphVersion.objects.create(
                    graph=graph,
                    number=last + 1,
                    document=document,
                    message=message,
                    author=user,
                    parent=parent,
                    is_valid=ok,
                    validation=report,
                )
                Graph.objects.filter(pk=graph.pk).update(updated_at=version.created_at)
                return version
        except IntegrityError:
            continue  # two saves raced for the same number: take the next one
    raise DomainError("document", "the graph is being saved by someone else; try again")
