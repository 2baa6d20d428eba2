from django.contrib import admin

from domain.projects.models import Graph, GraphVersion, Project, ProjectMembership


class MembershipInline(admin.TabularInline):
    model = ProjectMembership
    extra = 0


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "owner", "created_at", "updated_at")
    search_fields = ("name", "description", "owner__username")
    inlines = [MembershipInline]


@admin.register(ProjectMembership)
class ProjectMembershipAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "user", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("project__name", "user__username")


@admin.register(Graph)
class GraphAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "project", "created_by", "updated_at")
    search_fields = ("name", "project__name")


@admin.register(GraphVersion)
class GraphVersionAdmin(admin.ModelAdmin):
    list_display = ("id", "graph", "number", "is_valid", "author", "created_at")
    list_filter = ("is_valid",)
    readonly_fields = (
        "graph", "number", "document", "message", "author", "parent", "is_valid", "validation",
        "created_at",
    )

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
