"""Request and response shapes. Rules live in domain.projects.services, not here."""
from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.fields import ModelSerializer, PrimaryKeyRelatedField
from domain.projects.models import Graph, GraphVersion, Project, ProjectMembership, Role
from domain.projects.services import visible_projects

User = get_user_model()
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024


class UserSerializer(ModelSerializer):
    email = serializers.EmailField(read_only=True, allow_blank=True)  # blank: none given at sign-up

    class Meta:
        model = User
        fields = ["id", "username", "email"]
        read_only_fields = fields


class UserRefSerializer(ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username"]
        read_only_fields = fields


class SignUpSerializer(serializers.Serializer):
    username = serializers.RegexField(
        r"^[\w.@+-]+\Z",
        max_length=150,
        error_messages={"invalid": "Use letters, digits and @/./+/-/_ only."},
    )
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    password = serializers.CharField(write_only=True, max_length=128, style={"input_type": "password"})

    def validate_username(self, value: str) -> str:
        if User.objects.filter(username__iexact=value).exists():
            raise serializers.ValidationError("This username is taken.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        candidate = User(username=attrs["username"], email=attrs.get("email", ""))
        try:
            password_validation.validate_password(attrs["password"], candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from exc
        return attrs


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(write_only=True, max_length=128, style={"input_type": "password"})


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(read_only=True)


class ProjectSerializer(ModelSerializer):
    owner = UserRefSerializer(read_only=True)
    role = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = ["id", "name", "description", "owner", "role", "created_at", "updated_at"]
        read_only_fields = ["id", "owner", "role", "created_at", "updated_at"]

    def get_role(self, project: Project) -> str | None:
        # visible_projects() annotates the caller's role; a fresh object is the creator's.
        return getattr(project, "my_role", Role.OWNER)


class MembershipSerializer(ModelSerializer):
    user = UserRefSerializer(read_only=True)
    username = serializers.CharField(write_only=True, max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)

    class Meta:
        model = ProjectMembership
        fields = ["id", "user", "username", "role", "created_at"]
        read_only_fields = ["id", "user", "created_at"]


class MembershipUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class GraphVersionRefSerializer(ModelSerializer):
    class Meta:
        model = GraphVersion
        fields = ["id", "number", "message", "is_valid", "created_at"]
        read_only_fields = fields


class ProjectResourceSerializer(ModelSerializer):
    """A resource created inside one of the user's projects (a graph, a dataset): ``project``
    offers only the projects the user can see, and neither it nor ``fixed_after_create`` can
    change once the resource exists."""

    project = PrimaryKeyRelatedField(queryset=Project.objects.none())
    fixed_after_create: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None and request.user.is_authenticated:
            self.fields["project"].queryset = visible_projects(request.user)  # type: ignore[attr-defined]
        if self.instance is not None and not isinstance(self.instance, list | tuple):
            for name in ("project", *self.fixed_after_create):
                self.fields[name].read_only = True


def _template_summary(template_id: str) -> dict[str, Any] | None:
    """The shipped template's summary (name, recommended ``config``), None for "" or an id no
    longer shipped."""
    from builder.graph.templates import list_templates

    if not template_id:
        return None
    return next((t for t in list_templates() if t["id"] == template_id), None)


class GraphSerializer(ProjectResourceSerializer):
    latest_version = serializers.SerializerMethodField()
    created_by = UserRefSerializer(read_only=True)
    template = serializers.SerializerMethodField(
        help_text="Id of the shipped template the graph was created from; null when none."
    )
    template_name = serializers.SerializerMethodField(help_text="That template's display name; null when none.")
    recommended_config = serializers.SerializerMethodField(
        help_text="The run settings that template recommends (a partial run config: what it leaves "
                  "out keeps the run config's default); {} when none."
    )
    template_starts_from = serializers.SerializerMethodField(
        help_text="The template whose trained model that template is meant to be fine-tuned from (e.g. "
                  "unet3d for ct_lesion_cnn3d); null when it trains from scratch or there is no template."
    )

    class Meta:
        model = Graph
        fields = [
            "id", "project", "name", "description", "created_by", "created_at", "updated_at",
            "latest_version", "template", "template_name", "recommended_config", "template_starts_from",
        ]
        read_only_fields = ["id", "created_by", "created_at", "updated_at", "latest_version", "template",
                            "template_name", "recommended_config", "template_starts_from"]

    @extend_schema_field(GraphVersionRefSerializer(allow_null=True))
    def get_latest_version(self, graph: Graph) -> dict[str, Any] | None:
        latest = graph.versions.order_by("-number").first()
        return GraphVersionRefSerializer(latest).data if latest else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_template(self, graph: Graph) -> str | None:
        return graph.template or None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_template_name(self, graph: Graph) -> str | None:
        summary = _template_summary(graph.template)
        return str(summary["name"]) if summary else None

    @extend_schema_field(serializers.DictField())
    def get_recommended_config(self, graph: Graph) -> dict[str, Any]:
        summary = _template_summary(graph.template)
        return dict(summary["config"]) if summary else {}

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_template_starts_from(self, graph: Graph) -> str | None:
        summary = _template_summary(graph.template)
        return summary.get("starts_from") if summary else None


def check_document(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise serializers.ValidationError("must be a JSON object (the graph document)")
    if len(json.dumps(value)) > MAX_DOCUMENT_BYTES:
        raise serializers.ValidationError(f"is larger than {MAX_DOCUMENT_BYTES} bytes")
    return value


class GraphVersionSerializer(ModelSerializer):
    document = serializers.JSONField(validators=[check_document])
    author = UserRefSerializer(read_only=True)
    parent = PrimaryKeyRelatedField(
        queryset=GraphVersion.objects.all(), required=False, allow_null=True
    )
    is_draft = serializers.BooleanField(read_only=True)

    class Meta:
        model = GraphVersion
        fields = [
            "id", "graph", "number", "document", "message", "author", "parent", "is_valid",
            "is_draft", "validation", "created_at",
        ]
        read_only_fields = ["id", "graph", "number", "author", "is_valid", "validation", "created_at"]


class GraphVersionListSerializer(GraphVersionSerializer):
    """Lists leave out the (possibly large) document and report."""

    class Meta(GraphVersionSerializer.Meta):
        fields = [
            "id", "graph", "number", "message", "author", "parent", "is_valid", "is_draft",
            "created_at",
        ]
